"""``# noqa`` comments: per line (flake8's semantics) and per file (``# initlint: noqa``)."""
from __future__ import annotations

import re
from typing import Optional

_LINE = re.compile(r"#\s*noqa(?::[\s]?(?P<codes>[A-Z][0-9A-Z]*(?:[,\s]+[A-Z][0-9A-Z]*)*))?", re.IGNORECASE)
_FILE = re.compile(r"#\s*initlint:\s*noqa(?::\s*(?P<codes>[A-Z][0-9A-Z]*(?:[,\s]+[A-Z][0-9A-Z]*)*))?",
                   re.IGNORECASE)


def _codes(text: Optional[str]) -> Optional[list[str]]:
    return None if text is None else [c.upper() for c in re.split(r"[,\s]+", text.strip()) if c]


def _matches(code: str, codes: Optional[list[str]]) -> bool:
    return codes is None or any(code.startswith(c) for c in codes)


class Suppressions:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.file_codes: list = []   # [None] = everything
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
        for match in _LINE.finditer(text):
            if text[max(0, match.start() - 12):match.start()].rstrip().lower().endswith("initlint:"):
                continue
            if _matches(code, _codes(match.group("codes"))):
                return True
        return False
