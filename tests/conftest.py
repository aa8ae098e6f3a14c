import contextlib
import io
import os
import subprocess
import sys
from dataclasses import dataclass

from initlint import cli as initlint_cli
from initlint.engine import lint_source

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def fixture_path(*parts):
    return os.path.join(FIXTURES, *parts)


def findings_of(source, path="t.py"):
    data = source.encode() if isinstance(source, str) else source
    return [(f.code, f.line, f.column) for f in lint_source(data, path).findings]


@dataclass
class CliResult:
    """What a test reads of a finished run, as subprocess.CompletedProcess has it."""
    args: list
    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _environment(env):
    """os.environ replaced by ``env`` (a whole environment, as subprocess takes it) for the block."""
    if env is None:
        yield
        return
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_cli(*args, cwd=None, env=None):
    """``initlint ARGS`` run in this process (``cli.main(argv)``), in ``cwd`` (default: the repository) and
    ``env``, with its stdout and stderr captured: the same exit status and output as ``python -m initlint``,
    without starting Python and importing LibCST again for every call.

    Use ``run_cli_process`` where the process itself is what a test checks: the console script, signals
    and Ctrl-C, a closed output pipe, file permissions under another user, a crash that must not take the
    interpreter down, or several initlint processes at once."""
    return run_main(initlint_cli.main, *args, cwd=cwd, env=env)


def run_main(main, *args, cwd=None, env=None):
    """``main(argv)`` of a command-line entry point, run as ``run_cli`` runs initlint's."""
    argv = [str(arg) for arg in args]
    stdout, stderr = io.StringIO(), io.StringIO()
    here = os.getcwd()
    os.chdir(cwd or ROOT)
    try:
        with _environment(env), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                status = main(argv)
            except SystemExit as stop:  # argparse: --help, --version, usage errors
                status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
                if isinstance(stop.code, str):
                    sys.stderr.write(stop.code + "\n")
    finally:
        os.chdir(here)
    return CliResult(argv, status, stdout.getvalue(), stderr.getvalue())


def run_cli_process(*args, cwd=None, env=None, timeout=300):
    """``python -m initlint ARGS`` in a process of its own."""
    return subprocess.run([sys.executable, "-m", "initlint", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env, timeout=timeout)
