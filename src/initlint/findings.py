"""What a check produces."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import libcst as cst


@dataclass(eq=False)
class Fix:
    """A rewrite of one finding, applied with every other fix of the file in one pass (see fix.py)."""
    description: str
    replace: dict = field(default_factory=dict)        # original node -> new node (or None: remove stmt)
    insert_after: list = field(default_factory=list)   # (original statement, [new statements])
    move_after: list = field(default_factory=list)     # (statement to move, statement to follow)
    needs: frozenset = frozenset()                     # qualified names the new code refers to


@dataclass(eq=False)
class RawFinding:
    code: str
    node: cst.CSTNode
    message: str
    fix: Optional[Fix] = None


@dataclass
class Finding:
    code: str
    message: str
    path: str
    line: int
    column: int          # 1-based
    end_line: int
    end_column: int
    fix: Optional[Fix] = None
    cell: Optional[int] = None
    fix_description: Optional[str] = None

    def __post_init__(self) -> None:
        if self.fix is not None and self.fix_description is None:
            self.fix_description = self.fix.description

    @property
    def sort_key(self):
        return (self.path, self.cell or 0, self.line, self.column, self.code)
