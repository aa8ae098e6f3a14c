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


def _mark(finding, unsafe_fixes: bool) -> str:
    """``[*]`` when ``--fix`` would apply the finding's fix (an unsafe one only with ``--unsafe-fixes``)."""
    return "[*] " if finding.fix_enabled(unsafe_fixes) else ""


def concise(findings, sources, unsafe_fixes=False) -> str:
    lines = []
    for f in findings:
        lines.append(f"{_where(f)}: {f.code} {_mark(f, unsafe_fixes)}{f.message}")
    return "".join(line + "\n" for line in lines)


def full(findings, sources, unsafe_fixes=False) -> str:
    """Each finding with its source line, a caret under the column, its severity, and its fix if any."""
    blocks = []
    for f in findings:
        block = [f"{_where(f)}: {f.code} {_mark(f, unsafe_fixes)}{f.message}"]
        text = sources(f)
        if text is not None:
            gutter = str(f.line)
            block.append(f"{' ' * len(gutter)} |")
            block.append(f"{gutter} | {text}")
            width = max(1, (f.end_column - f.column) if f.end_line == f.line else len(text) - f.column + 1)
            block.append(f"{' ' * len(gutter)} | {' ' * (f.column - 1)}{'^' * width}")
        block.append(f"  = severity: {f.severity}")
        if f.applicability == "safe":
            block.append(f"  = fix: {f.fix_description}")
        elif f.applicability == "unsafe":
            needs = "" if unsafe_fixes else ", applied only with --unsafe-fixes"
            block.append(f"  = unsafe fix{needs}: {f.fix_description}")
        blocks.append("\n".join(block) + "\n")
    return "\n".join(blocks)


def _related(finding) -> list:
    """(path, line, column, message) for each call in another file that runs the finding's helper."""
    return [(path, line, column, f"{helper} applied to {model} here")
            for path, line, column, model, helper in finding.related]


def as_json(findings, sources, unsafe_fixes=False) -> str:
    rows = []
    for f in findings:
        rows.append({
            "cell": f.cell,
            "code": f.code,
            "end_location": {"column": f.end_column, "row": f.end_line},
            "filename": f.path,
            "fix": None if not f.fix_description else {"applicability": f.applicability,
                                                       "message": f.fix_description},
            "location": {"column": f.column, "row": f.line},
            "message": f.message,
            "noqa_row": f.line,
            "related": [{"filename": path, "location": {"column": column, "row": line}, "message": text}
                        for path, line, column, text in _related(f)],
            "severity": f.severity,
            "url": _url(f.code),
        })
    return json.dumps(rows, indent=2) + "\n"


def _github_escape(text: str, property_value: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if property_value:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


_GITHUB_COMMANDS = {"error": "error", "warning": "warning", "advice": "notice"}
_SARIF_LEVELS = {"error": "error", "warning": "warning", "advice": "note"}


def github(findings, sources, unsafe_fixes=False) -> str:
    lines = []
    for f in findings:
        props = (f"file={_github_escape(f.path, True)},line={f.line},col={f.column},"
                 f"endLine={f.end_line},endColumn={f.end_column},title={_github_escape(f.code, True)}")
        lines.append(f"::{_GITHUB_COMMANDS[f.severity]} {props}::{_github_escape(f'{f.code} {f.message}')}")
    return "".join(line + "\n" for line in lines)


def sarif(findings, sources, unsafe_fixes=False) -> str:
    rules = [{
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary},
        "help": {"text": rule.docs, "markdown": rule.docs},
        "helpUri": _url(rule.code),
        "defaultConfiguration": {"level": _SARIF_LEVELS[rule.severity], "enabled": rule.default_enabled},
        "properties": {"fixable": rule.fixable, "severity": rule.severity, "fixSafety": rule.fix_safety},
    } for rule in ALL_RULES]
    rules.append({"id": PARSE_ERROR_CODE, "name": "parse-error",
                  "shortDescription": {"text": "the file could not be read or parsed"},
                  "defaultConfiguration": {"level": "error"}})
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for f in findings:
        region = {"startLine": f.line, "startColumn": f.column, "endLine": f.end_line, "endColumn": f.end_column}
        result = {
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": _SARIF_LEVELS[f.severity],
            "message": {"text": f.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": f.path.replace("\\", "/")},
                "region": region}}],
            "properties": {"severity": f.severity},
        }
        if f.fix_description:
            result["properties"]["fix"] = {"applicability": f.applicability, "message": f.fix_description}
        if f.related:  # a helper's finding: where other files apply it
            result["relatedLocations"] = [{
                "id": number, "message": {"text": text},
                "physicalLocation": {"artifactLocation": {"uri": path.replace("\\", "/")},
                                     "region": {"startLine": line, "startColumn": column}}}
                for number, (path, line, column, text) in enumerate(_related(f))]
        results.append(result)
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


def render(fmt: str, findings, sources=lambda finding: None, unsafe_fixes: bool = False) -> str:
    return _RENDERERS[fmt](findings, sources, unsafe_fixes)
