"""Write docs/rules/*.md from the rules: ``python -m initlint.docs [FOLDER]``."""
import os
import sys

from .cli import rule_markdown
from .rules import ALL_RULES


def main(folder: str = os.path.join("docs", "rules")) -> None:
    os.makedirs(folder, exist_ok=True)
    index = ["# Rules\n\n| code | name | fix | summary |\n|---|---|---|---|\n"]
    for rule in ALL_RULES:
        with open(os.path.join(folder, f"{rule.code}.md"), "w", encoding="utf-8") as handle:
            handle.write(rule_markdown(rule))
        index.append(f"| [{rule.code}]({rule.code}.md) | {rule.name} | {'yes' if rule.fixable else 'no'} "
                     f"| {rule.summary} |\n")
    with open(os.path.join(folder, "README.md"), "w", encoding="utf-8") as handle:
        handle.write("".join(index))


if __name__ == "__main__":
    main(*sys.argv[1:])
