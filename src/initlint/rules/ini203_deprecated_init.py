import libcst as cst

from .base import Rule
from ..findings import Fix, RawFinding


class DeprecatedInit(Rule):
    code = "INI203"
    severity = "warning"
    name = "deprecated-init-function"
    summary = "deprecated torch.nn.init function without the trailing underscore"
    fixable = True
    docs = """\
## What it does
Flags `init.xavier_uniform`, `init.constant`, `init.normal`, ... : the `torch.nn.init` names without
the trailing underscore.

## Why is this bad?
They are deprecated aliases that warn on every call and may be removed; the underscore marks that the
function works in place, which the old names hide.

## Example
```python
nn.init.xavier_uniform(self.fc.weight)
```

## Use instead
```python
nn.init.xavier_uniform_(self.fc.weight)
```

## Fix
Renames the call to the underscore form (calls through a bare imported name keep their name, since the
import would have to change too).

## References
- PyTorch, `torch.nn.init` (deprecation warnings).
"""

    def check(self, facts, options, rewriter):
        for site in facts.sites:
            if not site.deprecated or not isinstance(site.call, cst.Call):
                continue
            func = site.call.func
            fix = None
            if isinstance(func, cst.Attribute):
                fix = Fix(f"rename to {site.func}",
                          replace={func: func.with_changes(attr=cst.Name(site.func))})
            yield RawFinding(self.code, site.call,
                             f"`{rewriter.code(func)}` is deprecated: use `{site.func}`", fix)
