"""``initlint --add-noqa``: a ``# noqa: CODE`` on every line with a finding, so that a legacy codebase can
turn initlint on today and fix its backlog later.

The comment goes on the line the engine reads it from (the finding's first line). An existing
``# noqa: E501`` there gets the codes added to its list; another comment is kept and the directive goes
after it. A line that cannot end in a comment (inside a multi-line string, or continued with a
backslash) gets none: it is counted and named in a warning."""
from __future__ import annotations

import io
import re
import tokenize
from .noqa import line_directive

_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _comment_and_blocked_lines(text: str) -> tuple[dict, set]:
    """Each line's comment token (line -> (column, text)), and the lines a comment cannot be appended to."""
    comments: dict = {}
    blocked: set = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = (token.start[1], token.string)
        elif token.start[0] < token.end[0] and token.type not in (tokenize.NL, tokenize.NEWLINE):
            blocked.update(range(token.start[0], token.end[0]))  # a string spanning lines
    for number, line in enumerate(_LINES.findall(text), 1):
        if line.rstrip("\r\n").endswith("\\") and number not in comments:
            blocked.add(number)  # a backslash continuation
    return comments, blocked


def add_noqa_to_text(text: str, codes_by_line: dict) -> tuple[str, int, list]:
    """``text`` with ``# noqa`` directives for ``codes_by_line`` (line -> codes); how many lines got one,
    and the lines that could not. Raises SyntaxError/tokenize.TokenError when the text does not tokenize."""
    comments, blocked = _comment_and_blocked_lines(text)
    lines = _LINES.findall(text)
    added, skipped = 0, []
    for number in sorted(codes_by_line):
        if not 1 <= number <= len(lines):
            continue
        if number in blocked:
            skipped.append(number)
            continue
        line = lines[number - 1]
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        codes = sorted(set(codes_by_line[number]))
        comment = comments.get(number)
        directive = line_directive(comment[1]) if comment else None
        if directive is not None and directive.codes is None:
            continue  # a bare ``# noqa`` already covers every code
        if directive is not None:
            new_codes = [code for code in codes if code not in directive.codes]
            if not new_codes:
                continue
            at = comment[0] + directive.codes_end
            separator = ", " if "," in comment[1][directive.start:directive.codes_end] or \
                len(directive.codes) == 1 else " "
            body = body[:at] + "".join(separator + code for code in new_codes) + body[at:]
        else:
            body = body.rstrip() + f"  # noqa: {', '.join(codes)}"
        lines[number - 1] = body + ending
        added += 1
    return "".join(lines), added, skipped


def add_noqa_file(path: str, findings: list) -> tuple[int, list, list]:
    """Add the directives for ``findings`` (the run's, for this file) to it; (how many lines got one,
    errors, warnings)."""
    from .rules import PARSE_ERROR_CODE
    from .runner import FileReport, read_source, write_fixes

    errors: list = []
    warnings: list = []
    try:
        source = read_source(path)
    except OSError as error:
        return 0, [f"{path}: could not read: {error.strerror or error}"], warnings
    unparsable = [f for f in findings if f.code == PARSE_ERROR_CODE and f.cell is None]
    if unparsable:
        return 0, errors, [f"warning: {path}: could not be analysed ({unparsable[0].message}); "
                           f"no noqa directive added"]
    if path.endswith(".ipynb"):
        return _add_noqa_notebook(path, source, findings)
    codes_by_line = _codes_by_line(findings)
    if not codes_by_line:
        return 0, errors, warnings
    encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
    try:
        new_text, added, skipped = add_noqa_to_text(source.decode(encoding), codes_by_line)
    except (SyntaxError, tokenize.TokenError) as error:
        return 0, [f"{path}: could not add noqa directives: {error}"], warnings
    warnings.extend(_skipped_warning(path, skipped))
    if added:
        report = FileReport(path)
        write_fixes(path, new_text.encode(encoding), source, report, [])
        if report.errors:
            return 0, report.errors, warnings
    return added, errors, warnings


def _codes_by_line(findings, line=lambda finding: finding.line) -> dict:
    from .rules import PARSE_ERROR_CODE, UNUSED_NOQA_CODE

    codes: dict = {}
    for finding in findings:
        if finding.code not in (PARSE_ERROR_CODE, UNUSED_NOQA_CODE):  # INI901 would keep what it reports
            codes.setdefault(line(finding), set()).add(finding.code)
    return codes


def _skipped_warning(where: str, skipped: list) -> list:
    if not skipped:
        return []
    numbers = ", ".join(str(number) for number in skipped)
    return [f"warning: {where}: no noqa directive added on line {numbers}: the line continues (a multi-line "
            f"string or a backslash), so it cannot end in a comment"]


def _add_noqa_notebook(path: str, source: bytes, findings: list) -> tuple[int, list, list]:
    """Notebooks: the directives are added to the joined module of the code cells, then put back into
    the cells that change (IPython lines untouched), as ``--fix`` does."""
    import json

    from .notebook import (NotebookError, build_layout, changes_as_sources, is_python, line_map, load_notebook,
                           new_source, split_cells, write_back)
    from .runner import FileReport, write_fixes

    try:
        text = source.decode("utf-8")
        body = text[1:] if text.startswith("\ufeff") else text
        notebook = load_notebook(body)
    except (UnicodeDecodeError, NotebookError):
        return 0, [], []  # the check run reports it as INI900
    if not is_python(notebook):
        return 0, [], []
    layout = build_layout(notebook, source)
    rows = line_map(layout, layout.source)
    module_line = {place[:2]: number for number, place in enumerate(rows) if number}  # (cell, line) -> line
    codes_by_line = _codes_by_line([f for f in findings if (f.cell, f.line) in module_line],
                                   line=lambda finding: module_line[(finding.cell, finding.line)])
    if not codes_by_line:
        return 0, [], []
    try:
        new_module, added, skipped = add_noqa_to_text(layout.source, codes_by_line)
        changes = split_cells(layout, new_module)
        updated = json.loads(body)
        for index, cell_source in changes.items():
            updated["cells"][index]["source"] = new_source(notebook["cells"][index]["source"], cell_source)
        new_text = write_back(text, notebook, updated, changes_as_sources(changes, updated))
    except (SyntaxError, tokenize.TokenError, ValueError) as error:
        return 0, [f"{path}: could not add noqa directives: {error}"], []
    rows = line_map(layout, layout.source)
    warnings = _skipped_warning(path, [f"cell {rows[n][0]} line {rows[n][1]}" for n in skipped])
    if not added:
        return 0, [], warnings
    report = FileReport(path)
    write_fixes(path, new_text.encode("utf-8"), source, report, [])
    return (0 if report.errors else added), report.errors, warnings


def add_noqa(files: list, settings, jobs: int = 1, cache_dir=None) -> tuple[int, list, list]:
    """Directives for the findings of the whole run (a helper's finding where other files apply it, no
    absence claim another file disproves), as the check reports them."""
    from .runner import check_files

    total, errors, warnings = 0, [], []
    for report in check_files(files, settings, "check", jobs, cache_dir):
        errors.extend(report.errors)
        warnings.extend(report.warnings)
        if not report.errors:
            added, file_errors, file_warnings = add_noqa_file(report.path, report.findings)
            total += added
            errors.extend(file_errors)
            warnings.extend(file_warnings)
    return total, errors, warnings
