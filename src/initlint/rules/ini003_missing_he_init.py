from ..analysis.facts import Layer
import math

from .base import Rule, layer_label, relu_like
from ..findings import Fix, RawFinding


class MissingHeInit(Rule):
    code = "INI003"
    severity = "warning"
    name = "missing-he-init"
    summary = "stacked ReLU layers keep PyTorch's default init"
    fixable = True
    docs = """\
## What it does
Flags a stack of Linear/Conv layers that keep PyTorch's default init and feed each other through
ReLU-family activations: each layer's output goes through the activation (no norm between) into the
next layer of the stack, in `nn.Sequential` order or along `forward()`'s data flow. A stack needs at
least 2 layers (the `relu-stack-depth` option); layers built in a loop or comprehension count as
several. One finding per stack, at its first layer, naming every layer in it (`# noqa` on that line
silences the whole stack). Stays silent when anything initlint cannot follow may initialise the layers:
an `apply` or init method it cannot find, an init helper that this file never applies, a base class
other than `nn.Module`, a custom layer subclass, a class of another module the layers are handed to, a
builder function this file never calls; and when another checked file builds the model and initialises
it (`apply`, a `modules()` or `named_parameters()` loop, weights loaded before training).

## Why is this bad?
PyTorch's default Linear/Conv init is `kaiming_uniform_(w, a=sqrt(5))`: U(-1/sqrt(fan_in),
1/sqrt(fan_in)), a variance of 1/(3 fan_in). Before ReLU, which keeps half the variance, each layer
multiplies the signal's variance by about 1/6, so a deep ReLU stack's activations collapse towards its
biases and its gradients vanish.

## Example
```python
self.net = nn.Sequential(
    nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
    nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
    nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
    nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
    nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
    nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
    nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
    nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
    nn.Linear(512, 10),
)
```

## Use instead
```python
self.net = nn.Sequential(
    nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
    nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
    nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
    nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
    nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
    nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
    nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
    nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
    nn.Linear(512, 10),
)
for m in self.net.modules():
    if isinstance(m, nn.Linear):
        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        nn.init.zeros_(m.bias)
```

## Fix
Inserts `kaiming_normal_(<layer>.weight, nonlinearity="relu")` (and `zeros_(<layer>.bias)` for layers
with a bias) right after the statement that creates each layer of the stack; for the layers of a
`ModuleList`/`Sequential` built by a comprehension, a loop over the container
(`for layer in self.hidden: ...`). A stack with a layer that has no name to write the init against
(built in a loop with `append`, or by a call initlint cannot see into) gets no fix.

## References
- He et al. 2015, "Delving Deep into Rectifiers".
- PyTorch, `torch.nn.Linear` and `torch.nn.init`.
"""

    def check(self, facts, options, rewriter):
        if facts.may_init_elsewhere:
            return
        bare = [layer for layer in facts.layers if self._keeps_default(facts, layer)]
        bare_ids = {id(layer) for layer in bare}
        feeds = {}  # id(layer) -> the default-init layer its activation's output goes into
        for layer in bare:
            then = layer.follower.then
            fed = () if then is None else (then.layer,) if then.kind == "layer" else then.feeds
            for successor in fed:  # also where the activation's output has other consumers too
                if successor is not None and id(successor) in bare_ids and successor is not layer:
                    feeds[id(layer)] = successor
                    break
        fed = {id(layer) for layer in feeds.values()}
        fixed: set = set()  # layers an earlier stack's fix initialises (branches joining into one layer)
        for first in bare:
            if id(first) in fed:
                continue
            stack = [first]
            while id(stack[-1]) in feeds and feeds[id(stack[-1])] not in stack:
                stack.append(feeds[id(stack[-1])])
            if sum(2 if layer.repeated else 1 for layer in stack) >= options.relu_stack_depth:
                yield RawFinding(self.code, first.call, self._message(stack), self._fix(stack, rewriter, fixed),
                                 uninitialised=tuple(stack))

    @staticmethod
    def _keeps_default(facts, layer: Layer) -> bool:
        if layer.wrapped or layer.custom_class or layer.maybe_init or layer.values_loaded \
                or layer.scope.may_init_elsewhere \
                or not relu_like(layer.follower):
            return False
        return not facts.sites_for(layer, "weight")

    @staticmethod
    def _message(stack: list) -> str:
        names = ", ".join(layer_label(layer) for layer in stack)
        acts = sorted({layer.follower.describe() for layer in stack})
        what = f"{len(stack)} layers ({names}) keep" if len(stack) > 1 else f"{names} keeps"
        if any(layer.repeated for layer in stack):
            effect = "the activations shrink at every layer"
            if len(stack) == 1:
                what = f"{names} keep"  # "the Linear layers of self.hidden", "self.up[0] and its copies"
        else:
            # Default init: Var(w) = 1/(3 fan_in); the activation keeps (1 + slope^2)/2 of the second
            # moment, so each layer scales it by (1 + slope^2)/6 whatever the width.
            shrink = 1.0
            for layer in stack:
                slope = layer.follower.slope or 0.0
                shrink *= 6 / (1 + slope * slope)
            effect = f"the activations shrink about {math.sqrt(shrink):.0f}x by {layer_label(stack[-1])} " \
                     "(He init keeps their scale)"
        return f"{what} PyTorch's default init before {' / '.join(acts)}: {effect}; use He (kaiming) init"

    @staticmethod
    def _fix(stack: list, rewriter, fixed: set):
        kaiming, needs = rewriter.init_function("kaiming_normal_")
        zeros, more = rewriter.init_function("zeros_")
        inserts, containers = [], set()
        if any(_fix_target(layer) is None for layer in stack):
            return None
        for layer in stack:
            if id(layer) in fixed:
                continue
            fixed.add(id(layer))
            follower = layer.follower
            if follower.act in ("relu", "relu6"):
                nonlinearity = 'nonlinearity="relu"'
            else:
                nonlinearity = f'a={0.01 if follower.slope is None else follower.slope:g}, nonlinearity="leaky_relu"'
            path, loop, statement = _fix_target(layer)
            if loop:
                if path in containers:
                    continue
                containers.add(path)
                lines = [f"for layer in {path}:\n", f"    {kaiming}(layer.weight, {nonlinearity})\n"]
                if layer.bias == "true":
                    lines.append(f"    {zeros}(layer.bias)\n")
            else:
                lines = [f"{kaiming}({path}.weight, {nonlinearity})\n"]
                if layer.bias == "true":
                    lines.append(f"{zeros}({path}.bias)\n")
            inserts.append((statement, rewriter.statements("".join(lines))))
        uses_zeros = any(layer.bias == "true" for layer in stack)
        return Fix("insert He init", insert_after=inserts, needs=needs | (more if uses_zeros else frozenset()))


def _fix_target(layer: Layer):
    """``(path, False, statement)`` to init the layer by name after the statement that names it,
    ``(container, True, statement)`` to init every element of a container built by a comprehension of
    this layer, or None. A builder's own name for it (``make_mlp()[0]``) is no place to init it."""
    for path, statement in layer.path_statements.items():
        if "()" in path or statement is None:
            continue
        if not layer.repeated and "[*]" not in path and "[-" not in path:
            return path, False, statement
        if layer.repeated and layer.comprehension and path.endswith("[*]") and "[*]" not in path[:-3]:
            return path[:-3], True, statement
    return None
