"""docs/rules/ is generated from the rules: it must never drift from them."""
import os
import re
import subprocess

import pytest

from conftest import ROOT, run_main
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


def test_the_generator_writes_exactly_docs_rules(tmp_path):
    from initlint.docs import write_docs
    write_docs(str(tmp_path))
    folder = os.path.join(ROOT, "docs", "rules")
    assert sorted(os.listdir(tmp_path)) == sorted(os.listdir(folder))
    for name in os.listdir(tmp_path):
        with open(os.path.join(folder, name), encoding="utf-8") as handle:
            assert (tmp_path / name).read_text(encoding="utf-8") == handle.read(), \
                f"docs/rules/{name} is stale: run python -m initlint.docs to regenerate"


def test_index_and_rule_pages_show_severity_default_and_fix_safety():
    with open(os.path.join(ROOT, "docs", "rules", "README.md"), encoding="utf-8") as handle:
        index = handle.read()
    assert "| [INI104](INI104.md) | bias-before-batchnorm | advice | off | unsafe |" in index
    assert "| [INI001](INI001.md) | constant-hidden-weight | error | on | safe |" in index
    assert "| [INI201](INI201.md) | init-in-forward | error | on | no |" in index
    page = rule_markdown(next(rule for rule in ALL_RULES if rule.code == "INI104"))
    assert "Severity: advice, off by default" in page and "only with `--unsafe-fixes`" in page


@pytest.mark.parametrize("args, status", [(["--help"], 0), (["--bogus"], 2), (["a", "b"], 2)])
def test_docs_command_line_writes_nothing_on_help_or_bad_arguments(tmp_path, args, status):
    from initlint.docs import main
    result = run_main(main, *args, cwd=tmp_path)
    assert result.returncode == status, result.stderr
    assert ("usage: python -m initlint.docs" in result.stdout + result.stderr)
    assert os.listdir(tmp_path) == []


def test_readme_rules_table_matches_the_rules():
    """The README's table: one row per rule with its name, severity, default and fix safety."""
    from initlint.docs import fix_column
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        rows = [line for line in handle if line.startswith("| INI")]
    expected = [f"| {rule.code} | {rule.name} | {rule.severity} | {'on' if rule.default_enabled else 'off'} "
                f"| {fix_column(rule)} |" for rule in ALL_RULES]
    assert [row[:len(prefix)] for row, prefix in zip(rows, expected)] == expected
    assert len(rows) == len(ALL_RULES)


def _readme() -> str:
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        return handle.read()


def test_readme_installs_work_without_a_published_package():
    """No bare `pip install initlint` in a code block (nothing is published) and no pre-commit rev naming
    a missing tag."""
    readme = _readme()
    blocks = "".join(re.findall(r"^```.*?\n(.*?)^```", readme, re.M | re.S))
    commands = re.findall(r"pip install[^\n]*", blocks)
    assert commands
    for command in commands:
        if "git+https://github.com/initlint/initlint" in command or command.startswith("pip install -e"):
            continue
        assert not re.search(r"pip install (-q )?['\"]?initlint(\[torch\])?['\"]?\s*$", command), command
    assert "pip install 'initlint @ git+https://github.com/initlint/initlint'" in readme
    tags = subprocess.run(["git", "tag"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    for rev in re.findall(r"^\s*rev:\s*(\S+)", readme, re.M):
        assert rev in tags or rev == "<commit", f"pre-commit rev {rev!r} is not a tag of this repository"


def test_readme_says_flake8_skips_notebooks_and_lists_every_output_format():
    readme = _readme()
    notebooks = readme.split("## Notebooks", 1)[1].split("\n## ", 1)[0]
    assert "flake8 does not read\nnotebooks" in notebooks or "flake8 does not read notebooks" in notebooks
    assert "--output-format text|concise|full|json|github|sarif" in readme
