"""Where ``# noqa`` is read, what --add-noqa and INI901 (unused-noqa) judge against, and where a bad byte is
reported: lines as Python counts them, the findings of the whole run, helpers other files may apply."""
from conftest import run_cli

HIDDEN_ZERO = '''import torch.nn as nn
import torch.nn.functional as F
{extra}

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.out = nn.Linear(512, 10)
        nn.init.zeros_(self.fc1.weight)  # noqa: INI001

    def forward(self, x):
        return self.out(F.relu(self.fc1(x)))
'''


def test_noqa_is_read_on_its_own_line_after_a_form_feed_or_a_line_separator(tmp_path):
    # str.splitlines() also breaks at \x0c and U+2028, which Python's (and LibCST's) lines do not
    for name, extra in (("ff.py", "\x0c"), ("ls.py", "S = '\u2028'")):
        path = tmp_path / name
        path.write_text(HIDDEN_ZERO.format(extra=extra), encoding="utf-8")
        result = run_cli("--no-cache", "--select", "ALL", str(path), cwd=str(tmp_path))
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout == ""
        result = run_cli("--no-cache", "--fix", "--select", "ALL", str(path), cwd=str(tmp_path))
        assert path.read_text(encoding="utf-8") == HIDDEN_ZERO.format(extra=extra)


def test_a_bad_byte_in_the_first_two_lines_is_reported_where_it_is(tmp_path):
    cases = {b"\xff\xfeimport torch\n": "1:1", b"import torch  # caf\xe9\nx = 1\n": "1:20",
             b"import torch\nx = 1  # caf\xe9\n": "2:13"}
    for number, (source, where) in enumerate(cases.items()):
        path = tmp_path / f"m{number}.py"
        path.write_bytes(source)
        result = run_cli("--no-cache", path.name, cwd=str(tmp_path))
        assert result.returncode == 1
        assert result.stdout.startswith(f"m{number}.py:{where}: INI900 could not parse: not valid utf-8: byte ")


def test_add_noqa_follows_the_findings_of_the_whole_run(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.initlint]\nmin-signal-change = 1\n")
    models = ("import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
              "        super().__init__()\n        self.body = nn.Sequential(nn.Linear(10, 10), nn.ReLU(), "
              "nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 1))\n\n    def forward(self, x):\n"
              "        return self.body(x)\n")
    train = ("import torch.nn as nn\nfrom models import Net\n\nnet = Net()\nfor m in net.modules():\n"
             "    if isinstance(m, nn.Linear):\n        nn.init.kaiming_normal_(m.weight)\n")
    (tmp_path / "models.py").write_text(models)
    alone = run_cli("--no-cache", "models.py", cwd=str(tmp_path))
    assert [line.split()[1] for line in alone.stdout.splitlines()] == ["INI003"]  # alone: nothing inits Net
    (tmp_path / "train.py").write_text(train)
    assert run_cli("--no-cache", ".", cwd=str(tmp_path)).returncode == 0  # train.py initialises every layer
    result = run_cli("--no-cache", "--add-noqa", ".", cwd=str(tmp_path))
    assert result.returncode == 0 and "Added 0 noqa directives." in result.stderr
    assert (tmp_path / "models.py").read_text() == models


def test_unused_noqa_keeps_model_dependent_codes_in_helpers(tmp_path):
    source = ("import torch.nn as nn\n\n\ndef init_weights(m):\n"
              "    nn.init.xavier_uniform_(m.weight)  # noqa: INI002\n"
              "    nn.init.kaiming_normal_(m.weight)  # noqa: INI001\n\n\n"
              "class A(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
              "        self.fc = nn.Linear(3, 3)\n        nn.init.xavier_uniform_(self.fc.weight)  # noqa: INI002\n")
    (tmp_path / "utils.py").write_text(source)
    result = run_cli("--no-cache", "--select", "INI0,INI901", "utils.py", cwd=str(tmp_path))
    # INI002 in the helper may suppress a finding that lands there when the files applying it are checked
    # too; INI001 holds whatever the model is; in the method the layer is known
    assert [line.split(" ", 2)[:2] for line in result.stdout.splitlines()] == [
        ["utils.py:6:40:", "INI901"], ["utils.py:13:50:", "INI901"]]
