"""Write docs/rules/*.md from the rules: ``python -m initlint.docs [FOLDER]``."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional

from .cli import rule_markdown
from .other_codes import OTHER_CODES, other_code_markdown
from .rules import ALL_RULES

DEFAULT_FOLDER = os.path.join("docs", "rules")


def fix_column(rule) -> str:
    return rule.fix_safety if rule.fixable else "no"


def write_docs(folder: str = DEFAULT_FOLDER) -> None:
    os.makedirs(folder, exist_ok=True)
    index = ["# Rules\n\n"
             "Rules marked off by default (advice) run only when selected: `--select INI104`, `extend-select`, "
             "or `--select ALL`. An unsafe fix is applied only with `--unsafe-fixes`.\n\n"
             "| code | name | severity | default | fix | summary |\n|---|---|---|---|---|---|\n"]
    for rule in ALL_RULES:
        with open(os.path.join(folder, f"{rule.code}.md"), "w", encoding="utf-8") as handle:
            handle.write(rule_markdown(rule))
        index.append(f"| [{rule.code}]({rule.code}.md) | {rule.name} | {rule.severity} "
                     f"| {'on' if rule.default_enabled else 'off'} | {fix_column(rule)} | {rule.summary} |\n")
    index.append("\n## Codes that are not static rules\n\n"
                 "No selection turns them on or off: INI900 is the linter's report of a file it cannot read or "
                 "parse; INI300-INI304 come from the run-time audit (`initlint audit`, see "
                 "[docs/runtime.md](../runtime.md)), which builds and runs the model.\n\n"
                 "| code | name | severity | reported by | summary |\n|---|---|---|---|---|\n")
    for other in OTHER_CODES:
        with open(os.path.join(folder, f"{other.code}.md"), "w", encoding="utf-8") as handle:
            handle.write(other_code_markdown(other))
        where = "run-time audit" if other.code.startswith("INI3") else "linter"
        index.append(f"| [{other.code}]({other.code}.md) | {other.name} | {other.severity} | {where} "
                     f"| {other.summary} |\n")
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as handle:
        handle.write("".join(index))


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m initlint.docs",
                                     description="Write each rule's documentation (and an index) as Markdown.")
    parser.add_argument("folder", nargs="?", default=DEFAULT_FOLDER, help=f"where to write (default: {DEFAULT_FOLDER})")
    args = parser.parse_args(argv)
    write_docs(args.folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
