from .base import Rule, constant_value, effective_reach, layer_names, relu_like
from ..findings import RawFinding


class NegativeBiasBeforeRelu(Rule):
    code = "INI105"
    severity = "warning"
    name = "negative-bias-before-relu"
    summary = "negative constant bias on a layer followed by ReLU"
    fixable = True
    docs = """\
## What it does
Flags `constant_(b, c)` / `b.fill_(c)` with a negative literal `c` on the bias of a layer followed by a
ReLU-family activation.

## Why is this bad?
A negative bias pushes the pre-activations below zero, so many ReLU units output 0 for every input at
init and get no gradient: they are dead before training starts. A negative prior bias before a sigmoid
(focal-loss heads, `bias = -log((1 - p) / p)`) is deliberate and stays silent.

## Example
```python
self.fc = nn.Linear(256, 256)
self.out = nn.Linear(256, 10)
nn.init.constant_(self.fc.bias, -1.0)
...
return self.out(F.relu(self.fc(x)))
```

## Use instead
```python
self.fc = nn.Linear(256, 256)
self.out = nn.Linear(256, 10)
nn.init.zeros_(self.fc.bias)
...
return self.out(F.relu(self.fc(x)))
```

## Fix
Replaces the call with `zeros_(<layer>.bias)`.

## References
- Lu et al. 2019, "Dying ReLU and Initialization".
- Lin et al. 2017, "Focal Loss for Dense Object Detection" (the deliberate case).
"""

    def check(self, facts, options, rewriter):
        for site in facts.sites:
            if site.param != "bias" or site.via not in ("torch", "method"):
                continue
            is_constant, value = constant_value(site)
            if not is_constant or value is None or value >= 0:
                continue
            reach = [layer for layer in effective_reach(facts, site) if relu_like(layer.follower)]
            if not reach:
                continue
            yield RawFinding(self.code, site.call,
                             f"bias of {layer_names(reach, site=site)} set to {value:g} before "
                             f"{reach[0].follower.describe()}: units start dead",
                             rewriter.replace_call(site, "zeros_", rewriter.parameter(site), "use zeros_"))
