"""Lint one file's source: parse once, analyse once, run the selected rules."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Optional

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from .analysis.collect import analyze
from .findings import Finding, RawFinding
from .noqa import Suppressions
from .rules import ALL_RULES, PARSE_ERROR_CODE, Options
from .rules.rewrite import Rewriter


@dataclass
class Selection:
    select: tuple = ("INI",)
    ignore: tuple = ()
    per_file_ignores: tuple = ()  # (glob, codes)

    def enabled(self, code: str, extra_ignores: tuple = ()) -> bool:
        def longest(prefixes):
            return max((len(p) for p in prefixes if code.startswith(p)), default=-1)
        selected = longest(self.select)
        ignored = longest(tuple(self.ignore) + tuple(extra_ignores))
        return selected >= 0 and selected > ignored


@dataclass
class FileResult:
    path: str
    findings: list = field(default_factory=list)
    module: Optional[cst.Module] = None
    error: Optional[str] = None
    skipped: bool = False


DEFAULT_TOKENS = ("torch", "mmcv", "mmengine", "fvcore")


def might_involve_torch(text: str, tokens=DEFAULT_TOKENS) -> bool:
    return any(token in text for token in tokens)


def parse_error_message(source: bytes, error: Exception) -> tuple[int, int, str]:
    """Where and why a file does not parse. Python's own compiler words it best, so ask it first
    (compiling to an AST runs nothing); fall back on LibCST's error for syntax Python accepts."""
    try:
        ast.parse(source)
    except SyntaxError as syntax_error:
        return max(1, syntax_error.lineno or 1), max(1, syntax_error.offset or 1), syntax_error.msg
    except (ValueError, RecursionError, MemoryError) as other:  # NUL bytes, deep nesting
        return 1, 1, str(other) or type(other).__name__
    line = getattr(error, "editor_line", None) or 1
    column = getattr(error, "editor_column", None) or 1
    message = getattr(error, "message", None) or str(error).splitlines()[0]
    return int(line), int(column), message


def lint_source(source: bytes, path: str, selection: Selection = Selection(), options: Options = Options(),
                extra_ignores: tuple = (), tokens=DEFAULT_TOKENS, keep_module: bool = False) -> FileResult:
    """Findings for one file's bytes. Never raises for bad input: errors become an INI900 finding."""
    result = FileResult(path)
    if tokens and not any(token.encode() in source for token in tokens):
        result.skipped = True
        return result
    try:
        module = cst.parse_module(source)
    except Exception as error:  # LibCST raises ParserSyntaxError, and UnicodeDecodeError/LookupError
        line, column, message = parse_error_message(source, error)
        result.error = message
        result.findings.append(Finding(PARSE_ERROR_CODE, f"could not parse: {message}", path, line, column,
                                       line, column))
        return result
    if keep_module:
        result.module = module
    raw = check_module(module, selection, options, extra_ignores)
    if not raw:
        return result
    text = module.code
    suppressions = Suppressions(text.splitlines())
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    seen = set()
    for item in raw:
        where = positions[item.node]
        key = (item.code, where.start.line, where.start.column)
        if key in seen or suppressions.suppressed(item.code, where.start.line):
            continue
        seen.add(key)
        result.findings.append(Finding(item.code, item.message, path, where.start.line,
                                       where.start.column + 1, where.end.line, where.end.column + 1,
                                       item.fix))
    result.findings.sort(key=lambda f: f.sort_key)
    return result


def check_module(module: cst.Module, selection: Selection, options: Options,
                 extra_ignores: tuple = ()) -> list[RawFinding]:
    rules = [rule for rule in ALL_RULES if selection.enabled(rule.code, extra_ignores)]
    if not rules:
        return []
    facts = analyze(module, options.extra_relu_activations)
    rewriter = Rewriter(module, facts.imports)
    found = []
    for rule in rules:
        found.extend(rule.check(facts, options, rewriter))
    return found
