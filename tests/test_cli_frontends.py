"""The command line as users of Ruff/flake8/Black expect it: the default rule set (advice opt-in, test
files errors only), fix safety (--unsafe-fixes), and issue 15's eleven points."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

from conftest import ROOT, run_cli

MLP = os.path.join(ROOT, "examples", "mlp_zero_init.py")

# One file with an error (INI001, line 13), a warning (INI002, line 14), advice INI103 (line 14) and
# advice INI104 (line 10: conv's bias cancelled by the BatchNorm).
MODEL = textwrap.dedent('''\
    import torch.nn as nn
    import torch.nn.functional as F


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(8, 16)
            self.fc2 = nn.Linear(16, 16)
            self.conv = nn.Conv2d(3, 8, 3)
            self.bn = nn.BatchNorm2d(8)
            self.out = nn.Linear(16, 2)
            nn.init.zeros_(self.fc1.weight)
            nn.init.xavier_uniform_(self.fc2.weight)

        def forward(self, x, image):
            x = F.relu(self.fc2(F.relu(self.fc1(x))))
            return self.out(x), self.bn(self.conv(image))
    ''')
ERROR, WARNING, ADVICE_103, ADVICE_104 = "13:9 INI001", "14:9 INI002", "14:9 INI103", "10:21 INI104"


def run(*args, cwd, env=None):
    """initlint in this process (conftest.run_cli); the tests of signals, pipes and users start their own."""
    return run_cli(*args, cwd=cwd, env=env)


def lines_of(stdout: str) -> list:
    return [f"{m[1]}:{m[2]} {m[3]}" for m in re.finditer(r"^[^:\n]+:(\d+):(\d+): (INI\d+) ", stdout, re.M)]


@pytest.fixture
def project(tmp_path):
    """A project folder (a pyproject.toml without [tool.initlint]) holding model.py."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    (tmp_path / "model.py").write_text(MODEL)
    return tmp_path


# ---------------------------------------------------------------------- A. severity and the default set
@pytest.mark.parametrize("args, expected", [
    ([], [ERROR, WARNING]),
    (["--select", "INI104"], [ADVICE_104]),
    (["--select", "INI1"], [ADVICE_104, ADVICE_103]),
    (["--select", "INI"], [ADVICE_104, ERROR, WARNING, ADVICE_103]),
    (["--select", "ALL"], [ADVICE_104, ERROR, WARNING, ADVICE_103]),
    (["--extend-select", "INI104"], [ADVICE_104, ERROR, WARNING]),
    (["--ignore", "INI0", "--extend-select", "INI103"], [ADVICE_103]),
    (["--select", "ALL", "--ignore", "INI10"], [ERROR, WARNING]),
])
def test_default_set_and_explicit_selection(project, args, expected):
    result = run("--no-cache", "-q", *args, "model.py", cwd=project)
    assert lines_of(result.stdout) == expected
    assert result.returncode == 1  # any finding, advice included


@pytest.mark.parametrize("table, expected", [
    ('extend-select = ["INI103"]', [ERROR, WARNING, ADVICE_103]),
    ('select = ["ALL"]', [ADVICE_104, ERROR, WARNING, ADVICE_103]),
    ('select = ["INI0"]', [ERROR, WARNING]),
    ('ignore = ["INI002"]', [ERROR]),
])
def test_default_set_from_pyproject(project, table, expected):
    (project / "pyproject.toml").write_text(f"[tool.initlint]\n{table}\n")
    assert lines_of(run("--no-cache", "-q", "model.py", cwd=project).stdout) == expected


@pytest.mark.parametrize("name", ["tests/model.py", "test/sub/model.py", "test_model.py", "model_test.py",
                                  "conftest.py"])
def test_test_files_get_only_error_rules(project, name):
    target = project / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(MODEL)
    assert lines_of(run("--no-cache", "-q", "--select", "ALL", name, cwd=project).stdout) == [ERROR]
    (project / "pyproject.toml").write_text('[tool.initlint]\ntest-files = "all"\n')
    assert lines_of(run("--no-cache", "-q", name, cwd=project).stdout) == [ERROR, WARNING]


@pytest.mark.parametrize("pyproject", ['[tool.initlint]\nselect = ["ALL"]\n', "[project]\nname = 'demo'\n"])
def test_a_project_inside_a_test_folder_is_not_all_tests(tmp_path, pyproject):
    """Test folders count from the project root (its pyproject.toml), not from the working directory."""
    project = tmp_path / "test" / "project"
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text(pyproject)
    (project / "model.py").write_text(MODEL)
    result = run("--no-cache", "-q", "--select", "ALL", str(project / "model.py"), cwd=tmp_path)
    assert lines_of(result.stdout) == [ADVICE_104, ERROR, WARNING, ADVICE_103]


def test_bad_test_files_value(project):
    (project / "pyproject.toml").write_text('[tool.initlint]\ntest-files = "some"\n')
    result = run("--no-cache", "model.py", cwd=project)
    assert result.returncode == 2
    assert result.stderr == "initlint: error: pyproject.toml: 'test-files' must be one of 'errors-only', 'all'\n"


def test_rule_command_shows_severity_default_and_fix_safety(tmp_path):
    page = run("rule", "INI104", cwd=tmp_path).stdout
    assert "Severity: advice, off by default: select it to run it (`--select INI104`" in page
    assert "so `--fix` applies it only with `--unsafe-fixes`." in page
    assert "Severity: error, on by default." in run("rule", "INI001", cwd=tmp_path).stdout
    listing = {line[:6]: line for line in run("rule", "--all", cwd=tmp_path).stdout.splitlines()}
    assert re.match(r"INI104  bias-before-batchnorm +advice  off \[\*\] unsafe ", listing["INI104"])
    assert re.match(r"INI001  constant-hidden-weight +error   on  \[\*\] safe ", listing["INI001"])
    assert re.match(r"INI201  init-in-forward +error   on  {12}an init call", listing["INI201"])


def test_full_format_shows_severity_and_unsafe_fix(project):
    out = run("--no-cache", "-q", "--output-format", "full", "--select", "INI104", "model.py", cwd=project).stdout
    assert out.startswith("model.py:10:21: INI104 redundant parameter")  # no [*]: the fix is unsafe
    assert "  = severity: advice\n  = unsafe fix, applied only with --unsafe-fixes: " in out


# ---------------------------------------------------------------------- B. safety classes
def test_unsafe_fix_runs_only_with_unsafe_fixes(project):
    path = project / "model.py"
    check = run("--no-cache", "--select", "INI104", "model.py", cwd=project)
    assert check.stdout.startswith("model.py:10:21: INI104 redundant parameter")  # not marked [*]
    assert check.stderr == ("Found 1 finding in 1 of 1 file.\n"
                            "1 hidden fix can be enabled with --unsafe-fixes.\n")
    safe_only = run("--no-cache", "--select", "INI104", "--fix", "model.py", cwd=project)
    assert safe_only.returncode == 1 and path.read_text() == MODEL
    assert safe_only.stderr == ("Found 1 finding in 1 of 1 file (0 fixed, 1 remaining).\n"
                                "1 hidden fix can be enabled with --unsafe-fixes.\n")
    no_diff = run("--no-cache", "--select", "INI104", "--diff", "model.py", cwd=project)
    assert (no_diff.returncode, no_diff.stdout) == (0, "")
    diff = run("--no-cache", "--select", "INI104", "--diff", "--unsafe-fixes", "model.py", cwd=project)
    assert diff.returncode == 1
    assert "+        self.conv = nn.Conv2d(3, 8, 3, bias=False)\n" in diff.stdout
    marked = run("--no-cache", "-q", "--select", "INI104", "--unsafe-fixes", "model.py", cwd=project)
    assert marked.stdout.startswith("model.py:10:21: INI104 [*] redundant parameter")
    fixed = run("--no-cache", "--select", "INI104", "--fix", "--unsafe-fixes", "model.py", cwd=project)
    assert fixed.returncode == 0, fixed.stderr
    assert path.read_text() == MODEL.replace("nn.Conv2d(3, 8, 3)", "nn.Conv2d(3, 8, 3, bias=False)")
    assert fixed.stderr == "Found 1 finding in 1 of 1 file (1 fixed, 0 remaining).\n"


def test_safe_fixes_apply_and_unsafe_ones_stay(project):
    result = run("--no-cache", "--select", "ALL", "--fix", "model.py", cwd=project)
    text = (project / "model.py").read_text()
    assert "nn.Conv2d(3, 8, 3)" in text and "nn.init.zeros_(self.fc1.weight)" not in text
    assert lines_of(run("--no-cache", "-q", "--select", "ALL", "model.py", cwd=project).stdout) == [ADVICE_104]
    assert result.stderr.endswith("1 hidden fix can be enabled with --unsafe-fixes.\n")


def test_json_and_sarif_carry_the_applicability(project):
    rows = json.loads(run("--no-cache", "--output-format", "json", "--select", "INI104,INI001", "model.py",
                          cwd=project).stdout)
    assert [(r["code"], r["severity"], r["fix"]["applicability"]) for r in rows] == [
        ("INI104", "advice", "unsafe"), ("INI001", "error", "safe")]
    log = json.loads(run("--no-cache", "--output-format", "sarif", "--select", "INI104", "model.py",
                         cwd=project).stdout)
    result = log["runs"][0]["results"][0]
    assert (result["level"], result["properties"]["fix"]["applicability"]) == ("note", "unsafe")


SHARED = textwrap.dedent('''\
    import torch.nn as nn
    import torch.nn.functional as F


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.out = nn.Linear(4, 2)
            nn.init.xavier_uniform(self.fc.weight)

        def forward(self, x):
            return self.out(F.relu(self.fc(x)))
    ''')


def test_counts_agree_when_two_findings_share_one_rewrite(tmp_path):
    (tmp_path / "net.py").write_text(SHARED)
    check = run("--no-cache", "net.py", cwd=tmp_path)
    assert lines_of(check.stdout) == ["10:9 INI002", "10:9 INI203"]
    assert check.stderr == "Found 2 findings in 1 of 1 file.\n[*] 2 fixable with --fix.\n"
    fixed = run("--no-cache", "--fix", "--show-fixes", "net.py", cwd=tmp_path)
    assert fixed.returncode == 0
    assert fixed.stdout == "fixed net.py:10:9: INI002 use kaiming_uniform_\n"
    assert fixed.stderr == ("Found 2 findings in 1 of 1 file (2 fixed, 0 remaining).\n"
                            "2 findings fixed by 1 rewrite (one rewrite can end several findings on the same call).\n")


# ---------------------------------------------------------------------- C. issue 15
# Runs initlint as an unprivileged user. Root starts Python (whose files may be readable by root only),
# imports what a --fix run needs, then drops to the user before initlint touches any file.
AS_USER = """\
import os, sys
import libcst
from initlint import cli, config, engine, fix, notebook, report, rules, runner  # the clone may be root's only
import initlint.report.formats
libcst.parse_module("x = 1")
uid, gid = int(sys.argv[1]), int(sys.argv[2])
os.setgroups([])
os.setgid(gid)
os.setuid(uid)
sys.exit(cli.main(sys.argv[3:]))
"""


def _unprivileged_ids():
    """(uid, gid) of the user 'nobody' when this process is root, else None and the reason."""
    if not hasattr(os, "setuid"):
        return None, "no os.setuid on this platform"
    if os.geteuid() != 0:
        return (os.geteuid(), os.getegid()), None
    import pwd
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        return None, "there is no user 'nobody' to run as"
    return (entry.pw_uid, entry.pw_gid), None


def test_1_fix_refuses_a_read_only_file(capsys):
    ids, reason = _unprivileged_ids()
    if ids is None:
        with capsys.disabled():
            print(f"\nSKIPPED read-only test: {reason}")
        pytest.skip(reason)
    uid, gid = ids
    folder = tempfile.mkdtemp(prefix="initlint-ro-")
    try:
        os.chmod(folder, 0o777)  # a folder the user may write in: only the file's mode protects it
        path = os.path.join(folder, "ro.py")
        shutil.copyfile(MLP, path)
        os.chmod(path, 0o444)
        before = os.stat(path)
        result = subprocess.run([sys.executable, "-c", AS_USER, str(uid), str(gid), "--no-cache", "--fix", path],
                                cwd=folder, capture_output=True, text=True, timeout=120)
        after = os.stat(path)
        assert "Traceback" not in result.stderr, result.stderr
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(
            "initlint: ro.py: permission denied: the file is not writable; left as it is\n"), result.stderr
        with open(path, "rb") as handle, open(MLP, "rb") as original:
            assert handle.read() == original.read()
        assert (after.st_ino, after.st_uid, after.st_gid, after.st_mode) == \
            (before.st_ino, before.st_uid, before.st_gid, before.st_mode)
        assert sorted(os.listdir(folder)) == ["ro.py"]  # no temp file left
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_1_fix_keeps_the_owner_and_group(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another user")
    path = tmp_path / "owned.py"
    shutil.copyfile(MLP, path)
    os.chown(path, 65534, 65534)
    result = run("--no-cache", "-q", "--fix", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    info = os.stat(path)
    assert (info.st_uid, info.st_gid) == (65534, 65534)
    assert "kaiming_normal_" in path.read_text()


def test_2_a_broken_pyproject_is_an_error_when_discovered(project):
    (project / "pyproject.toml").write_text('[tool.initlint]\nignore = ["INI001",\nselect = []\n')
    result = run("--no-cache", "model.py", cwd=project)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "initlint: error: pyproject.toml: not valid TOML (line 3): Invalid value\n"
    (project / "sub").mkdir()
    from_below = run("--no-cache", ".", cwd=project / "sub")
    assert (from_below.returncode, from_below.stdout) == (2, "")
    assert from_below.stderr == (f"initlint: error: {project / 'pyproject.toml'}: not valid TOML (line 3): "
                                 "Invalid value\n")


def test_3_statistics_prints_only_the_counts(tmp_path):
    shutil.copyfile(MLP, tmp_path / "m.py")
    text = run("--no-cache", "--statistics", "--select", "ALL", "m.py", cwd=tmp_path)
    assert text.returncode == 1
    assert text.stdout == ("    1 INI001 [*] constant-hidden-weight\n"
                           "    1 INI002 [*] xavier-before-relu\n"
                           "    1 INI103 [*] default-bias-kept\n")
    machine = run("--no-cache", "--statistics", "--output-format", "json", "m.py", cwd=tmp_path)
    assert json.loads(machine.stdout) == [
        {"code": "INI001", "name": "constant-hidden-weight", "count": 1, "fixable": True},
        {"code": "INI002", "name": "xavier-before-relu", "count": 1, "fixable": True}]
    sarif = run("--no-cache", "--statistics", "--output-format", "sarif", "m.py", cwd=tmp_path)
    assert (sarif.returncode, sarif.stdout) == (2, "")
    assert sarif.stderr == "initlint: error: --statistics prints a table (text) or JSON, not sarif\n"


def test_4_a_closed_pipe_is_a_normal_end(tmp_path):
    for n in range(3):
        shutil.copyfile(MLP, tmp_path / f"m{n}.py")
    for args, status in ((["--no-cache", "--statistics", "."], 1), (["--no-cache", "."], 1), (["rule", "--all"], 0)):
        process = subprocess.Popen([sys.executable, "-m", "initlint", *args], cwd=tmp_path,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        process.stdout.close()  # like `| head` that has already gone: every write hits a closed pipe
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=120) == status, stderr
        assert "Error" not in stderr and "Traceback" not in stderr and "internal error" not in stderr, stderr


def _default_sigint():
    """In the child, before Python starts: Ctrl-C's default action, even when this run inherited SIGINT
    ignored (a background job of a non-interactive shell), so that Python turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_5_ctrl_c_with_jobs_stops_within_a_second(tmp_path):
    with open(MLP, "rb") as handle:
        original = handle.read()
    folder = tmp_path / "tree"
    folder.mkdir()
    for n in range(400):
        (folder / f"m{n:03}.py").write_bytes(original)
    process = subprocess.Popen([sys.executable, "-m", "initlint", "--no-cache", "-j", "2", "--fix", str(folder)],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True, preexec_fn=_default_sigint)
    # wait until the workers are fixing files, then press Ctrl-C twice, as an impatient user does
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and all((folder / f"m{n:03}.py").read_bytes() == original for n in (0, 1)):
        time.sleep(0.02)
    pressed = time.monotonic()
    try:
        os.killpg(process.pid, signal.SIGINT)
        time.sleep(0.05)
        try:
            os.killpg(process.pid, signal.SIGINT)
        except ProcessLookupError:
            pass  # already gone after the first
        _, stderr = process.communicate(timeout=30)
        elapsed = time.monotonic() - pressed
        with pytest.raises(ProcessLookupError):  # no worker outlives the run
            os.killpg(process.pid, 0)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # whatever a failure left behind
        except ProcessLookupError:
            pass
    print(f"\nCtrl-C to exit: {elapsed:.2f} s")
    assert process.returncode == 130
    assert stderr.decode() == "initlint: interrupted\n"
    assert elapsed < 1.0
    contents = {(folder / name).read_bytes() for name in os.listdir(folder)}
    assert all(name.endswith(".py") for name in os.listdir(folder))  # no temp file left
    assert original in contents and len(contents) == 2  # stopped part-way; every file whole


def test_6_cache_at_the_project_root_ignored_by_git(tmp_path):
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    shutil.copyfile(MLP, project / "models" / "m.py")
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    result = run("-q", ".", cwd=project / "models")
    assert result.returncode == 1
    assert not (project / "models" / ".initlint_cache").exists()
    cache = project / ".initlint_cache"
    assert (cache / ".gitignore").read_text().splitlines()[-1] == "*"
    assert any(p.is_file() and p.name != ".gitignore" for p in cache.rglob("*"))
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    staged = subprocess.run(["git", "diff", "--cached", "--name-only"], cwd=project, capture_output=True,
                            text=True, check=True).stdout.split()
    assert staged == ["models/m.py"]


def test_6_cache_dir_from_the_environment_and_the_option(tmp_path):
    shutil.copyfile(MLP, tmp_path / "m.py")
    env = dict(os.environ, INITLINT_CACHE_DIR=str(tmp_path / "from-env"))
    run("-q", "m.py", cwd=tmp_path, env=env)
    assert (tmp_path / "from-env" / ".gitignore").exists()
    run("-q", "--cache-dir", str(tmp_path / "from-option"), "m.py", cwd=tmp_path, env=env)
    assert (tmp_path / "from-option" / ".gitignore").exists()
    assert not (tmp_path / ".initlint_cache").exists()


def test_7_bad_paths_never_read_as_passes(tmp_path):
    missing = run("--no-cache", "does_not_exist.py", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr == "initlint: does_not_exist.py: no such file or directory\n"
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no python here\n")
    empty = run("--no-cache", "empty", cwd=tmp_path)
    assert (empty.returncode, empty.stdout) == (0, "")
    assert empty.stderr == "initlint: warning: no Python files found under empty\n"
    shutil.copyfile(MLP, tmp_path / "m.py")
    both = run("--no-cache", "m.py", "does_not_exist.py", cwd=tmp_path)
    assert both.returncode == 2 and "All checks passed" not in both.stderr


def test_9_wording_and_paths(tmp_path):
    shutil.copyfile(MLP, tmp_path / "m.py")
    (tmp_path / "sub").mkdir()
    shutil.copyfile(MLP, tmp_path / "sub" / "n.py")
    result = run("--no-cache", cwd=tmp_path)  # the default path: "."
    assert lines_of(result.stdout) == ["12:9 INI001", "14:9 INI002"] * 2
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["m.py", "m.py", "sub/n.py", "sub/n.py"]
    absolute = run("--no-cache", str(tmp_path / "sub"), cwd=tmp_path)
    assert absolute.stdout.startswith("sub/n.py:12:9: INI001")
    (tmp_path / "clean.py").write_text("import torch\n")
    assert run("--no-cache", "clean.py", cwd=tmp_path).stderr == "All checks passed (1 file).\n"
