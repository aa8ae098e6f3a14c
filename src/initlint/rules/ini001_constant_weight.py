from .base import Rule, layer_label, constant_value, effective_reach, layer_names, nonlinear_next
from ..findings import RawFinding


class ConstantHiddenWeight(Rule):
    code = "INI001"
    severity = "error"
    name = "constant-hidden-weight"
    summary = "Linear/Conv weight of a hidden layer set to a constant"
    fixable = True
    docs = """\
## What it does
Flags `zeros_`, `ones_`, `constant_`, `.zero_()` and `.fill_(c)` on the weight of a Linear/Conv layer
whose output goes through a nonlinearity into the rest of the network, and `self.modules()` loops or
`apply` functions that set every Linear/Conv weight to a constant. A helper that this file never applies
(a `weights_init(m)` in a `utils.py`, applied from elsewhere) is checked on its own: if it sets every
Linear/Conv weight it is handed to a constant, any network with two such layers has a hidden one.

## Why is this bad?
Every unit of a layer with a constant weight computes the same thing and receives the same gradient,
so the units never become different (the symmetry is never broken). With zeros before ReLU the layer
is dead outright: relu'(0) = 0 and no gradient flows back through it.

Zero-initialising on purpose stays silent: a layer whose output is the model's output (also through a
final sigmoid or tanh, as in zero-init logistic regression) or is added to a residual stream (LoRA's
`lora_B`, zero-init heads, adaLN-Zero), layers wrapped in helpers such as `zero_module(...)`, norm
layers' weights (zero-init residual BatchNorm gamma), and loops with conditions beyond the layer type.
A layer counts as hidden only when initlint sees its activation's output go into another layer.

## Example
```python
self.fc1 = nn.Linear(784, 256)
self.fc2 = nn.Linear(256, 10)
nn.init.zeros_(self.fc1.weight)
...
return self.fc2(F.relu(self.fc1(x)))
```

## Use instead
```python
self.fc1 = nn.Linear(784, 256)
self.fc2 = nn.Linear(256, 10)
nn.init.kaiming_normal_(self.fc1.weight, nonlinearity="relu")
...
return self.fc2(F.relu(self.fc1(x)))
```

## Fix
Replaces the constant init with the init that fits what follows the layer: `kaiming_normal_` with
`nonlinearity="relu"` (or `"leaky_relu"` and `a=slope`) before the ReLU family,
`xavier_uniform_(w, gain=calculate_gain("tanh"))` before tanh or sigmoid, `xavier_uniform_` otherwise.
In a `modules()` loop or an `apply` function the new init is chosen by the hidden layers the
loop reaches (the activation's init when they agree, PyTorch's default `kaiming_uniform_(w, a=5 ** 0.5)`
when they do not, or when the helper is applied nowhere initlint can see), so no weight it reaches stays
constant. No fix where the init is an OpenMMLab `init_cfg` dict or a module helper (`kaiming_init(m)`,
`c2_xavier_fill(m)`): there is no init call to rewrite. A finding reported at a call that runs a helper
defined in another file of the project (`net.apply(init_weights)`) carries no fix either: the code to
change is in that file.

## References
- He et al. 2015, "Delving Deep into Rectifiers".
- Glorot and Bengio 2010, "Understanding the difficulty of training deep feedforward neural networks".
- PyTorch, `torch.nn.init`.
"""

    def check(self, facts, options, rewriter):
        for site in facts.sites:
            if site.param != "weight" or site.via not in ("torch", "method"):
                continue
            is_constant, value = constant_value(site)
            if not is_constant:
                continue
            what = "zero" if value == 0 else "a constant"
            if site.standalone_kinds and site.loop and site.exact_filter:
                kinds = "/".join(site.standalone_kinds)
                yield RawFinding(self.code, site.call,
                                 f"this helper sets every {kinds} weight it meets to {what}: in a network "
                                 f"with two such layers the hidden one's units stay identical",
                                 self._default_init(site, rewriter))
                continue
            reach = effective_reach(facts, site)
            if not reach:
                continue
            if site.loop:
                if not site.exact_filter:
                    continue
                hidden = [layer for layer in reach if nonlinear_next(layer.follower)]
                if len(reach) < 2 and not hidden:
                    continue
                fix = self._loop_fix(site, hidden or reach, rewriter)
                yield RawFinding(self.code, site.call,
                                 f"every {'/'.join(sorted({layer.kind for layer in reach}))} weight reached "
                                 f"here is set to {what} "
                                 f"({layer_names(reach, site=site)}): all units stay identical", fix)
                continue
            hidden = [layer for layer in reach if nonlinear_next(layer.follower)]
            if not hidden:
                continue
            layer = hidden[0]
            dead = " and dead under ReLU" if value == 0 and layer.follower.kind == "act" \
                and layer.follower.act in ("relu", "relu6") else ""
            yield RawFinding(self.code, site.call,
                             f"hidden layer {layer_label(layer, site)} weight set to {what} before "
                             f"{layer.follower.describe()}: its units stay identical{dead}",
                             rewriter.fitting_init(site, layer.follower if layer.follower.kind == "act"
                                                   else layer.follower.then, "scaled random init"))

    @staticmethod
    def _default_init(site, rewriter):
        """What follows the layers a helper will meet is unknown: PyTorch's own default init."""
        return rewriter.replace_call(site, "kaiming_uniform_", f"{rewriter.parameter(site)}, a=5 ** 0.5",
                                     "use PyTorch's default init (kaiming_uniform_, a=sqrt(5))")

    def _loop_fix(self, site, layers, rewriter):
        """One init for every layer a loop reaches, chosen by the hidden ones: the activation's init when
        they agree on it, else PyTorch's default. No weight it reaches stays constant."""
        activations = {layer.follower.act if layer.follower.kind == "act" else (
            layer.follower.then.act if layer.follower.then is not None else None) for layer in layers}
        followers = {layer.follower if layer.follower.kind == "act" else layer.follower.then for layer in layers}
        if len(followers) == 1 and len(activations) == 1 and None not in activations:
            return rewriter.fitting_init(site, followers.pop(), "scaled random init")
        return self._default_init(site, rewriter)
