import libcst as cst

from ..analysis import vocab
from ..analysis.syntax import dotted, walk
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
Renames the call to the underscore form. A name imported on its own (`from torch.nn.init import
xavier_uniform`) is renamed in the import and in every call, in one edit; with `as` only the import
changes (`import xavier_uniform_ as xu`). None: when that name is used other than by the calls being
renamed (passed as a value, rebound, imported from elsewhere too), or the underscore name is already
in the file (the import would then need merging by hand).

## References
- PyTorch, `torch.nn.init` (deprecation warnings).
"""

    def check(self, facts, options, rewriter):
        bare_fixes = {}  # local name -> the one fix renaming it everywhere (shared by its findings)
        for site in facts.sites:
            if not site.deprecated or type(site.call) is not cst.Call:
                continue
            func = site.call.func
            fix = None
            if type(func) is cst.Attribute:
                fix = Fix(f"rename to {site.func}",
                          replace={func: func.with_changes(attr=cst.Name(site.func))})
            elif type(func) is cst.Name:
                if func.value not in bare_fixes:
                    bare_fixes[func.value] = _rename_imported(facts, func.value, site.func)
                fix = bare_fixes[func.value]
            yield RawFinding(self.code, site.call,
                             f"`{rewriter.code(func)}` is deprecated: use `{site.func}`", fix)


def _rename_imported(facts, local: str, new: str):
    """Rename a deprecated name imported from ``torch.nn.init`` in its import (and, when not imported
    ``as`` another name, in every call), or None where that is not certain to keep the file's meaning."""
    old = new[:-1]
    if facts.imports.local_to_qualified.get(local) != f"{vocab.INIT_MODULE}.{old}":
        return None
    aliases, other_uses, calls = [], [], []
    not_references = set()  # names that are attributes, keywords or import paths, not variables
    for node in walk(facts.module):
        kind = type(node)
        if kind is cst.Attribute:
            not_references.add(id(node.attr))
        elif kind is cst.Arg and node.keyword is not None:
            not_references.add(id(node.keyword))
        elif kind is cst.ImportFrom or kind is cst.Import:
            not_references.update(id(n) for n in walk(node))
            for alias in node.names if isinstance(node.names, (list, tuple)) else ():
                bound = alias.asname.name.value if alias.asname is not None else dotted(alias.name)
                if bound == new:
                    return None
                if bound == local:
                    from_init = kind is cst.ImportFrom and dotted(node.module) == vocab.INIT_MODULE \
                        and not node.relative and dotted(alias.name) == old
                    if not from_init:
                        return None
                    aliases.append(alias)
        elif kind is cst.Call and type(node.func) is cst.Name and node.func.value == local:
            calls.append(node.func)
        elif kind is cst.Name and node.value in (local, new):
            other_uses.append(node)
    call_ids = {id(name) for name in calls}
    if any(id(name) not in not_references and id(name) not in call_ids for name in other_uses):
        return None
    replace = {alias: alias.with_changes(name=cst.Name(new)) for alias in aliases}
    if local == old:
        replace.update({name: cst.Name(new) for name in calls})
    return Fix(f"rename to {new} (import and calls)", replace=replace)
