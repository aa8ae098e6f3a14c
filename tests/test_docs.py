"""docs/rules/ is generated from the rules: it must never drift from them."""
import os

import pytest

from conftest import ROOT
from initlint.cli import rule_markdown
from initlint.rules import ALL_RULES

SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead", "## Fix", "## References")


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.code)
def test_rule_docs_are_complete_and_in_sync(rule):
    for section in SECTIONS:
        assert section in rule.docs, f"{rule.code} lacks {section}"
    if not rule.fixable:
        assert "None:" in rule.docs.split("## Fix", 1)[1], f"{rule.code} must say why it has no fix"
    path = os.path.join(ROOT, "docs", "rules", f"{rule.code}.md")
    with open(path, encoding="utf-8") as handle:
        assert handle.read() == rule_markdown(rule), \
            f"{path} is stale: run python -m initlint.docs to regenerate"
