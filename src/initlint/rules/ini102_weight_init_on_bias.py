from ..analysis import vocab
from .base import Rule, layer_names
from ..findings import RawFinding


class WeightInitOnBias(Rule):
    code = "INI102"
    severity = "error"
    name = "weight-init-on-bias"
    summary = "a weight-style init (xavier, kaiming, orthogonal, ...) applied to a bias"
    fixable = True
    docs = """\
## What it does
Flags `xavier_*`, `kaiming_*`, `orthogonal_`, `dirac_`, `eye_` and `sparse_` applied to the bias of a
Linear/Conv layer.

## Why is this bad?
These inits compute fan-in and fan-out or need a matrix; a bias is 1-D, so they raise
`ValueError: Fan in and fan out can not be computed for tensor with fewer than 2 dimensions`.

## Example
```python
self.fc = nn.Linear(256, 10)
nn.init.xavier_uniform_(self.fc.bias)
```

## Use instead
```python
self.fc = nn.Linear(256, 10)
nn.init.zeros_(self.fc.bias)
```

## Fix
Replaces the call with `zeros_(<layer>.bias)`.

## References
- PyTorch, `torch.nn.init` (fan computation).
"""

    def check(self, facts, options, rewriter):
        for site in facts.sites:
            if site.param == "bias" and site.via == "torch" and site.func in vocab.WEIGHT_STYLE_INITS \
                    and (site.reach or site.standalone_kinds):
                owners = layer_names(site.reach, site=site) if site.reach else "every " + "/".join(site.standalone_kinds)
                yield RawFinding(self.code, site.call,
                                 f"{site.func} on the bias of {owners}: a 1-D tensor "
                                 f"has no fan-in/fan-out and this raises ValueError",
                                 rewriter.replace_call(site, "zeros_", rewriter.parameter(site), "use zeros_"))
