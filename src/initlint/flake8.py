"""The flake8 plugin: ``flake8`` reports initlint's INI codes.

flake8 does the selecting and ignoring; the plugin runs initlint's default set (every rule that is not
advice) and an advice rule only when a flake8 ``--select``/``--extend-select`` entry starting with ``INI``
matches it (``INI104``, ``INI1``, ``INI``), as the CLI does. In files that look like tests only error
rules run, unless ``test-files = "all"``. ``# noqa`` comments are honoured by initlint (line and
``# initlint: noqa`` file comments) and by flake8 alike; under ``flake8 --disable-noqa`` the plugin
reports what they would suppress. From the project's ``[tool.initlint]`` table it reads only what
changes the analysis (``relu-stack-depth``, ``torch-tokens``, ``test-files``); select, ignore and
per-file ignores are flake8's own options. A bad table is reported once and the defaults are used.
flake8 does not read notebooks (``.ipynb``): check those with the ``initlint`` command.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import sys
from typing import Iterator, Optional

from . import __version__
from .config import ConfigError, Settings, find_config, load_settings, project_root, test_file_ignores
from .engine import DEFAULT_TOKENS, Selection, lint_source, might_involve_torch
from .rules import ALL_RULES, PARSE_ERROR_CODE, Options

# Prefixes that look like another plugin's codes (flake8-import-order, flake8-isort, ...) but
# prefix-match every INI code as well.
SHADOWING_PREFIXES = ("I", "IN")
_CODING = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)")
_warned = False
_config_cache: dict = {}
_config_warned: set = set()


def _warn(message: str) -> None:
    sys.stderr.write(f"initlint: warning: {message}\n")
    sys.stderr.flush()


def _source_bytes(lines: list) -> bytes:
    """The file's bytes again: flake8 decoded the lines with the file's coding cookie, if any."""
    text = "".join(lines)
    for line in lines[:2]:
        match = _CODING.match(line)
        if match:
            try:
                return text.encode(match.group(1))
            except (LookupError, UnicodeError):
                break
        if line.strip() and not line.lstrip().startswith("#"):
            break
    return text.encode("utf-8")


def _analysis_settings(filename: str, quiet: bool = False) -> tuple:
    """``(Options, torch tokens, test-files policy, project root)`` from the nearest ``[tool.initlint]``
    table, defaults without one.

    A bad table is reported once per process, unless ``quiet``: flake8's main process looks at the
    tables above the paths it was given, and its forked workers inherit what it found."""
    absolute = os.path.abspath(filename)
    folder = absolute if os.path.isdir(absolute) else os.path.dirname(absolute)
    if folder in _config_cache:
        return _config_cache[folder]
    value = (Settings().options, DEFAULT_TOKENS, Settings.test_files, project_root([folder]) or os.getcwd())
    try:
        path = find_config([folder])
        if path is not None:
            settings = load_settings(path)
            value = (settings.options, tuple(settings.torch_tokens), settings.test_files, settings.root)
    except ConfigError as error:
        if str(error) not in _config_warned:
            _config_warned.add(str(error))
            if not quiet:
                _warn(f"{error}; the flake8 plugin uses the default settings")
    _config_cache[folder] = value
    return value


def _disabling_entries(options: argparse.Namespace) -> list:
    """The ``--ignore``/``--extend-ignore``/``--per-file-ignores`` entries ``I``/``IN`` that make
    flake8 drop INI codes that it would report without them."""
    from flake8 import utils
    from flake8.style_guide import Decision, DecisionEngine

    def dropped(namespace: argparse.Namespace) -> bool:
        with_them = DecisionEngine(namespace)
        without = argparse.Namespace(**vars(namespace))
        without.ignore = _without_shadowing(namespace.ignore)
        without.extend_ignore = _without_shadowing(namespace.extend_ignore)
        without_them = DecisionEngine(without)
        return any(with_them.decision_for(rule.code) is Decision.Ignored
                   and without_them.decision_for(rule.code) is Decision.Selected for rule in ALL_RULES)

    found = []
    if dropped(options):
        for name in ("ignore", "extend_ignore"):
            for code in getattr(options, name, None) or ():
                if code.strip().upper() in SHADOWING_PREFIXES:
                    found.append(f"--{name.replace('_', '-')}={code.strip()}")
    for pattern, codes in utils.parse_files_to_codes_mapping(getattr(options, "per_file_ignores", "") or ""):
        shadowing = [c for c in codes if c.strip().upper() in SHADOWING_PREFIXES]
        if not shadowing:
            continue
        per_file = argparse.Namespace(**vars(options))
        per_file.extend_ignore = list(options.extend_ignore or []) + list(codes)
        if dropped(per_file):
            found.extend(f"--per-file-ignores={pattern}:{c.strip()}" for c in shadowing)
    return found


def _without_shadowing(codes: Optional[list]) -> Optional[list]:
    if codes is None:
        return None
    return [c for c in codes if c.strip().upper() not in SHADOWING_PREFIXES]


def _explicit_selection(options: argparse.Namespace) -> tuple:
    """The ``--select``/``--extend-select`` entries that name INI codes (``INI``, ``INI1``, ``INI104``):
    they turn on the advice rules they match. A shorter entry (``I``) is taken to mean another plugin."""
    entries = list(getattr(options, "select", None) or []) + list(getattr(options, "extend_select", None) or [])
    return tuple(e.strip().upper() for e in entries if e.strip().upper().startswith("INI"))


class InitLintChecker:
    name = "initlint"
    version = __version__
    disable_noqa = False
    selection = Selection()

    def __init__(self, tree, lines, filename) -> None:
        self.tree = tree
        self.lines = lines
        self.filename = filename

    @classmethod
    def add_options(cls, option_manager) -> None:
        """initlint has no flake8 options of its own: its settings live in ``[tool.initlint]``."""

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        global _warned
        cls.disable_noqa = bool(getattr(options, "disable_noqa", False))
        cls.selection = Selection(extend_select=_explicit_selection(options))
        worker = multiprocessing.parent_process() is not None  # a spawned worker parses the options again
        for path in getattr(options, "filenames", None) or ["."]:
            try:
                _analysis_settings(path, quiet=worker)
            except Exception:
                pass
        if _warned or worker:
            return
        try:
            entries = _disabling_entries(options)
        except Exception:
            return
        if entries:
            _warned = True
            verb = "matches" if len(entries) == 1 else "match"
            _warn(f"{', '.join(entries)} {verb} every INI code by prefix too, so flake8 drops initlint's "
                  f"findings where it applies. Ignore the other plugin's codes by a longer prefix "
                  f"(I1, I2, I00, ...) or add INI to --extend-select to keep them.")

    def run(self) -> Iterator[tuple]:
        try:
            rows = self._rows()
        except Exception:  # a plugin must never stop flake8
            rows = []
        for line, column, text in rows:
            yield line, column, text, type(self)

    def _rows(self) -> list:
        text = "".join(self.lines)
        options, tokens, test_files, root = _analysis_settings(self.filename)
        if tokens and not might_involve_torch(text, tokens):
            return []
        extra_ignores = test_file_ignores(self.filename, root) if test_files == "errors-only" else ()
        result = lint_source(_source_bytes(self.lines), self.filename, self.selection, options, extra_ignores,
                             tokens=(), honour_noqa=not self.disable_noqa)
        if result.error is not None:
            return []  # flake8 reports E999 for what Python cannot parse; LibCST-only failures stay quiet
        return [(f.line, f.column - 1, f"{f.code} {f.message}")
                for f in result.findings if f.code != PARSE_ERROR_CODE]
