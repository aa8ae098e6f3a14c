"""Check (and fix) files: one function per file, run in parallel, results in input order."""
from __future__ import annotations

import dataclasses
import difflib
import gc
import hashlib
import json
import multiprocessing
import os
import signal
import stat
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Optional

from . import __version__
from .analysis.run_index import (applications_for, classes_for, drop_moved, helper_applications,
                                 initialised_elsewhere, void_absence_claims, without_voided_claims)
from .config import Settings, display_path
from .engine import lint_source
from .findings import Finding
from .fix import ChangedOnDisk, fixed_source, write_atomically
from .rules import PARSE_ERROR_CODE

MAX_FIX_ROUNDS = 8  # a fix can expose another (a new weight init needs its bias zeroed): repeat


@dataclass
class FileReport:
    path: str
    findings: list = field(default_factory=list)   # remaining (or, without --fix, all) findings
    fixed: list = field(default_factory=list)      # findings whose fix was applied
    diff: str = ""
    resolved: int = 0                              # findings the fixes made go away (one rewrite can end two)
    errors: list = field(default_factory=list)     # messages for stderr; they make the exit status 2
    warnings: list = field(default_factory=list)   # messages for stderr only
    written: bool = False
    from_stdin: bool = False                       # the source came from stdin: fixes go to ``output``
    output: Optional[bytes] = None                 # with ``from_stdin``, the fixed source (else None)
    initialised_here: list = field(default_factory=list)  # (file, class): see analysis/run_index.py
    applied_here: list = field(default_factory=list)      # (file, line): see analysis/run_index.py
    applications_here: list = field(default_factory=list)  # (application, line, column): run_index.py


def _portable(finding: Finding) -> Finding:
    """A copy without CST nodes, to send between processes and store in the cache."""
    return dataclasses.replace(finding, fix=None)


def read_source(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def check_file(path: str, settings: Settings, mode: str = "check", cache_dir: Optional[str] = None,
               voided: frozenset = frozenset(), applications: tuple = (),
               stdin_source: Optional[bytes] = None) -> FileReport:
    """``mode``: "check", "fix" (write fixes) or "diff" (report the fixes as a diff). ``voided``: classes of
    this file that another file of the run initialises (their absence claims are dropped before fixing);
    ``applications``: how other files of the run apply this file's helpers (analysis/run_index.py).

    ``stdin_source``: the file's bytes, read from stdin (``path`` only names it); nothing is read from or
    written to disk, and with "fix" the fixed bytes are left in ``report.output``."""
    report = FileReport(path, from_stdin=stdin_source is not None)
    if stdin_source is not None:
        source, cache_dir = stdin_source, None
    else:
        try:
            source = read_source(path)
        except OSError as error:
            report.findings.append(Finding(PARSE_ERROR_CODE, f"could not read: {error.strerror or error}",
                                           path, 1, 1, 1, 1))
            return report
    if path.endswith(".ipynb"):
        from .notebook import check_notebook
        return check_notebook(path, source, settings, mode, report)
    extra = settings.ignores_for(path)
    key = _cache_key(source, settings, extra, applications) if cache_dir and mode == "check" else None
    if key is not None:
        cached = _cache_load(cache_dir, key, path)
        if cached is not None:
            report.findings, report.initialised_here, report.applied_here, report.applications_here = cached
            return report
    result = lint_source(source, path, settings.selection, settings.options, extra, settings.torch_tokens,
                         keep_module=mode != "check", applications=applications)
    if result.internal_error:
        report.errors.append(f"{path}: internal error, please report it: {result.internal_error}")
        return report
    report.initialised_here = [tuple(entry) for entry in result.initialised_here]
    report.applied_here = [tuple(entry) for entry in result.applied_here]
    report.applications_here = list(result.applications_here)
    if mode == "check" or result.module is None:
        report.findings = [_portable(f) for f in result.findings]
        if key is not None:
            _cache_store(cache_dir, key, report.findings, result.dependencies, report.initialised_here,
                         report.applied_here, report.applications_here)
        return report
    result.findings = without_voided_claims(result.findings, voided)
    new_source = _fix_rounds(source, result, path, settings, extra, report, voided, applications)
    if new_source is None:
        return report
    if mode == "diff":
        report.diff = unified_diff(path, source, new_source, result.module.encoding)
        return report
    write_fixes(path, new_source, source, report, [_portable(f) for f in result.findings])
    return report


def write_fixes(path: str, new: bytes, old: bytes, report: FileReport, unfixed: list) -> None:
    """Write the fixed bytes; when that fails, keep the file, say why, and report ``unfixed``."""
    if report.from_stdin:
        report.output = new
        return
    try:
        write_atomically(path, new, old)
        report.written = True
        return
    except ChangedOnDisk:
        problem = "changed on disk while initlint was fixing it; left as it is"
    except PermissionError:
        problem = "permission denied: the file is not writable; left as it is"
    except OSError as error:
        problem = f"could not write the fixed file: {error.strerror or error}"
    report.errors.append(f"{path}: {problem}")
    report.findings, report.fixed, report.resolved = unfixed, [], 0


def _fix_rounds(source, result, path, settings, extra, report, voided=frozenset(), applications=()) -> Optional[bytes]:
    current, current_result = source, result
    fixed: list = []
    for _ in range(MAX_FIX_ROUNDS):
        new_source, applied = fixed_source(current_result.module, current_result.findings, settings.unsafe_fixes)
        if new_source is None:
            break
        fixed.extend(applied)
        current = new_source
        current_result = lint_source(current, path, settings.selection, settings.options, extra,
                                     settings.torch_tokens, keep_module=True, applications=applications)
        if current_result.module is None:  # cannot happen: fixed_source checked it parses
            return None
        current_result.findings = without_voided_claims(current_result.findings, voided)
    report.fixed = [_portable(f) for f in fixed]
    report.findings = [_portable(f) for f in current_result.findings]
    report.resolved = count_resolved(result.findings, current_result.findings)
    for finding in current_result.findings:
        if finding.fix is not None and finding.fix_enabled(settings.unsafe_fixes):
            # every enabled fix was applied: this one broke the file
            report.warnings.append(f"{path}:{finding.line}:{finding.column}: {finding.code} fix not applied: "
                                   f"the result would not parse")
    return current if current != source else None


def count_resolved(before: list, after: list) -> int:
    """How many of the findings ``before`` the fixes are gone ``after``. Findings are matched by code and
    message (lines move when a fix inserts some), so a finding that another's rewrite ended counts too."""
    return sum((Counter((f.code, f.message) for f in before)
                - Counter((f.code, f.message) for f in after)).values())


def unified_diff(path: str, old: bytes, new: bytes, encoding: str) -> str:
    old_text = old.decode(encoding, errors="replace").splitlines(keepends=True)
    new_text = new.decode(encoding, errors="replace").splitlines(keepends=True)
    return "".join(difflib.unified_diff(old_text, new_text, f"a/{path}", f"b/{path}"))


# ---------------------------------------------------------------------- cache
_code_stamp: Optional[str] = None


def _initlint_stamp() -> str:
    """initlint's version plus the size and mtime of its own sources, so that an edited (editable)
    install never reads findings cached by older code."""
    global _code_stamp
    if _code_stamp is None:
        package = os.path.dirname(os.path.abspath(__file__))
        stamps = [__version__]
        for folder, _, names in sorted(os.walk(package)):
            for name in sorted(names):
                if name.endswith(".py"):
                    info = os.stat(os.path.join(folder, name))
                    stamps.append(f"{name}:{info.st_size}:{info.st_mtime_ns}")
        _code_stamp = hashlib.sha256("\n".join(stamps).encode()).hexdigest()
    return _code_stamp


def _cache_key(source: bytes, settings: Settings, extra: tuple, applications: tuple = ()) -> str:
    digest = hashlib.sha256()
    digest.update(_initlint_stamp().encode() + b"\0" + settings.fingerprint().encode() + b"\0")
    digest.update(repr(extra).encode() + b"\0" + repr(applications).encode() + b"\0" + source)
    return digest.hexdigest()


def _cache_load(cache_dir: str, key: str, path: str):
    """The findings stored for this file's bytes, unless a file of the project its analysis read has
    changed since (then the file is checked again)."""
    try:
        with open(os.path.join(cache_dir, key[:2], key), "r", encoding="utf-8") as handle:
            entry = json.load(handle)
        for dependency, digest in entry["dependencies"]:
            if _digest_of(dependency) != digest:
                return None
        rows = entry["findings"]
        findings = []
        for row in rows:
            findings.append(Finding(row["code"], row["message"], path, row["line"], row["column"],
                                    row["end_line"], row["end_column"], fix_description=row.get("fix"),
                                    absence_of=tuple(row.get("absence_of", ())),
                                    application=_application_of(row.get("application")),
                                    related=tuple(tuple(item) for item in row.get("related", ()))))
        return findings, [tuple(entry) for entry in entry.get("initialised_here", ())], \
            [tuple(entry) for entry in entry.get("applied_here", ())], \
            [(_application_of(run[0]), run[1], run[2]) for run in entry.get("applications_here", ())]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # missing or corrupt: analyse again


def _application_of(row) -> Optional[tuple]:
    """A finding's ``application`` back from JSON lists (see analysis.dependencies._application)."""
    if not row:
        return None
    helper_path, helper, param, models = row
    return helper_path, helper, param, tuple(tuple(model) for model in models)


def _digest_of(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def _cache_store(cache_dir: str, key: str, findings: list, dependencies: list, initialised_here=(),
                 applied_here=(), applications_here=()) -> None:
    folder = os.path.join(cache_dir, key[:2])
    rows = [{"code": f.code, "message": f.message, "line": f.line, "column": f.column,
             "end_line": f.end_line, "end_column": f.end_column, "fix": f.fix_description,
             "absence_of": list(f.absence_of), "application": f.application, "related": f.related}
            for f in findings]
    entry = {"findings": rows, "dependencies": [[path, _digest_of(path)] for path in dependencies],
             "initialised_here": [list(pair) for pair in initialised_here],
             "applied_here": [list(pair) for pair in applied_here],
             "applications_here": [list(run) for run in applications_here]}
    try:
        os.makedirs(folder, exist_ok=True)
        temp = os.path.join(folder, f".{key}.{os.getpid()}.tmp")
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(entry, handle)
        os.replace(temp, os.path.join(folder, key))
    except OSError:
        pass  # a cache that cannot be written only costs speed


def prepare_cache(cache_dir: str) -> Optional[str]:
    """Create the cache folder with a ``.gitignore`` of ``*`` in it (as Ruff and pytest do), so that git
    never picks it up; None (no cache) when it cannot be created."""
    try:
        os.makedirs(cache_dir, exist_ok=True)
        ignore = os.path.join(cache_dir, ".gitignore")
        if not os.path.exists(ignore):
            with open(ignore, "w", encoding="utf-8") as handle:
                handle.write("# Created by initlint: its cache is not for version control.\n*\n")
    except OSError:
        return None
    return cache_dir


# ---------------------------------------------------------------------- files and parallelism
def discover(paths: list[str], settings: Settings, errors: list, warnings: Optional[list] = None) -> list[str]:
    """Files to check, in a stable order; explicitly named files are always checked.

    Paths inside the working directory are given relative to it, without "./" (as Ruff prints them).
    A folder without a Python file to check adds a message to ``warnings``."""
    files: list[str] = []
    seen: set = set()
    suffixes = (".py", ".pyi", ".ipynb") if settings.notebooks else (".py", ".pyi")
    for path in paths:
        if not os.path.lexists(path):
            errors.append(f"{path}: no such file or directory")
            continue
        path = display_path(path)
        if os.path.isfile(path):
            _add(path, files, seen)
            continue
        if not os.path.isdir(path):
            errors.append(f"{path}: not a file or directory")
            continue
        if not _walk(path, settings, suffixes, files, seen, warnings) and warnings is not None:
            warnings.append(f"warning: no Python files found under {path}")
    return files


def _walk(path: str, settings: Settings, suffixes: tuple, files: list, seen: set,
          warnings: Optional[list] = None) -> bool:
    """Add the files under ``path``; whether it holds any (a folder reached before through another
    path or link counts, without being walked again)."""
    found = False
    root = os.path.realpath(path)
    for folder, dirnames, filenames in os.walk(path, followlinks=False, onerror=None):
        try:
            real = os.stat(folder)
            marker = ("folder", real.st_dev, real.st_ino)
        except OSError:
            continue
        if marker in seen:
            dirnames[:] = []
            found = True
            continue
        seen.add(marker)
        dirnames[:] = sorted(d for d in dirnames if not settings.is_excluded(os.path.join(folder, d)))
        for name in sorted(filenames):
            full = os.path.normpath(os.path.join(folder, name))
            if not name.endswith(suffixes) or settings.is_excluded(full):
                continue
            if os.path.islink(full) and not os.path.exists(full):  # a link to nothing is not a file to check
                if warnings is not None:
                    warnings.append(f"warning: {full}: a symlink to a missing file; skipped")
                continue
            if os.path.islink(full) and not _inside(os.path.realpath(full), root):
                continue  # a link out of the tree: neither read nor written through
            try:
                if not stat.S_ISREG(os.stat(full).st_mode):
                    continue
            except OSError:
                pass  # reading it reports the problem
            found = True
            _add(full, files, seen)
    return found


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _add(path, files, seen) -> None:
    """Add ``path`` unless the same file was reached before (by this name, a symlink or a linked folder)."""
    key = os.path.realpath(path)
    if key not in seen:
        seen.add(key)
        files.append(path)


_stop = None  # in a worker: the Event the main process sets to say "take no more files"
_in_file = False  # in a worker: checking (maybe writing) a file, which SIGTERM unwinds


def _worker_start(stop) -> None:
    global _stop
    _stop = stop
    # Ctrl-C reaches the whole process group: only the main process decides what it means. (The main
    # process blocks SIGINT while it starts workers, so none arrives before this line.)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_term)
    _sigint_blocked(False)


def _exit_on_term(signum, frame):
    """terminate() after the grace period. In a file: unwind, so a half-written temp file is removed.
    Elsewhere (reading the next batch from the pool's queue) leave at once: an exception there would
    print a traceback, and a read cut in half would leave the queue unreadable for the other workers."""
    if _in_file:
        raise SystemExit(128 + signum)
    os._exit(128 + signum)


@contextmanager
def _fewer_collections():
    """LibCST builds a few hundred thousand objects per file. At Python's default threshold (a collection
    every 700 new objects) the cyclic collector runs thousands of times per run, each pass over objects
    that are all still alive: about 15% of a cold run on timm. Every 10,000 costs a tenth of that and the
    same peak memory (docs/benchmarks.md)."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], 10_000), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


@_fewer_collections()
def _check_batch(batch, settings, mode, cache_dir, index=None, applications=None):
    global _in_file
    reports = []
    for path in batch:
        if _stop is not None and _stop.is_set():
            break
        try:
            _in_file = True
            reports.append(check_file(path, settings, mode, cache_dir, classes_for(index or {}, path),
                                      applications_for(applications or {}, path)))
        except SystemExit as exit:  # SIGTERM: the file was unwound; leave before the pool sees it
            os._exit(exit.code if isinstance(exit.code, int) else 1)
        finally:
            _in_file = False
    return reports


def _sigint_blocked(blocked: bool) -> None:
    if hasattr(signal, "pthread_sigmask"):  # not on Windows
        signal.pthread_sigmask(signal.SIG_BLOCK if blocked else signal.SIG_UNBLOCK, {signal.SIGINT})


STOP_GRACE_SECONDS = 0.5  # after Ctrl-C, how long workers may take to finish the file in hand


def check_files(files: list[str], settings: Settings, mode: str, jobs: int,
                cache_dir: Optional[str]) -> list[FileReport]:
    """Reports in the order of ``files``, judged against the whole run (analysis/run_index.py): files are
    checked first; with --fix or --diff, those with a fix to apply are then fixed knowing which of their
    classes other files initialise."""
    if mode in ("fix", "diff") and cache_dir is not None:
        cache_dir = prepare_cache(cache_dir)  # the first pass checks, and may read and write the cache
    first = "check" if mode in ("fix", "diff") else mode
    reports = _check_all(files, settings, first, jobs, cache_dir)
    applications = helper_applications(reports, files)
    if applications:  # the helpers' files again, knowing which models other files apply them to
        again = [i for i, path in enumerate(files) if applications_for(applications, path)]
        for i, report in zip(again, _check_all([files[i] for i in again], settings, first, jobs, cache_dir,
                                               applications=applications)):
            reports[i] = report
    index = initialised_elsewhere(reports)
    if mode in ("fix", "diff"):
        void_absence_claims(reports, index)
        to_fix = [i for i, report in enumerate(reports)
                  if any(finding.fix_enabled(settings.unsafe_fixes) for finding in report.findings)]
        for i, report in zip(to_fix, _check_all([files[i] for i in to_fix], settings, mode, jobs, cache_dir,
                                                index, applications)):
            reports[i] = report
    void_absence_claims(reports, index)
    drop_moved(reports)
    return reports


def _check_all(files: list[str], settings: Settings, mode: str, jobs: int, cache_dir: Optional[str],
               index: Optional[dict] = None, applications: Optional[dict] = None) -> list[FileReport]:
    """Reports in the order of ``files``. On Ctrl-C (KeyboardInterrupt, raised again to the caller) the
    workers take no further file, finish or abandon the one in hand within STOP_GRACE_SECONDS (a file is
    always written whole or not at all), and are gone before this returns."""
    if jobs <= 1 or len(files) < 4:
        return _check_batch(files, settings, mode, cache_dir, index, applications)
    size = max(1, min(32, len(files) // (jobs * 4)))
    batches = [files[i:i + size] for i in range(0, len(files), size)]
    stop = multiprocessing.Event()
    # Workers start with the main process's signal handlers: a Ctrl-C before their initializer ignores it
    # would interrupt them with a traceback. So SIGINT waits (blocked) until the workers are started.
    _sigint_blocked(True)
    futures: list = []
    try:
        pool = ProcessPoolExecutor(max_workers=jobs, initializer=_worker_start, initargs=(stop,))
        futures.extend(pool.submit(_check_batch, batch, settings, mode, cache_dir, index, applications)
                       for batch in batches)
    except BaseException:
        _sigint_blocked(False)
        raise
    try:
        _sigint_blocked(False)  # a Ctrl-C that came meanwhile is raised here
        results = [future.result() for future in futures]
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the clean-up
        stop.set()
        started = [future for future in futures if not future.cancel()]  # cancel() fails once a batch is queued
        pool.shutdown(wait=False)
        wait(started, timeout=STOP_GRACE_SECONDS)
        for worker in multiprocessing.active_children():
            worker.terminate()
            worker.join()
        raise
    pool.shutdown()
    return [report for batch_reports in results for report in batch_reports]
