"""Jupyter notebooks (``.ipynb``): lint the code cells as one module, fix them in place.

How a notebook is read
    The file must be JSON with a ``cells`` list (nbformat 4; a notebook whose ``nbformat`` is another
    number, or that is not JSON at all, gives one INI900 finding, "could not parse notebook: ...", and
    is never written). Notebooks whose ``metadata`` names a language other than Python are skipped.
    The code cells are joined, in file order, into one module, so a layer built in one cell and
    initialised in another is understood. Between two cells the module holds a marker statement
    (``pass  # initlint-cell:...``) that tells where each cell's lines are after a fix.

Cell numbers
    ``cell N`` is the 1-based position of the cell among *all* the cells of the notebook (markdown
    and raw cells count), i.e. the N-th cell from the top of the file as every notebook front end
    shows it. It does not depend on execution counts nor on how many markdown cells sit between code
    cells. Lines and columns are relative to the cell (line 1 is the cell's first line).

IPython syntax
    Lines that are IPython rather than Python are masked for the analysis and restored untouched:
    line magics (``%matplotlib inline``), shell escapes (``!pip install x``), assignments from them
    (``files = !ls``, ``t = %timeit -o f()``), help (``?obj``, ``obj?``, ``obj??``) and the autocall
    escapes (``/f x``, ``,f a b``, ``;f a b``), with the lines they continue with a trailing
    backslash. Only lines at the start of a statement are masked (not inside brackets, strings or
    after a backslash continuation), so no line of valid Python is ever masked. A masked line becomes
    ``pass  # initlint-magic:...`` at an indentation that keeps the block valid, so line numbers do
    not move. A cell whose first non-blank line is a cell magic (``%%bash``, ``%%writefile``,
    ``%%html``, ...) is left out of the module entirely, except ``%%time``, ``%%timeit`` and
    ``%%capture``: their body is Python run in the notebook's namespace, so only the magic line is
    masked and the body is linted (and fixed) like any other cell.

Cells indented as a whole
    IPython (9.0.2 and later) runs a cell after removing the indentation all its non-blank lines share
    (``textwrap.dedent``: the same spaces and tabs, character for character; blank lines do not count),
    so a block pasted from inside a function runs. initlint analyses the cell as IPython runs it, and
    reports positions in the cell as written: a column is shifted back by the removed indentation. A fix
    is re-indented the same way: every non-blank line of the fixed cell gets the indentation back, blank
    lines are left as they are, so the lines a fix does not touch come back byte for byte. Older IPython
    (7.x, 8.x) removed the *first* line's indentation from the lines that start with it; the two agree
    whenever every non-blank line starts with the first one's indentation. A cell that parses only
    under the older rule (a line less indented than the first) is INI900, as IPython 9 reports it.

Cells that do not parse
    Jupyter compiles each cell on its own, and so does initlint: a code cell that is not valid Python
    (a course's template cell, ``criterion = # choose a loss``) gets an INI900 finding at its own line
    and is left out of the module; the other cells are analysed, and fixed, as the notebook without it.
    Its text is never rewritten.

Writing fixes back
    Only the ``source`` of the cells whose text changed is replaced; a cell keeps its form (a list of
    lines, or one string) and whether its last line ends with a newline. The new file text is made
    in one of two ways, and never by dumping the notebook in some default style:

    1. Re-serialise: the indentation, separators, ``ensure_ascii`` style and final newline are
       detected by trying the candidates on the *unmodified* notebook; one is used only when it
       reproduces the original text byte for byte (key order is kept as read).
    2. Otherwise (floats written differently, CRLF line ends, hand-edited spacing, ...) the changed
       ``source`` values are located in the original text and spliced in, formatted like the array
       they replace (or like another cell's ``source`` array), so every other byte stays as it was.

    Either result must load back to exactly the expected notebook; if it cannot be produced or
    checked, the notebook is not written and the reason goes to the error output.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field, replace
from json.decoder import scanstring
from typing import Optional

from .config import Settings
from .engine import lint_source, python_syntax_problem
from .findings import Finding
from .fix import fixed_source
from .rules import PARSE_ERROR_CODE
from .runner import count_resolved, unified_diff, write_fixes

MAX_FIX_ROUNDS = 8
PYTHON_CELL_MAGICS = ("time", "timeit", "capture")   # %%magic whose body is Python
_ESCAPES = ("%", "!", "?", "/", ",", ";")            # IPython escapes at the start of a statement
_ASSIGN_FROM = re.compile(r"[\w.]+(?:\s*,\s*[\w.]+)*\s*=\s*[!%]")
_CELL_MAGIC = re.compile(r"%%(\w*)")
_BOM = "\ufeff"


class NotebookError(Exception):
    """The file is not a notebook initlint can read; the message goes into the INI900 finding."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.line, self.column = line, column


@dataclass
class CodeCell:
    number: int                       # 1-based among all the notebook's cells
    index: int                        # 0-based position in ``cells``
    text: str                         # the cell's source joined
    masked: str = ""                  # what the module holds for it (ends with a newline unless empty)
    magics: dict = field(default_factory=dict)   # placeholder id -> the original line (without newline)
    margin: str = field(init=False)   # the indentation IPython removes from every non-blank line
    runs: str = field(init=False)     # the text IPython runs: ``text`` without ``margin``

    def __post_init__(self) -> None:
        self.margin, self.runs = dedent_cell(self.text)


@dataclass
class Layout:
    """Where each line of the joined module comes from."""
    cells: list                        # the CodeCells in the module, in order
    nonce: str
    source: str = ""
    # Code cells left out because they do not parse on their own (a template cell, ``criterion = #
    # choose a loss``): (cell number, line in the cell, column, message) for their INI900 findings.
    broken: list = field(default_factory=list)

    @property
    def marker_pattern(self):
        return re.compile(rf"pass  # initlint-cell:{self.nonce}:(\d+)\r?\n?")

    @property
    def magic_pattern(self):
        return re.compile(rf"[ \t]*pass  # initlint-magic:{self.nonce}:(\d+)(\r?\n?)")


# ---------------------------------------------------------------------- reading
def load_notebook(text: str) -> dict:
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(error.msg, error.lineno, error.colno) from None
    if not isinstance(notebook, dict):
        raise NotebookError("the top level is not a JSON object")
    version = notebook.get("nbformat", 4)
    if version != 4:
        raise NotebookError(f"nbformat {version!r} is not supported (only nbformat 4)")
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise NotebookError("no 'cells' list")
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise NotebookError(f"cell {number} is not a cell object with a 'cell_type'")
        source = cell.get("source")
        if cell["cell_type"] == "code" and not (
                isinstance(source, str) or (isinstance(source, list) and all(isinstance(s, str) for s in source))):
            raise NotebookError(f"cell {number} has no valid 'source' (a string or a list of strings)")
    return notebook


def is_python(notebook: dict) -> bool:
    metadata = notebook.get("metadata")
    if not isinstance(metadata, dict):
        return True
    names = []
    for key, inner in (("language_info", "name"), ("kernelspec", "language")):
        value = metadata.get(key)
        if isinstance(value, dict) and isinstance(value.get(inner), str):
            names.append(value[inner].lower())
    return all(name.startswith("python") for name in names)


def cell_text(source) -> str:
    return source if isinstance(source, str) else "".join(source)


def split_lines(text: str) -> list:
    """Lines with their ``\\n`` (only ``\\n`` splits, as in Jupyter's list form)."""
    return re.findall(r"[^\n]*\n|[^\n]+\Z", text)


# ---------------------------------------------------------------------- masking IPython syntax
def _scan(line: str, quote: Optional[str], depth: int) -> tuple:
    """Python's lexical state after ``line``: open string quote, bracket depth, last code character."""
    i, n, last = 0, len(line), ""
    while i < n:
        char = line[i]
        if quote:
            if char == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote, last = None, char
                continue
            i += 1
            continue
        if char == "#":
            break
        if char in "'\"":
            quote = char * 3 if line.startswith(char * 3, i) else char
            i += len(quote)
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
        if not char.isspace():
            last = char
        i += 1
    if quote and len(quote) == 1 and not line.rstrip("\r\n").endswith("\\"):
        quote = None  # an unterminated one-line string: a syntax error the parser will report
    return quote, depth, last


def _is_ipython(code: str) -> bool:
    """``code`` (a line at the start of a statement, indentation removed) is IPython, not Python."""
    if not code or code.startswith("#"):
        return False
    if code.startswith(_ESCAPES) or _ASSIGN_FROM.match(code):
        return True
    return _scan(code, None, 0)[2] == "?"  # obj? / obj??


def _indent(line: str) -> str:
    return line[:len(line) - len(line.lstrip(" \t"))]


def dedent_cell(text: str) -> tuple:
    """(the indentation every non-blank line shares, the text without it), as IPython's leading_indent.

    A line counts as blank when it holds only whitespace (``str.isspace``, as Python 3.14's dedent);
    blank lines are left as they are (Python ignores them outside strings), so each line keeps its
    number and ``reindent_cell`` restores the text exactly."""
    lines = split_lines(text)
    margin = os.path.commonprefix([_indent(line) for line in lines if line.strip()])
    if not margin:
        return "", text
    return margin, "".join(line[len(margin):] if line.strip() else line for line in lines)


def reindent_cell(text: str, margin: str) -> str:
    """``text`` (a cell as analysed and fixed) with ``margin`` put back on every non-blank line."""
    if not margin:
        return text
    return "".join(margin + line if line.strip() else line for line in split_lines(text))


def mask_cell(cell: CodeCell, nonce: str, next_id: int) -> Optional[int]:
    """Fill ``cell.masked``/``cell.magics``; returns the next placeholder id, or None to leave the cell out."""
    lines = split_lines(cell.runs)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    python_magic_line = None
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = _CELL_MAGIC.match(lines[first].lstrip()).group(1)
        if name not in PYTHON_CELL_MAGICS:
            return None
        python_magic_line = first
    out = []
    quote, depth, continued = None, 0, False
    in_magic = False                  # a masked line ended with a backslash
    block_indent, opens_block = "", False
    for number, line in enumerate(lines):
        body = line.rstrip("\r\n")
        ending = line[len(body):] or "\n"
        at_start = quote is None and depth == 0 and not continued
        if in_magic or number == python_magic_line or (at_start and _is_ipython(body.lstrip(" \t"))):
            own = _indent(body)
            indent = own if opens_block else min(own, block_indent, key=len)
            cell.magics[next_id] = body
            out.append(f"{indent}pass  # initlint-magic:{nonce}:{next_id}{ending}")
            next_id += 1
            in_magic = body.endswith("\\")
            block_indent, opens_block = indent, False
            continue
        if at_start and body.strip() and not body.lstrip().startswith("#"):
            block_indent = _indent(body)
        quote, depth, last = _scan(line, quote, depth)
        continued = last == "\\" and quote is None
        if quote is None and depth == 0 and not continued and last:
            opens_block = last == ":"
        out.append(line if line.endswith("\n") else line + "\n")
    cell.masked = "".join(out)
    return next_id


def build_layout(notebook: dict, source: bytes) -> Layout:
    digest = hashlib.sha256(source).hexdigest()
    nonce = digest[:10]
    text = source.decode("utf-8", errors="replace")
    salt = 0
    while nonce in text:
        salt += 1
        nonce = hashlib.sha256(source + str(salt).encode()).hexdigest()[:10]
    layout = Layout([], nonce)
    next_id = 0
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        code_cell = CodeCell(index + 1, index, cell_text(cell["source"]))
        result = mask_cell(code_cell, nonce, next_id)
        if result is None:
            continue
        next_id = result
        # Jupyter compiles each cell on its own: one that does not parse is left out, the others analysed.
        problem = python_syntax_problem(code_cell.masked.encode("utf-8"))
        if problem is not None:
            line, column, message = problem
            layout.broken.append((code_cell.number, line, column + _shift(code_cell, line), message))
            continue
        layout.cells.append(code_cell)
    parts = []
    for position, code_cell in enumerate(layout.cells):
        if position:
            parts.append(f"pass  # initlint-cell:{nonce}:{position}\n")
        parts.append(code_cell.masked)
    layout.source = "".join(parts)
    return layout


# ---------------------------------------------------------------------- positions
def _shift(cell: CodeCell, line: int) -> int:
    """How many characters IPython's dedent removed from the start of the cell's ``line`` (1-based)."""
    if not cell.margin:
        return 0
    lines = split_lines(cell.text)
    return len(cell.margin) if 0 < line <= len(lines) and lines[line - 1].strip() else 0


def line_map(layout: Layout, text: str) -> list:
    """For each line of ``text`` (1-based; index 0 unused): (cell number, line in the cell, how many
    columns the cell's line is shifted right of ``text``'s by the indentation IPython removes)."""
    rows = [(0, 0, 0)]
    marker = layout.marker_pattern
    position, line_in_cell = 0, 0
    for line in split_lines(text):
        match = marker.fullmatch(line)
        if match and int(match.group(1)) == position + 1 and position + 1 < len(layout.cells):
            rows.append((layout.cells[position].number, max(1, line_in_cell), 0))
            position, line_in_cell = position + 1, 0
            continue
        line_in_cell += 1
        cell = layout.cells[position] if layout.cells else None
        shift = len(cell.margin) if cell is not None and line.strip() else 0
        rows.append((cell.number if cell is not None else 1, line_in_cell, shift))
    return rows


def to_cell(finding: Finding, rows: list) -> Finding:
    """A portable copy of a finding on the joined module, placed in its cell."""
    if not rows[1:]:
        return replace(finding, fix=None, cell=None)
    start = rows[min(max(finding.line, 1), len(rows) - 1)]
    end = rows[min(max(finding.end_line, 1), len(rows) - 1)]
    end_line = end[1] if end[0] == start[0] else start[1]
    column = finding.column + start[2]
    end_column = finding.end_column + end[2] if end[0] == start[0] else column
    message = finding.message
    if finding.code == PARSE_ERROR_CODE:  # LibCST names the position in the joined module: name the cell's
        message = _PARSER_POSITION.sub(lambda m: _cell_position(m, rows, start[0]), message)
    return replace(finding, fix=None, cell=start[0], line=start[1], column=column, end_line=end_line,
                   end_column=end_column, message=message)


_PARSER_POSITION = re.compile(r"\b(at |line )(\d+):(\d+)")


def _cell_position(match, rows: list, cell: int) -> str:
    line = int(match.group(2))
    if not 0 < line < len(rows) or rows[line][0] != cell:
        return match.group(0)
    return f"{match.group(1)}{rows[line][1]}:{int(match.group(3)) + rows[line][2]}"


# ---------------------------------------------------------------------- back to cells
def split_cells(layout: Layout, text: str) -> dict:
    """The text of each cell of ``layout`` after a fix, with the IPython lines restored.

    Raises ValueError when the markers or placeholders are not all found exactly once.
    """
    marker, magic = layout.marker_pattern, layout.magic_pattern
    chunks: list = [[]]
    originals = {key: value for cell in layout.cells for key, value in cell.magics.items()}
    restored: set = set()
    for line in split_lines(text):
        match = marker.fullmatch(line)
        if match:
            if int(match.group(1)) != len(chunks):
                raise ValueError("cell markers out of order")
            chunks.append([])
            continue
        match = magic.fullmatch(line)
        if match:
            key = int(match.group(1))
            if key not in originals or key in restored:
                raise ValueError("an IPython line was duplicated")
            restored.add(key)
            line = originals[key] + match.group(2)
        chunks[-1].append(line)
    if len(chunks) != max(1, len(layout.cells)) or restored != set(originals):
        raise ValueError("a cell marker or an IPython line was lost")
    result = {}
    for cell, lines in zip(layout.cells, chunks):
        new_text = "".join(lines)
        if not cell.runs.endswith("\n") and new_text.endswith("\n"):
            new_text = new_text[:-1]
        new_text = reindent_cell(new_text, cell.margin)
        if new_text != cell.text:
            result[cell.index] = new_text
    return result


def new_source(old, text: str):
    """``text`` in the form of the cell's original ``source`` (one string or a list of lines)."""
    return text if isinstance(old, str) else split_lines(text)


# ---------------------------------------------------------------------- writing the JSON back
def _ascii_style(text: str) -> bool:
    """``ensure_ascii``: True when non-ASCII characters are written as ``\\u`` escapes."""
    if any(ord(char) > 127 for char in text):
        return False
    return bool(re.search(r"\\u(?:00[89a-fA-F][0-9a-fA-F]|0[1-9a-fA-F][0-9a-fA-F]{2}|[1-9a-fA-F][0-9a-fA-F]{3})",
                          text))


def detect_style(text: str, notebook: dict) -> Optional[dict]:
    """``json.dumps`` keyword arguments (plus the final newline) that reproduce ``text`` exactly, or None."""
    match = re.search(r"\n([ \t]*)\S", text)
    indents = [match.group(1) if match and match.group(1) else None]
    if indents[0] is not None and set(indents[0]) == {" "}:
        indents[0] = len(indents[0])
    separators = [(",", ": ")] if indents[0] is not None else [(", ", ": "), (",", ":")]
    for ascii_style in (_ascii_style(text), not _ascii_style(text)):
        for separator in separators:
            style = {"indent": indents[0], "separators": separator, "ensure_ascii": ascii_style}
            dumped = json.dumps(notebook, **style)
            for ending in ("", "\n"):
                if dumped + ending == text:
                    return dict(style, ending=ending)
    return None


def reserialise(notebook: dict, style: dict) -> str:
    options = {key: value for key, value in style.items() if key != "ending"}
    return json.dumps(notebook, **options) + style["ending"]


class _SpanScanner:
    """Offsets of each code cell's ``source`` value (and of its list items) in the notebook's text."""

    _WHITESPACE = re.compile(r"[ \t\n\r]*")
    _ATOM = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null|NaN|-?Infinity")

    def __init__(self, text: str) -> None:
        self.text = text
        self.sources: dict = {}   # cell index -> (start, end)
        self.items: dict = {}     # cell index -> [(start, end), ...]
        self.value(0, ())

    def skip(self, i: int) -> int:
        return self._WHITESPACE.match(self.text, i).end()

    def expect(self, i: int, char: str) -> int:
        if self.text[i:i + 1] != char:
            raise ValueError(f"expected {char!r} at offset {i}")
        return i + 1

    def value(self, i: int, path: tuple) -> int:
        text = self.text
        i = self.skip(i)
        start = i
        char = text[i:i + 1]
        if char == "{":
            i = self.skip(i + 1)
            if text[i:i + 1] == "}":
                end = i + 1
            else:
                while True:
                    i = self.expect(self.skip(i), '"')
                    key, i = scanstring(text, i)
                    i = self.expect(self.skip(i), ":")
                    i = self.skip(self.value(i, path + (key,)))
                    if text[i:i + 1] == ",":
                        i += 1
                        continue
                    end = self.expect(i, "}")
                    break
        elif char == "[":
            i = self.skip(i + 1)
            if text[i:i + 1] == "]":
                end = i + 1
            else:
                position = 0
                while True:
                    i = self.skip(self.value(i, path + (position,)))
                    position += 1
                    if text[i:i + 1] == ",":
                        i += 1
                        continue
                    end = self.expect(i, "]")
                    break
        elif char == '"':
            _, end = scanstring(text, i + 1)
        else:
            match = self._ATOM.match(text, i)
            if not match:
                raise ValueError(f"unexpected {char!r} at offset {i}")
            end = match.end()
        if len(path) >= 3 and path[0] == "cells" and path[2] == "source":
            if len(path) == 3:
                self.sources[path[1]] = (start, end)
            elif len(path) == 4:
                self.items.setdefault(path[1], []).append((start, end))
        return end


def splice(text: str, notebook: dict, changes: dict) -> str:
    """``text`` with the ``source`` of the cells in ``changes`` (index -> new source) replaced."""
    scanner = _SpanScanner(text)
    ensure_ascii = _ascii_style(text)

    def list_style(index):
        start, end = scanner.sources[index]
        items = scanner.items.get(index, [])
        if not items or text[start] != "[":
            return None
        prefix = text[start + 1:items[0][0]]
        suffix = text[items[-1][1]:end - 1]
        separator = text[items[0][1]:items[1][0]] if len(items) > 1 else None
        return prefix, separator, suffix

    known = [style for style in (list_style(i) for i in scanner.sources) if style]
    fallback = next((s for s in known if s[1] is not None), known[0] if known else None)
    pieces, cursor = [], 0
    for index in sorted(changes):
        if index not in scanner.sources:
            raise ValueError(f"the source of cell {index + 1} was not found in the file")
        start, end = scanner.sources[index]
        value = changes[index]
        if isinstance(value, str):
            replacement = json.dumps(value, ensure_ascii=ensure_ascii)
        elif not value:
            replacement = "[]"
        else:
            style = list_style(index) or fallback
            if style is None:
                raise ValueError(f"no list-form source to copy the formatting of cell {index + 1} from")
            prefix, separator, suffix = style
            if separator is None:
                separator = "," + prefix if "\n" in prefix else ", "
            replacement = "[" + prefix + separator.join(json.dumps(line, ensure_ascii=ensure_ascii)
                                                        for line in value) + suffix + "]"
        pieces.append(text[cursor:start])
        pieces.append(replacement)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def write_back(text: str, original: dict, updated: dict, changes: dict) -> str:
    """The notebook's new text: re-serialised when that reproduces the original exactly, else spliced."""
    body, bom = (text[1:], _BOM) if text.startswith(_BOM) else (text, "")
    style = detect_style(body, original)
    new_text = reserialise(updated, style) if style is not None else splice(body, original, changes)
    if json.loads(new_text) != updated:
        raise ValueError("the rewritten notebook does not load back to the fixed cells")
    return bom + new_text


# ---------------------------------------------------------------------- the entry point
def check_notebook(path: str, source: bytes, settings: Settings, mode: str, report):
    """Lint (and with ``mode`` "fix"/"diff", fix) one notebook; fills and returns ``report``."""
    try:
        text = source.decode("utf-8")
        notebook = load_notebook(text[1:] if text.startswith(_BOM) else text)
    except UnicodeDecodeError as error:
        report.findings.append(Finding(PARSE_ERROR_CODE, f"could not parse notebook: not UTF-8 ({error.reason})",
                                       path, 1, 1, 1, 1))
        return report
    except NotebookError as error:
        report.findings.append(Finding(PARSE_ERROR_CODE, f"could not parse notebook: {error}",
                                       path, error.line, error.column, error.line, error.column))
        return report
    if not is_python(notebook):
        return report
    layout = build_layout(notebook, source)
    module_source = layout.source.encode("utf-8")
    extra = settings.ignores_for(path)

    def lint(data):
        return lint_source(data, path, settings.selection, settings.options, extra, settings.torch_tokens,
                           keep_module=mode != "check")

    result = lint(module_source)
    report.initialised_here = [tuple(entry) for entry in result.initialised_here]  # a notebook inits models too
    rows = line_map(layout, layout.source)
    broken = [Finding(PARSE_ERROR_CODE, f"could not parse: {message}", path, line, column, line, column, cell=number)
              for number, line, column, message in layout.broken]
    report.findings = sorted([to_cell(f, rows) for f in result.findings] + broken, key=lambda f: f.sort_key)
    if mode == "check" or result.module is None:
        return report

    current, current_result, fixed = module_source, result, []
    for _ in range(MAX_FIX_ROUNDS):
        fixed_bytes, applied = fixed_source(current_result.module, current_result.findings, settings.unsafe_fixes)
        if fixed_bytes is None:
            break
        fixed.extend(to_cell(f, line_map(layout, current.decode("utf-8"))) for f in applied)
        current = fixed_bytes
        current_result = lint(current)
        if current_result.module is None:
            return report
    if current == module_source:
        return report
    try:
        new_text = current.decode("utf-8")
        changes = split_cells(layout, new_text)
        updated = json.loads(text[1:] if text.startswith(_BOM) else text)
        for index, cell_source in changes.items():
            updated["cells"][index]["source"] = new_source(notebook["cells"][index]["source"], cell_source)
        new_notebook = write_back(text, notebook, updated, changes_as_sources(changes, updated))
    except (ValueError, UnicodeDecodeError) as error:
        report.errors.append(f"{path}: could not write the fixes back into the notebook ({error}); left as it is")
        return report
    new_bytes = new_notebook.encode("utf-8")
    report.fixed = fixed
    report.findings = sorted([to_cell(f, line_map(layout, new_text)) for f in current_result.findings] + broken,
                             key=lambda f: f.sort_key)
    report.resolved = count_resolved(result.findings, current_result.findings)
    if mode == "diff":
        report.diff = unified_diff(path, source, new_bytes, "utf-8")
        return report
    write_fixes(path, new_bytes, source, report, [to_cell(f, rows) for f in result.findings] + broken)
    return report


def changes_as_sources(changes: dict, updated: dict) -> dict:
    return {index: updated["cells"][index]["source"] for index in changes}

