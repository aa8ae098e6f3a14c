"""``initlint PATH...``, ``initlint rule CODE``, ``initlint audit module:factory``."""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections import Counter
from contextlib import contextmanager
from typing import TYPE_CHECKING, Optional

from . import __version__

if TYPE_CHECKING:
    from .config import Settings

# The rest of initlint (LibCST, the rules) is imported inside the functions, so that a Ctrl-C while it
# loads is caught by main() like any other: a quiet exit 130, not a traceback.

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 on usage errors: keep that, without its usage dump
        self.exit(EXIT_ERROR, f"initlint: error: {message}\n")


def _codes(text: str) -> list[str]:
    return [c.strip().upper() for c in text.split(",") if c.strip()]


def build_parser() -> argparse.ArgumentParser:
    from .report import FORMATS

    parser = _Parser(prog="initlint", description="Lint and fix weight/bias initialisation in PyTorch code. "
                     "Other commands: 'initlint rule CODE|--all', 'initlint audit module:factory'.")
    parser.add_argument("paths", nargs="*", default=None, metavar="PATH", help="files or folders (default: .)")
    parser.add_argument("--fix", action="store_true", help="apply fixes in place")
    parser.add_argument("--diff", action="store_true", help="print the fixes as a unified diff, write nothing")
    parser.add_argument("--add-noqa", action="store_true",
                        help="add '# noqa: CODE' to every line with a finding, to fix the backlog later")
    parser.add_argument("--stdin-filename", metavar="PATH",
                        help="read the source from stdin and name it PATH (for messages, configuration, "
                        "per-file rules, test files, .ipynb); as the path '-' does")
    parser.add_argument("--unsafe-fixes", action="store_true",
                        help="with --fix/--diff, also apply fixes that change parameters (INI104 removes a bias)")
    parser.add_argument("--select", type=_codes, help="codes or prefixes to check (INI1 = all INI1xx)")
    parser.add_argument("--extend-select", type=_codes, default=[], help="codes to add to the selection")
    parser.add_argument("--ignore", type=_codes, help="codes or prefixes to skip")
    parser.add_argument("--extend-ignore", type=_codes, default=[], help="codes to add to the ignores")
    parser.add_argument("--exclude", action="append", help="glob of paths to skip (replaces the defaults)")
    parser.add_argument("--extend-exclude", action="append", default=[], help="glob of paths to skip as well")
    parser.add_argument("--no-notebooks", action="store_true", help="skip .ipynb files in folders (a named notebook, or stdin "
                        "named .ipynb, is still checked)")
    parser.add_argument("--output-format", choices=FORMATS, default="text")
    parser.add_argument("--config", help="a pyproject.toml (or initlint TOML) file to read settings from")
    parser.add_argument("--statistics", action="store_true",
                        help="print only a count per code (as JSON with --output-format json)")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    parser.add_argument("--show-fixes", action="store_true", help="list the fixes applied")
    parser.add_argument("-q", "--quiet", action="store_true", help="print findings only, no summary")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: CPUs)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    parser.add_argument("--cache-dir", help="cache folder (default: $INITLINT_CACHE_DIR, else .initlint_cache in "
                        "the project root: the folder of the pyproject.toml or .git above the first path)")
    parser.add_argument("--version", action="version", version=f"initlint {__version__}")
    return parser


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "rule":
            return rule_command(argv[1:])
        if argv and argv[0] == "audit":
            from .runtime.cli import main as audit_main
            return audit_main(argv[1:])
        return lint_command(argv)
    except KeyboardInterrupt:
        sys.stderr.write("initlint: interrupted\n")
        # CPython notes a KeyboardInterrupt that left code run from a string (dataclasses build methods so
        # while LibCST loads) and, under ``python -m``, ends the process by SIGINT instead of this status.
        # Running a string to its end clears that note.
        exec("None")
        return 130
    except BrokenPipeError:  # the reader of the output went away (``| head``): a normal end
        _silence_stdout()
        return EXIT_CLEAN
    except Exception as error:  # an initlint bug: say so in one line, never a traceback
        sys.stderr.write(f"initlint: internal error: {type(error).__name__}: {error}\n")
        return EXIT_ERROR


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit cannot raise a second BrokenPipeError."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class _Output:
    """stdout for findings: a closed pipe ends the output, while the run goes on to its exit status."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.closed = False

    def write(self, text: str) -> None:
        if self.closed:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except BrokenPipeError:
            self.closed = True
            _silence_stdout()

    def write_bytes(self, data: bytes) -> None:
        if self.closed:
            return
        try:
            self.stream.flush()
            self.stream.buffer.write(data)
            self.stream.buffer.flush()
        except BrokenPipeError:
            self.closed = True
            _silence_stdout()


def rule_command(argv: list[str]) -> int:
    parser = _Parser(prog="initlint rule", description="Print a rule's documentation.")
    parser.add_argument("rule", nargs="?", help="a code (INI001) or name (constant-hidden-weight)")
    parser.add_argument("--all", action="store_true", help="list every rule")
    args = parser.parse_args(argv)
    from .other_codes import OTHER_CODES, find_other_code, other_code_markdown
    from .rules import ALL_RULES, find_rule

    if args.all:
        for rule in ALL_RULES:
            default = "on " if rule.default_enabled else "off"
            fix = f"[*] {rule.fix_safety:6}" if rule.fixable else " " * 10
            print(f"{rule.code}  {rule.name:34} {rule.severity:7} {default} {fix} {rule.summary}")
        print("\nNot static rules (no selection applies):")
        for other in OTHER_CODES:
            where = "run-time audit" if other.code.startswith("INI3") else "linter"
            print(f"{other.code}  {other.name:34} {other.severity:7} {where:14} {other.summary}")
        return EXIT_CLEAN
    if not args.rule:
        parser.error("name a rule, or use --all")
    rule = find_rule(args.rule)
    if rule is not None:
        print(rule_markdown(rule), end="")
        return EXIT_CLEAN
    other = find_other_code(args.rule)
    if other is not None:
        print(other_code_markdown(other), end="")
        return EXIT_CLEAN
    sys.stderr.write(f"initlint: no rule named '{args.rule}' (see 'initlint rule --all')\n")
    return EXIT_ERROR


def rule_markdown(rule) -> str:
    if rule.default_enabled:
        severity = f"Severity: {rule.severity}, on by default."
    else:
        severity = (f"Severity: {rule.severity}, off by default: select it to run it (`--select {rule.code}`, "
                    f"`extend-select`, or `ALL`).")
    if not rule.fixable:
        fix = "Fix is not available."
    elif rule.fix_safety == "safe":
        fix = "Fix is sometimes available; it is safe (only initial values or a crash guard change)."
    else:
        fix = ("Fix is sometimes available; it is unsafe (it changes the model's parameters), so `--fix` "
               "applies it only with `--unsafe-fixes`.")
    return (f"# {rule.name} ({rule.code})\n\n{rule.summary[0].upper()}{rule.summary[1:]}.\n\n"
            f"{severity}\n\n{fix}\n\n{rule.docs}")


def _upper_all(codes: list[str]) -> tuple:
    return tuple("INI" if c == "ALL" else c for c in codes)


def settings_from(args) -> Settings:
    from .config import ConfigError, check_code_prefix, find_config, load_settings, project_root

    config_path = args.config
    if config_path is not None and not os.path.isfile(config_path):
        raise ConfigError(f"--config {config_path}: no such file")
    if config_path is None:
        config_path = find_config(args.paths)
    settings = load_settings(config_path)
    if config_path is None:  # paths (test folders, excludes, the cache) count from the project's root
        settings.root = project_root(args.paths) or os.getcwd()
    for code in (args.select or []) + (args.ignore or []) + args.extend_select + args.extend_ignore:
        check_code_prefix(code, "command line")
    if args.select is not None:
        settings.select = _upper_all(args.select)
    settings.extend_select = tuple(settings.extend_select) + _upper_all(args.extend_select)
    if args.ignore is not None:
        settings.ignore = tuple(args.ignore)
    settings.ignore = tuple(settings.ignore) + tuple(args.extend_ignore)
    if args.exclude is not None:
        settings.exclude = tuple(args.exclude)
    settings.exclude = tuple(settings.exclude) + tuple(args.extend_exclude)
    if args.no_notebooks:
        settings.notebooks = False
    settings.unsafe_fixes = args.unsafe_fixes
    return settings


def cache_dir_for(args, settings: Settings) -> Optional[str]:
    """--cache-dir, else $INITLINT_CACHE_DIR, else .initlint_cache in the project root (the folder of the
    configuration in use, else the nearest folder above the first path with a pyproject.toml or .git,
    else the working directory), so that running from a subfolder uses the same cache."""
    from .config import CACHE_FOLDER

    if args.no_cache:
        return None
    return args.cache_dir or os.environ.get("INITLINT_CACHE_DIR") or os.path.join(settings.root, CACHE_FOLDER)


@contextmanager
def _sigint_held():
    """Ctrl-C waits until the block ends and is raised there. Meant for imports: a KeyboardInterrupt in
    the middle of one can be swallowed by importlib ("Exception ignored in ...", the run goes on)."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def lint_command(argv: list[str]) -> int:
    with _sigint_held():
        from .config import ConfigError
        from .report import render
        from .runner import check_files, discover, prepare_cache

    args = build_parser().parse_args(argv)
    usage_error = _usage_error(args)
    if usage_error:
        sys.stderr.write(f"initlint: error: {usage_error}\n")
        return EXIT_ERROR
    from_stdin = args.stdin_filename is not None or args.paths == ["-"]
    if from_stdin:  # settings are found from the name given to stdin (else from the working directory)
        args.paths = [args.stdin_filename or "."]
    args.paths = args.paths or ["."]
    try:
        settings = settings_from(args)
    except ConfigError as error:
        sys.stderr.write(f"initlint: error: {error}\n")
        return EXIT_ERROR
    errors: list[str] = []
    warnings: list[str] = []
    mode = "fix" if args.fix else "diff" if args.diff else "check"
    in_memory = None
    if from_stdin:
        from .config import display_path
        from .runner import check_file

        name = display_path(args.stdin_filename) if args.stdin_filename else "-"
        source = sys.stdin.buffer.read()
        in_memory = {name: source}
        files = [name]
        reports = [check_file(name, settings, mode, None, stdin_source=source)]
    else:
        files = discover(args.paths, settings, errors, warnings)
        cache_dir = cache_dir_for(args, settings)
        if args.add_noqa:
            return add_noqa_command(files, settings, errors, warnings, args.jobs, cache_dir)
        if cache_dir is not None and mode == "check":
            cache_dir = prepare_cache(cache_dir)
        reports = check_files(files, settings, mode, args.jobs, cache_dir)

    # Ruff's order, whatever -j, the cache or the order of the paths did: path, then line, then column.
    findings = sorted((f for report in reports for f in report.findings), key=lambda f: f.sort_key)
    fixed = sorted((f for report in reports for f in report.fixed), key=lambda f: f.sort_key)
    errors.extend(e for report in reports for e in report.errors)
    warnings.extend(w for report in reports for w in report.warnings)
    out = _Output(sys.stdout)
    if from_stdin and mode == "fix":
        # Ruff's convention for editors: the source (fixed or not) on stdout, the findings left on stderr.
        report = reports[0]
        out.write_bytes(report.output if report.output is not None else source)
        out = _Output(sys.stderr)
    if args.statistics:
        out.write(statistics(findings, args.output_format, settings.unsafe_fixes))
    elif args.diff:
        for report in sorted(reports, key=lambda r: r.path):
            out.write(report.diff)
    else:
        out.write(render(args.output_format, findings, _source_line_reader(in_memory), settings.unsafe_fixes))
    if args.show_fixes and fixed and not args.diff:
        for f in fixed:
            out.write(f"fixed {f.path}:{f.line}:{f.column}: {f.code} {f.fix_description}\n")
    for message in warnings + errors:
        sys.stderr.write(f"initlint: {message}\n")
    if not args.quiet and args.output_format in ("text", "concise", "full"):
        summary = _summary(reports, mode, len(files), settings.unsafe_fixes, bool(errors))
        if summary:
            sys.stderr.write(summary + "\n")
    if errors:
        return EXIT_ERROR
    if args.exit_zero:
        return EXIT_CLEAN
    if args.diff:
        return EXIT_FINDINGS if any(r.diff for r in reports) else EXIT_CLEAN
    return EXIT_FINDINGS if findings else EXIT_CLEAN


def add_noqa_command(files: list, settings, errors: list, warnings: list, jobs: int, cache_dir) -> int:
    """Add ``# noqa: CODE`` directives, say how many (a second run adds none)."""
    from .add_noqa import add_noqa
    from .runner import prepare_cache

    if cache_dir is not None:
        cache_dir = prepare_cache(cache_dir)
    added, file_errors, file_warnings = add_noqa(files, settings, jobs, cache_dir)
    errors.extend(file_errors)
    for message in warnings + file_warnings + errors:
        sys.stderr.write(f"initlint: {message}\n")
    sys.stderr.write(f"Added {_plural(added, 'noqa directive')}.\n")
    return EXIT_ERROR if errors else EXIT_CLEAN


def _usage_error(args) -> Optional[str]:
    if args.stdin_filename is not None and any(path != "-" for path in args.paths or []):
        return "--stdin-filename reads stdin: give no other path"
    if "-" in (args.paths or []) and len(args.paths) > 1:
        return "'-' (stdin) cannot be checked together with other paths"
    if args.add_noqa and (args.fix or args.diff):
        return "--add-noqa cannot be used with --fix or --diff"
    if args.add_noqa and (args.stdin_filename is not None or "-" in (args.paths or [])):
        return "--add-noqa writes files: it cannot read stdin"
    if args.fix and args.diff:
        return "--fix and --diff cannot be used together"
    if args.jobs < 1:
        return "--jobs must be at least 1"
    if args.statistics and args.output_format in ("github", "sarif"):
        return f"--statistics prints a table (text) or JSON, not {args.output_format}"
    if args.statistics and args.diff:
        return "--statistics and --diff cannot be used together"
    return None


def statistics(findings, output_format: str, unsafe_fixes: bool) -> str:
    """One row per code, most frequent first: count, code, whether --fix can fix some, rule name."""
    from .rules import find_rule

    counts = Counter(f.code for f in findings)
    fixable = {f.code for f in findings if f.fix_enabled(unsafe_fixes)}
    rows = []
    for code, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        rule = find_rule(code)
        rows.append({"code": code, "name": rule.name if rule else "parse-error", "count": count,
                     "fixable": code in fixable})
    if output_format == "json":
        return json.dumps(rows, indent=2) + "\n"
    return "".join(f"{row['count']:5} {row['code']} {'[*]' if row['fixable'] else '   '} {row['name']}\n"
                   for row in rows)


def _plural(count: int, word: str, plural: Optional[str] = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _summary(reports, mode: str, file_count: int, unsafe_fixes: bool, had_errors: bool) -> str:
    """The closing lines: what was found, fixed, and what --fix (or --unsafe-fixes) would still do."""
    findings = [f for report in reports for f in report.findings]
    rewrites = sum(len(report.fixed) for report in reports)
    resolved = sum(report.resolved for report in reports)
    hidden = sum(1 for f in findings if f.applicability == "unsafe" and not unsafe_fixes)
    lines = []
    if not findings and not resolved:
        if not had_errors and file_count:
            lines.append(f"All checks passed ({_plural(file_count, 'file')}).")
    elif mode == "check":
        files_hit = len({f.path for f in findings})
        lines.append(f"Found {_plural(len(findings), 'finding')} in {files_hit} of {_plural(file_count, 'file')}.")
        fixable = sum(1 for f in findings if f.fix_enabled(unsafe_fixes))
        if fixable:
            lines.append(f"[*] {fixable} fixable with --fix.")
    else:
        files_hit = len({f.path for report in reports for f in report.findings + report.fixed})
        done = "fixed" if mode == "fix" else "would be fixed"
        lines.append(f"Found {_plural(len(findings) + resolved, 'finding')} in {files_hit} of "
                     f"{_plural(file_count, 'file')} ({resolved} {done}, {len(findings)} remaining).")
        if rewrites < resolved:
            lines.append(f"{resolved} findings {done} by {_plural(rewrites, 'rewrite')} "
                         f"(one rewrite can end several findings on the same call).")
        elif rewrites > resolved:
            lines.append(f"{_plural(rewrites, 'rewrite')} (some fixes exposed further findings, {done} as well).")
    if hidden:
        lines.append(f"{_plural(hidden, 'hidden fix', 'hidden fixes')} can be enabled with --unsafe-fixes.")
    return "\n".join(lines)


def _source_line_reader(in_memory: Optional[dict] = None):
    """The text of a finding's line, for ``full``: from the file (``in_memory``: path -> bytes read from
    stdin), and for a notebook from the finding's cell."""
    from .noqa import source_lines
    cache: dict[tuple, list[str]] = {}

    def lines_of(path: str, cell: Optional[int]) -> list[str]:
        try:
            if in_memory is not None and path in in_memory:
                data = in_memory[path]
            else:
                with open(path, "rb") as handle:
                    data = handle.read()
            text = data.decode("utf-8", errors="replace")
            if cell is None:
                return source_lines(text)
            source = json.loads(text.lstrip("\ufeff"))["cells"][cell - 1]["source"]
            return source_lines("".join(source) if isinstance(source, list) else source)
        except (OSError, ValueError, LookupError, TypeError, AttributeError):
            return []

    def line_of(finding) -> Optional[str]:
        key = (finding.path, finding.cell)
        if key not in cache:
            cache[key] = lines_of(*key)
        lines = cache[key]
        return lines[finding.line - 1] if 0 < finding.line <= len(lines) else None
    return line_of

if __name__ == "__main__":
    sys.exit(main())
