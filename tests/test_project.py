"""The project, not just the file: imports of the project's own modules are followed."""
import os
import shutil

from conftest import fixture_path, run_cli
from initlint.engine import Selection, lint_source


def findings(path):
    with open(path, "rb") as handle:
        result = lint_source(handle.read(), path, Selection())
    return [(f.code, f.line, f.message) for f in result.findings], result.dependencies


def test_package_script_reaches_models_and_helpers_of_other_files():
    found, dependencies = findings(fixture_path("project", "pkg", "train.py"))
    assert [(code, line) for code, line, _ in found] == [("INI001", 9), ("INI002", 11)]
    assert found[0][2] == ("every Conv2d/Linear weight reached here is set to zero (ConvNet.features[0], "
                           "ConvNet.features[2], ConvNet.head): all units stay identical (in utils.py, run here)")
    assert found[1][2].startswith("xavier_uniform_ on Mlp.fc1, Mlp.fc2 followed by relu")
    assert sorted(os.path.basename(path) for path in dependencies) == ["models.py", "utils.py"]


def test_script_beside_its_models_file():
    found, _ = findings(fixture_path("project", "scripts", "train.py"))
    assert [(code, line) for code, line, _ in found] == [("INI001", 18)]
    assert "(Critic.main[0], Critic.main[2], Critic.main[4])" in found[0][2]


def test_each_file_reports_its_own_code():
    # models.py and utils.py are checked on their own: the helper is wrong for any net; the models keep
    # their default init only where nothing in their own file initialises them.
    found, dependencies = findings(fixture_path("project", "pkg", "utils.py"))
    assert [(code, line) for code, line, _ in found] == [("INI001", 6)]
    assert dependencies == []


def test_unresolved_imports_stay_may_be_initialised_elsewhere(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "train.py").write_text(
        "import torch.nn as nn\nfrom somelib import init_weights\nfrom models import Net\n\n"
        "net = Net()\nnet.apply(init_weights)\n")
    found, dependencies = findings(str(tmp_path / "train.py"))
    assert found == [] and dependencies == []


def test_cli_fixes_only_the_file_that_holds_the_init(tmp_path):
    shutil.copytree(fixture_path("project", "pkg"), tmp_path / "pkg")
    (tmp_path / "pyproject.toml").write_text("")
    before = (tmp_path / "pkg" / "train.py").read_bytes()
    result = run_cli("--no-cache", "--fix", str(tmp_path / "pkg" / "train.py"))
    assert (tmp_path / "pkg" / "train.py").read_bytes() == before  # relocated findings carry no fix
    assert "train.py:9:1: INI001" in result.stdout, result.stdout + result.stderr


def test_cached_result_is_dropped_when_a_file_it_read_changes(tmp_path):
    shutil.copytree(fixture_path("project", "pkg"), tmp_path / "pkg")
    (tmp_path / "pyproject.toml").write_text("")
    train = str(tmp_path / "pkg" / "train.py")
    cache = str(tmp_path / "cache")
    first = run_cli("--cache-dir", cache, "--output-format", "concise", train)
    assert "train.py:9:1: INI001" in first.stdout, first.stdout + first.stderr
    utils = tmp_path / "pkg" / "utils.py"
    utils.write_text(utils.read_text().replace("nn.init.zeros_(m.weight)",
                                               'nn.init.kaiming_normal_(m.weight, nonlinearity="relu")'))
    second = run_cli("--cache-dir", cache, "--output-format", "concise", train)
    assert "INI001" not in second.stdout, second.stdout
    third = run_cli("--cache-dir", cache, "--output-format", "concise", train)
    assert third.stdout == second.stdout
