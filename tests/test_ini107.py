"""INI107 against torch 2.13 itself: every flagged call raises the exception its message names, every
look-alike in the fixture runs, and every fix makes its call run."""
import ast
import builtins
import re
import types
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from conftest import fixture_path, run_cli
from initlint.engine import Selection, lint_source
from initlint.rules.init_signatures import INIT_SIGNATURES

FIXTURE = fixture_path("rules", "ini107_invalid_init_arguments.py")
ONLY_INI107 = Selection(select=("INI107",))

EXPECTED = [
    (18, 9, "`nn.init.normal_` raises TypeError when it runs: it has no parameter `stddev` (the standard "
            "deviation is `std`)"),
    (19, 9, "`nn.init.trunc_normal_` raises TypeError when it runs: it has no parameter `stddev` (the "
            "standard deviation is `std`)"),
    (20, 9, "`nn.init.kaiming_normal_` raises TypeError when it runs: it has no parameter `gain` (Kaiming's "
            "gain comes from `nonlinearity` and `a`)"),
    (21, 9, "`nn.init.kaiming_normal_` raises TypeError when it runs: it has no parameter `gain` (Kaiming's "
            "gain comes from `nonlinearity` and `a`)"),
    (22, 9, "`nn.init.uniform_` raises TypeError when it runs: it has no parameter `std` (uniform_ takes "
            "bounds, not a standard deviation)"),
    (23, 9, '`nn.init.kaiming_uniform_` raises ValueError when it runs: nonlinearity "gelu" is not one '
            "calculate_gain knows"),
    (24, 9, '`kaiming_normal_` raises ValueError when it runs: nonlinearity "silu" is not one calculate_gain '
            "knows"),
    (25, 9, '`init.kaiming_normal_` raises ValueError when it runs: mode "fan_avg" is not "fan_in" or '
            '"fan_out"'),
    (26, 9, '`nn.init.kaiming_normal_` raises ValueError when it runs: mode "fanout" is not "fan_in" or '
            '"fan_out"; nonlinearity "ReLU" is not one calculate_gain knows (its spelling is "relu")'),
    (27, 9, "`nn.init.trunc_normal_` raises RuntimeError when it runs: its lower bound a=0.04 is above its "
            "upper bound b=-0.04"),
    (28, 9, "`nn.init.trunc_normal_` raises RuntimeError when it runs: its lower bound a=3.0 is above its "
            "upper bound b=2 (the default)"),
    (29, 9, "`nn.init.xavier_uniform_` raises TypeError when it runs: it takes at most 3 positional "
            "arguments, 4 are given"),
    (30, 9, "`nn.init.constant_` raises TypeError when it runs: it lacks its required argument `val`"),
    (31, 9, "`nn.init.normal_` raises TypeError when it runs: it gets `std` both by position and by keyword"),
    (32, 56, '`calculate_gain` raises ValueError when it runs: nonlinearity "gelu" is not one calculate_gain '
             "knows"),
    (33, 56, '`nn.init.calculate_gain` raises ValueError when it runs: nonlinearity "swish" is not one '
             "calculate_gain knows"),
    (34, 9, "`nn.init.normal_` raises RuntimeError when it runs: std=-0.02 is negative"),
    (35, 9, "`nn.init.uniform_` raises RuntimeError when it runs: its lower bound a=1.0 is above its upper "
            "bound b=-1.0"),
    (36, 9, '`nn.init.kaiming_normal_` raises ValueError when it runs: the leaky_relu slope a="relu" is not '
            "a number"),
    (37, 9, "`nn.init.normal` raises TypeError when it runs: it has no parameter `stddev` (the standard "
            "deviation is `std`)"),
    (38, 9, "`self.fc.weight.data.normal_` raises TypeError when it runs: it has no parameter `stddev` (the "
            "standard deviation is `std`)"),
    (39, 21, '`nn.init.calculate_gain` raises ValueError when it runs: nonlinearity "elu" is not one '
             "calculate_gain knows"),
    (40, 9, "`nn.init.trunc_normal_` raises ZeroDivisionError when it runs: std=0 leaves no distribution to "
            "truncate"),
    (41, 9, "`nn.init.constant_` raises TypeError when it runs: it has no parameter `value` (the value is "
            "`val`); it lacks its required argument `val`"),
    (50, 9, '`nn.init.kaiming_normal_` raises ValueError when it runs: nonlinearity "swish" is not one '
            "calculate_gain knows"),
    (51, 9, "`nn.init.normal_` raises TypeError when it runs: it has no parameter `stddev` (the standard "
            "deviation is `std`)"),
]
FIXED_LINES = {  # line -> (before, after)
    18: ("stddev=0.01", "std=0.01"),
    19: ("stddev=0.02", "std=0.02"),
    21: ('gain=calculate_gain("relu")', 'nonlinearity="relu"'),
    23: ('nonlinearity="gelu"', 'nonlinearity="relu"'),  # conv is followed by F.relu
    26: ('mode="fanout", nonlinearity="ReLU"', 'mode="fan_out", nonlinearity="relu"'),
    32: ('calculate_gain("gelu")', 'calculate_gain("relu")'),
    36: ('"relu"', 'nonlinearity="relu"'),
    37: ("stddev=0.01", "std=0.01"),
    38: ("stddev=0.01", "std=0.01"),
    41: ("value=0.0", "val=0.0"),
    51: ("stddev=0.01", "std=0.01"),
}


def read_fixture() -> bytes:
    with open(FIXTURE, "rb") as handle:
        return handle.read()


def ini107_findings(source: bytes):
    return lint_source(source, "rules/ini107.py", ONLY_INI107).findings


def test_exact_findings():
    findings = ini107_findings(read_fixture())
    assert [(f.line, f.column, f.message) for f in findings] == EXPECTED
    assert {f.line for f in findings if f.fix is not None} == set(FIXED_LINES)


class _OnTensor(ast.NodeTransformer):
    """Point every ``self.x.weight`` / ``m.bias`` (and a method's receiver) at a real tensor: ``conv_w``
    for the Conv2d's weight, ``w`` for the others."""

    def visit_Attribute(self, node):
        root, chain = node, []
        while isinstance(root, ast.Attribute):
            chain.append(root.attr)
            root = root.value
        if isinstance(root, ast.Name) and root.id in ("self", "m") and node.attr in ("weight", "bias", "data",
                                                                                       "pos_embed"):
            return ast.copy_location(ast.Name("conv_w" if "conv" in chain else "w", ast.Load()), node)
        return self.generic_visit(node)


def _init_calls(tree):
    names = set(INIT_SIGNATURES) | {"normal", "uniform"}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name in names:
            yield node


def run_call(node) -> None:
    """Evaluate one call of the fixture with torch 2.13."""
    expression = ast.fix_missing_locations(ast.Expression(_OnTensor().visit(node)))
    namespace = {"nn": nn, "torch": torch, "F": F, "init": nn.init, "calculate_gain": nn.init.calculate_gain,
                 "kaiming_normal_": nn.init.kaiming_normal_, "act": "relu", "cfg": {"std": 0.02},
                 "my_init": types.SimpleNamespace(normal_=lambda *args, **kwargs: None),
                 "w": torch.empty(16, 16), "conv_w": torch.empty(16, 3, 3, 3)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eval(compile(expression, "<fixture call>", "eval"), namespace)


def _calls_and_findings(source: bytes):
    tree = ast.parse(source)
    calls = {(node.lineno, node.col_offset + 1): node for node in _init_calls(tree)}
    return calls, {(f.line, f.column): f for f in ini107_findings(source)}


def test_each_flagged_call_raises_what_its_message_says():
    calls, findings = _calls_and_findings(read_fixture())
    assert set(findings) <= set(calls)
    for where, finding in findings.items():
        exception = re.search(r"raises (\w+)", finding.message).group(1)
        with pytest.raises(getattr(builtins, exception)):
            run_call(calls[where])


def test_every_look_alike_runs():
    calls, findings = _calls_and_findings(read_fixture())
    flagged = [calls[where] for where in findings]
    silent = [node for where, node in calls.items() if where not in findings
              and not any(inner in flagged for inner in ast.walk(node))]
    assert len(silent) == 28
    for node in silent:
        run_call(node)


def test_fix_is_exact_idempotent_and_makes_each_call_run(tmp_path):
    source = read_fixture()
    path = tmp_path / "model.py"
    path.write_bytes(source)
    result = run_cli("--fix", "--no-cache", "--select", "INI107", str(path))
    assert result.returncode == 1  # the findings without a fix remain
    expected = source.decode().splitlines(keepends=True)
    for line, (before, after) in FIXED_LINES.items():
        assert before in expected[line - 1]
        expected[line - 1] = expected[line - 1].replace(before, after)
    assert path.read_text() == "".join(expected)
    fixed = path.read_bytes()
    calls, findings = _calls_and_findings(fixed)
    assert sorted(line for line, _ in findings) == sorted(set(e[0] for e in EXPECTED) - set(FIXED_LINES))
    for (line, _), node in calls.items():
        if line in FIXED_LINES:
            run_call(node)
    again = run_cli("--fix", "--no-cache", "--select", "INI107", str(path))
    assert again.returncode == 1 and path.read_bytes() == fixed


@pytest.mark.parametrize("code", [
    "nn.init.normal_(w, stddev=0.01, std=0.02)",       # std given: renaming would duplicate it
    "nn.init.kaiming_normal_(w, gain=calculate_gain('leaky_relu'))",  # slope 0.01 is not Kaiming's a=0
    "nn.init.kaiming_normal_(w, nonlinearity='relu', gain=1)",
    "nn.init.kaiming_normal_(w, 'relu', 'fan_in')",   # more positional arguments follow the slope
    "nn.init.constant_(w, 0.1, value=0.5)",           # val given: which value was meant?
])
def test_no_fix_where_the_intent_is_not_certain(code):
    source = f"import torch.nn as nn\nfrom torch.nn.init import calculate_gain\nw = None\n{code}\n".encode()
    findings = ini107_findings(source)
    assert [(f.line, f.fix) for f in findings] == [(4, None)]


def test_names_that_are_not_torch_are_silent():
    source = b"import torch\nfrom mylib import calculate_gain, kaiming_normal_\n" \
             b"g = calculate_gain('gelu')\nkaiming_normal_(w, mode='fan_avg')\n"
    assert ini107_findings(source) == []


# A grid of plausible calls, right and wrong: INI107 must flag exactly those that raise in torch 2.13.
GRID_FUNCTIONS = ["normal_", "uniform_", "trunc_normal_", "constant_", "zeros_", "xavier_uniform_", "xavier_normal_",
                  "kaiming_normal_", "kaiming_uniform_", "orthogonal_", "sparse_", "dirac_", "normal", "kaiming_normal"]
GRID_ARGUMENTS = [
    "", "0.02", "0, 0.02", "std=0.02", "stddev=0.02", "a=1.0, b=-1.0", "a=3.0", "b=-1.0", "a=-3.0, b=-2.5",
    "mode='fan_avg'", "mode='FAN_IN'", "mode='fan_out', nonlinearity='relu'", "nonlinearity='gelu'",
    "nonlinearity='ReLU'", "nonlinearity='tanh'", "a=0.2, nonlinearity='leaky_relu'", "'relu'", "a='0.2'",
    "a=True", "gain=2.0", "gain=nn.init.calculate_gain('relu')", "0, 0.02, None", "0, 0.02, None, 1",
    "std=-1.0", "std=0", "val=1", "value=1", "0.5", "0.5, 0.5", "1.0, -1.0", "0.1, std=0.2", "sparsity=0.1",
    "generator=None", "mean=0, std=1, a=-1, b=1", "std=0.02, a=-0.04, b=0.04", "groups=1", "groups='2'",
    "None", "gain=None", "mode=None", "nonlinearity=None", "generator=0", "a=None",
]
GRID_GAINS = ["'gelu'", "'relu'", "'ReLU'", "'leaky_relu', 0.2", "'leaky_relu', '0.2'", "'tanh', 3", "", "'selu'",
              "nonlinearity='swish'", "'conv_transpose2d'", "'relu', 1, 2", "param=0.1, nonlinearity='relu'",
              "None", "'leaky_relu', None", "'leaky_relu', True"]


def _raises(call: str, tensor) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            eval(call, {"nn": nn, "w": tensor})
    except Exception:
        return True
    return False


@pytest.mark.parametrize("function", GRID_FUNCTIONS)
def test_flagged_exactly_when_torch_raises(function):
    tensor = torch.empty(8, 8, 3, 3) if function == "dirac_" else torch.empty(8, 8)
    wrong = []
    for arguments in GRID_ARGUMENTS:
        call = f"nn.init.{function}(w{', ' if arguments else ''}{arguments})"
        flagged = bool(ini107_findings(f"import torch.nn as nn\n{call}\n".encode()))
        if flagged != _raises(call, tensor):
            wrong.append(call)
    assert wrong == []


def test_calculate_gain_flagged_exactly_when_it_raises():
    wrong = []
    for arguments in GRID_GAINS:
        call = f"nn.init.calculate_gain({arguments})"
        source = "import torch.nn as nn\n\n\ndef init(m):\n    nn.init.zeros_(m.fc.weight)\n    " + call + "\n"
        if bool(ini107_findings(source.encode())) != _raises(call, None):
            wrong.append(call)
    assert wrong == []


@pytest.mark.parametrize("method", ["normal_", "uniform_"])
def test_tensor_methods_flagged_exactly_when_torch_raises(method):
    wrong = []
    for arguments in ["", "0.02", "0, 0.02", "std=0.02", "stddev=0.02", "1.0, -1.0", "-0.1, 0.1", "2.0", "0, -1.0",
                      "'0.1'", "None", "0, 0.02, None", "mean=0, std=0.02, generator=None", "a=-0.1, b=0.1"]:
        call = f"w.data.{method}({arguments})"
        source = f"import torch.nn as nn\nfc = nn.Linear(8, 8)\nfc.weight.data.{method}({arguments})\n"
        if bool(ini107_findings(source.encode())) != _raises(call, torch.empty(8, 8)):
            wrong.append(call)
    assert wrong == []


def test_module_helpers_are_checked_for_their_own_and_the_passed_on_arguments():
    source = b'''import torch.nn as nn
from mmcv.cnn import constant_init, kaiming_init, normal_init


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc = nn.Linear(8, 8)
        kaiming_init(self.conv, mode="fan_avg")
        kaiming_init(self.conv, nonlinearity="gelu")
        normal_init(self.fc, stddev=0.01)
        constant_init(self.fc, 1, val=2)
        kaiming_init(self.conv, mode="fan_in", distribution="uniform")
        normal_init(self.fc, 0, 0.01, bias=0)
        constant_init(self.fc, 1)
'''
    found = ini107_findings(source)
    assert [(f.line, f.column) for f in found] == [(10, 9), (11, 9), (12, 9), (13, 9)]
    assert [re.search(r"raises (\w+)", f.message).group(1) for f in found] == [
        "ValueError", "ValueError", "TypeError", "TypeError"]


@pytest.mark.parametrize("call,unscaled", [("normal_init(self.fc, stddev=0.01)", False),
                                          ("normal_init(self.fc)", True)])
def test_ini005_does_not_read_a_helper_call_that_raises_as_the_default_std(call, unscaled):
    source = ("import torch.nn as nn\nfrom mmcv.cnn import normal_init\n\n\nclass Net(nn.Module):\n"
              "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(8, 8)\n"
              f"        {call}\n")
    found = lint_source(source.encode(), "m.py", Selection(select=("INI005",))).findings
    assert [(f.code, f.line) for f in found] == ([("INI005", 9)] if unscaled else [])
