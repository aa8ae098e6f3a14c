import re

import libcst as cst

from ..findings import Fix, RawFinding
from ..noqa import line_directive
from .base import Rule


class UnusedNoqa(Rule):
    code = "INI901"
    severity = "advice"
    name = "unused-noqa"
    summary = "a `# noqa: INI...` code that suppresses no finding"
    fixable = True
    docs = """\
## What it does
Flags the INI codes of a `# noqa` comment that suppress nothing on their line: no finding of that code
is there (unused), its rule is not selected for this file (non-enabled), or no initlint rule has that
code (unknown). Only INI codes are judged: a `# noqa: E501` on the same line is flake8's or Ruff's
business. A bare `# noqa` is never reported: it silences every linter's findings on the line, and
initlint cannot see those of flake8 or Ruff (Ruff, the model for this rule, judges a bare `# noqa`
because it runs all the rules such a comment can mean, and leaves the codes it is told are another
tool's, its `external` codes, alone). It runs only when selected (`--select INI901`), like Ruff's
RUF100, and a `# noqa: INI901` on the line keeps the directive. In a module-level function (an init
helper) the codes of rules that depend on the model the helper is applied to (INI002-INI004,
INI101, INI103-INI105, INI109) are never judged: their findings land there only when the files applying
the helper are checked in the same run, which a pre-commit hook or an editor does not do.

## Why is this bad?
A suppression that no longer matches a finding (the init was fixed, the layer removed) hides the next
real finding on that line, and tells readers a problem is there that is not.

## Example
```python
nn.init.kaiming_normal_(self.fc1.weight, nonlinearity="relu")  # noqa: INI001, E501
```

## Use instead
```python
nn.init.kaiming_normal_(self.fc1.weight, nonlinearity="relu")  # noqa: E501
```

## Fix
Removes the unused codes from the directive, or the whole `# noqa` when no code is left. A comment
before the directive, or after it behind its own `#` (`# noqa: INI001 # pylint: disable=...`), is
kept; text right after the codes is taken to explain the suppression and goes with it.

## References
- Ruff, [unused-noqa (RUF100)](https://docs.astral.sh/ruff/rules/unused-noqa/).
- flake8, "Selecting and Ignoring Violations" (`# noqa` semantics).
"""

    def check(self, facts, options, rewriter):
        return ()  # judged by the engine once the other rules' findings are suppressed (``unused``)

    def unused(self, positions, suppressions, is_enabled, known_codes, module=None):
        """Findings for the ``# noqa`` comments whose INI codes suppressed nothing.

        ``positions``: LibCST positions of every node; ``suppressions``: the file's, after every other
        finding went through it; ``is_enabled(code)``: whether a rule with that code (prefix) ran here;
        ``module``: the file's module, whose functions other files may apply (see MODEL_DEPENDENT)."""
        helper_lines = _function_lines(module, positions) if module is not None else set()
        for node, place in positions.items():
            if type(node) not in (cst.TrailingWhitespace, cst.EmptyLine) or node.comment is None:
                continue
            text = node.comment.value
            directive = line_directive(text)
            if directive is None or directive.codes is None:
                continue
            line = positions[node.comment].start.line
            used = suppressions.used.get(line, set())
            unknown, disabled, unmatched = [], [], []
            for code in directive.codes:
                if not code.startswith("INI"):
                    continue
                if not any(known.startswith(code) for known in known_codes):
                    unknown.append(code)
                elif not is_enabled(code):
                    disabled.append(code)
                elif not any(found.startswith(code) for found in used) \
                        and not (line in helper_lines and code.startswith(MODEL_DEPENDENT)):
                    unmatched.append(code)
            remove = unknown + disabled + unmatched
            if not remove or suppressions.suppressed(self.code, line):
                continue
            reasons = [f"{label}: {', '.join(f'`{c}`' for c in codes)}"
                       for label, codes in (("unused", unmatched), ("non-enabled", disabled), ("unknown", unknown))
                       if codes]
            yield RawFinding(self.code, node.comment, f"unused `noqa` directive ({'; '.join(reasons)})",
                             Fix(f"remove {', '.join(remove)} from the noqa directive",
                                 replace={node: _without(node, text, directive, set(remove))}))


# Rules whose findings in a module-level function depend on the models other files apply it to: such a
# finding is reported at the helper only when those files are checked in the same run (a pre-commit hook or
# an editor checks one file), so a code of theirs inside a helper is never judged unused.
MODEL_DEPENDENT = ("INI002", "INI003", "INI004", "INI101", "INI103", "INI104", "INI105", "INI109")


def _function_lines(module: cst.Module, positions) -> set:
    """The lines of the module-level functions (with what is nested in them)."""
    lines: set = set()
    for statement in module.body:
        if type(statement) is cst.FunctionDef:
            place = positions[statement]
            lines.update(range(place.start.line, place.end.line + 1))
    return lines


def _without(node, text: str, directive, remove: set):
    """``node`` (the whitespace holding the comment) with ``remove`` taken out of its directive."""
    written = [c for c in re.split(r"[,\s]+", text[directive.codes_start:directive.codes_end]) if c]
    keep = [c for c in written if c.upper() not in remove]
    if keep:
        new = text[:directive.codes_start] + ", ".join(keep) + text[directive.codes_end:]
    else:
        before = text[:directive.start].rstrip()
        after = text[directive.codes_end:].lstrip()
        rest = after if after.startswith("#") else ""  # other text explains the suppression: it goes too
        new = f"{before}  {rest}" if before and rest else before or rest
    if new:
        return node.with_changes(comment=cst.Comment(new))
    if type(node) is cst.EmptyLine:
        return None  # a line that held only the directive goes
    return node.with_changes(whitespace=cst.SimpleWhitespace(""), comment=None)
