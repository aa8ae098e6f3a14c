import libcst as cst

from .base import Rule, layer_names
from ..findings import Fix, RawFinding

_WEIGHT_INITS = frozenset({"xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
                           "orthogonal_", "normal_", "uniform_", "trunc_normal_", "sparse_"})


class DefaultBiasKept(Rule):
    code = "INI103"
    severity = "advice"
    name = "default-bias-kept"
    summary = "weight re-initialised, bias left at PyTorch's default"
    fixable = True
    docs = """\
## What it does
Flags a random re-initialisation of a Linear/Conv weight when nothing initialises that layer's bias,
so the bias keeps PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)). Silent for bias-free layers
and where an init initlint cannot follow may reach the layer.

## Why is this bad?
The default bias range is tied to the default weight init. After a deliberate weight init the bias is
left at a scale nobody chose; torchvision, timm and most reference code zero it.

## Example
```python
self.fc = nn.Linear(256, 256)
self.out = nn.Linear(256, 10)
nn.init.kaiming_normal_(self.fc.weight, nonlinearity="relu")
...
return self.out(F.relu(self.fc(x)))
```

## Use instead
```python
self.fc = nn.Linear(256, 256)
self.out = nn.Linear(256, 10)
nn.init.kaiming_normal_(self.fc.weight, nonlinearity="relu")
nn.init.zeros_(self.fc.bias)
...
return self.out(F.relu(self.fc(x)))
```

## Fix
Inserts `zeros_(<layer>.bias)` right after the weight init, guarded by `if <layer>.bias is not None:`
when the layer may be bias-free.

## References
- PyTorch, `torch.nn.Linear.reset_parameters`.
- torchvision's model inits (biases set to zero).
"""

    def check(self, facts, options, rewriter):
        if facts.may_init_elsewhere:
            return
        for site in facts.sites:
            if site.param != "weight" or site.func not in _WEIGHT_INITS or not site.reach:
                continue
            if type(site.statement) is not cst.SimpleStatementLine:
                continue
            bare = [layer for layer in site.reach if layer.bias == "true" and not layer.scope.may_init_elsewhere
                    and not layer.maybe_init
                    and not layer.custom_class and not facts.sites_for(layer, "bias")]
            if not bare:
                continue
            yield RawFinding(self.code, site.call,
                             f"the weight of {layer_names(bare, site=site)} is re-initialised but its bias keeps "
                             f"PyTorch's default U(-1/sqrt(fan_in), 1/sqrt(fan_in)): zero it",
                             self._fix(site, bare, rewriter), uninitialised=tuple(bare))

    @staticmethod
    def _fix(site, bare, rewriter):
        owner = rewriter.code(site.owner)
        zeros, needs = rewriter.init_function("zeros_")
        if len(bare) == len(site.reach) and not site.loop:
            code = f"{zeros}({owner}.bias)\n"
        else:
            code = f"if {owner}.bias is not None:\n    {zeros}({owner}.bias)\n"
        return Fix("zero the bias", insert_after=[(site.statement, rewriter.statements(code))], needs=needs)
