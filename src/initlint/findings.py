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
    # A claim that nothing initialises these layers (INI003, INI103): another file of the run that
    # initialises their model voids it (run_index.py).
    uninitialised: tuple = ()
    # A finding in another file's helper, reported at the call here that runs it: how it runs it
    # (analysis.dependencies._application), for that file to report it itself when it is checked too.
    application: Optional[tuple] = None
    related: tuple = ()  # (path, line, column, model class, helper): the calls of other files that run it


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
    absence_of: tuple = ()  # this file's classes whose layers the finding says nothing initialises
    application: Optional[tuple] = None  # see RawFinding
    related: tuple = ()  # see RawFinding

    def __post_init__(self) -> None:
        if self.fix is not None and self.fix_description is None:
            self.fix_description = self.fix.description

    @property
    def severity(self) -> str:
        """The rule's severity; a file that cannot be read or parsed (INI900) is an error."""
        from .rules import RULES_BY_CODE  # the rules import this module
        rule = RULES_BY_CODE.get(self.code)
        return rule.severity if rule is not None else "error"

    @property
    def applicability(self) -> Optional[str]:
        """"safe" or "unsafe" (the rule's fix safety) when the finding has a fix, else None."""
        from .rules import RULES_BY_CODE
        if not self.fix_description:
            return None
        rule = RULES_BY_CODE.get(self.code)
        return rule.fix_safety if rule is not None else "safe"

    def fix_enabled(self, unsafe_fixes: bool) -> bool:
        """Whether ``--fix`` applies this finding's fix (unsafe ones only with ``--unsafe-fixes``)."""
        return self.applicability == "safe" or (self.applicability == "unsafe" and unsafe_fixes)

    @property
    def sort_key(self):
        return (self.path, self.cell or 0, self.line, self.column, self.code)
