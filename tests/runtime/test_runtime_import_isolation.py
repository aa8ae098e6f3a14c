import subprocess
import sys

import pytest


def _modules_after(code: str) -> str:
    script = f"import sys\n{code}\nprint('torch' in sys.modules)"
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.strip()


def test_import_initlint_does_not_import_torch():
    assert _modules_after("import initlint") == "False"


def test_runtime_package_and_cli_import_without_torch():
    # The CLI must be importable without torch so it can say "install torch" itself.
    assert _modules_after("import initlint.runtime, initlint.runtime.cli") == "False"


def test_using_a_runtime_name_does_import_torch():
    pytest.importorskip("torch")
    assert _modules_after("from initlint.runtime import gain") == "True"
