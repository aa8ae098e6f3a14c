"""Findings and fixes of INI005, INI101, INI106, INI203 and INI204 on their fixtures: the exact findings,
the exact fixed text, a result that parses, and a second --fix that changes nothing."""
import ast
import warnings

import pytest
import torch

from conftest import fixture_path, run_cli
from initlint.engine import Selection, lint_source
from initlint.fix import fixed_source


def read(name: str) -> str:
    with open(fixture_path("rules", name), encoding="utf-8") as handle:
        return handle.read()


def findings(source: str, code: str):
    # A path outside any tests/ folder: every rule of the selection applies.
    result = lint_source(source.encode(), "models/model.py", Selection(select=(code,)))
    return [(f.line, f.column, f.fix is not None) for f in result.findings]


def edited(text: str, edits) -> str:
    for before, after in edits:
        assert text.count(before) == 1, before
        text = text.replace(before, after)
    return text


def fix_twice(tmp_path, source: str, code: str):
    path = tmp_path / "model.py"
    path.write_text(source)
    first = run_cli("--fix", "--no-cache", "--select", code, str(path))
    fixed = path.read_text()
    ast.parse(fixed)
    second = run_cli("--fix", "--no-cache", "--select", code, str(path))
    assert path.read_text() == fixed, "the second --fix changed the file"
    assert second.returncode == first.returncode
    return fixed, first.returncode


CASES = {
    "INI005": ("fixes_ini005_equalized_lr.py",
               [(98, 9, True), (109, 9, True), (124, 9, True), (136, 9, True)],
               [("        nn.init.normal_(self.fc.weight)\n        nn.init.zeros_(self.fc.bias)\n\n"
                 "    def forward(self, x):\n        return F.relu(self.fc(x))",
                 '        nn.init.kaiming_normal_(self.fc.weight, nonlinearity="relu")\n'
                 "        nn.init.zeros_(self.fc.bias)\n\n"
                 "    def forward(self, x):\n        return F.relu(self.fc(x))"),
                # Line 109, N(0, 1) on Conv2d(3, 64, 3) (fan_in=27, 5x): below min-signal-change by default.
                ("nn.init.normal_(self.q.weight)", "nn.init.xavier_uniform_(self.q.weight)"),
                ("nn.init.trunc_normal_(self.fc1.weight, 0.02)",
                 'nn.init.kaiming_normal_(self.fc1.weight, nonlinearity="relu")')],
               0),
    "INI101": ("fixes_ini101_configurable_bias.py",
               [(12, 9, True), (13, 9, True), (15, 13, True), (28, 42, True), (31, 73, True)],
               [("        nn.init.zeros_(self.qkv.bias)  # zero, as in the reference code\n",
                 "        if self.qkv.bias is not None:\n"
                 "            nn.init.zeros_(self.qkv.bias)  # zero, as in the reference code\n"),
                ("        nn.init.zeros_(self.proj.bias)\n", ""),
                ("            self.qkv.bias.fill_(0.0)\n",
                 "            if self.qkv.bias is not None:\n                self.qkv.bias.fill_(0.0)\n"),
                ("            if isinstance(m, nn.Conv2d): nn.init.zeros_(m.bias)  # one-line suite\n",
                 "            if isinstance(m, nn.Conv2d):\n                if m.bias is not None:\n"
                 "                    nn.init.zeros_(m.bias)  # one-line suite\n"),
                ('                nn.init.kaiming_normal_(m.weight, nonlinearity="relu"); nn.init.zeros_(m.bias)\n',
                 '                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")\n'
                 "                if m.bias is not None:\n                    nn.init.zeros_(m.bias)\n")],
               0),
    "INI106": ("fixes_ini106_bias_truth_test.py",
               [(8, 12, True), (10, 39, True), (18, 8, True), (29, 13, True)],
               [("        if m.bias:\n", "        if m.bias is not None:\n"),
                ("isinstance(m, nn.Conv2d) and m.bias:", "isinstance(m, nn.Conv2d) and m.bias is not None:"),
                ("    if not m.bias:\n", "    if m.bias is None:\n"),
                ("if (self.fc.bias):", "if (self.fc.bias) is not None:")],
               0),
    "INI203": ("fixes_ini203_deprecated.py",
               [(14, 9, True), (15, 9, True), (16, 9, True), (17, 9, True), (18, 9, True)],
               [("from torch.nn.init import constant, xavier_uniform\n",
                 "from torch.nn.init import constant_, xavier_uniform_\n"),
                ("import kaiming_normal as he_normal", "import kaiming_normal_ as he_normal"),
                ("        xavier_uniform(self.fc1.weight)\n", "        xavier_uniform_(self.fc1.weight)\n"),
                ("        constant(self.fc1.bias, 0)\n", "        constant_(self.fc1.bias, 0)\n"),
                ("init.constant(self.fc2.bias, 0)", "init.constant_(self.fc2.bias, 0)"),
                ("nn.init.xavier_uniform(self.fc1.weight, gain=1.0)",
                 "nn.init.xavier_uniform_(self.fc1.weight, gain=1.0)")],
               0),
    "INI204": ("fixes_ini204_module_helpers.py",
               [(line, 9, line < 28) for line in range(15, 32)],
               [("normal_init(self.conv.weight, std=0.01)", "nn.init.normal_(self.conv.weight, std=0.01)"),
                ("constant_init(self.conv.bias, 0)", "nn.init.constant_(self.conv.bias, 0)"),
                ("normal_init(self.cls.weight, 0, 0.01)", "nn.init.normal_(self.cls.weight, 0, 0.01)"),
                ("constant_init(self.cls.bias, -4.59)", "nn.init.constant_(self.cls.bias, -4.59)"),
                ("        kaiming_init(self.conv.weight)\n",
                 '        nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")\n'),
                ('kaiming_init(self.conv.weight, a=0.1, mode="fan_in", nonlinearity="leaky_relu", '
                 'distribution="uniform")',
                 'nn.init.kaiming_uniform_(self.conv.weight, a=0.1, mode="fan_in", nonlinearity="leaky_relu")'),
                ("xavier_init(self.fc.weight, gain=1)", "nn.init.xavier_normal_(self.fc.weight, gain=1)"),
                ('xavier_init(self.fc.weight, distribution="uniform")', "nn.init.xavier_uniform_(self.fc.weight)"),
                ("trunc_normal_init(module=self.fc.weight, std=0.02)",
                 "nn.init.trunc_normal_(self.fc.weight, std=0.02)"),
                ("uniform_init(self.fc.weight, -0.05, b=0.05)", "nn.init.uniform_(self.fc.weight, -0.05, b=0.05)"),
                ("caffe2_xavier_init(self.conv.weight)", "nn.init.kaiming_uniform_(self.conv.weight, a=1)"),
                ("weight_init.c2_msra_fill(self.conv.weight)",
                 'nn.init.kaiming_normal_(self.conv.weight, mode="fan_out", nonlinearity="relu")'),
                ("weight_init.c2_xavier_fill(self.cls.weight)", "nn.init.kaiming_uniform_(self.cls.weight, a=1)")],
               1),  # bias=, a Xavier init of a bias, a distribution from a variable and *args keep no fix
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_findings_and_exact_idempotent_fix(tmp_path, code):
    name, expected_findings, edits, returncode = CASES[code]
    source = read(name)
    assert findings(source, code) == expected_findings
    fixed, status = fix_twice(tmp_path, source, code)
    assert fixed == edited(source, edits)
    assert status == returncode


def test_deprecated_bare_names_without_an_exact_rename_keep_their_import(tmp_path):
    source = read("fixes_ini203_kept_names.py")
    assert findings(source, "INI203") == [(15, 9, False), (16, 9, False)]
    fixed, status = fix_twice(tmp_path, source, "INI203")
    assert fixed == source and status == 1


def test_ini005_messages():
    source = read("fixes_ini005_equalized_lr.py").encode()
    result = lint_source(source, "models/gan.py", Selection(select=("INI005",)))
    assert [f.message for f in result.findings if f.line in (98, 136)] == [
        "normal_ with the default std=1 on self.fc: the signal's scale grows with fan_in at every layer",
        "trunc_normal_ with the default std=1 (0.02 is the mean) on self.fc1: the signal grows about 16x by "
        "self.fc1 (fan_in=512)"]


# Each deliberate N(0, 1) init in the fixture, with the one edit that removes what makes it deliberate.
EQUALIZED_LR_CAUSES = [
    ("self.conv = equal_lr(conv)", "self.conv = conv", 37),
    ("class EqualLinear(", "class PlainLinear(", 49),
    ("self.fc.weight * self.w_mul", "self.fc.weight", 61),
    ("self.conv(x * self.scale)", "self.conv(x)", 73),
    ("self.conv = spectral_norm(conv)", "self.conv = weight_norm(conv)", 84),
]


@pytest.mark.parametrize("before,after,line", EQUALIZED_LR_CAUSES)
def test_each_run_time_rescaling_is_what_silences_ini005(before, after, line):
    source = read("fixes_ini005_equalized_lr.py")
    assert line not in [f[0] for f in findings(source, "INI005")]
    assert line in [f[0] for f in findings(edited(source, [(before, after)]), "INI005")]


def test_a_scale_in_a_class_of_several_layers_does_not_silence_ini005():
    source = read("fixes_ini005_equalized_lr.py")
    # The attention class scales q's output, yet it has two layers: only single-layer wrappers count.
    assert (124, 9, True) in findings(source, "INI005")
    single = edited(source, [("        self.k = nn.Linear(dim, dim)\n", ""),
                             ("@ self.k(x).transpose(-2, -1)", "@ x.transpose(-2, -1)")])
    assert findings(single, "INI005") == [(98, 9, True), (109, 9, True), (135, 9, True)]


def test_unknown_keywords_are_ini107_not_ini005():
    source = "import torch.nn as nn\nfc = nn.Linear(4, 4)\n"
    for call in ("nn.init.normal_(fc.weight, stddev=0.01)", "fc.weight.data.normal_(stddev=0.01)",
                 "nn.init.uniform_(fc.weight, low=-0.1, high=0.1)"):
        assert findings(f"{source}{call}\n", "INI005") == []
        assert findings(f"{source}{call}\n", "INI107") == [(3, 1, "stddev" in call)]
    assert findings(f"{source}nn.init.trunc_normal_(fc.weight)\n", "INI005") == [(3, 1, True)]


def test_added_strings_follow_the_call_quote_style(tmp_path):
    source = ("from mmcv.cnn import kaiming_init\nimport torch.nn as nn\nconv = nn.Conv2d(3, 8, 3)\n"
              "kaiming_init(conv.weight, mode='fan_in')\n"
              "nn.init.kaiming_uniform_(conv.weight, gain=nn.init.calculate_gain('tanh'))\n")
    path = tmp_path / "model.py"
    path.write_text(source)
    run_cli("--fix", "--no-cache", "--select", "INI204,INI107", str(path))
    assert path.read_text() == edited(source, [
        ("kaiming_init(conv.weight, mode='fan_in')",
         "nn.init.kaiming_normal_(conv.weight, mode='fan_in', nonlinearity='relu')"),
        ("gain=nn.init.calculate_gain('tanh')", "nonlinearity='tanh'")])


def build(source: str) -> dict:
    """Run a fixture's module code (it only defines classes and functions) and return its namespace."""
    namespace = {"__name__": "fixture"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # weight_norm's deprecation
        exec(compile(source, "fixture.py", "exec"), namespace)
    return namespace


def fixed_text(tmp_path, name: str, code: str) -> str:
    return fix_twice(tmp_path, read(name), code)[0]


def test_fixed_bias_guards_let_the_models_build(tmp_path):
    before = build(read("fixes_ini101_configurable_bias.py"))
    after = build(fixed_text(tmp_path, "fixes_ini101_configurable_bias.py", "INI101"))
    for make in (lambda ns: ns["Attention"](8, qkv_bias=False), lambda ns: ns["Encoder"]()):
        with pytest.raises(AttributeError):
            make(before)
        make(after)
    assert after["Attention"](8, qkv_bias=True).qkv.bias.abs().sum() == 0

    before = build(read("fixes_ini106_bias_truth_test.py"))
    after = build(fixed_text(tmp_path, "fixes_ini106_bias_truth_test.py", "INI106"))
    with pytest.raises(RuntimeError, match="ambiguous"):
        before["Net"]()
    net = after["Net"]()
    assert torch.all(net.fc.bias == 0)  # set to 0.1, then zeroed by init_weights, which now runs


def test_fixed_unscaled_init_is_scaled():
    source = read("fixes_ini005_equalized_lr.py")
    fixed = lint_source(source.encode(), "models/model.py", Selection(select=("INI005",)), keep_module=True)
    new_source, applied = fixed_source(fixed.module, fixed.findings)
    torch.manual_seed(0)
    assert 0.9 < build(source)["UnusedScale"](512, 512).fc.weight.std() < 1.1
    assert 0.05 < build(new_source.decode())["UnusedScale"](512, 512).fc.weight.std() < 0.075  # sqrt(2/512)
    assert len(applied) == 4


def test_module_helpers_test_the_bias_themselves():
    source = ("import torch.nn as nn\nfrom mmcv.cnn import constant_init, kaiming_init\n\n\n"
              "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.conv = nn.Conv2d(3, 8, 3, bias=False)\n        for m in self.modules():\n"
              "            if isinstance(m, nn.Conv2d):\n                kaiming_init(m)\n"
              "        constant_init(self.conv, 1)\n        nn.init.zeros_(self.conv.bias)\n")
    assert findings(source, "INI101") == [(13, 9, True)]


def test_helper_fix_keeps_the_layout_and_comments_of_its_arguments(tmp_path):
    source = ("import torch.nn as nn\nfrom mmcv.cnn import normal_init\nfc = nn.Linear(2, 2)\n"
              "normal_init(\n    fc.weight,  # the head\n    std=0.01,\n)\n")
    fixed, status = fix_twice(tmp_path, source, "INI204")
    assert fixed == source.replace("normal_init(\n", "nn.init.normal_(\n") and status == 0


def test_ini005_in_helpers_applied_nowhere_and_in_loops_over_mixed_layers(tmp_path):
    source = read("fixes_ini005_helpers.py")
    result = lint_source(source.encode(), "models/init.py", Selection(select=("INI005",)))
    assert [(f.line, f.column, f.message) for f in result.findings] == [
        (10, 9, "normal_ with the default std=1 on every Linear weight this helper meets: the signal's scale "
                "grows with fan_in at every layer"),
        (32, 17, "normal_ with the default std=1 on self.fc1, self.fc2, self.out: the signal grows about 362x "
                 "over 3 such layers by self.out")]
    fixed, status = fix_twice(tmp_path, source, "INI005")
    default = "nn.init.kaiming_uniform_(m.weight, a=5 ** 0.5)"
    assert fixed == edited(source, [("        nn.init.normal_(m.weight)\n        nn.init.zeros_(m.bias)\n\n\ndef emb",
                                     f"        {default}\n        nn.init.zeros_(m.bias)\n\n\ndef emb"),
                                    ("                nn.init.normal_(m.weight)\n", f"                {default}\n")])
    assert status == 0
    torch.manual_seed(0)
    assert build(fixed)["Mixed"]().fc1.weight.abs().max() <= 1 / 64 ** 0.5  # PyTorch's default bound
