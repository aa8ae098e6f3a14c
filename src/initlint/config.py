"""Settings from ``[tool.initlint]`` in pyproject.toml, merged with the command line."""
from __future__ import annotations

import fnmatch
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from typing import Optional

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

from .engine import DEFAULT_TOKENS, Selection
from .rules import Options

DEFAULT_EXCLUDE = (".git", ".venv", "venv", "build", "dist", "__pycache__", ".tox", "node_modules",
                   "site-packages", ".initlint_cache", ".eggs", ".mypy_cache", ".nox", ".hg", ".svn")


class ConfigError(Exception):
    """A bad configuration: the message names the key."""


@dataclass
class Settings:
    select: tuple = ("INI",)
    ignore: tuple = ()
    exclude: tuple = DEFAULT_EXCLUDE
    per_file_ignores: tuple = ()   # ((glob, (codes...)), ...)
    relu_stack_depth: int = 2
    extra_relu_activations: tuple = ()
    torch_tokens: tuple = DEFAULT_TOKENS
    notebooks: bool = True
    root: str = "."
    source: Optional[str] = None   # the file the settings came from

    @property
    def selection(self) -> Selection:
        return Selection(tuple(self.select), tuple(self.ignore))

    @property
    def options(self) -> Options:
        return Options(relu_stack_depth=self.relu_stack_depth,
                       extra_relu_activations=frozenset(self.extra_relu_activations))

    def ignores_for(self, path: str) -> tuple:
        relative = os.path.relpath(path, self.root)
        codes = []
        for pattern, pattern_codes in self.per_file_ignores:
            if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(os.path.basename(path), pattern):
                codes.extend(pattern_codes)
        return tuple(codes)

    def is_excluded(self, path: str) -> bool:
        relative = os.path.relpath(path, self.root)
        parts = relative.replace(os.sep, "/").split("/")
        for pattern in self.exclude:
            pattern = pattern.rstrip("/")
            if any(fnmatch.fnmatch(part, pattern) for part in parts):
                return True
            if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(relative, pattern + "/*"):
                return True
        return False

    def fingerprint(self) -> str:
        data = asdict(self)
        data.pop("root")
        data.pop("source")
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=list).encode()).hexdigest()[:16]


_LIST_KEYS = ("select", "ignore", "extend-select", "extend-ignore", "exclude", "extend-exclude",
              "torch-tokens", "extra-relu-activations")
_KNOWN_KEYS = set(_LIST_KEYS) | {"per-file-ignores", "relu-stack-depth", "notebooks"}


def find_config(start_paths: list[str]) -> Optional[str]:
    """The nearest pyproject.toml with a ``[tool.initlint]`` table, walking up from the first path."""
    start = os.path.abspath(start_paths[0] if start_paths else ".")
    folder = start if os.path.isdir(start) else os.path.dirname(start)
    while True:
        candidate = os.path.join(folder, "pyproject.toml")
        if os.path.isfile(candidate):
            try:
                with open(candidate, "rb") as handle:
                    if "initlint" in tomllib.load(handle).get("tool", {}):
                        return candidate
            except (OSError, tomllib.TOMLDecodeError):
                pass
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def load_settings(config_path: Optional[str]) -> Settings:
    settings = Settings()
    if config_path is None:
        settings.root = os.getcwd()
        return settings
    try:
        with open(config_path, "rb") as handle:
            document = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"cannot read {config_path}: {error.strerror}")
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{config_path} is not valid TOML: {error}")
    table = document.get("tool", {}).get("initlint", {}) if config_path.endswith("pyproject.toml") \
        else document.get("tool", {}).get("initlint", document)
    settings.root = os.path.dirname(os.path.abspath(config_path))
    settings.source = config_path
    apply_table(settings, table, config_path)
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
    settings.select = tuple(settings.select) + tuple(c.upper() for c in table.get("extend-select", []))
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
    if "notebooks" in table:
        if not isinstance(table["notebooks"], bool):
            raise ConfigError(f"{where}: 'notebooks' must be true or false")
        settings.notebooks = table["notebooks"]


def check_code_prefix(code: str, where: str) -> None:
    from .rules import RULES_BY_CODE, PARSE_ERROR_CODE
    upper = code.upper()
    if upper == "ALL" or any(c.startswith(upper) for c in list(RULES_BY_CODE) + [PARSE_ERROR_CODE]):
        return
    raise ConfigError(f"{where}: '{code}' matches no initlint rule code")
