"""Settings from ``[tool.initlint]`` in pyproject.toml, merged with the command line."""
from __future__ import annotations

import fnmatch
import hashlib
import os
import re
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Optional

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

from .engine import DEFAULT_TOKENS, Selection
from .rules import ALL_RULES, Options
from .rules.base import MIN_SIGNAL_CHANGE

TEST_FILE_NAMES = ("test_*.py", "*_test.py", "conftest.py")
TEST_FOLDERS = ("tests", "test")
TEST_FILE_POLICIES = ("errors-only", "all")
CACHE_FOLDER = ".initlint_cache"
# Ruff's default excludes, plus initlint's own cache folder.
DEFAULT_EXCLUDE = (".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".initlint_cache",
                   ".ipynb_checkpoints", ".mypy_cache", ".nox", ".pants.d", ".pyenv", ".pytest_cache",
                   ".pytype", ".ruff_cache", ".svn", ".tox", ".venv", ".vscode", "__pycache__",
                   "__pypackages__", "_build", "buck-out", "build", "dist", "node_modules", "site-packages",
                   "venv")


class ConfigError(Exception):
    """A bad configuration: the message names the key."""


@dataclass
class Settings:
    select: Optional[tuple] = None   # None: the default set (every rule that is not advice)
    extend_select: tuple = ()
    ignore: tuple = ()
    exclude: tuple = DEFAULT_EXCLUDE
    per_file_ignores: tuple = ()   # ((glob, (codes...)), ...)
    relu_stack_depth: int = 2
    min_signal_change: float = MIN_SIGNAL_CHANGE
    extra_relu_activations: tuple = ()
    torch_tokens: tuple = DEFAULT_TOKENS
    notebooks: bool = True
    test_files: str = "errors-only"  # in test files only error rules run; "all": no difference
    unsafe_fixes: bool = False       # --fix/--diff apply fixes whose rule has fix_safety "unsafe"
    root: str = "."
    source: Optional[str] = None   # the file the settings came from

    @property
    def selection(self) -> Selection:
        return Selection(None if self.select is None else tuple(self.select), tuple(self.ignore),
                         tuple(self.extend_select))

    @property
    def options(self) -> Options:
        return Options(relu_stack_depth=self.relu_stack_depth, min_signal_change=self.min_signal_change,
                       extra_relu_activations=frozenset(self.extra_relu_activations))

    def ignores_for(self, path: str) -> tuple:
        """Codes skipped in this file: its per-file ignores, and every rule but the errors in a test file."""
        relative = os.path.relpath(path, self.root)
        codes = list(test_file_ignores(path, self.root)) if self.test_files == "errors-only" else []
        for pattern, pattern_codes in self.per_file_ignores:
            if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(os.path.basename(path), pattern):
                codes.extend(pattern_codes)
        return tuple(codes)

    def is_excluded(self, path: str) -> bool:
        relative = os.path.relpath(path, self.root)
        parts = relative.replace(os.sep, "/").split("/")
        by_part, by_path = _exclude_matchers(tuple(self.exclude))
        return any(by_part.match(part) for part in parts) or by_path.match(relative) is not None

    def fingerprint(self) -> str:
        """What the findings depend on (not ``root``, ``source``, or ``unsafe_fixes``, which changes what is
        written, not what is found). Asked for every file of a run: repr, not asdict + JSON."""
        values = [(name, getattr(self, name)) for name in _FINGERPRINTED]
        return hashlib.sha256(repr(values).encode()).hexdigest()[:16]


_FINGERPRINTED = tuple(f.name for f in fields(Settings) if f.name not in ("root", "source", "unsafe_fixes"))


@lru_cache(maxsize=8)
def _exclude_matchers(patterns: tuple):
    """One regex for the patterns a path's folder or file names match, one for its relative path
    (``fnmatch``'s translation, so ``*`` and ``?`` mean what they mean there; trailing slashes dropped)."""
    if not patterns:
        nothing = re.compile("(?!)")
        return nothing, nothing
    stripped = [pattern.rstrip("/") for pattern in patterns]
    by_part = re.compile("|".join(fnmatch.translate(pattern) for pattern in stripped))
    by_path = re.compile("|".join(fnmatch.translate(pattern) for pattern in stripped)
                         + "|" + "|".join(fnmatch.translate(pattern + "/*") for pattern in stripped))
    return by_part, by_path


def is_test_file(path: str, root: str) -> bool:
    """``conftest.py``, anything in a ``tests``/``test`` folder (folders counted from ``root``, so a project
    that itself lives under a ``test`` folder is not all tests), or ``test_*.py``/``*_test.py`` that holds
    tests: defines ``test_*`` functions or ``Test*`` classes, or imports pytest/unittest (``train_test.py``
    is a training script)."""
    name = os.path.basename(path)
    if name == "conftest.py":
        return True
    folders = os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/").split("/")[:-1]
    if any(folder in TEST_FOLDERS for folder in folders):
        return True
    return any(fnmatch.fnmatch(name, pattern) for pattern in TEST_FILE_NAMES) and _holds_tests(path)


_TEST_CODE = re.compile(rb"^[ \t]*(?:(?:async[ \t]+)?def[ \t]+test|class[ \t]+Test|import[ \t]+(?:pytest|unittest)\b"
                        rb"|from[ \t]+(?:pytest|unittest)\b)", re.MULTILINE)


def _holds_tests(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return _TEST_CODE.search(handle.read()) is not None
    except OSError:
        return True  # unreadable: judged by its name (the read error is reported where it is checked)


def test_file_ignores(path: str, root: str) -> tuple:
    """The codes of the rules that are not errors when ``path`` looks like a test file, else ()."""
    if not is_test_file(path, root):
        return ()
    return tuple(rule.code for rule in ALL_RULES if rule.severity != "error")


_LIST_KEYS = ("select", "ignore", "extend-select", "extend-ignore", "exclude", "extend-exclude",
              "torch-tokens", "extra-relu-activations")
_KNOWN_KEYS = set(_LIST_KEYS) | {"per-file-ignores", "relu-stack-depth", "min-signal-change", "notebooks", "test-files"}


def find_config(start_paths: list[str]) -> Optional[str]:
    """The nearest pyproject.toml with a ``[tool.initlint]`` table, walking up from the first path.

    A pyproject.toml on the way that is not valid TOML is an error (ConfigError), as with ``--config``:
    skipping it would silently drop the user's settings."""
    for folder in _folders_up(start_paths):
        candidate = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(candidate) and "initlint" in read_toml(candidate).get("tool", {}):
            return candidate
    return None


def project_root(start_paths: list[str]) -> Optional[str]:
    """The nearest folder at or above the first path that holds a pyproject.toml or .git, or None."""
    for folder in _folders_up(start_paths):
        if os.path.isfile(os.path.join(folder, "pyproject.toml")) or os.path.exists(os.path.join(folder, ".git")):
            return folder
    return None


def _folders_up(start_paths: list[str]):
    start = os.path.abspath(start_paths[0] if start_paths else ".")
    folder = start if os.path.isdir(start) else os.path.dirname(start)
    while True:
        yield folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return
        folder = parent


def read_toml(path: str) -> dict:
    shown = display_path(path)
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"{shown}: cannot read: {error.strerror or error}")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{shown}: not valid TOML: not UTF-8 ({error.reason})")
    except tomllib.TOMLDecodeError as error:
        message, at = str(error), ""
        where = re.search(r" \(at line (\d+), column \d+\)$", message)
        if where:
            message, at = message[:where.start()], f" (line {where.group(1)})"
        raise ConfigError(f"{shown}: not valid TOML{at}: {message}")


def display_path(path: str) -> str:
    """``path`` relative to the working directory when it is inside it (as Ruff prints paths), else as given."""
    absolute = os.path.abspath(path)
    here = os.getcwd()
    if absolute.startswith(here.rstrip(os.sep) + os.sep):
        return os.path.relpath(absolute, here)
    return path


def load_settings(config_path: Optional[str]) -> Settings:
    settings = Settings()
    if config_path is None:
        settings.root = os.getcwd()
        return settings
    document = read_toml(config_path)
    table = document.get("tool", {}).get("initlint", {}) if config_path.endswith("pyproject.toml") \
        else document.get("tool", {}).get("initlint", document)
    settings.root = os.path.dirname(os.path.abspath(config_path))
    settings.source = config_path
    apply_table(settings, table, display_path(config_path))
    return settings


def apply_table(settings: Settings, table: dict, where: str) -> None:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [tool.initlint] must be a table")
    unknown = sorted(set(table) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' in [tool.initlint] "
                          f"(known: {', '.join(sorted(_KNOWN_KEYS))})")
    for key in _LIST_KEYS:
        if key in table and not (isinstance(table[key], list) and all(isinstance(v, str) for v in table[key])):
            raise ConfigError(f"{where}: '{key}' must be a list of strings")
    for key in ("select", "ignore", "extend-select", "extend-ignore"):
        for code in table.get(key, []):
            check_code_prefix(code, f"{where}: '{key}'")
    if "select" in table:
        settings.select = tuple("INI" if c.upper() == "ALL" else c.upper() for c in table["select"])
    settings.extend_select = tuple("INI" if c.upper() == "ALL" else c.upper() for c in table.get("extend-select", []))
    if "ignore" in table:
        settings.ignore = tuple(c.upper() for c in table["ignore"])
    settings.ignore = tuple(settings.ignore) + tuple(c.upper() for c in table.get("extend-ignore", []))
    if "exclude" in table:
        settings.exclude = tuple(table["exclude"])
    settings.exclude = tuple(settings.exclude) + tuple(table.get("extend-exclude", []))
    if "extra-relu-activations" in table:
        settings.extra_relu_activations = tuple(table["extra-relu-activations"])
    if "torch-tokens" in table:
        settings.torch_tokens = tuple(table["torch-tokens"])
    if "per-file-ignores" in table:
        value = table["per-file-ignores"]
        if not isinstance(value, dict) or not all(
                isinstance(v, list) and all(isinstance(c, str) for c in v) for v in value.values()):
            raise ConfigError(f"{where}: 'per-file-ignores' must map globs to lists of codes")
        for codes in value.values():
            for code in codes:
                check_code_prefix(code, f"{where}: 'per-file-ignores'")
        settings.per_file_ignores = tuple((glob, tuple(c.upper() for c in codes)) for glob, codes in value.items())
    if "relu-stack-depth" in table:
        depth = table["relu-stack-depth"]
        if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
            raise ConfigError(f"{where}: 'relu-stack-depth' must be a whole number >= 1")
        settings.relu_stack_depth = depth
    if "min-signal-change" in table:
        factor = table["min-signal-change"]
        if not isinstance(factor, (int, float)) or isinstance(factor, bool) or not 1 <= factor < float("inf"):
            raise ConfigError(f"{where}: 'min-signal-change' must be a number >= 1")
        settings.min_signal_change = float(factor)
    if "notebooks" in table:
        if not isinstance(table["notebooks"], bool):
            raise ConfigError(f"{where}: 'notebooks' must be true or false")
        settings.notebooks = table["notebooks"]
    if "test-files" in table:
        if table["test-files"] not in TEST_FILE_POLICIES:
            raise ConfigError(f"{where}: 'test-files' must be one of {', '.join(map(repr, TEST_FILE_POLICIES))}")
        settings.test_files = table["test-files"]


def check_code_prefix(code: str, where: str) -> None:
    from .rules import RULES_BY_CODE, PARSE_ERROR_CODE
    upper = code.upper()
    if upper == "ALL" or any(c.startswith(upper) for c in list(RULES_BY_CODE) + [PARSE_ERROR_CODE]):
        return
    raise ConfigError(f"{where}: '{code}' matches no initlint rule code")
