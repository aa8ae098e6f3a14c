"""--fix and --diff: the exact rewrite, every other byte kept, idempotent, atomic."""
import os
import shutil
import stat

import pytest

from conftest import fixture_path, run_cli


def fix_once(tmp_path, name, content: bytes, *extra):
    path = tmp_path / name
    path.write_bytes(content)
    if not (tmp_path / "pyproject.toml").exists():  # the cases are shallow nets: fix every change
        (tmp_path / "pyproject.toml").write_text("[tool.initlint]\nmin-signal-change = 1\n")
    result = run_cli("--fix", "--no-cache", "-q", *extra, str(path))
    return path, result


SOURCE = b'''"""Doc."""
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)  # keep this comment
        self.fc2 = nn.Linear(16, 4)
        nn.init.zeros_(self.fc1.weight)
        nn.init.zeros_(self.fc1.bias)
        nn.init.xavier_uniform_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))
'''


def test_fix_rewrites_exactly_and_is_idempotent(tmp_path):
    path, result = fix_once(tmp_path, "net.py", SOURCE)
    assert result.returncode == 0, result.stdout + result.stderr
    expected = SOURCE.replace(b"nn.init.zeros_(self.fc1.weight)",
                              b'nn.init.kaiming_normal_(self.fc1.weight, nonlinearity="relu")')
    assert path.read_bytes() == expected
    before = os.stat(path).st_mtime_ns
    again = run_cli("--fix", "--no-cache", "-q", str(path))
    assert again.returncode == 0 and again.stdout == ""
    assert os.stat(path).st_mtime_ns == before
    assert run_cli("--no-cache", "-q", str(path)).returncode == 0


def test_diff_prints_and_writes_nothing(tmp_path):
    path = tmp_path / "net.py"
    path.write_bytes(SOURCE)
    result = run_cli("--diff", "--no-cache", str(path))
    assert result.returncode == 1
    assert '-        nn.init.zeros_(self.fc1.weight)\n' in result.stdout
    assert '+        nn.init.kaiming_normal_(self.fc1.weight, nonlinearity="relu")\n' in result.stdout
    assert path.read_bytes() == SOURCE
    clean = tmp_path / "clean.py"
    clean.write_bytes(b"import torch\n")
    assert run_cli("--diff", "--no-cache", str(clean)).returncode == 0


def test_crlf_bom_and_latin1_are_kept(tmp_path):
    crlf = b"\xef\xbb\xbf" + SOURCE.replace(b"\n", b"\r\n")
    path, result = fix_once(tmp_path, "crlf.py", crlf)
    assert result.returncode == 0, result.stderr
    assert path.read_bytes() == crlf.replace(
        b"nn.init.zeros_(self.fc1.weight)", b'nn.init.kaiming_normal_(self.fc1.weight, nonlinearity="relu")')

    with open(fixture_path("misc", "latin1.py"), "rb") as handle:
        latin = handle.read()
    path, result = fix_once(tmp_path, "latin1.py", latin)
    assert result.returncode == 0, result.stderr
    assert path.read_bytes() == latin.replace(b"xavier_uniform_(self.fc.bias)", b"zeros_(self.fc.bias)")
    assert b"caf\xe9" in path.read_bytes()


def test_tab_indented_file(tmp_path):
    source = SOURCE.replace(b"        ", b"\t\t").replace(b"    ", b"\t")
    path, result = fix_once(tmp_path, "tabs.py", source)
    assert result.returncode == 0, result.stderr
    assert path.read_bytes() == source.replace(
        b"nn.init.zeros_(self.fc1.weight)", b'nn.init.kaiming_normal_(self.fc1.weight, nonlinearity="relu")')


EXPECTED_FIXES = {
    "INI002": (b"        nn.init.xavier_uniform_(self.fc.weight)\n",
               b'        nn.init.kaiming_uniform_(self.fc.weight, nonlinearity="relu")\n'),
    "INI101": (b"        self.conv = nn.Conv2d(3, 8, 3, bias=False)\n        nn.init.zeros_(self.conv.bias)\n",
               b"        self.conv = nn.Conv2d(3, 8, 3, bias=False)\n"),
    "INI102": (b"nn.init.xavier_uniform_(self.fc.bias)", b"nn.init.zeros_(self.fc.bias)"),
    "INI004": (b'nn.init.kaiming_normal_(self.fc.weight, mode="fan_out", nonlinearity="relu")',
               b'nn.init.kaiming_normal_(self.fc.weight, mode="fan_out", nonlinearity="tanh")'),
    "INI005": (b"        self.fc.weight.data.normal_()\n",
               b"        nn.init.xavier_uniform_(self.fc.weight)\n"),
    "INI103": (b'        nn.init.kaiming_uniform_(self.fc.weight, nonlinearity="relu")\n',
               b'        nn.init.kaiming_uniform_(self.fc.weight, nonlinearity="relu")\n'
               b"        nn.init.zeros_(self.fc.bias)\n"),
    "INI104": (b"nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16)",
               b"nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16)"),
    "INI105": (b"nn.init.constant_(self.hidden.bias, -1.0)", b"nn.init.zeros_(self.hidden.bias)"),
    "INI106": (b"if m.bias:", b"if m.bias is not None:"),
    "INI203": (b"init.xavier_uniform(self.fc.weight)", b"init.xavier_uniform_(self.fc.weight)"),
}

CASES = {
    "INI002": b'''import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x):
        return F.relu(self.fc(x))
''',
    "INI101": b'''import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, bias=False)
        nn.init.zeros_(self.conv.bias)
''',
    "INI102": b'''import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        nn.init.normal_(self.fc.weight, std=0.01)
        nn.init.xavier_uniform_(self.fc.bias)
''',
    "INI004": b'''import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        nn.init.kaiming_normal_(self.fc.weight, mode="fan_out", nonlinearity="relu")
        nn.init.zeros_(self.fc.bias)

    def forward(self, x):
        return torch.tanh(self.fc(x))
''',
    "INI005": b'''import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.fc.weight.data.normal_()
        self.fc.bias.data.zero_()

    def forward(self, x):
        return self.fc(x)
''',
    "INI103": b'''import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        nn.init.kaiming_uniform_(self.fc.weight, nonlinearity="relu")

    def forward(self, x):
        return F.relu(self.fc(x))
''',
    "INI104": b'''import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16))
''',
    "INI105": b'''import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(8, 8)
        nn.init.kaiming_normal_(self.hidden.weight, nonlinearity="relu")
        nn.init.constant_(self.hidden.bias, -1.0)

    def forward(self, x):
        return F.relu(self.hidden(x))
''',
    "INI106": b'''import torch.nn as nn


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        if m.bias:
            nn.init.zeros_(m.bias)
''',
    "INI203": b'''import torch.nn as nn
from torch.nn import init


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        init.xavier_uniform(self.fc.weight)
        init.zeros_(self.fc.bias)
''',
}


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_fix(tmp_path, code):
    before, after = EXPECTED_FIXES[code]
    source = CASES[code]
    assert before in source
    path, result = fix_once(tmp_path, "case.py", source, "--select", "ALL", "--unsafe-fixes")
    assert path.read_bytes() == source.replace(before, after), result.stdout + result.stderr
    assert result.returncode == 0, result.stdout


def test_missing_he_init_fix_inserts_after_the_layer(tmp_path):
    source = b'''import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU())
        self.out = nn.Linear(4, 1)
'''
    path, result = fix_once(tmp_path, "he.py", source)
    assert result.returncode == 0, result.stdout
    assert path.read_bytes() == source.replace(
        b"nn.ReLU())\n", b'nn.ReLU())\n'
        b'        nn.init.kaiming_normal_(self.net[0].weight, nonlinearity="relu")\n'
        b"        nn.init.zeros_(self.net[0].bias)\n"
        b'        nn.init.kaiming_normal_(self.net[2].weight, nonlinearity="relu")\n'
        b"        nn.init.zeros_(self.net[2].bias)\n")


def test_fix_adds_an_import_only_when_needed(tmp_path):
    source = b'''from torch.nn import Linear, Module, ReLU, Sequential


class Net(Module):
    def __init__(self):
        super().__init__()
        self.conv = Linear(3, 8, bias=False)
        self.body = Sequential(Linear(4, 4), ReLU(), Linear(4, 4), ReLU())
'''
    path, result = fix_once(tmp_path, "imp.py", source)
    fixed = path.read_bytes()
    assert fixed.startswith(b"from torch.nn import Linear, Module, ReLU, Sequential\nimport torch.nn as nn\n")
    assert b'nn.init.kaiming_normal_(self.body[0].weight, nonlinearity="relu")' in fixed
    assert result.returncode == 0


def test_move_apply_after_layers(tmp_path):
    source = b'''import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.apply(self._init)
        self.fc = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def _init(self, m):
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
'''
    path, result = fix_once(tmp_path, "move.py", source)
    assert path.read_bytes() == source.replace(
        b"        self.apply(self._init)\n        self.fc = nn.Linear(4, 4)\n        self.head = nn.Linear(4, 2)\n",
        b"        self.fc = nn.Linear(4, 4)\n        self.head = nn.Linear(4, 2)\n        self.apply(self._init)\n")
    assert result.returncode == 0


def test_unparsable_and_clean_files_are_not_written(tmp_path):
    broken = tmp_path / "broken.py"
    shutil.copy(fixture_path("misc", "syntax_error.py"), broken)
    clean = tmp_path / "clean.py"
    clean.write_bytes(b"import torch\nx = 1\n")
    stamps = {p: os.stat(p).st_mtime_ns for p in (broken, clean)}
    original = broken.read_bytes()
    result = run_cli("--fix", "--no-cache", str(broken), str(clean))
    assert result.returncode == 1
    assert "INI900 could not parse" in result.stdout
    assert broken.read_bytes() == original
    assert {p: os.stat(p).st_mtime_ns for p in stamps} == stamps


def test_fix_keeps_permission_bits_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "exec.py"
    path.write_bytes(CASES["INI102"])
    os.chmod(path, 0o751)
    result = run_cli("--fix", "--no-cache", str(path))
    assert result.returncode == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o751
    assert sorted(os.listdir(tmp_path)) == ["exec.py"]


def test_unfixable_findings_remain_and_exit_one(tmp_path):
    source = CASES["INI002"].replace(b"    def forward(self, x):\n",
                                     b"    def forward(self, x):\n        nn.init.zeros_(self.fc.bias)\n")
    path, result = fix_once(tmp_path, "left.py", source)
    assert result.returncode == 1
    assert "INI201" in result.stdout
    assert b"kaiming_uniform_" in path.read_bytes()


def test_a_fix_that_would_not_parse_is_dropped_and_reported(tmp_path, monkeypatch):
    import libcst as cst

    from initlint.config import Settings
    from initlint.rules.ini102_weight_init_on_bias import WeightInitOnBias
    from initlint.runner import check_file

    def broken_fix(self, site, name, args, description):
        from initlint.findings import Fix
        return Fix("broken", replace={site.call: cst.Name("lambda")})  # a keyword: does not parse

    path = tmp_path / "case.py"
    source = CASES["INI102"].replace(b"nn.init.normal_(self.fc.weight, std=0.01)",
                                     b"nn.init.xavier_uniform_(self.fc.weight)")
    path.write_bytes(source)
    monkeypatch.setattr("initlint.rules.rewrite.Rewriter.replace_call", broken_fix)
    report = check_file(str(path), Settings(), "fix")
    assert path.read_bytes() == source
    assert [f.code for f in report.findings] == ["INI102"]
    assert report.warnings == [f"{path}:9:9: INI102 fix not applied: the result would not parse"]


def test_negated_bias_truth_test_becomes_is_none(tmp_path):
    source = CASES["INI106"].replace(b"        if m.bias:\n            nn.init.zeros_(m.bias)\n",
                                     b"        if not m.bias:\n            return\n        nn.init.zeros_(m.bias)\n")
    path, result = fix_once(tmp_path, "neg.py", source)
    assert path.read_bytes() == source.replace(b"if not m.bias:", b"if m.bias is None:")
    assert result.returncode == 0


def test_apply_is_not_moved_past_other_inits(tmp_path):
    source = b'''import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.apply(self._init)
        self.head = nn.Linear(4, 2)
        nn.init.zeros_(self.head.weight)
        self.aux = nn.Linear(4, 4)

    def _init(self, m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
'''
    path, result = fix_once(tmp_path, "nomove.py", source)
    assert path.read_bytes() == source
    assert result.returncode == 1 and "INI202 `self.apply(self._init)`" in result.stdout


def test_rewritten_call_keeps_its_arguments_comments_and_layout(tmp_path):
    source = b'''import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 8)
        self.fc2 = nn.Linear(8, 8)
        self.fc3 = nn.Linear(8, 1)
        nn.init.xavier_uniform_(self.fc1.weight)  # glorot, as in the paper
        nn.init.xavier_uniform_(
            self.fc2.weight,  # the hidden layer
            gain=1.0,
        )
        nn.init.zeros_(self.fc1.bias)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))
'''
    path, result = fix_once(tmp_path, "net.py", source)
    assert path.read_bytes() == source.replace(
        b'nn.init.xavier_uniform_(self.fc1.weight)  # glorot',
        b'nn.init.kaiming_uniform_(self.fc1.weight, nonlinearity="relu")  # glorot').replace(
        b'''        nn.init.xavier_uniform_(
            self.fc2.weight,  # the hidden layer
            gain=1.0,
        )''', b'''        nn.init.kaiming_uniform_(
            self.fc2.weight,  # the hidden layer
            nonlinearity="relu",
        )'''), result.stdout + result.stderr
