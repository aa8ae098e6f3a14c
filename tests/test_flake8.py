"""The flake8 plugin, run through the real ``flake8`` program (and, for what flake8 cannot reach, directly)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli
from initlint import __version__
from initlint import flake8 as plugin

FIXTURES = Path(__file__).parent / "fixtures" / "integration"
WARNING = "initlint: warning:"
EVERY_CHANGE = "[tool.initlint]\nmin-signal-change = 1\n"

# models.py: every finding, in the order both tools print them.
MODELS = [
    "models.py:13:9: INI001",
    "models.py:14:9: INI002",
    "models.py:17:13: INI103",
    "models.py:17:13: INI203",
    "models.py:20:9: INI201",
    "models.py:27:5: INI101",
]
# Without a select naming INI codes: the default set (INI103 is advice).
MODELS_DEFAULT = [row for row in MODELS if ": INI103" not in row]
_ROW = re.compile(r"^(?P<where>[^:\s]+:\d+:\d+): (?P<code>[A-Z]+\d+) (?:\[\*\] )?(?P<message>.*)$")


def _copy_fixtures(folder):
    """The fixtures, with a configuration of their own: their one-layer Xavier and two-layer stacks are
    below the default min-signal-change."""
    for item in FIXTURES.iterdir():
        shutil.copyfile(item, folder / item.name)
    (folder / "pyproject.toml").write_text(EVERY_CHANGE)
    return folder


@pytest.fixture
def work(tmp_path):
    """A copy of the fixtures in a folder of their own, with no flake8 or initlint config above it, for a
    test that changes it."""
    return _copy_fixtures(tmp_path)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """``pristine(*args)``: flake8 run with ``args`` on a copy of the fixtures that no test changes. Each
    command runs once for this module (flake8 takes about half a second of CPU to start)."""
    folder = _copy_fixtures(tmp_path_factory.mktemp("flake8-fixtures"))
    runs = {}

    def run(*args):
        if args not in runs:
            runs[args] = flake8(folder, *args)
        return runs[args]
    run.folder = folder
    return run


# The fixtures compared with the CLI file by file; flake8 checks them in one run per selection.
SAME_AS_CLI = ("models.py", "relu_net.py", "stack.py", "noqa_variants.py", "latin1.py", "utf8_bom.py")


def rows_of_file(output: str, name: str) -> list:
    return [row for row in rows(output) if row[0].startswith(name + ":")]


def _env():
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    return env


def flake8(cwd, *args):
    return subprocess.run([sys.executable, "-m", "flake8", *args], cwd=cwd, capture_output=True, text=True,
                          env=_env(), timeout=120)


def initlint_cli(cwd, *args):
    return run_cli("--no-cache", "-q", *args, cwd=cwd)


def rows(output: str) -> list:
    """``(path:line:col, code, message)`` for each finding line."""
    found = []
    for line in output.splitlines():
        match = _ROW.match(line)
        assert match, f"not a finding line: {line!r}"
        found.append((match["where"], match["code"], match["message"]))
    return found


def heads(output: str) -> list:
    return [f"{where}: {code}" for where, code, _ in rows(output)]


# ---------------------------------------------------------------------- registration
def test_plugin_is_registered_under_its_name_and_version(pristine):
    result = pristine("--version")
    assert result.returncode == 0, result.stderr
    assert f"initlint: {__version__}" in result.stdout
    assert plugin.InitLintChecker.name == "initlint"
    assert plugin.InitLintChecker.version == __version__


# ---------------------------------------------------------------------- same findings as the CLI
def test_models_findings_exact(pristine):
    result = pristine("--isolated", "--select", "INI", "models.py")
    assert result.returncode == 1
    assert result.stderr == ""
    assert heads(result.stdout) == MODELS
    assert rows(result.stdout)[1][2] == ("xavier_uniform_ on self.fc2 followed by relu: the signal shrinks about "
                                         "1.4x by self.fc2; use He (kaiming) init")


@pytest.mark.parametrize("name", SAME_AS_CLI)
def test_same_lines_as_the_cli(pristine, name):
    cli = initlint_cli(pristine.folder, "--select", "INI", name)
    ours = pristine("--isolated", "--select", "INI", *SAME_AS_CLI)
    assert cli.returncode == ours.returncode == 1, (cli.stderr, ours.stderr)
    assert rows_of_file(ours.stdout, name) == rows(cli.stdout)
    assert rows_of_file(ours.stdout, name)  # every one of these fixtures has findings
    default_cli = initlint_cli(pristine.folder, name)
    default_flake8 = pristine("--isolated", *SAME_AS_CLI)
    assert [r for r in rows_of_file(default_flake8.stdout, name) if r[1].startswith("INI")] == \
        rows(default_cli.stdout)


def test_columns_after_non_ascii_text_match_the_cli(pristine):
    # A latin-1 file with a coding cookie and a UTF-8 file with a BOM: characters, not bytes, count.
    both = pristine("--isolated", "--select", "INI", *SAME_AS_CLI).stdout
    assert [f"{w}: {c}" for w, c, _ in rows_of_file(both, "latin1.py")] == [
        "latin1.py:10:36: INI002", "latin1.py:10:36: INI103"]
    assert [f"{w}: {c}" for w, c, _ in rows_of_file(both, "utf8_bom.py")] == [
        "utf8_bom.py:9:26: INI002", "utf8_bom.py:9:26: INI103"]


def test_project_settings_change_the_analysis_as_for_the_cli(work):
    (work / "deep").mkdir()
    shutil.copyfile(work / "stack.py", work / "deep" / "stack.py")
    (work / "deep" / "pyproject.toml").write_text(EVERY_CHANGE + "relu-stack-depth = 3\n")
    assert heads(flake8(work, "--isolated", "--select", "INI", "stack.py").stdout) == ["stack.py:7:34: INI003"]
    deep = flake8(work, "--isolated", "--select", "INI", "deep/stack.py")
    assert (deep.returncode, deep.stdout) == (0, "")
    assert initlint_cli(work, "deep/stack.py").stdout == ""


def test_bad_project_settings_warn_once_and_use_the_defaults(work):
    (work / "pyproject.toml").write_text("[tool.initlint]\nrelu-stack-depth = 0\n")
    result = flake8(work, "--isolated", "--select", "INI", "stack.py", "relu_net.py")
    assert result.stderr.count(WARNING) == 1
    assert "'relu-stack-depth' must be a whole number >= 1; the flake8 plugin uses the default settings" \
        in result.stderr
    # The default settings: the one-layer Xavier (INI002) and the two-layer stack (INI003) are below
    # min-signal-change.
    assert heads(result.stdout) == ["relu_net.py:9:9: INI103"]


# ---------------------------------------------------------------------- selection
def test_default_selection_is_the_default_set(pristine):
    result = pristine("--isolated", *SAME_AS_CLI)
    assert [f"{w}: {c}" for w, c, _ in rows_of_file(result.stdout, "models.py") if c.startswith("INI")] == \
        MODELS_DEFAULT


@pytest.mark.parametrize("args, reported", [
    (["--select", "INI103"], ["models.py:17:13: INI103"]),
    (["--select", "INI1"], ["models.py:17:13: INI103", "models.py:27:5: INI101"]),
    (["--extend-select", "INI103"], MODELS),
    (["--select", "I"], MODELS_DEFAULT),  # a one-letter entry is taken as another plugin's: no advice
])
def test_advice_rules_only_when_a_select_entry_names_them(pristine, args, reported):
    result = pristine("--isolated", *args, "models.py")
    assert [h for h in heads(result.stdout) if ": INI" in h] == reported


def test_test_files_get_only_error_rules(work):
    (work / "tests").mkdir()
    shutil.copyfile(work / "models.py", work / "tests" / "models.py")
    # a test-named file is a test file when it holds tests
    (work / "test_models.py").write_text((work / "models.py").read_text() + "\n\ndef test_models():\n    pass\n")
    errors = ["INI001", "INI201", "INI101"]
    for name in ("tests/models.py", "test_models.py"):
        result = flake8(work, "--isolated", "--select", "INI", name)
        assert [h.split(": ")[1] for h in heads(result.stdout)] == errors, name
    (work / "pyproject.toml").write_text(EVERY_CHANGE + 'test-files = "all"\n')
    result = flake8(work, "--isolated", "--select", "INI", "test_models.py")
    assert heads(result.stdout) == [h.replace("models.py", "test_models.py") for h in MODELS]


def test_select_without_ini_reports_none_and_extend_select_brings_them_back(pristine):
    without = pristine("--isolated", "--select", "F", "models.py")
    assert (without.returncode, without.stdout) == (0, "")
    extended = pristine("--isolated", "--select", "F", "--extend-select", "INI", "models.py")
    assert extended.returncode == 1
    assert heads(extended.stdout) == MODELS


def test_ignore_a_single_code(pristine):
    result = pristine("--isolated", "--select", "INI", "--ignore", "INI103,INI2", "models.py")
    assert heads(result.stdout) == ["models.py:13:9: INI001", "models.py:14:9: INI002", "models.py:27:5: INI101"]
    assert WARNING not in result.stderr


# ---------------------------------------------------------------------- noqa
def test_noqa_variants_suppress(pristine):
    # noqa: INI001 / bare noqa / noqa: INI203 (INI103 on that line stays) / noqa: INI / noqa: E501,INI002
    result = pristine("--isolated", "--select", "INI", "noqa_variants.py")
    assert result.returncode == 1
    # INI002 at 27 suppresses nothing here, but sits in a module-level function, where it may suppress a
    # finding that lands when the files applying it are checked too: INI901 leaves it alone
    assert heads(result.stdout) == ["noqa_variants.py:17:13: INI103", "noqa_variants.py:27:5: INI101"]


def test_disable_noqa_reports_every_finding(pristine):
    result = pristine("--isolated", "--select", "INI", "--disable-noqa", "noqa_variants.py")
    assert heads(result.stdout) == [h.replace("models.py", "noqa_variants.py") for h in MODELS]
    with_noqa = rows(pristine("--isolated", "--select", "INI", "models.py").stdout)
    assert [r[1:] for r in rows(result.stdout)] == [r[1:] for r in with_noqa]


def test_file_level_flake8_noqa(work):
    text = (work / "models.py").read_text()
    (work / "models.py").write_text("# flake8: noqa\n" + text)
    result = flake8(work, "--isolated", "--select", "INI", "models.py")
    assert (result.returncode, result.stdout) == (0, "")


# ---------------------------------------------------------------------- files initlint does not analyse
def test_syntax_error_gives_e999_and_nothing_from_the_plugin(pristine):
    result = pristine("--isolated", "syntax_error.py")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("syntax_error.py:4:") and ": E999 SyntaxError" in lines[0]
    assert "Traceback" not in result.stderr and "initlint" not in result.stderr


def test_file_without_torch_reports_nothing(pristine):
    result = pristine("--isolated", "--select", "INI", "not_torch.py")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def _run_checker(lines, filename="model.py"):
    return list(plugin.InitLintChecker(None, lines, filename).run())


def test_prefilter_skips_before_parsing(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(plugin, "lint_source", lambda *a, **k: calls.append(a) or pytest.fail("parsed"))
    lines = (FIXTURES / "not_torch.py").read_text().splitlines(keepends=True)
    assert _run_checker(lines, str(tmp_path / "not_torch.py")) == []
    assert calls == []


def test_yields_flake8_tuples_with_zero_based_columns(tmp_path):
    lines = (FIXTURES / "relu_net.py").read_text().splitlines(keepends=True)
    (tmp_path / "pyproject.toml").write_text(EVERY_CHANGE)
    found = _run_checker(lines, str(tmp_path / "relu_net.py"))
    assert [(line, col, text.split()[0], kind) for line, col, text, kind in found] == [
        (9, 8, "INI002", plugin.InitLintChecker)]


def test_libcst_parse_failure_yields_nothing(tmp_path):
    assert _run_checker(["import torch\n", "def broken(:\n", "    pass\n"], str(tmp_path / "x.py")) == []


def test_internal_error_yields_nothing(monkeypatch, tmp_path):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(plugin, "lint_source", explode)
    lines = (FIXTURES / "relu_net.py").read_text().splitlines(keepends=True)
    assert _run_checker(lines, str(tmp_path / "relu_net.py")) == []


# ---------------------------------------------------------------------- ignore entries that shadow INI
RELU_NET = ["relu_net.py:9:9: INI002"]  # and INI103, advice: not in the default set
STACK = ["stack.py:7:34: INI003"]


@pytest.mark.parametrize("args, entry, reported", [
    (["--ignore", "I"], "--ignore=I", []),
    (["--extend-ignore", "IN"], "--extend-ignore=IN", []),
    (["--extend-ignore", "E501,I"], "--extend-ignore=I", []),
    (["--per-file-ignores", "models.py:I"], "--per-file-ignores=models.py:I", RELU_NET + STACK),
])
def test_shadowing_ignore_warns_once(pristine, args, entry, reported):
    # three files in two processes: still one warning
    result = pristine("--isolated", "--jobs", "2", *args, "models.py", "relu_net.py", "stack.py")
    assert result.stderr.count(WARNING) == 1, result.stderr
    assert f"{entry} matches every INI code by prefix too" in result.stderr
    assert [h for h in heads(result.stdout) if ": INI" in h] == reported


def test_shadowing_ignore_in_a_config_file_warns_once(work):
    (work / ".flake8").write_text("[flake8]\nextend-ignore = I\n")
    result = flake8(work, "models.py")
    assert result.stderr.count(WARNING) == 1
    assert "--extend-ignore=I matches every INI code" in result.stderr
    assert ": INI" not in result.stdout


@pytest.mark.parametrize("args", [
    ["--ignore", "INI003"],
    ["--extend-ignore", "INI"],
    ["--ignore", "I", "--extend-select", "INI"],   # the longer explicit prefix wins: INI is reported
    ["--ignore", "I100,I201"],
])
def test_no_warning_when_ini_is_not_shadowed(pristine, args):
    result = pristine("--isolated", *args, "models.py", "stack.py")
    assert WARNING not in result.stderr
    reported = [h for h in heads(result.stdout) if ": INI" in h]
    if args == ["--ignore", "INI003"]:
        assert reported == MODELS_DEFAULT
    elif args == ["--extend-ignore", "INI"]:
        assert reported == []
    elif "--extend-select" in args:
        assert reported == MODELS + STACK  # INI names the codes: advice rules too
    else:
        assert reported == MODELS_DEFAULT + STACK
