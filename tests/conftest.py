import os
import subprocess
import sys

import pytest

from initlint.engine import lint_source

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def fixture_path(*parts):
    return os.path.join(FIXTURES, *parts)


def findings_of(source, path="t.py"):
    data = source.encode() if isinstance(source, str) else source
    return [(f.code, f.line, f.column) for f in lint_source(data, path).findings]


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "initlint", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=300)


@pytest.fixture
def cli():
    return run_cli
