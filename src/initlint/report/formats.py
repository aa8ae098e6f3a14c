from __future__ import annotations

import json
from typing import Optional

from .. import __version__
from ..rules import ALL_RULES, PARSE_ERROR_CODE, RULES_BY_CODE

DOCS_URL = "https://github.com/initlint/initlint/blob/main/docs/rules/{code}.md"
FORMATS = ("text", "concise", "full", "json", "github", "sarif")


def _where(finding) -> str:
    cell = f"cell {finding.cell}:" if finding.cell is not None else ""
    return f"{finding.path}:{cell}{finding.line}:{finding.column}"


def _url(code: str) -> Optional[str]:
    return DOCS_URL.format(code=code) if code in RULES_BY_CODE else None


def concise(findings, sources) -> str:
    lines = []
    for f in findings:
        mark = "[*] " if f.fix_description else ""
        lines.append(f"{_where(f)}: {f.code} {mark}{f.message}")
    return "".join(line + "\n" for line in lines)


def full(findings, sources) -> str:
    """Each finding with its source line, a caret under the column, and the fix if there is one."""
    blocks = []
    for f in findings:
        mark = "[*] " if f.fix_description else ""
        block = [f"{_where(f)}: {f.code} {mark}{f.message}"]
        text = sources(f)
        if text is not None:
            gutter = str(f.line)
            block.append(f"{' ' * len(gutter)} |")
            block.append(f"{gutter} | {text}")
            width = max(1, (f.end_column - f.column) if f.end_line == f.line else len(text) - f.column + 1)
            block.append(f"{' ' * len(gutter)} | {' ' * (f.column - 1)}{'^' * width}")
        if f.fix_description:
            block.append(f"  = fix: {f.fix_description}")
        blocks.append("\n".join(block) + "\n")
    return "\n".join(blocks)


def as_json(findings, sources) -> str:
    rows = []
    for f in findings:
        rows.append({
            "cell": f.cell,
            "code": f.code,
            "end_location": {"column": f.end_column, "row": f.end_line},
            "filename": f.path,
            "fix": None if not f.fix_description else {"applicability": "safe", "message": f.fix_description},
            "location": {"column": f.column, "row": f.line},
            "message": f.message,
            "noqa_row": f.line,
            "url": _url(f.code),
        })
    return json.dumps(rows, indent=2) + "\n"


def _github_escape(text: str, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def github(findings, sources) -> str:
    lines = []
    for f in findings:
        props = (f"file={_github_escape(f.path, True)},line={f.line},col={f.column},"
                 f"endLine={f.end_line},endColumn={f.end_column},title={_github_escape(f.code, True)}")
        lines.append(f"::warning {props}::{_github_escape(f'{f.code} {f.message}')}")
    return "".join(line + "\n" for line in lines)


def sarif(findings, sources) -> str:
    rules = [{
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary},
        "help": {"text": rule.docs, "markdown": rule.docs},
        "helpUri": _url(rule.code),
        "properties": {"fixable": rule.fixable},
    } for rule in ALL_RULES]
    rules.append({"id": PARSE_ERROR_CODE, "name": "parse-error",
                  "shortDescription": {"text": "the file could not be read or parsed"}})
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for f in findings:
        region = {"startLine": f.line, "startColumn": f.column, "endLine": f.end_line, "endColumn": f.end_column}
        results.append({
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": "error" if f.code == PARSE_ERROR_CODE else "warning",
            "message": {"text": f.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": f.path.replace("\\", "/")},
                "region": region}}],
        })
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "initlint", "version": __version__,
                                "informationUri": "https://github.com/initlint/initlint", "rules": rules}},
            "results": results,
        }],
    }
    return json.dumps(log, indent=2) + "\n"


_RENDERERS = {"text": concise, "concise": concise, "full": full, "json": as_json, "github": github,
              "sarif": sarif}


def render(fmt: str, findings, sources=lambda finding: None) -> str:
    return _RENDERERS[fmt](findings, sources)
