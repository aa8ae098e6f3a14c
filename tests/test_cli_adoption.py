"""Issue 20: what a team adopting initlint on a large codebase reaches for on day one (stdin, --add-noqa,
INI901, stable output, every code documented, Ruff's excludes, symlinks) and the defects a new user met."""
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from initlint.cli import main
from initlint.engine import EVERY_RULE, Selection, lint_source

MLP = os.path.join(ROOT, "examples", "mlp_zero_init.py")
with open(MLP, "rb") as _handle:
    MLP_SOURCE = _handle.read()


@pytest.fixture
def run(capsysbinary, monkeypatch, tmp_path):
    """The CLI in-process: (exit status, stdout, stderr); ``stdin`` bytes, ``cwd`` (default: tmp_path)."""
    def runner(*args, stdin=None, cwd=None):
        monkeypatch.chdir(cwd or tmp_path)
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        status = main(list(args))
        out, err = capsysbinary.readouterr()
        return status, out.decode(), err.decode()
    return runner


@pytest.fixture
def project(tmp_path):
    # The MLP's one Xavier layer before ReLU (INI002) is below the default min-signal-change.
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n\n[tool.initlint]\nmin-signal-change = 1\n")
    return tmp_path


# ---------------------------------------------------------------------- stdin
def test_dash_reads_stdin_and_names_it_dash(run, project):
    status, out, err = run("--no-cache", "-", stdin=MLP_SOURCE)
    assert status == 1, err
    assert out.splitlines()[0].startswith("-:12:9: INI001 [*] hidden layer self.fc1 weight set to zero")
    assert out.splitlines()[1].startswith("-:14:9: INI002 [*] xavier_uniform_ on self.fc2")
    assert os.listdir(project) == ["pyproject.toml"]  # no cache, nothing written


def test_stdin_filename_names_the_source_and_finds_its_settings(run, project, tmp_path_factory):
    (project / "pyproject.toml").write_text('[tool.initlint]\nper-file-ignores = { "legacy/*" = ["INI001"] }\n'
                                            'min-signal-change = 1\n')
    elsewhere = tmp_path_factory.mktemp("elsewhere")  # run from outside the project: settings come from PATH
    path = str(project / "src" / "m.py")
    status, out, _ = run("--stdin-filename", path, stdin=MLP_SOURCE, cwd=elsewhere)
    assert status == 1
    assert [line.split(" ")[:2] for line in out.splitlines()] == [[f"{path}:12:9:", "INI001"],
                                                                   [f"{path}:14:9:", "INI002"]]
    # per-file rules: legacy/* ignores INI001; test files run only error rules (INI002 is a warning)
    _, out, _ = run("--stdin-filename", str(project / "legacy" / "m.py"), stdin=MLP_SOURCE, cwd=elsewhere)
    assert [line.split(" ")[1] for line in out.splitlines()] == ["INI002"]
    _, out, _ = run("--stdin-filename", str(project / "tests" / "test_m.py"), stdin=MLP_SOURCE, cwd=elsewhere)
    assert [line.split(" ")[1] for line in out.splitlines()] == ["INI001"]
    assert not (project / "src").exists()  # the name is only a name


def test_stdin_fix_writes_the_fixed_source_to_stdout_and_the_rest_to_stderr(run, project):
    on_disk = project / "m.py"
    on_disk.write_bytes(MLP_SOURCE)
    source = MLP_SOURCE.replace(b"    def forward(self, x):\n",
                                b"    def forward(self, x):\n        nn.init.zeros_(self.out.bias)\n")
    status, out, err = run("--fix", "--stdin-filename", "m.py", stdin=source)
    assert on_disk.read_bytes() == MLP_SOURCE  # nothing written
    fixed_file = project / "fixed.py"
    fixed_file.write_bytes(source)
    run("--fix", "--no-cache", "fixed.py")
    assert out == fixed_file.read_text()  # the same bytes --fix writes to a file
    assert "kaiming" in out and "xavier_uniform_" not in out
    assert status == 1 and "m.py:18:9: INI201" in err  # what remains (no fix), on stderr
    assert "remaining" in err


def test_stdin_fix_with_nothing_to_fix_echoes_the_source(run, project):
    clean = b"import torch\nx = torch.zeros(3)\n"
    assert run("--fix", "-", stdin=clean)[:2] == (0, clean.decode())


def test_stdin_diff_prints_the_diff(run, project):
    status, out, _ = run("--diff", "--stdin-filename", "pkg/m.py", stdin=MLP_SOURCE)
    assert status == 1
    assert out.startswith("--- a/pkg/m.py\n+++ b/pkg/m.py\n")
    assert "-        nn.init.xavier_uniform_(self.fc2.weight)\n" in out


def test_stdin_notebook_by_suffix(run, project):
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# MLP"]},
                          {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": MLP_SOURCE.decode().splitlines(keepends=True)}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    status, out, _ = run("--stdin-filename", "nb.ipynb", "--output-format", "full",
                         stdin=json.dumps(notebook).encode())
    assert status == 1
    assert out.startswith("nb.ipynb:cell 2:12:9: INI001")
    assert "12 |         nn.init.zeros_(self.fc1.weight)" in out  # the cell's line, read from stdin


def test_stdin_named_ipynb_is_a_notebook_even_with_notebooks_off_as_a_named_file_is(run, project):
    """--no-notebooks / notebooks = false, like exclude, filter what folders hold; a notebook named on the
    command line is checked, and so is stdin named .ipynb (as Ruff lints a stdin .ipynb as a notebook
    whatever its include/exclude settings, unless --force-exclude)."""
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": MLP_SOURCE.decode().splitlines(keepends=True)}],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    data = json.dumps(notebook, indent=1).encode()
    (project / "nb.ipynb").write_bytes(data)
    expected = ["nb.ipynb:cell 1:12:9: INI001", "nb.ipynb:cell 1:14:9: INI002"]

    def codes(out):
        return [" ".join(line.split(" ")[:3]) for line in out.splitlines()]
    status, out, _ = run("--no-cache", "--no-notebooks", "nb.ipynb")
    assert (status, codes(out)) == (1, expected)
    status, out, _ = run("--no-notebooks", "--stdin-filename", "nb.ipynb", stdin=data)
    assert (status, codes(out)) == (1, expected)
    (project / "pyproject.toml").write_text("[tool.initlint]\nmin-signal-change = 1\nnotebooks = false\n")
    status, out, _ = run("--stdin-filename", "nb.ipynb", stdin=data)
    assert (status, codes(out)) == (1, expected)
    status, out, err = run("--fix", "--stdin-filename", "nb.ipynb", stdin=data)  # the fixed notebook's JSON
    cell = "".join(json.loads(out)["cells"][0]["source"])
    assert "nn.init.zeros_(self.fc1.weight)" not in cell and "kaiming" in cell, err
    # The look-alike: the folder's notebook is skipped, its .py files are not.
    (project / "m.py").write_bytes(MLP_SOURCE)
    status, out, _ = run("--no-cache", ".")
    assert [line.split(":")[0] for line in out.splitlines()] == ["m.py", "m.py"]


@pytest.mark.parametrize("args, message", [
    (["-", "m.py"], "'-' (stdin) cannot be checked together with other paths"),
    (["--stdin-filename", "a.py", "b.py"], "--stdin-filename reads stdin: give no other path"),
    (["--add-noqa", "-"], "--add-noqa writes files: it cannot read stdin"),
])
def test_stdin_usage_errors(run, project, args, message):
    assert run(*args, stdin=b"") == (2, "", f"initlint: error: {message}\n")


# ---------------------------------------------------------------------- --add-noqa
LEGACY = b"""\
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 8)
        self.fc3 = nn.Linear(8, 2)
        nn.init.zeros_(self.fc1.weight)  # noqa: E501
        nn.init.xavier_uniform_(  # the head
            self.fc2.weight)
        nn.init.normal_(self.fc3.weight)  # see issue 12
        text = '''nn.init.zeros_(self.fc1.weight)'''

    def forward(self, x):
        return self.fc3(nn.functional.relu(self.fc2(nn.functional.relu(self.fc1(x)))))
"""


def test_add_noqa_merges_keeps_comments_and_is_idempotent(run, project):
    path = project / "m.py"
    path.write_bytes(LEGACY)
    before = run("--no-cache", "m.py")[1]
    assert [line.split(" ")[:2] for line in before.splitlines()] == [
        ["m.py:10:9:", "INI001"], ["m.py:11:9:", "INI002"], ["m.py:13:9:", "INI005"]]
    status, out, err = run("--add-noqa", "m.py")
    assert (status, out, err) == (0, "", "Added 3 noqa directives.\n")
    lines = path.read_text().splitlines()
    assert lines[9] == "        nn.init.zeros_(self.fc1.weight)  # noqa: E501, INI001"
    assert lines[10] == "        nn.init.xavier_uniform_(  # the head  # noqa: INI002"  # where noqa is read
    assert lines[11] == "            self.fc2.weight)"
    assert lines[12] == "        nn.init.normal_(self.fc3.weight)  # see issue 12  # noqa: INI005"
    assert path.read_bytes().replace(b"  # noqa: INI002", b"").replace(b"  # noqa: INI005", b"") \
        .replace(b", INI001", b"") == LEGACY  # nothing else changed
    assert run("--no-cache", "m.py")[:2] == (0, "")
    after = path.read_bytes()
    assert run("--add-noqa", "m.py") == (0, "", "Added 0 noqa directives.\n")
    assert path.read_bytes() == after


def test_add_noqa_skips_a_line_that_cannot_end_in_a_comment(run, project):
    path = project / "m.py"
    source = LEGACY.replace(b"        nn.init.zeros_(self.fc1.weight)  # noqa: E501\n",
                            b"        nn.init.zeros_(self.fc1.weight) \\\n            ; x = 1\n")
    path.write_bytes(source)
    status, _, err = run("--add-noqa", "m.py")
    assert status == 0
    assert "no noqa directive added on line 10" in err and "Added 2 noqa directives." in err
    (project / "broken.py").write_bytes(b"import torch\ndef f(:\n")
    status, _, err = run("--add-noqa", "broken.py")
    assert status == 0 and "initlint: warning: broken.py: could not be analysed (" in err
    assert (project / "broken.py").read_bytes() == b"import torch\ndef f(:\n"
    assert b"x = 1\n" in path.read_bytes()
    compile(path.read_bytes(), "m.py", "exec")


def test_add_noqa_in_a_notebook(run, project):
    cell = ["import torch.nn as nn\n", "%matplotlib inline\n", "fc1 = nn.Linear(4, 8)\n",
            "fc2 = nn.Linear(8, 2)\n", "net = nn.Sequential(fc1, nn.ReLU(), fc2)\n",
            "nn.init.zeros_(fc1.weight)"]
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": cell}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = project / "nb.ipynb"
    path.write_text(json.dumps(notebook, indent=1) + "\n")
    assert run("--no-cache", "nb.ipynb")[1].startswith("nb.ipynb:cell 1:6:1: INI001")
    assert run("--add-noqa", "nb.ipynb")[2] == "Added 1 noqa directive.\n"
    written = json.loads(path.read_text())
    assert written["cells"][0]["source"] == cell[:-1] + ["nn.init.zeros_(fc1.weight)  # noqa: INI001"]
    assert run("--no-cache", "nb.ipynb")[:2] == (0, "")


# ---------------------------------------------------------------------- INI901 unused-noqa
UNUSED = """\
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 2)
        nn.init.zeros_(self.fc1.weight)  # noqa: INI001
        nn.init.kaiming_normal_(self.fc2.weight)  # noqa: INI001, E501
        a = 1  # noqa: INI002 # pylint: disable=invalid-name
        b = 2  # keep this  # noqa: INI003 because of reasons
        c = 3  # noqa
        d = 4  # noqa: E501
        e = 5  # noqa:ini999,INI104
        f = 6  # noqa: INI005, INI901
        g = 7  # noqa: INI002, INI003

    def forward(self, x):
        return self.fc2(nn.functional.relu(self.fc1(x)))
"""


def _unused(source, select=("INI0", "INI901")):
    result = lint_source(source.encode(), "m.py", Selection(select=select))
    return [(f.code, f.line, f.column, f.message) for f in result.findings if f.code == "INI901"]


def test_unused_noqa_reports_only_ini_codes_that_suppress_nothing():
    assert _unused(UNUSED) == [
        ("INI901", 10, 51, "unused `noqa` directive (unused: `INI001`)"),
        ("INI901", 11, 16, "unused `noqa` directive (unused: `INI002`)"),
        ("INI901", 12, 16, "unused `noqa` directive (unused: `INI003`)"),
        ("INI901", 15, 16, "unused `noqa` directive (non-enabled: `INI104`; unknown: `INI999`)"),
        ("INI901", 17, 16, "unused `noqa` directive (unused: `INI002`, `INI003`)"),
    ]  # line 9 suppresses INI001; bare noqa (13), E501 (14) and a directive naming INI901 (16) stay silent


def test_unused_noqa_is_opt_in_and_respects_a_prefix_that_was_used():
    assert _unused(UNUSED, select=None) == []  # advice: off by default
    assert not lint_source(UNUSED.encode(), "m.py", Selection(select=None)).findings  # INI001 suppressed
    used_prefix = UNUSED.replace("zeros_(self.fc1.weight)  # noqa: INI001", "zeros_(self.fc1.weight)  # noqa: INI0")
    assert 9 not in [line for _, line, _, _ in _unused(used_prefix)]
    # honour_noqa=False (flake8 --disable-noqa): nothing is known about use, nothing is judged
    result = lint_source(UNUSED.encode(), "m.py", EVERY_RULE, honour_noqa=False)
    assert "INI901" not in [f.code for f in result.findings]


def test_unused_noqa_fix_removes_the_codes_or_the_comment(run, project):
    (project / "m.py").write_text(UNUSED)
    status, _, err = run("--fix", "--no-cache", "--select", "INI0,INI901", "m.py")
    lines = (project / "m.py").read_text().splitlines()
    assert lines[8] == "        nn.init.zeros_(self.fc1.weight)  # noqa: INI001"
    assert lines[9] == "        nn.init.kaiming_normal_(self.fc2.weight)  # noqa: E501"
    assert lines[10] == "        a = 1  # pylint: disable=invalid-name"
    assert lines[11] == "        b = 2  # keep this"
    assert lines[12:16] == ["        c = 3  # noqa", "        d = 4  # noqa: E501", "        e = 5",
                            "        f = 6  # noqa: INI005, INI901"]
    assert lines[16] == "        g = 7"
    assert status == 0, err
    assert _unused((project / "m.py").read_text()) == []


def test_unused_noqa_is_documented_and_in_the_readme():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    assert "| INI901 | unused-noqa | advice | off | safe |" in readme
    assert "--add-noqa" in readme and "--stdin-filename" in readme and ".ipynb_checkpoints" in readme
    with open(os.path.join(ROOT, "docs", "rules", "INI901.md"), encoding="utf-8") as handle:
        assert "A bare `# noqa` is never reported" in handle.read()


# ---------------------------------------------------------------------- stable output
def test_output_is_sorted_by_path_line_column_whatever_the_order_given(run, project):
    for name in ("e.py", "b.py", "d.py", "a.py"):  # with c.ipynb, enough files for -j 2 to use workers
        (project / name).write_bytes(MLP_SOURCE)
    (project / "c.ipynb").write_text(json.dumps({
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                   "source": MLP_SOURCE.decode()}] * 2, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    paths = ("e.py", "c.ipynb", "b.py", "d.py", "a.py")
    _, out, _ = run("--no-cache", "-q", "-j", "1", *paths)
    places = [line.split(": ")[0] for line in out.splitlines()]
    assert places[:4] == ["a.py:12:9", "a.py:14:9", "b.py:12:9", "b.py:14:9"]
    assert places[4:8] == ["c.ipynb:cell 1:12:9", "c.ipynb:cell 1:14:9", "c.ipynb:cell 2:12:9",
                           "c.ipynb:cell 2:14:9"]
    assert places[8:] == ["d.py:12:9", "d.py:14:9", "e.py:12:9", "e.py:14:9"]
    for jobs in ("2", "1", "2"):  # in parallel, then through the cache: the same bytes
        assert run("-q", "-j", jobs, "--cache-dir", "cache", *paths)[1] == out


# ---------------------------------------------------------------------- every code documented
@pytest.mark.parametrize("code, title", [("INI900", "# parse-error (INI900)"),
                                         ("INI300", "# signal-collapse (INI300)"),
                                         ("INI301", "# signal-explosion (INI301)"),
                                         ("INI302", "# dead-units (INI302)"),
                                         ("INI303", "# symmetric-units (INI303)"),
                                         ("INI304", "# saturated-activations (INI304)"),
                                         ("dead-units", "# dead-units (INI302)")])
def test_every_code_a_user_sees_has_a_page(run, code, title):
    status, out, _ = run("rule", code)
    assert status == 0
    assert out.startswith(title + "\n")
    assert "Not a static rule" in out and "## What it does" in out and "## Why is this bad?" in out
    with open(os.path.join(ROOT, "docs", "rules", f"{title.split('(')[1][:6]}.md"), encoding="utf-8") as handle:
        assert handle.read() == out


def test_rule_all_and_the_index_list_the_codes_that_are_not_rules(run):
    _, out, _ = run("rule", "--all")
    listed = out.split("Not static rules")[1]
    for code in ("INI300", "INI301", "INI302", "INI303", "INI304", "INI900"):
        assert code in listed
    assert "INI901  unused-noqa" in out.split("Not static rules")[0]
    with open(os.path.join(ROOT, "docs", "rules", "README.md"), encoding="utf-8") as handle:
        index = handle.read().split("## Codes that are not static rules")[1]
    assert "| [INI304](INI304.md) | saturated-activations | warning | run-time audit |" in index
    assert "| [INI900](INI900.md) | parse-error | error | linter |" in index


# ---------------------------------------------------------------------- excludes and symlinks
@pytest.mark.parametrize("folder", [".ipynb_checkpoints", ".pytest_cache", ".ruff_cache", "__pypackages__",
                                    "_build", "buck-out", ".direnv", ".pyenv", ".pytype", ".vscode", ".bzr",
                                    ".pants.d", ".git-rewrite"])
def test_ruffs_default_excludes(run, project, folder):
    (project / "m.py").write_bytes(MLP_SOURCE)
    (project / folder).mkdir()
    (project / folder / "m.py").write_bytes(MLP_SOURCE)
    _, out, _ = run("--no-cache", "-q", ".")
    assert {line.split(":")[0] for line in out.splitlines()} == {"m.py"}


def test_a_file_reached_twice_is_checked_once_and_a_dangling_link_is_a_warning(run, project):
    (project / "pkg").mkdir()
    (project / "pkg" / "a.py").write_bytes(MLP_SOURCE)
    os.symlink("a.py", project / "pkg" / "b.py")
    os.symlink("pkg", project / "linked")
    os.symlink("missing.py", project / "pkg" / "gone.py")
    status, out, err = run("--no-cache", ".", "pkg/b.py", "linked", "pkg/a.py")
    assert status == 1
    assert [line.split(": ")[0] for line in out.splitlines()] == ["pkg/a.py:12:9", "pkg/a.py:14:9"]
    assert "INI900" not in out
    assert "initlint: warning: pkg/gone.py: a symlink to a missing file; skipped\n" in err
    assert err.count("gone.py") == 1 and "no Python files found" not in err
    assert "Found 2 findings in 1 of 1 file." in err


# ---------------------------------------------------------------------- defects
def test_tomli_is_declared_for_python_before_3_11():
    try:
        import tomllib
    except ModuleNotFoundError:
        import tomli as tomllib
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        dependencies = tomllib.load(handle)["project"]["dependencies"]
    assert any(d.replace(" ", "").startswith("tomli") and "python_version<\"3.11\"" in d.replace(" ", "")
               for d in dependencies)
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as handle:
        ci = handle.read()
    assert "for minor in 3.9 3.13" in ci and "bash .ci/smoke" in ci
    assert ci.rstrip().endswith("python -m pytest")  # pytest's closing line ends CI's log
    with open(os.path.join(ROOT, ".ci", "smoke"), encoding="utf-8") as handle:
        smoke = handle.read()
    for step in ("venv", "install -q --disable-pip-version-check . ", "initlint\" --no-cache examples/",
                 "flake8\" --select INI examples/", "--fix", "import initlint, initlint.runtime"):
        assert step in smoke, step


def test_a_bad_byte_on_line_2_is_reported_at_line_2(run, project):
    for name, data, column in (("comment.py", b"import torch\n# caf\xe9\nx = 1\n", 6),
                               ("docstring.py", b'import torch\n"""caf\xe9\nmore\n"""\n', 7),
                               ("bom.py", b"\xef\xbb\xbfimport torch\nx = '\xff'\n", 6)):
        (project / name).write_bytes(data)
        _, out, _ = run("--no-cache", name)
        assert out.startswith(f"{name}:2:{column}: INI900 could not parse: not valid utf-8: byte 0x"), out


def test_full_output_shows_the_cell_line_of_a_notebook_finding(run, project):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# title"},
             {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": MLP_SOURCE.decode().splitlines(keepends=True)}]
    (project / "nb.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                                  "nbformat_minor": 5}))
    _, out, _ = run("--no-cache", "--output-format", "full", "nb.ipynb")
    assert "nb.ipynb:cell 2:12:9: INI001" in out
    assert "12 |         nn.init.zeros_(self.fc1.weight)\n   |         ^^^^" in out


SLEEPER = """\
import os, signal, sys, time
from initlint import runner
runner._worker_start(None)
try:
    time.sleep(30)  # like waiting for the next batch on the pool's queue: not in a file
finally:
    print("unwound")
"""


def test_a_worker_terminated_between_files_leaves_at_once(tmp_path):
    """SIGTERM must not raise into the pool's queue read (a read cut in half corrupts the queue for the
    other workers: 'EOFError: Ran out of input'); in a file it unwinds (temp files removed)."""
    process = subprocess.Popen([sys.executable, "-c", SLEEPER], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    time.sleep(1.5)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert (process.returncode, out, err) == (128 + signal.SIGTERM, "", "")


def test_ctrl_c_during_jobs_never_prints_a_traceback(tmp_path):
    # enough files that the run outlasts the latest Ctrl-C (1.2 s) on a fast machine: a signal that lands
    # while the interpreter shuts down finds the default handler back (exit by SIGINT, not 130)
    for n in range(600):
        (tmp_path / f"m{n:03}.py").write_bytes(MLP_SOURCE)
    random.seed(20)
    for attempt in range(4):
        process = subprocess.Popen([sys.executable, "-m", "initlint", "--no-cache", "-j", "2", "-q", "."],
                                   cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        time.sleep(random.uniform(0.3, 1.2))
        try:
            os.killpg(process.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        _, err = process.communicate(timeout=60)
        assert "Traceback" not in err and "Error" not in err, err
        assert process.returncode in (130, 1), err



def test_unused_noqa_in_a_notebook_is_reported_in_its_cell_and_fixed(run, project):
    cell = ["import torch.nn as nn\n", "fc = nn.Linear(4, 8)  # noqa: INI001, E501\n", "%time x = 1"]
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "# a"},
                          {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": cell}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (project / "nb.ipynb").write_text(json.dumps(notebook))
    status, out, _ = run("--no-cache", "--select", "INI001,INI901", "nb.ipynb")
    assert (status, out) == (1, "nb.ipynb:cell 2:2:23: INI901 [*] unused `noqa` directive (unused: `INI001`)\n")
    run("--fix", "--select", "INI001,INI901", "nb.ipynb")
    assert json.loads((project / "nb.ipynb").read_text())["cells"][1]["source"] == [
        "import torch.nn as nn\n", "fc = nn.Linear(4, 8)  # noqa: E501\n", "%time x = 1"]
