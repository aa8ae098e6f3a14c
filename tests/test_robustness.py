"""Robustness: fuzzed and mutated input, bad paths, faults while fixing, concurrency, security.

Fast by default; ``INITLINT_FUZZ=1`` raises the hypothesis example counts for long fuzz runs (the README
says so in its test section).
"""
from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import time

import libcst as cst
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from libcst.metadata import MetadataWrapper, WhitespaceInclusivePositionProvider

import hypothesmith

from conftest import run_cli as run_cli_in_process, run_cli_process as run_initlint_process
from initlint import fix as fix_module
from initlint import runner
from initlint.config import Settings
from initlint.engine import lint_source
from initlint.fix import ChangedOnDisk, fixed_source, write_atomically
from initlint.runner import check_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUZZ = os.environ.get("INITLINT_FUZZ") == "1"
DEFAULT_EXAMPLES, FUZZ_EXAMPLES = 25, 1000
EXAMPLES = FUZZ_EXAMPLES if FUZZ else DEFAULT_EXAMPLES
PREFIX = b"import torch\nimport torch.nn as nn\n"

FIXTURE_FILES = sorted(glob.glob(os.path.join(ROOT, "tests", "fixtures", "rules", "*.py"))
                       + glob.glob(os.path.join(ROOT, "examples", "*.py")))
MLP = os.path.join(ROOT, "examples", "mlp_zero_init.py")

fuzz_settings = settings(max_examples=EXAMPLES, deadline=None, derandomize=not FUZZ,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                HealthCheck.data_too_large,
                                                HealthCheck.function_scoped_fixture])


def run_cli(*args, cwd=None):
    """initlint in this process (conftest.run_cli), without the cache, quiet."""
    return run_cli_in_process("--no-cache", "-q", *args, cwd=cwd)


def run_cli_process(*args, timeout=300):
    """initlint in a process of its own, for what the process decides (its C stack and recursion limit,
    file permissions, signals)."""
    return run_initlint_process("--no-cache", "-q", *args, timeout=timeout)


def _default_sigint():
    """In the child, before Python starts: Ctrl-C's default action, even when this run inherited SIGINT
    ignored (a background job of a non-interactive shell), so that Python turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def read(path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def write(path, data) -> None:
    with open(path, "wb") as handle:
        handle.write(data.encode() if isinstance(data, str) else data)


def fully_fixed(path, tmp_path) -> bytes:
    """The bytes ``--fix`` produces for a file (computed on a private copy)."""
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    copy = str(scratch / os.path.basename(path))
    shutil.copyfile(path, copy)
    report = check_file(copy, Settings(), "fix")
    assert report.written and not report.errors
    return read(copy)


def assert_no_traceback(result):
    assert "Traceback" not in result.stderr, result.stderr
    assert "internal error" not in result.stderr, result.stderr


# ---------------------------------------------------------------------- 1. property-based
@fuzz_settings
@given(hypothesmith.from_grammar())
def test_lint_never_raises_on_grammar_fuzz(code):
    lint_source(PREFIX + code.encode("utf-8", "surrogatepass"), "fuzz.py", keep_module=True)


@fuzz_settings
@given(hypothesmith.from_node())
def test_lint_never_raises_on_node_fuzz(code):
    lint_source(PREFIX + code.encode("utf-8", "surrogatepass"), "fuzz.py", keep_module=True)


def mutate(lines, operations):
    lines = list(lines)
    for kind, i, j in operations:
        if not lines:
            break
        i %= len(lines)
        j %= len(lines)
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        else:
            lines[i], lines[j] = lines[j], lines[i]
    return lines


operations = st.lists(st.tuples(st.sampled_from(["delete", "duplicate", "swap"]),
                                st.integers(0, 10_000), st.integers(0, 10_000)), max_size=6)
mutated_sources = st.builds(
    lambda path, ops: b"".join(mutate(read(path).splitlines(keepends=True), ops)),
    st.sampled_from(FIXTURE_FILES), operations)


def edited_line_spans(module, applied):
    """Line numbers of the original nodes the applied fixes replace, remove or move."""
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(WhitespaceInclusivePositionProvider)
    lines = set()
    for finding in applied:
        nodes = list(finding.fix.replace) + [statement for statement, _ in finding.fix.move_after]
        for node in nodes:
            span = positions[node]
            lines.update(range(span.start.line, span.end.line + 1))
    return lines


def is_subsequence(needles, haystack):
    it = iter(haystack)
    return all(any(item == other for other in it) for item in needles)


@fuzz_settings
@given(mutated_sources)
def test_mutated_fixtures_lint_and_fix_safely(source):
    result = lint_source(source, "mutated.py", keep_module=True)
    if result.module is None:
        return
    new, applied = fixed_source(result.module, result.findings)
    if new is None:
        return
    cst.parse_module(new)  # a fix never produces code that does not parse
    assert applied
    # every original line that no applied fix touches is still there, in order
    touched = edited_line_spans(result.module, applied)
    old_lines = source.splitlines(keepends=True)
    kept = [line for number, line in enumerate(old_lines, 1) if number not in touched]
    assert is_subsequence(kept, new.splitlines(keepends=True))


@fuzz_settings
@given(source=mutated_sources)
def test_fix_twice_is_stable(source, tmp_path):
    path = str(tmp_path / "model.py")
    write(path, source)
    first = check_file(path, Settings(), "fix")
    assert not first.errors
    after_first = read(path)
    if first.written:
        cst.parse_module(after_first)
    second = check_file(path, Settings(), "fix")
    assert not second.errors
    assert not second.written and read(path) == after_first


def test_readme_documents_the_fuzz_switch():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = " ".join(handle.read().split())
    assert f"try {DEFAULT_EXAMPLES} examples each, always the same ones; `INITLINT_FUZZ=1 python -m pytest " \
        f"tests/test_robustness.py` tries {FUZZ_EXAMPLES} each with a random seed" in readme


# ---------------------------------------------------------------------- 2. bad inputs through the CLI
def test_python2_code_is_a_parse_error(tmp_path):
    path = tmp_path / "py2.py"
    write(path, 'import torch\nprint "x"\n')
    result = run_cli(str(path))
    assert result.returncode == 1
    assert "INI900" in result.stdout
    assert_no_traceback(result)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.py"
    write(path, b"")
    result = run_cli(str(path))
    assert result.returncode == 0 and result.stdout == ""
    assert_no_traceback(result)


CLASS_TEMPLATE = '''

class Model{n}(nn.Module):
    """Model {n}: a zeroed hidden layer."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.out = nn.Linear(512, 10)
        nn.init.zeros_(self.fc1.weight)
        nn.init.zeros_(self.fc1.bias)
{padding}
    def forward(self, x):
        x = F.relu(self.fc1(x))
        return self.out(x)
'''


def test_huge_file(tmp_path):
    # 10k lines by default; the 50k-line file (about 20 s of CPU, most of it LibCST's positions) with INITLINT_FUZZ=1.
    # How long it takes is measured by benchmarks/run.py, not asserted here.
    count = 500 if FUZZ else 100
    padding = "".join(f"        self.scale{i} = {i}  # padding\n" for i in range(85))
    body = "".join(CLASS_TEMPLATE.format(n=n, padding=padding) for n in range(count))
    source = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n" + body
    assert source.count("\n") >= count * 100
    path = tmp_path / "huge.py"
    write(path, source)
    result = run_cli(str(path))
    assert_no_traceback(result)
    assert result.returncode == 1
    codes = [line.split()[1] for line in result.stdout.splitlines()]
    assert codes == ["INI001"] * count


def test_what_python_rejects_after_parsing_is_ini900_and_valid_nonlocal_is_not():
    # Python refuses to compile this file, though it parses (an AST builds, LibCST accepts it)
    rejected = lint_source(b"import torch\nnonlocal x\n", "bad.py")
    assert [(f.code, f.line, f.column, f.message) for f in rejected.findings] == [
        ("INI900", 2, 1, "could not parse: nonlocal declaration not allowed at module level")]
    accepted = lint_source(b"import torch\ndef f():\n    x = 1\n    def g():\n        nonlocal x\n", "ok.py")
    assert accepted.findings == [] and accepted.error is None


# Python's own limits (200 nested brackets, 100 indentation levels) are checked before LibCST parses,
# whose native parser would overflow the C stack on 3000 nested parentheses. LibCST's parser is
# superlinear in a flat chain of binary operators (20,000 "+ 1" take minutes), so that case stays small.
@pytest.mark.parametrize("source, expected", [
    ("import torch\n" + "".join("    " * i + f"if x{i}:\n" for i in range(500)) + "    " * 500 + "pass\n",
     "INI900 could not parse: too many levels of indentation"),
    ("import torch\nx = 1" + " + 1" * 1000 + "\n", None),
    ("import torch\nx = " + "(" * 3000 + "1" + ")" * 3000 + "\n", "INI900 could not parse: too many nested parentheses"),
    ("import torch\nx = " + "[" * 1000 + "]" * 1000 + "\n", "INI900 could not parse: too many nested parentheses"),
    ("import torch\nx = " + "[" * 150 + "]" * 150 + "\n", None),
    ("import torch\nx = a" + " and a" * 5000 + "\n", None),
], ids=["500-ifs", "1000-binops", "3000-parens", "1000-lists", "150-lists", "5000-ands"])
def test_deep_nesting(tmp_path, source, expected):
    path = tmp_path / "deep.py"
    write(path, source)
    other = tmp_path / "other.py"
    write(other, open(MLP, "rb").read())
    result = run_cli_process("-j1", str(path), str(other), timeout=120)
    assert_no_traceback(result)
    deep_lines = [line for line in result.stdout.splitlines() if line.startswith(str(path))]
    if expected is None:
        assert deep_lines == []
    else:
        assert len(deep_lines) == 1 and expected in deep_lines[0]
    assert f"{other}:12:9: INI001" in result.stdout  # the other file is still checked
    assert result.returncode == 1


def test_symlink_loop(tmp_path):
    folder = tmp_path / "dir"
    folder.mkdir()
    shutil.copyfile(MLP, folder / "model.py")
    os.symlink(folder, folder / "link")
    result = run_cli(str(folder))
    assert_no_traceback(result)
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 1  # the file is checked once (INI001; its INI002 is below
    # min-signal-change)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.py"
    shutil.copyfile(MLP, path)
    os.chmod(path, 0)
    try:
        result = run_cli_process(str(path))
    finally:
        os.chmod(path, 0o644)
    assert_no_traceback(result)
    assert result.returncode != 0
    assert "could not read" in result.stdout + result.stderr


def test_read_error_is_reported_and_others_checked(tmp_path, monkeypatch):
    """The same as a permission error for root, who can read a chmod 000 file."""
    secret = tmp_path / "secret.py"
    shutil.copyfile(MLP, secret)
    real_read = runner.read_source

    def refuse(path):
        if path == str(secret):
            raise PermissionError(13, "Permission denied")
        return real_read(path)

    monkeypatch.setattr(runner, "read_source", refuse)
    reports = runner.check_files([str(secret), MLP], Settings(), "check", jobs=1, cache_dir=None)
    assert [(f.code, f.message) for f in reports[0].findings] == [("INI900", "could not read: Permission denied")]
    assert [f.code for f in reports[1].findings] == ["INI001"]  # its one-layer INI002: below min-signal-change


def test_missing_path_others_still_checked(tmp_path):
    present = tmp_path / "model.py"
    shutil.copyfile(MLP, present)
    result = run_cli(str(tmp_path / "nope.py"), str(present))
    assert_no_traceback(result)
    assert result.returncode == 2
    assert "no such file" in result.stderr
    assert "INI001" in result.stdout and str(present) in result.stdout


def test_10k_small_files(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(10_000):
        write(folder / f"m{n:05}.py", f"def f{n}(x):\n    return x + {n}\n")
    start = time.monotonic()
    result = run_cli_process(str(folder), timeout=600)
    elapsed = time.monotonic() - start
    print(f"\n10,000 files: {elapsed:.1f} s")
    assert_no_traceback(result)
    assert result.returncode == 0 and result.stdout == ""


# ---------------------------------------------------------------------- 3. --fix under faults
def test_changed_on_disk_between_read_and_write(tmp_path, monkeypatch):
    path = str(tmp_path / "model.py")
    shutil.copyfile(MLP, path)
    third_party = b"# rewritten by someone else\n"
    original_read = runner.read_source

    def read_then_change(p):
        data = original_read(p)
        write(p, third_party)
        return data

    monkeypatch.setattr(runner, "read_source", read_then_change)
    report = check_file(path, Settings(), "fix")
    assert not report.written
    assert any("changed on disk" in e for e in report.errors)
    assert read(path) == third_party


def test_write_atomically_refuses_changed_file(tmp_path):
    path = str(tmp_path / "model.py")
    write(path, b"old\n")
    write(path, b"third party\n")
    with pytest.raises(ChangedOnDisk):
        write_atomically(path, b"new\n", expected_original=b"old\n")
    assert read(path) == b"third party\n"
    assert os.listdir(tmp_path) == ["model.py"]


def test_failed_write_keeps_original(tmp_path, monkeypatch):
    path = str(tmp_path / "model.py")
    shutil.copyfile(MLP, path)
    original = read(path)

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fix_module.os, "replace", failing_replace)
    report = check_file(path, Settings(), "fix")
    assert not report.written
    assert any("could not write" in e and "No space left" in e for e in report.errors)
    assert read(path) == original
    assert os.listdir(tmp_path) == ["model.py"]
    assert report.findings and not report.fixed


def make_tree(folder, count, source_path=MLP):
    folder.mkdir()
    for n in range(count):
        shutil.copyfile(source_path, folder / f"model_{n:03}.py")


def assert_original_or_fixed(folder, original, fixed):
    for name in sorted(os.listdir(folder)):
        assert not (name.startswith(".initlint-") and name.endswith(".tmp")), name
        data = read(folder / name)
        assert data in (original, fixed), f"{name} is neither original nor fully fixed"


def test_sigint_mid_fix(tmp_path):
    original = read(MLP)
    fixed = fully_fixed(MLP, tmp_path)
    assert fixed != original
    folder = tmp_path / "tree"
    make_tree(folder, 300)
    process = subprocess.Popen([sys.executable, "-m", "initlint", "--no-cache", "-q", "--fix", str(folder)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True, preexec_fn=_default_sigint)
    deadline = time.monotonic() + 60  # until files are being fixed (loading takes long on a busy machine)
    while time.monotonic() < deadline and read(folder / "model_000.py") == original and process.poll() is None:
        time.sleep(0.02)
    try:
        os.killpg(process.pid, signal.SIGINT)  # like Ctrl-C: the whole process group
    except ProcessLookupError:
        pass  # already finished
    _, stderr = process.communicate(timeout=120)
    assert b"Traceback" not in stderr, stderr.decode()
    assert_original_or_fixed(folder, original, fixed)


# ---------------------------------------------------------------------- 4. concurrency and the cache
def test_two_concurrent_fixers(tmp_path):
    original = read(MLP)
    fixed = fully_fixed(MLP, tmp_path)
    folder = tmp_path / "tree"
    make_tree(folder, 100)
    command = [sys.executable, "-m", "initlint", "--no-cache", "-q", "--fix", str(folder)]
    processes = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(2)]
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert b"Traceback" not in stderr, stderr.decode()
    assert_original_or_fixed(folder, original, fixed)
    # each file was fixed by one of the two (the other saw it changed on disk or had nothing to do)
    assert all(read(folder / name) == fixed for name in os.listdir(folder))


def test_corrupt_cache_entries_are_ignored(tmp_path):
    folder = tmp_path / "tree"
    folder.mkdir()
    for path in FIXTURE_FILES:
        shutil.copyfile(path, folder / os.path.basename(path))
    cache = tmp_path / "cache"

    def run():
        return run_cli_in_process("-q", "--cache-dir", str(cache), str(folder))

    first = run()
    entries = [p for p in cache.rglob("*") if p.is_file()]
    assert entries
    for entry in entries:
        write(entry, b"\x00garbage{[\xff")
    second = run()
    assert_no_traceback(second)
    assert (second.returncode, second.stdout) == (first.returncode, first.stdout)
    third = run()  # the entries were rewritten and are read back
    assert (third.returncode, third.stdout) == (first.returncode, first.stdout)


# ---------------------------------------------------------------------- 5. security
def test_linted_code_is_never_executed(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "evil.py"
    write(path, f"open({str(marker)!r}, 'w').write('pwned')\n" + read(MLP).decode())
    checked = run_cli(str(path))
    assert checked.returncode == 1 and "INI001" in checked.stdout
    fixed = run_cli("--fix", str(path))
    assert_no_traceback(fixed)
    assert "open(" in read(path).decode()
    assert not marker.exists()


def test_fix_does_not_write_through_symlink_outside_tree(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "model.py"
    shutil.copyfile(MLP, target)
    original = read(target)
    tree = tmp_path / "tree"
    tree.mkdir()
    os.symlink(target, tree / "link.py")
    run_cli("--fix", str(tree))
    assert read(target) == original
