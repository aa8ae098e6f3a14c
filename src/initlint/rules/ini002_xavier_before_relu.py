from ..analysis import vocab
from ..analysis.names import torch_name
from ..analysis.syntax import argument, dotted, number, string
from .base import Effect, Rule, runs, activation_keep, bias_note, describe_change, effective_reach, layer_names, relu_like, \
    signal_factor, signal_fans, with_copies
from ..findings import RawFinding

_UNIT_GAIN_INITS = {"xavier_uniform_": 1, "xavier_normal_": 1, "orthogonal_": 1}


def literal_gain(expr, imports):
    """The value of a gain written as a number, ``calculate_gain("name"[, a])`` or ``math.sqrt(n)``."""
    value = number(expr)
    if value is not None or not hasattr(expr, "func"):
        return value
    qualified = torch_name(imports.resolve(expr.func)) or dotted(expr.func)
    if qualified == "torch.nn.init.calculate_gain":
        name = string(argument(expr, 0, "nonlinearity"))
        param = number(argument(expr, 1, "param"))
        if name == "leaky_relu":
            return vocab.kaiming_gain("leaky_relu", 0.01 if param is None else param)
        return vocab.kaiming_gain(name, 0.0) if name else None
    if qualified == "math.sqrt":
        inner = number(argument(expr, 0, None))
        return None if inner is None or inner < 0 else inner ** 0.5
    return None


class XavierBeforeRelu(Rule):
    code = "INI002"
    severity = "warning"
    name = "xavier-before-relu"
    summary = "Xavier/Glorot or unit-gain orthogonal init on a layer followed by ReLU"
    fixable = True
    docs = """\
## What it does
Flags `xavier_uniform_`, `xavier_normal_` and `orthogonal_` with gain 1 (the default) on the weight of
a Linear/Conv layer followed directly by a ReLU-family activation (ReLU, ReLU6, LeakyReLU, PReLU, RReLU).

How it decides: each such layer multiplies the signal's second moment by fan_in / (fan_in + fan_out)
times what the activation keeps (1/2 for ReLU, (1 + slope^2)/2 for a leaky one) where its sizes are
literal (x1/2 per square layer where they are not; a unit-gain `orthogonal_` by 1/2 times
min(1, fan_in/fan_out)). The factors compound along the model's data path, across blocks, until a norm
or a residual add. It reports when the RMS shrinks by at least `min-signal-change` (default 100x:
fourteen square Xavier layers) along a path through a layer the call initialises; one or two Xavier
layers before ReLU (a policy network, a textbook MLP) train fine and stay silent. The message gives
the factor.

## Why is this bad?
Xavier/Glorot init keeps the variance of a linear (or tanh) layer's output. ReLU zeroes half of it, so
each Xavier-initialised ReLU layer halves the signal's variance; a deep stack's activations and
gradients shrink geometrically. He (Kaiming) init doubles the variance to compensate.
Xavier with `gain=nn.init.calculate_gain("relu")` is fine and stays silent.

## Example
```python
layers = [nn.Linear(784, 512), nn.ReLU()]
for _ in range(15):  # 16 ReLU layers in all
    layers += [nn.Linear(512, 512), nn.ReLU()]
self.net = nn.Sequential(*layers, nn.Linear(512, 10))
for m in self.net.modules():
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
```

## Use instead
```python
layers = [nn.Linear(784, 512), nn.ReLU()]
for _ in range(15):  # 16 ReLU layers in all
    layers += [nn.Linear(512, 512), nn.ReLU()]
self.net = nn.Sequential(*layers, nn.Linear(512, 10))
for m in self.net.modules():
    if isinstance(m, nn.Linear):
        nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
```

## Fix
`xavier_uniform_` becomes `kaiming_uniform_` and `xavier_normal_` becomes `kaiming_normal_` (the same
distribution), with `nonlinearity` (and `a`) matching the activation. `orthogonal_` gets
`gain=calculate_gain(...)`. No fix when the same call also initialises layers that are not followed by
that activation (a shared `_xavier_init` helper that also reaches output heads): rewriting it would
change them too.
No fix where the init is an OpenMMLab `init_cfg` dict or a module helper (`kaiming_init(m)`,
`c2_xavier_fill(m)`): there is no init call to rewrite. A finding reported at a call that runs a helper
defined in another file of the project (`net.apply(init_weights)`) carries no fix either: the code to
change is in that file.

## References
- He et al. 2015, "Delving Deep into Rectifiers".
- Glorot and Bengio 2010.
- PyTorch, `torch.nn.init`.
"""

    def check(self, facts, options, rewriter):
        found, factors = [], {}
        for site in facts.sites:
            if not runs(facts, site) or site.param != "weight" or site.func not in _UNIT_GAIN_INITS or site.via != "torch":
                continue
            gain_expr = site.argument(1, "gain")
            gain = 1.0 if gain_expr is None else literal_gain(gain_expr, facts.imports)
            if gain is None or abs(gain - 1) > 0.1:
                continue
            everything = effective_reach(facts, site)
            reach = [layer for layer in everything if relu_like(layer.follower)]
            if not reach:
                continue
            found.append((site, everything, reach))
            for layer in with_copies(reach):
                factors[id(layer)] = (layer, _unit_gain_factor(site.func, layer))
        effect = Effect(facts, options, factors)
        for site, everything, reach in found:
            change, count, last, path = effect.path_through(reach)
            if not effect.reported(change):
                continue
            follower = reach[0].follower
            # Rewrite the call only when every layer it initialises wants the same init.
            fixable = len(reach) == len(everything) and len({layer.follower for layer in reach}) == 1
            yield RawFinding(self.code, site.call,
                             f"{site.func} on {layer_names(reach, site=site)} followed by {follower.describe()}: "
                             f"{describe_change(change, count, last, reach[0].scope, site=site)}{bias_note(effect, facts, change, path)}"
                             f"{self._per_layer(site, reach, count)}; "
                             "use He (kaiming) init",
                             self._fix(site, follower, rewriter) if fixable else None)

    @staticmethod
    def _per_layer(site, reach, count: int) -> str:
        """Where every reached layer has the same literal sizes, the shrink per layer and the fans."""
        fans = {signal_fans(layer) for layer in with_copies(reach)}
        if len(fans) != 1 or None in fans:
            return ""
        taps, fan_in, fan_out = fans.pop()
        per_layer = f"{_unit_gain_factor(site.func, reach[0]) ** -0.5:.1f}x per layer: " if count > 1 else ""
        return f" ({per_layer}fan_in={fan_in}, fan_out={fan_out})"

    @staticmethod
    def _fix(site, follower, rewriter):
        target = rewriter.parameter(site)
        nonlinearity, _ = vocab.nonlinearity_for(follower.act)
        slope = "" if nonlinearity == "relu" else f"a={0.01 if follower.slope is None else follower.slope:g}, "
        if site.func == "orthogonal_":
            gain_func, _ = rewriter.init_function("calculate_gain")
            gain_args = f'"{nonlinearity}"' if not slope else f'"{nonlinearity}", {slope[2:-2]}'
            return rewriter.replace_call(site, "orthogonal_", f"{target}, gain={gain_func}({gain_args})",
                                         "orthogonal_ with the activation's gain")
        name = site.func.replace("xavier", "kaiming")
        return rewriter.replace_call(site, name, f'{target}, {slope}nonlinearity="{nonlinearity}"',
                                     f"use {name}")


def _unit_gain_factor(func: str, layer) -> float:
    """Xavier keeps Var(w) = 2 / (fan_in + fan_out), a unit-gain orthogonal init rows (or columns) of
    unit norm; the ReLU after keeps half the second moment: x1/2 per square layer."""
    keep = activation_keep(layer.follower)
    if func == "orthogonal_":
        return signal_factor(layer, lambda fan_in, fan_out: 1 / max(fan_in, fan_out), keep)
    return signal_factor(layer, lambda fan_in, fan_out: 2 / (fan_in + fan_out), keep)
