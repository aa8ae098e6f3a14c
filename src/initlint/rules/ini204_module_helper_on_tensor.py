from .base import Rule
from ..findings import RawFinding


class ModuleHelperOnTensor(Rule):
    code = "INI204"
    severity = "error"
    name = "module-init-helper-on-tensor"
    summary = "an mmcv/mmengine/fvcore module init helper handed a tensor"
    docs = """\
## What it does
Flags `constant_init`, `normal_init`, `kaiming_init`, `xavier_init`, ... (mmcv, mmengine) and
`c2_msra_fill`, `c2_xavier_fill` (fvcore) called with a tensor such as `m.weight` or `m.bias`.

## Why is this bad?
These helpers take a module and initialise its `.weight` and `.bias` when it has them. A tensor has no
`.weight`, so the call does nothing at all, without an error.

## Example
```python
constant_init(self.conv.weight, 0)
```

## Use instead
```python
constant_init(self.conv, 0)
```
or `nn.init.constant_(self.conv.weight, 0)`.

## Fix
None: whether the helper should get the module (and so also set its bias) is your call.

## References
- mmengine, `mmengine.model.weight_init`; fvcore, `fvcore.nn.weight_init`.
"""

    def check(self, facts, options, rewriter):
        for site in facts.sites:
            if site.via == "helper":
                yield RawFinding(self.code, site.call,
                                 f"{site.func} expects a module but gets the tensor "
                                 f"`{rewriter.code(site.owner)}.{site.param}`: it does nothing")
