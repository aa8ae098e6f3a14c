"""Lint one file's source: parse once, analyse once, run the selected rules."""
from __future__ import annotations

import io
import os
import re
import symtable
import tokenize
from dataclasses import dataclass, field
from typing import Optional

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from .analysis.collect import analyze
from .analysis.project import project_for
from .analysis.syntax import remembered_children, walk
from .findings import Finding, RawFinding
from .noqa import Suppressions, source_lines
from .rules import ALL_RULES, PARSE_ERROR_CODE, RULES_BY_CODE, UNUSED_NOQA_CODE, Options
from .rules.rewrite import Rewriter

# ``at line <id>``: a layer named by the line that builds it, known once positions are (rules.base.line_of).
_LINE_MARK = re.compile("at line \x00([0-9]+)\x00")


@dataclass
class Selection:
    """Which rules run, by code prefix, as in Ruff: the longest matching prefix decides.

    ``select`` None means the default set: the rules whose severity is not "advice". An explicit
    ``select`` (or ``extend_select``) prefix turns on every rule it matches, advice included.
    """
    select: Optional[tuple] = None
    ignore: tuple = ()
    extend_select: tuple = ()

    def enabled(self, rule, extra_ignores: tuple = ()) -> bool:
        def longest(prefixes):
            return max((len(p) for p in prefixes if rule.code.startswith(p)), default=-1)
        selected = longest(tuple(self.select or ()) + tuple(self.extend_select))
        if self.select is None and rule.default_enabled:
            selected = max(selected, 0)  # the default set: weaker than any explicit prefix
        ignored = longest(tuple(self.ignore) + tuple(extra_ignores))
        return selected >= 0 and selected > ignored


EVERY_RULE = Selection(select=("INI",))  # lint_source's default: a library caller sees every rule


@dataclass
class FileResult:
    path: str
    findings: list = field(default_factory=list)
    module: Optional[cst.Module] = None
    error: Optional[str] = None
    internal_error: Optional[str] = None
    skipped: bool = False
    dependencies: list = field(default_factory=list)  # other files of the project the analysis read
    # (file, class name): classes of other files whose instances this file initialises (run_index.py)
    initialised_here: list = field(default_factory=list)
    applied_here: list = field(default_factory=list)  # (file, line): the runs of its helpers it was analysed with
    # (application, line, column): this file's runs of other files' helpers (Finding.application), found
    # before ``# noqa``, so a directive at the call does not decide whether the helper's file hears of the run
    applications_here: list = field(default_factory=list)


DEFAULT_TOKENS = ("torch", "mmcv", "mmengine", "fvcore")


def might_involve_torch(text: str, tokens=DEFAULT_TOKENS) -> bool:
    return any(token in text for token in tokens)


def python_syntax_problem(source: bytes) -> Optional[tuple[int, int, str]]:
    """Where and why Python's own parser rejects the file, or None.

    Checked before LibCST: Python words errors best, and its limits (200 nested brackets, 100 indent
    levels) stop inputs that would overflow the C stack in LibCST's native parser. A symbol table runs
    nothing, and costs about 60% of ``ast.parse`` (no AST objects); it also reports what Python rejects
    after parsing (``nonlocal`` at module level).
    """
    undecodable = None if b"\0" in source else _first_undecodable_byte(source)  # NUL: binary, said below
    if undecodable is not None:
        return undecodable
    try:
        symtable.symtable(source, "<file>", "exec")
    except SyntaxError as error:
        return max(1, error.lineno or 1), max(1, error.offset or 1), error.msg
    except (ValueError, RecursionError, MemoryError) as error:  # NUL bytes, extreme nesting
        return 1, 1, str(error) or type(error).__name__
    return None


_CODING = re.compile(rb"^[ \t\f]*#.*?coding[:=]", re.MULTILINE)  # PEP 263's declaration, as tokenize reads it


def _first_undecodable_byte(source: bytes) -> Optional[tuple[int, int, str]]:
    """The line and column of the first byte the file's encoding (UTF-8 unless declared) cannot decode.

    Python's parser names the line of the token holding the byte (a string's first line) or nothing (a
    comment), LibCST an offset: the byte's own line is what a user needs to find it."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    except LookupError:  # an unknown coding declaration: the parser says so
        return None
    except SyntaxError:  # a malformed declaration, or (no declaration) a bad byte in the first two lines
        if _CODING.search(b"\n".join(source.splitlines()[:2])):
            return None
        encoding = "utf-8"
    if encoding == "utf-8-sig":  # a BOM is valid UTF-8, and that codec's offsets would not count it
        encoding = "utf-8"
    try:
        source.decode(encoding)
    except UnicodeDecodeError as error:
        line_start = source.rfind(b"\n", 0, error.start) + 1
        line = source.count(b"\n", 0, error.start) + 1
        return line, error.start - line_start + 1, \
            f"not valid {encoding}: byte 0x{source[error.start]:02x} ({error.reason})"
    return None


def lint_source(source: bytes, path: str, selection: Selection = EVERY_RULE, options: Options = Options(),
                extra_ignores: tuple = (), tokens=DEFAULT_TOKENS, keep_module: bool = False,
                honour_noqa: bool = True, applications: tuple = ()) -> FileResult:
    """Findings for one file's bytes. Never raises: bad input becomes an INI900 finding, a failure of
    initlint itself ``result.internal_error``. ``applications``: how other files of the run apply this
    file's helpers to their models (see check_module)."""
    result = FileResult(path)
    if tokens and not any(token.encode() in source for token in tokens):
        result.skipped = True
        return result
    problem = python_syntax_problem(source)
    module = None
    if problem is None:
        try:
            module = cst.parse_module(source)
        except Exception as error:  # syntax newer than LibCST knows, or LibCST's own limits
            problem = (getattr(error, "editor_line", None) or 1, getattr(error, "editor_column", None) or 1,
                       getattr(error, "message", None) or str(error).splitlines()[0])
    if module is None:
        line, column, message = problem
        result.error = message
        result.findings.append(Finding(PARSE_ERROR_CODE, f"could not parse: {message}", path, line, column,
                                       line, column))
        return result
    try:
        lines = source_lines(source.decode(module.encoding, errors="replace")) if honour_noqa else []
        result.findings = _findings(module, path, selection, options, extra_ignores, lines,
                                    result.dependencies, result.initialised_here, applications, result.applied_here,
                                    result.applications_here)
    except RecursionError:
        result.error = "nested too deeply to analyse"
        result.findings = [Finding(PARSE_ERROR_CODE, "could not analyse: nested too deeply", path, 1, 1, 1, 1)]
    except Exception as error:  # an initlint bug: reported for this file, the other files go on
        result.internal_error = f"{type(error).__name__}: {error}"
        result.findings = []
    if keep_module:
        result.module = module
    return result


def _findings(module, path, selection, options, extra_ignores, lines, dependencies,
              initialised_here=None, applications=(), applied_here=None, applications_here=None) -> list[Finding]:
    """Positioned, de-duplicated findings; ``lines`` (the source's) carry the ``# noqa`` comments."""
    raw = check_module(module, selection, options, extra_ignores, path, dependencies, initialised_here,
                       applications, applied_here)
    unused_noqa = RULES_BY_CODE[UNUSED_NOQA_CODE]
    judge_noqa = selection.enabled(unused_noqa, extra_ignores) and any("noqa" in line.lower() for line in lines)
    if not raw and not judge_noqa:
        return []
    suppressions = Suppressions(lines)
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    seen = set()
    findings = []
    lines_by_id = None
    for item in raw:
        if "\x00" in item.message:  # layers named by the line that builds them (rules.base.line_of)
            if lines_by_id is None:
                lines_by_id = {id(node): place.start.line for node, place in positions.items()}
            item.message = _LINE_MARK.sub(lambda m: f"at line {lines_by_id[int(m.group(1))]}"
                                          if int(m.group(1)) in lines_by_id else "in another file", item.message)
        where = positions[item.node]
        if item.application is not None and applications_here is not None:
            run = (item.application, where.start.line, where.start.column + 1)
            if run not in applications_here:
                applications_here.append(run)
        key = (item.code, where.start.line, where.start.column)
        if key in seen or suppressions.suppressed(item.code, where.start.line):
            continue
        seen.add(key)
        findings.append(Finding(item.code, item.message, path, where.start.line, where.start.column + 1,
                                where.end.line, where.end.column + 1, item.fix,
                                absence_of=item.uninitialised, application=item.application,
                                related=item.related))
    if judge_noqa:  # after every other finding went through the suppressions, which note what they used
        def is_enabled(prefix):
            return any(selection.enabled(rule, extra_ignores) for rule in ALL_RULES if rule.code.startswith(prefix))
        for item in unused_noqa.unused(positions, suppressions, is_enabled, RULES_BY_CODE, module):
            where = positions[item.node]
            findings.append(Finding(item.code, item.message, path, where.start.line, where.start.column + 1,
                                    where.end.line, where.end.column + 1, item.fix))
    findings.sort(key=lambda f: f.sort_key)
    return findings


@remembered_children()  # the analysis walks the same subtrees many times
def check_module(module: cst.Module, selection: Selection, options: Options, extra_ignores: tuple = (),
                 path: Optional[str] = None, dependencies: Optional[list] = None,
                 initialised_here: Optional[list] = None, applications: tuple = (),
                 applied_here: Optional[list] = None) -> list[RawFinding]:
    """The selected rules' findings; ``path`` (a file on disk) lets the analysis read the project's other
    files its inits reach, which are added to ``dependencies``; the classes of those files whose
    instances this file initialises are added to ``initialised_here``. A finding's ``uninitialised``
    layers become the names of the classes holding them.

    ``applications`` (helper name, the parameter handed the model or None for ``apply``, model file, class
    name, file, line, column of the call) are the runs of this file's helpers by other files of the run:
    the file is analysed as if it ran them itself, so what is wrong for those models is reported here, at
    the helper, with a fix, naming who applies it."""
    rules = [rule for rule in ALL_RULES
             if rule.code != UNUSED_NOQA_CODE and selection.enabled(rule, extra_ignores)]
    if not rules:
        return []
    if not applications:
        return _check(module, module, rules, options, path, dependencies, initialised_here)
    # One analysis per file that applies the helpers: its runs are one program; another file's are not
    # (two scripts applying different helpers to the same model class must not override each other).
    by_applier: dict = {}
    for application in applications:
        by_applier.setdefault(application[4], []).append(application)
    merged: dict = {}
    for runs in by_applier.values():
        analysed, synthetic, kept = _with_applications(module, tuple(runs), path)
        models = tuple((model_path, class_name) for _, _, model_path, class_name, *_ in kept
                       if not _same_file(model_path, path))
        if applied_here is not None:
            applied_here.extend((a[4], a[5]) for a in kept if (a[4], a[5]) not in applied_here)
        found = _check(analysed, module, rules, options, path, dependencies, initialised_here, models)
        for finding in _name_appliers(module, found, synthetic, kept):
            key = (finding.code, id(finding.node))
            first = merged.get(key)
            if first is None or (finding.related and not first.related):
                merged[key] = finding
            elif finding.related:
                # one finding per helper line: the models' findings joined, each naming its own layers
                body, other = (m[:m.rindex(" (applied to ")] for m in (first.message, finding.message))
                if body == other:
                    first.message = body + _applied_to(first.related + finding.related)
                else:
                    first.message += "; " + finding.message
                first.related += finding.related
    return list(merged.values())


def _check(analysed, module, rules, options, path, dependencies, initialised_here, applied_classes=()) -> list:
    """The rules' findings on ``analysed`` (``module``, or ``module`` with the runs of its helpers added),
    with fixes for ``module``."""
    facts = analyze(analysed, options.extra_relu_activations, path, project_for(path), applied_classes)
    if dependencies is not None:
        dependencies.extend(d for d in facts.dependencies if d not in dependencies)
    if initialised_here is not None:
        initialised_here.extend(c for c in facts.initialised_here if c not in initialised_here)
    # Fixes are written with this file's own imports, not those of the files read with it.
    rewriter = Rewriter(module, _own_imports(module) if applied_classes else facts.imports)
    found = []
    for rule in rules:
        found.extend(rule.check(facts, options, rewriter))
    for finding in found:
        if finding.uninitialised:
            finding.uninitialised = facts.classes_holding(finding.uninitialised)
    return facts.own_findings(found)


def _same_file(one: str, other: Optional[str]) -> bool:
    return other is not None and os.path.normcase(os.path.abspath(one)) == os.path.normcase(os.path.abspath(other))


def _with_applications(module: cst.Module, applications: tuple, path: Optional[str]):
    """``module`` with statements that run each applied helper on a new instance of the model
    (``m = ConvNet()`` then ``m.apply(zero_init)`` or ``init_params(model=m)``); the other nodes are shared
    with it, so findings and fixes on them hold for ``module``."""
    if not applications:
        return module, [], ()
    defined = {statement.name.value: statement for statement in module.body
               if type(statement) in (cst.ClassDef, cst.FunctionDef)}
    statements, kept = [], []
    for application in applications:
        helper, param, model_path, class_name = application[:4]
        local = _same_file(model_path, path)  # ``weights_init`` and ``Generator`` both in models.py
        if type(defined.get(helper)) is not cst.FunctionDef or (class_name in defined) != local \
                or not class_name.isidentifier() or (param is not None and not param.isidentifier()):
            continue
        model = f"_initlint_model_{len(kept)}"
        statements.append(cst.parse_statement(f"{model} = {class_name}()\n"))
        statements.append(cst.parse_statement(f"{model}.apply({helper})\n" if param is None
                                              else f"{helper}({param}={model})\n"))
        kept.append(application)
    if not statements:
        return module, [], ()
    return module.with_changes(body=[*module.body, *statements]), statements, tuple(kept)


def _own_imports(module: cst.Module):
    from .analysis.names import ImportTable
    return ImportTable.from_nodes(node for node in walk(module) if type(node) in (cst.Import, cst.ImportFrom))


def _name_appliers(module, found: list, synthetic: list, applications: tuple) -> list:
    """Findings in a helper another file applies say who applies it; none stays on the added statements."""
    added = {id(node) for statement in synthetic for node in walk(statement)}
    helpers = {statement.name.value: statement for statement in module.body if type(statement) is cst.FunctionDef}
    inside = {name: {id(node) for node in walk(helpers[name])} for name in {a[0] for a in applications}}
    kept = []
    for finding in found:
        if id(finding.node) in added:
            continue
        runs = [a for a in applications if id(finding.node) in inside[a[0]]]
        if runs:
            finding.related = tuple((a[4], a[5], a[6], a[3], a[0]) for a in runs)
            finding.message += _applied_to(finding.related)
        kept.append(finding)
    return kept


def _applied_to(related: tuple) -> str:
    """`` (applied to ConvNet at train.py:9, Mlp at finetune.py:7)``."""
    return " (applied to " + ", ".join(f"{model} at {path}:{line}" for path, line, _, model, _ in related) + ")"
