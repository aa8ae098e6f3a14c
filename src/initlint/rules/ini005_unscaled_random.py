from .base import Rule, effective_reach, layer_names
from ..findings import RawFinding


class UnscaledRandomInit(Rule):
    code = "INI005"
    severity = "error"
    name = "unscaled-random-init"
    summary = "normal_/uniform_ with default scale on a Linear/Conv weight"
    fixable = True
    docs = """\
## What it does
Flags `normal_(w)` with the default `std=1` and `uniform_(w)` with the default range [0, 1) (the
`nn.init` functions and the tensor methods alike) on a Linear/Conv weight. Embedding weights and other
tensors are not checked: N(0, 1) is the usual embedding init.

## Why is this bad?
A weight of standard deviation 1 multiplies the signal's variance by fan_in at every layer: with
fan_in = 512 activations explode by a factor of about 22 per layer. U(0, 1) is worse still: every
weight is positive, so all units are strongly correlated.

## Example
```python
nn.init.normal_(self.fc.weight)
```

## Use instead
```python
nn.init.kaiming_normal_(self.fc.weight, nonlinearity="relu")  # before ReLU
nn.init.xavier_uniform_(self.fc.weight)                        # otherwise
```

## Fix
As INI001: the scaled init that fits what follows the layer.

## References
- Glorot and Bengio 2010; He et al. 2015.
- PyTorch, `torch.nn.init.normal_` and `uniform_`.
"""

    def check(self, facts, options, rewriter):
        for site in facts.sites:
            if site.param != "weight" or site.via not in ("torch", "method") or not self._unscaled(site):
                continue
            reach = effective_reach(facts, site)
            if not reach or (site.loop and not site.exact_filter):
                continue
            followers = {layer.follower for layer in reach}
            fix = rewriter.fitting_init(site, reach[0].follower, "scaled init") if len(followers) == 1 else None
            default = "std=1" if site.func == "normal_" else "range [0, 1)"
            yield RawFinding(self.code, site.call,
                             f"{site.func} with the default {default} on {layer_names(reach)}: "
                             f"the signal's scale grows with fan_in at every layer", fix)

    @staticmethod
    def _unscaled(site) -> bool:
        offset = 1 if site.via == "torch" else 0  # nn.init takes the tensor first
        if site.func == "normal_":
            return site.argument(offset + 1, "std") is None
        if site.func == "uniform_":
            return site.argument(offset, "a") is None and site.argument(offset + 1, "b") is None \
                and site.argument(offset, "from") is None and site.argument(offset + 1, "to") is None
        return False
