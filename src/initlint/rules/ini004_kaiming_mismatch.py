from ..analysis import vocab
from ..analysis.syntax import number, string
from .base import Effect, Rule, runs, describe_change, effective_reach, layer_names, signal_fans, with_copies
from ..findings import RawFinding

_TOLERANCE = 0.1  # a gain more than 10% off changes the signal's scale per layer noticeably


class KaimingMismatch(Rule):
    code = "INI004"
    severity = "warning"
    name = "kaiming-nonlinearity-mismatch"
    summary = "Kaiming init whose nonlinearity or slope contradicts the activation that follows"
    fixable = True
    docs = """\
## What it does
Flags `kaiming_uniform_`/`kaiming_normal_` whose `nonlinearity` (and `a`) gives a gain more than 10%
away from the gain of the activation that follows the layer: `nonlinearity="relu"` before tanh or
sigmoid, `nonlinearity="selu"` before SELU, a `leaky_relu` slope `a` far from the LeakyReLU's, or
`"linear"` before ReLU. For loops and `apply` functions it flags only when every reached layer with a
known activation disagrees. Layers before a softmax are not judged: the scale of attention or class
logits is a temperature, not a gain the signal's variance passes through.

How it decides: with the wrong gain each layer multiplies the signal's second moment by
(used gain / wanted gain)^2 (`"selu"` before SELU: x0.56; `"relu"` before tanh: x0.72, before
sigmoid: x2; `"linear"` before ReLU: x0.5). The factors compound along the model's data path, across
blocks, until a norm or a residual add; it reports when the RMS changes by at least
`min-signal-change` (default 100x: seventeen SELU layers with `"selu"`, fourteen ReLU layers with
`"linear"`). The message gives the factor.

## Why is this bad?
Kaiming init scales weights by the gain of the activation named in `nonlinearity`. With the wrong one
every layer's output variance is off by the squared ratio of the gains, and the error compounds with
depth. PyTorch's docs say to use `nonlinearity="linear"` (not `"selu"`) for self-normalising networks.

## Example
```python
layers = [nn.Linear(784, 512), nn.ReLU()]
for _ in range(15):  # 16 ReLU layers in all
    layers += [nn.Linear(512, 512), nn.ReLU()]
self.net = nn.Sequential(*layers, nn.Linear(512, 10))
for m in self.net.modules():
    if isinstance(m, nn.Linear):
        nn.init.kaiming_normal_(m.weight, nonlinearity="linear")
```

## Use instead
```python
layers = [nn.Linear(784, 512), nn.ReLU()]
for _ in range(15):  # 16 ReLU layers in all
    layers += [nn.Linear(512, 512), nn.ReLU()]
self.net = nn.Sequential(*layers, nn.Linear(512, 10))
for m in self.net.modules():
    if isinstance(m, nn.Linear):
        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
```

## Fix
Rewrites `nonlinearity` (and `a`) to the activation's own: `"linear"` before SELU,
`"leaky_relu"` with `a=slope` before LeakyReLU/PReLU/RReLU, the activation's name otherwise. No fix when
the same call also initialises layers it is right for (or that initlint cannot judge), except output
layers in a loop whose fix is the linear gain (a SELU net's last Linear): that gain is theirs too.
No fix where the init is an OpenMMLab `init_cfg` dict or a module helper (`kaiming_init(m)`,
`c2_xavier_fill(m)`): there is no init call to rewrite. A finding reported at a call that runs a helper
defined in another file of the project (`net.apply(init_weights)`) carries no fix either: the code to
change is in that file.

## References
- He et al. 2015, "Delving Deep into Rectifiers".
- Klambauer et al. 2017, "Self-Normalizing Neural Networks".
- PyTorch, `torch.nn.init.kaiming_normal_` and `calculate_gain`.
"""

    def check(self, facts, options, rewriter):
        found, factors = [], {}
        for site in facts.sites:
            if not runs(facts, site) or site.param != "weight" or site.func not in ("kaiming_uniform_", "kaiming_normal_") \
                    or site.via != "torch":
                continue
            nonlinearity_expr = site.argument(3, "nonlinearity")
            nonlinearity = "leaky_relu" if nonlinearity_expr is None else string(nonlinearity_expr)
            a_expr = site.argument(1, "a")
            a = 0.0 if a_expr is None else number(a_expr)
            if nonlinearity is None or a is None:
                continue
            used = vocab.kaiming_gain(nonlinearity, a)
            reach = effective_reach(facts, site)
            # Softmax is not a hidden nonlinearity the signal's variance passes through: the scale of its
            # logits is a temperature, not a gain to match.
            judged = [layer for layer in reach
                      if layer.follower.kind == "act" and layer.follower.act != "softmax"
                      and vocab.activation_gain(layer.follower.act, layer.follower.slope) is not None]
            if used is None or not judged:
                continue
            wrong = [layer for layer in judged if abs(used / vocab.activation_gain(
                layer.follower.act, layer.follower.slope) - 1) > _TOLERANCE]
            if len(wrong) != len(judged) or len({l.follower for l in wrong}) != 1:
                continue
            found.append((site, nonlinearity, a_expr, a, reach, wrong))
            mode = string(site.argument(2, "mode")) or "fan_in"
            for layer in with_copies(wrong):
                factors[id(layer)] = (layer, _mismatch_factor(layer, used, mode))
        effect = Effect(facts, options, factors)
        for site, nonlinearity, a_expr, a, reach, wrong in found:
            change, count, last = effect.along(wrong)
            if not effect.reported(change):
                continue
            follower = wrong[0].follower
            grows = effect.factors[id(wrong[0])][1] > 1
            yield RawFinding(self.code, site.call,
                             f"{site.func}(nonlinearity=\"{nonlinearity}\""
                             f"{'' if a_expr is None else f', a={a:g}'}) on {layer_names(wrong, site=site)}, "
                             f"which is followed by {follower.describe()}: "
                             f"{describe_change(change, count, last, wrong[0].scope, grows, site)}",
                             self._fix(site, follower, rewriter) if self._fixable(reach, wrong) else None)

    @staticmethod
    def _fixable(reach, wrong) -> bool:
        """Rewriting the call changes every layer it initialises: only where the new nonlinearity is
        right for all of them. The linear gain the fix gives before SELU is also right for a layer whose
        output leaves the model (a SELU net's output layer in the same loop)."""
        wrong_ids = {id(layer) for layer in wrong}
        others = [layer for layer in reach if id(layer) not in wrong_ids]
        nonlinearity, _ = vocab.nonlinearity_for(wrong[0].follower.act)
        return not others or (vocab.kaiming_gain(nonlinearity, 0.0) == 1.0
                              and all(layer.follower.kind in ("output", "end") for layer in others))

    @staticmethod
    def _fix(site, follower, rewriter):
        nonlinearity, _ = vocab.nonlinearity_for(follower.act)
        args = [rewriter.parameter(site)]
        if nonlinearity == "leaky_relu":
            args.append(f"a={0.01 if follower.slope is None else follower.slope:g}")
        mode = site.argument(2, "mode")
        if mode is not None:
            args.append(f"mode={rewriter.code(mode)}")
        args.append(f'nonlinearity="{nonlinearity}"')
        generator = site.argument(4, "generator")
        if generator is not None:
            args.append(f"generator={rewriter.code(generator)}")
        return rewriter.replace_call(site, site.func, ", ".join(args), f'nonlinearity="{nonlinearity}"')


def _mismatch_factor(layer, used_gain: float, mode: str) -> float:
    """Kaiming sets Var(w) = gain^2 / fan_in; an activation keeps 1 / its own gain^2 of the second
    moment, so with the wrong gain each layer multiplies the signal's second moment by
    (used / wanted)^2 (times taps / fan_in for a strided ConvTranspose). ``mode="fan_out"`` is judged by
    the gains alone: it is a choice about the backward pass, not this rule's subject."""
    wanted = vocab.activation_gain(layer.follower.act, layer.follower.slope)
    fans = signal_fans(layer)
    ratio = (used_gain / wanted) ** 2
    return ratio if fans is None or mode != "fan_in" else ratio * fans[0] / fans[1]
