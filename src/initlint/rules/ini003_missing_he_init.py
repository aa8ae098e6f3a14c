from ..analysis.facts import Layer
from .base import Rule, relu_like
from ..findings import Fix, RawFinding


class MissingHeInit(Rule):
    code = "INI003"
    severity = "warning"
    name = "missing-he-init"
    summary = "stacked ReLU layers keep PyTorch's default init"
    fixable = True
    docs = """\
## What it does
Flags Linear/Conv layers followed by a ReLU-family activation (no norm between) that keep PyTorch's
default init, in a module that stacks at least 2 such layers (the number is the `relu-stack-depth`
option). Stays silent when anything initlint cannot follow may initialise the layers: an `apply` or
init method it cannot find, a base class other than `nn.Module`, a custom layer subclass.

## Why is this bad?
PyTorch's default Linear/Conv init is `kaiming_uniform_(w, a=sqrt(5))`: U(-1/sqrt(fan_in),
1/sqrt(fan_in)), a variance of 1/(3 fan_in). Before ReLU, which keeps half the variance, each layer
multiplies the signal's variance by about 1/6, so a deep ReLU stack's activations collapse towards its
biases and its gradients vanish.

## Example
```python
self.net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
```

## Use instead
```python
for layer in (self.net[0], self.net[2]):
    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    nn.init.zeros_(layer.bias)
```

## Fix
Inserts `kaiming_normal_(<layer>.weight, nonlinearity="relu")` (and `zeros_(<layer>.bias)` for layers
with a bias) right after the statement that creates the layer. Layers built in a comprehension get no
fix.

## References
- He et al. 2015, "Delving Deep into Rectifiers".
- PyTorch, `torch.nn.Linear` and `torch.nn.init`.
"""

    def check(self, facts, options, rewriter):
        if facts.may_init_elsewhere:
            return
        for scope in facts.scopes:
            if scope.may_init_elsewhere:
                continue
            bare = [layer for layer in scope.layers if self._keeps_default(facts, layer)]
            if sum(2 if layer.repeated else 1 for layer in bare) < options.relu_stack_depth:
                continue
            for layer in bare:
                yield RawFinding(self.code, layer.call,
                                 f"{layer.kind} {layer.name} is followed by {layer.follower.describe()} "
                                 f"but keeps PyTorch's default init, which shrinks the signal at "
                                 f"every layer of this stack: use He (kaiming) init",
                                 self._fix(layer, rewriter))

    @staticmethod
    def _keeps_default(facts, layer: Layer) -> bool:
        if layer.wrapped or layer.custom_class or not relu_like(layer.follower):
            return False
        return not facts.sites_for(layer, "weight")

    @staticmethod
    def _fix(layer: Layer, rewriter):
        paths = [p for p in layer.paths if "[*]" not in p and "[-" not in p]
        if not paths or layer.repeated or layer.path_statement is None:
            return None
        path = paths[0]
        follower = layer.follower
        if follower.act in ("relu", "relu6"):
            weight_args = f'{path}.weight, nonlinearity="relu"'
        else:
            slope = 0.01 if follower.slope is None else follower.slope
            weight_args = f'{path}.weight, a={slope:g}, nonlinearity="leaky_relu"'
        kaiming, needs = rewriter.init_function("kaiming_normal_")
        lines = [f"{kaiming}({weight_args})\n"]
        if layer.bias == "true":
            zeros, more = rewriter.init_function("zeros_")
            needs = needs | more
            lines.append(f"{zeros}({path}.bias)\n")
        return Fix("insert He init", insert_after=[(layer.path_statement, rewriter.statements("".join(lines)))],
                   needs=needs)
