"""Apply every fix of a file in one LibCST pass, check the result parses, write atomically."""
from __future__ import annotations

import errno
import os
import tempfile
from typing import Iterable, Optional

import libcst as cst

from .analysis.syntax import walk
from .findings import Finding, Fix


class _ApplyFixes(cst.CSTTransformer):
    def __init__(self, fixes: Iterable[Fix]) -> None:
        super().__init__()
        self.replace: dict[int, Optional[cst.CSTNode]] = {}
        self.after: dict[int, list] = {}
        self.moved: set[int] = set()
        for fix in fixes:
            for node, new in fix.replace.items():
                self.replace[id(node)] = new
            for statement, new_statements in fix.insert_after:
                self.after.setdefault(id(statement), []).extend(new_statements)
            for statement, anchor in fix.move_after:
                self.moved.add(id(statement))
                self.after.setdefault(id(anchor), []).append(statement)

    def on_leave(self, original, updated):
        key = id(original)
        if key in self.moved:
            return cst.RemoveFromParent()
        if key in self.replace:
            new = self.replace[key]
            if new is None:
                return cst.RemoveFromParent()
            updated = new
        extra = self.after.get(key)
        if extra:
            return cst.FlattenSentinel([updated, *extra])
        return updated

    def leave_IndentedBlock(self, original, updated):
        if not updated.body:  # every statement was removed: keep the block valid
            return updated.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
        return self.on_leave(original, updated)


def _with_imports(module: cst.Module, needs: set) -> cst.Module:
    """Add the import lines a fix needs, after the file's docstring/imports at the top."""
    if not needs:
        return module
    body = list(module.body)
    position = 0
    for index, statement in enumerate(body):
        smalls = statement.body if type(statement) is cst.SimpleStatementLine else []
        if smalls and all(type(s) in (cst.Import, cst.ImportFrom) for s in smalls):
            position = index + 1
        elif index == 0 and smalls and type(smalls[0]) is cst.Expr \
                and type(smalls[0].value) in (cst.SimpleString, cst.ConcatenatedString):
            position = 1
        else:
            break  # the first code: new imports go before it, so module-level code can use them
    new = [cst.parse_statement(line + "\n") for line in sorted(needs)]
    return module.with_changes(body=body[:position] + new + body[position:])


def fixed_source(module: cst.Module, findings: list[Finding],
                 unsafe_fixes: bool = False) -> tuple[Optional[bytes], list[Finding]]:
    """The fixed bytes (None when nothing changes) and the findings whose fixes were applied.

    Only safe fixes apply, unless ``unsafe_fixes`` (the rule's ``fix_safety`` decides, by code).

    All fixes go in one pass. Should the result not parse, each fix is tried alone and the ones that
    break the file are dropped (``dropped_fixes`` lists them), so one bad fix never costs the others.
    """
    fixable = [f for f in findings if f.fix is not None and f.fix_enabled(unsafe_fixes)]
    if not fixable:
        return None, []
    fixes = _non_overlapping(fixable)
    new_bytes = _apply(module, fixes)
    if new_bytes is None:
        fixes = [f for f in fixes if _apply(module, [f]) is not None]
        new_bytes = _apply(module, fixes) if fixes else None
    if new_bytes is None or new_bytes == module.bytes:
        return None, []
    return new_bytes, fixes


def _apply(module: cst.Module, fixes: list[Finding]) -> Optional[bytes]:
    try:
        new_module = module.visit(_ApplyFixes(f.fix for f in fixes))
        new_module = _with_imports(new_module, set().union(*(f.fix.needs for f in fixes)))
        new_bytes = new_module.bytes
        cst.parse_module(new_bytes)  # the result must parse; otherwise nothing is written
    except Exception:
        return None
    return new_bytes


def _non_overlapping(findings: list[Finding]) -> list[Finding]:
    """Fixes whose rewrites do not nest; a fix inside a node another fix rewrites waits for the next round.

    Insertions after a statement never conflict: several fixes may add lines after the same one.
    """
    rewritten: set[int] = set()
    chosen = []
    for finding in findings:
        fix = finding.fix
        targets = list(fix.replace) + [s for s, _ in fix.move_after]
        subtree = {id(n) for node in targets for n in walk(node)}
        if subtree & rewritten:
            continue
        rewritten |= subtree
        chosen.append(finding)
    return chosen


class ChangedOnDisk(Exception):
    pass


def write_atomically(path: str, data: bytes, expected_original: bytes) -> None:
    """Replace ``path`` with ``data`` via a temp file in the same folder, keeping permission bits and owner.

    Refuses with PermissionError when the process may not write the file itself (a writable folder is
    not enough: replacing a read-only file would bypass its mode), and with ChangedOnDisk when the
    file no longer holds ``expected_original``. When the temp file cannot be given the file's owner and
    group, the file is rewritten in place instead, so that who owns it never changes.
    """
    real = os.path.realpath(path)
    folder = os.path.dirname(real) or "."
    info = os.stat(real)
    if not os.access(real, os.W_OK):
        raise PermissionError(errno.EACCES, "Permission denied", path)
    with open(real, "rb") as handle:
        if handle.read() != expected_original:
            raise ChangedOnDisk(path)
    fd, temp = tempfile.mkstemp(prefix=".initlint-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if not _same_owner(temp, info):
            os.unlink(temp)
            _rewrite_in_place(real, data)
            return
        os.chmod(temp, info.st_mode & 0o7777)  # after chown, which may clear set-id bits
        os.replace(temp, real)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def _same_owner(temp: str, original: os.stat_result) -> bool:
    """Give ``temp`` the original's owner and group; False when the process may not."""
    created = os.stat(temp)
    if (created.st_uid, created.st_gid) == (original.st_uid, original.st_gid):
        return True
    try:
        os.chown(temp, original.st_uid, original.st_gid)
    except OSError:
        return False
    return True


def _rewrite_in_place(path: str, data: bytes) -> None:
    with open(path, "r+b") as handle:
        handle.write(data)
        handle.truncate()
        handle.flush()
        os.fsync(handle.fileno())
