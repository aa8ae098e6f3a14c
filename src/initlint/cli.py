"""``initlint PATH...``, ``initlint rule CODE``, ``initlint audit module:factory``."""
from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from typing import Optional

from . import __version__
from .config import ConfigError, Settings, check_code_prefix, find_config, load_settings
from .report import FORMATS, render
from .rules import ALL_RULES, find_rule

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2 on usage errors: keep that, without its usage dump
        self.exit(EXIT_ERROR, f"initlint: error: {message}\n")


def _codes(text: str) -> list[str]:
    return [c.strip().upper() for c in text.split(",") if c.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="initlint", description="Lint and fix weight/bias initialisation in PyTorch code. "
                     "Other commands: 'initlint rule CODE|--all', 'initlint audit module:factory'.")
    parser.add_argument("paths", nargs="*", default=None, metavar="PATH", help="files or folders (default: .)")
    parser.add_argument("--fix", action="store_true", help="apply fixes in place")
    parser.add_argument("--diff", action="store_true", help="print the fixes as a unified diff, write nothing")
    parser.add_argument("--select", type=_codes, help="codes or prefixes to check (INI1 = all INI1xx)")
    parser.add_argument("--extend-select", type=_codes, default=[], help="codes to add to the selection")
    parser.add_argument("--ignore", type=_codes, help="codes or prefixes to skip")
    parser.add_argument("--extend-ignore", type=_codes, default=[], help="codes to add to the ignores")
    parser.add_argument("--exclude", action="append", help="glob of paths to skip (replaces the defaults)")
    parser.add_argument("--extend-exclude", action="append", default=[], help="glob of paths to skip as well")
    parser.add_argument("--no-notebooks", action="store_true", help="skip .ipynb files in folders")
    parser.add_argument("--output-format", choices=FORMATS, default="text")
    parser.add_argument("--config", help="a pyproject.toml (or initlint TOML) file to read settings from")
    parser.add_argument("--statistics", action="store_true", help="print a count per code")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    parser.add_argument("--show-fixes", action="store_true", help="list the fixes applied")
    parser.add_argument("-q", "--quiet", action="store_true", help="print findings only, no summary")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: CPUs)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    parser.add_argument("--cache-dir", help="cache folder (default: .initlint_cache in the project root)")
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
        return 130
    except Exception as error:  # an initlint bug: say so in one line, never a traceback
        sys.stderr.write(f"initlint: internal error: {type(error).__name__}: {error}\n")
        return EXIT_ERROR


def rule_command(argv: list[str]) -> int:
    parser = _Parser(prog="initlint rule", description="Print a rule's documentation.")
    parser.add_argument("rule", nargs="?", help="a code (INI001) or name (constant-hidden-weight)")
    parser.add_argument("--all", action="store_true", help="list every rule")
    args = parser.parse_args(argv)
    if args.all:
        for rule in ALL_RULES:
            print(f"{rule.code}  {rule.name:34} {'[*]' if rule.fixable else '   '} {rule.summary}")
        return EXIT_CLEAN
    if not args.rule:
        parser.error("name a rule, or use --all")
    rule = find_rule(args.rule)
    if rule is None:
        sys.stderr.write(f"initlint: no rule named '{args.rule}' (see 'initlint rule --all')\n")
        return EXIT_ERROR
    print(rule_markdown(rule), end="")
    return EXIT_CLEAN


def rule_markdown(rule) -> str:
    fix = "Fix is sometimes available." if rule.fixable else "Fix is not available."
    return f"# {rule.name} ({rule.code})\n\n{rule.summary[0].upper()}{rule.summary[1:]}.\n\n{fix}\n\n{rule.docs}"


def settings_from(args) -> Settings:
    config_path = args.config
    if config_path is not None and not os.path.isfile(config_path):
        raise ConfigError(f"--config {config_path}: no such file")
    if config_path is None:
        config_path = find_config(args.paths)
    settings = load_settings(config_path)
    for code in (args.select or []) + (args.ignore or []) + args.extend_select + args.extend_ignore:
        check_code_prefix(code, "command line")
    if args.select is not None:
        settings.select = tuple("INI" if c == "ALL" else c for c in args.select)
    settings.select = tuple(settings.select) + tuple(args.extend_select)
    if args.ignore is not None:
        settings.ignore = tuple(args.ignore)
    settings.ignore = tuple(settings.ignore) + tuple(args.extend_ignore)
    if args.exclude is not None:
        settings.exclude = tuple(args.exclude)
    settings.exclude = tuple(settings.exclude) + tuple(args.extend_exclude)
    if args.no_notebooks:
        settings.notebooks = False
    return settings


def lint_command(argv: list[str]) -> int:
    from .runner import check_files, discover

    args = build_parser().parse_args(argv)
    if args.fix and args.diff:
        sys.stderr.write("initlint: error: --fix and --diff cannot be used together\n")
        return EXIT_ERROR
    if args.jobs < 1:
        sys.stderr.write("initlint: error: --jobs must be at least 1\n")
        return EXIT_ERROR
    args.paths = args.paths or ["."]
    try:
        settings = settings_from(args)
    except ConfigError as error:
        sys.stderr.write(f"initlint: error: {error}\n")
        return EXIT_ERROR
    errors: list[str] = []
    files = discover(args.paths, settings, errors)
    mode = "fix" if args.fix else "diff" if args.diff else "check"
    cache_dir = None
    if not args.no_cache:
        cache_dir = args.cache_dir or os.path.join(settings.root, ".initlint_cache")
    reports = check_files(files, settings, mode, args.jobs, cache_dir)

    findings = [f for report in reports for f in report.findings]
    fixed = [f for report in reports for f in report.fixed]
    errors.extend(e for report in reports for e in report.errors)
    out = sys.stdout
    if args.diff:
        for report in reports:
            out.write(report.diff)
    else:
        out.write(render(args.output_format, findings, _source_line_reader()))
    if args.show_fixes and fixed and not args.diff:
        for f in fixed:
            out.write(f"fixed {f.path}:{f.line}:{f.column}: {f.code} {f.fix_description}\n")
    if args.statistics:
        counts = Counter(f.code for f in findings)
        fixable = {f.code for f in findings if f.fix_description}
        for code, count in sorted(counts.items()):
            rule = find_rule(code)
            print(f"{count:5} {code} {'[*]' if code in fixable else '   '} {rule.name if rule else 'parse-error'}",
                  file=out)
    for message in [w for report in reports for w in report.warnings] + errors:
        sys.stderr.write(f"initlint: {message}\n")
    if not args.quiet and args.output_format in ("text", "concise", "full") and not args.diff:
        _summary(findings, fixed, mode, len(files))
    if errors:
        return EXIT_ERROR
    if args.exit_zero:
        return EXIT_CLEAN
    if args.diff:
        return EXIT_FINDINGS if any(r.diff for r in reports) else EXIT_CLEAN
    return EXIT_FINDINGS if findings else EXIT_CLEAN


def _summary(findings, fixed, mode, file_count) -> None:
    fixable = sum(1 for f in findings if f.fix_description)
    parts = []
    if fixed:
        parts.append(f"Fixed {len(fixed)} finding{'s' if len(fixed) != 1 else ''}.")
    if findings:
        parts.append(f"Found {len(findings)} finding{'s' if len(findings) != 1 else ''} "
                     f"in {len({f.path for f in findings})} of {file_count} files.")
        if fixable and mode == "check":
            parts.append(f"[*] {fixable} fixable with --fix.")
    elif not fixed:
        parts.append(f"All checks passed ({file_count} files).")
    sys.stderr.write(" ".join(parts) + "\n")


def _source_line_reader():
    cache: dict[str, list[str]] = {}

    def line_of(finding) -> Optional[str]:
        if finding.cell is not None:
            return None
        if finding.path not in cache:
            try:
                with open(finding.path, "rb") as handle:
                    cache[finding.path] = handle.read().decode("utf-8", errors="replace").splitlines()
            except OSError:
                cache[finding.path] = []
        lines = cache[finding.path]
        return lines[finding.line - 1] if 0 < finding.line <= len(lines) else None
    return line_of


if __name__ == "__main__":
    sys.exit(main())
