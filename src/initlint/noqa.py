"""``# noqa`` comments: per line (flake8's semantics) and per file (``# initlint: noqa``).

``Suppressions`` also records which line directives suppressed something, for INI901 (unused-noqa)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

# Codes as flake8 reads them (letters then digits), so that a description after them is not a code.
_LINE = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_FILE = re.compile(r"#\s*initlint:\s*noqa(?::\s*(?P<codes>[A-Z][0-9A-Z]*(?:[,\s]+[A-Z][0-9A-Z]*)*))?",
                   re.IGNORECASE)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def source_lines(text: str) -> list[str]:
    """The lines of ``text`` as Python (and LibCST's positions) count them: ``str.splitlines`` also breaks
    at a form feed, U+2028 and other separators, which would put a ``# noqa`` on the wrong line."""
    lines = _LINE_BREAK.split(text)
    return lines[:-1] if lines and lines[-1] == "" else lines


def _codes(text: Optional[str]) -> Optional[list[str]]:
    return None if text is None else [c.upper() for c in re.split(r"[,\s]+", text.strip()) if c]


def _matches(code: str, codes: Optional[list[str]]) -> bool:
    return codes is None or any(code.startswith(c) for c in codes)


@dataclass
class LineDirective:
    """One ``# noqa`` in a line or comment; offsets are into that text."""
    start: int
    end: int                      # end of the directive (after its codes)
    codes: Optional[list]         # None: a bare ``# noqa`` (every code)
    codes_start: int
    codes_end: int                # where more codes would be appended


def _line_directives(text: str) -> list[LineDirective]:
    found = []
    for match in _LINE.finditer(text):
        if text[max(0, match.start() - 12):match.start()].rstrip().lower().endswith("initlint:"):
            continue  # ``# initlint: noqa`` is the file's directive
        codes = match.group("codes")
        codes_start = match.start("codes") if codes is not None else match.end()
        codes_end = match.end()
        found.append(LineDirective(match.start(), codes_end, _codes(codes), codes_start, codes_end))
    return found


def line_directive(comment: str) -> Optional[LineDirective]:
    """The first ``# noqa`` directive in a comment's text, or None."""
    found = _line_directives(comment)
    return found[0] if found else None


class Suppressions:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.file_codes: list = []   # [None] = everything
        self.used: dict = {}         # line -> the codes its directives suppressed
        for line in lines:
            match = _FILE.search(line)
            if match:
                self.file_codes.append(_codes(match.group("codes")))

    def suppressed(self, code: str, line: int) -> bool:
        if any(_matches(code, codes) for codes in self.file_codes):
            return True
        if not 1 <= line <= len(self.lines):
            return False
        text = self.lines[line - 1]
        if "noqa" not in text.lower():
            return False
        for directive in _line_directives(text):
            if _matches(code, directive.codes):
                self.used.setdefault(line, set()).add(code)
                return True
        return False
