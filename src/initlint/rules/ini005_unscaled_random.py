import re

import libcst as cst

from ..analysis.syntax import dotted, number, walk
from .base import Effect, Rule, describe_change, effective_reach, layer_names, runs, signal_factor, signal_fans, \
    with_copies
from .init_signatures import INIT_SIGNATURES, TENSOR_METHOD_SIGNATURES, binding_problems, helper_signature
from ..findings import RawFinding

# Calls that rescale a layer's weight at run time (equalized learning rate) or normalise it by its
# spectral norm: the weight's initial scale then does not reach the signal.
_RESCALING_WRAPPER = re.compile(r"equal_?lr|equali[sz]ed|spectral_?norm", re.IGNORECASE)
_EQUALIZED_CLASS = re.compile(r"^Equal")


class UnscaledRandomInit(Rule):
    code = "INI005"
    severity = "error"
    name = "unscaled-random-init"
    summary = "normal_/uniform_ with default scale on a Linear/Conv weight"
    fixable = True
    docs = """\
## What it does
Flags `normal_(w)` and `trunc_normal_(w)` with the default `std=1` (also when the only number given is
the mean: `trunc_normal_(w, 0.02)`, or when std=1 is written out: `normal_(w, 0, 1)`) and `uniform_(w)`
with the default range [0, 1) (also written out: `uniform_(0.0, 1.0)`; the `nn.init` functions and the
tensor methods alike) on a Linear/Conv weight; in an init helper applied to no model
initlint can see, on the Linear/Conv types it dispatches to. Embedding weights and other tensors are
not checked: N(0, 1) is the usual embedding init.

How it decides: N(0, 1) multiplies the signal's second moment by the number of inputs each output
sums (fan_in; for a strided ConvTranspose in_channels x kernel / stride), halved by a ReLU after it.
Where every layer a call initialises has literal sizes, the growth compounds along the model's data
path (across blocks, until a norm or a residual add) and it reports when the RMS grows by at least
`min-signal-change` (default 100x: two layers of fan_in 64 before ReLU); a single such layer, when it
grows the RMS by at least the square root of that (10x: fan_in 200 before ReLU, 100 otherwise). A small
layer (`nn.Linear(4, 16)`, a 3x3 conv on 3 channels) stays silent. Where a size is not literal, `uniform_` (all weights
positive), and in a helper applied nowhere, it always reports.

N(0, 1) on purpose stays silent where something rescales the weight at run time, as StyleGAN/ProGAN's
equalized learning rate does: the layer is handed to a wrapper named like `equal_lr`/`EqualLR.apply`/
`equalized...` or to `spectral_norm` (which divides the weight by its largest singular value, so its
initial scale never matters); its class's run-time methods multiply or divide its weight
(`F.linear(x, self.fc.weight * self.w_mul)`); it is the only layer of a class whose run-time methods
scale its input or output by an attribute computed with a square root or a power
(`self.scale = (2 / fan_in) ** 0.5` ... `self.conv(x * self.scale)`); or the class holding it is
named `Equal...` (`EqualConv2d`, `EqualLinear`). `weight_norm` is no such rescaling: it keeps the
weight's initial norm. A call that cannot run (`normal_(w, stddev=0.01)` raises TypeError) is INI107,
not this rule.

## Why is this bad?
A weight of standard deviation 1 multiplies the signal's variance by fan_in at every layer: with
fan_in = 512 activations explode by a factor of about 22 per layer. U(0, 1) is worse still: every
weight is positive, so all units are strongly correlated.

## Example
```python
self.fc1 = nn.Linear(784, 256)
self.fc2 = nn.Linear(256, 10)
nn.init.normal_(self.fc1.weight)
...
return self.fc2(F.relu(self.fc1(x)))
```

## Use instead
```python
self.fc1 = nn.Linear(784, 256)
self.fc2 = nn.Linear(256, 10)
nn.init.kaiming_normal_(self.fc1.weight, nonlinearity="relu")  # before ReLU; xavier_uniform_ otherwise
...
return self.fc2(F.relu(self.fc1(x)))
```

## Fix
As INI001: the scaled init that fits what follows the layer (`kaiming_normal_` before the ReLU family,
Xavier otherwise). Where the layers an `apply` function or `modules()` loop reaches are followed by
different activations, or the helper is applied to no model initlint can see, PyTorch's own default
`kaiming_uniform_(w, a=5 ** 0.5)`.

## References
- Glorot and Bengio 2010; He et al. 2015.
- PyTorch, `torch.nn.init.normal_` and `uniform_`.
"""

    def check(self, facts, options, rewriter):
        rescaled = _RunTimeRescaling(rewriter)
        found, factors = [], {}
        for site in facts.sites:
            if not runs(facts, site) or site.param != "weight" or site.via not in ("torch", "method") \
                    or not self._unscaled(site):
                continue
            if site.loop and not site.exact_filter:
                continue
            default = "range [0, 1)" if site.func == "uniform_" else "std=1"
            default = ("the default " if self._scale_left_out(site) else "") + default
            offset = 1 if site.via == "torch" else 0
            mean = site.argument(offset, "mean") if site.func != "uniform_" else None
            if mean is not None and site.argument(offset, None) is mean and self._scale_left_out(site):
                default += f" ({rewriter.code(mean)} is the mean)"
            if site.standalone_kinds:
                yield RawFinding(self.code, site.call,
                                 f"{site.func} with {default} on every "
                                 f"{'/'.join(site.standalone_kinds)} weight this helper meets: the signal's "
                                 f"scale grows with fan_in at every layer", self._default_init(site, rewriter))
                continue
            reach = [layer for layer in effective_reach(facts, site) if not rescaled.applies(layer, site)]
            if not reach:
                continue
            found.append((site, default, reach))
            if site.func != "uniform_":
                for layer in with_copies(reach):
                    factors[id(layer)] = (layer, signal_factor(layer, lambda fan_in, fan_out: 1.0, None))
        effect = Effect(facts, options, {key: value for key, value in factors.items() if value[1] is not None})
        for site, default, reach in found:
            measured = site.func != "uniform_" and all(factors[id(layer)][1] is not None for layer in reach)
            if measured:
                change, count, last = effect.along(reach)
                # One layer is judged by its own growth against the square root of the threshold (its
                # share of a two-layer stack: 10x by default); a path of several, by their product.
                if not effect.reported(change if count > 1 else change * change):
                    continue
                what = describe_change(change, count, last, reach[0].scope, grows=True, site=site) + _per_layer(reach, count)
            else:  # sizes initlint cannot read: N(0, 1) grows the signal with every fan_in above 1
                what = "the signal's scale grows with fan_in at every layer"
            followers = {layer.follower for layer in reach}
            fix = rewriter.fitting_init(site, reach[0].follower, "scaled init") if len(followers) == 1 \
                else self._default_init(site, rewriter)
            yield RawFinding(self.code, site.call,
                             f"{site.func} with {default} on {layer_names(reach, site=site)}: "
                             f"{what}", fix)

    @staticmethod
    def _default_init(site, rewriter):
        """Layers followed by different activations, or by none initlint can see: PyTorch's own default."""
        return rewriter.replace_call(site, "kaiming_uniform_", f"{rewriter.parameter(site)}, a=5 ** 0.5",
                                     "use PyTorch's default init (kaiming_uniform_, a=sqrt(5))")

    @staticmethod
    def _unscaled(site) -> bool:
        offset = 1 if site.via == "torch" else 0  # nn.init takes the tensor first
        signatures = INIT_SIGNATURES if site.via == "torch" else TENSOR_METHOD_SIGNATURES
        if site.args is None or site.func not in signatures or binding_problems(site.args, signatures[site.func]):
            return False  # a call that cannot bind raises (INI107): it sets no scale at all
        helper = helper_signature(site.call)  # ``normal_init(m, stddev=0.01)``: the helper raises
        if helper is not None and binding_problems(site.call, helper):
            return False
        # Given explicitly, the defaults are just as unscaled: ``normal_(w, 0, 1)``, ``uniform_(0.0, 1.0)``.
        if site.func == "normal_" or (site.func == "trunc_normal_" and site.via == "torch"):
            return _is(site.argument(offset + 1, "std"), None, 1)
        if site.func == "uniform_":
            low = site.argument(offset, "a") or site.argument(offset, "from")
            high = site.argument(offset + 1, "b") or site.argument(offset + 1, "to")
            return _is(low, None, 0) and _is(high, None, 1)
        return False

    @staticmethod
    def _scale_left_out(site) -> bool:
        offset = 1 if site.via == "torch" else 0
        if site.func == "uniform_":
            return all(site.argument(offset + i, keyword) is None
                       for i, keyword in ((0, "a"), (1, "b"), (0, "from"), (1, "to")))
        return site.argument(offset + 1, "std") is None


def _per_layer(reach, count: int) -> str:
    """Where every reached layer sums the same literal number of inputs, the growth per layer."""
    fans = {signal_fans(layer) for layer in with_copies(reach)}
    factors = {signal_factor(layer, lambda fan_in, fan_out: 1.0, None) for layer in with_copies(reach)}
    if len(fans) != 1 or None in fans or len(factors) != 1:
        return ""
    per_layer = f"{factors.pop() ** 0.5:.0f}x per layer: " if count > 1 else ""
    return f" ({per_layer}fan_in={fans.pop()[1]})"


class _RunTimeRescaling:
    """Whether a layer's N(0, 1) weight is deliberate because something rescales it at run time:
    StyleGAN/ProGAN's equalized learning rate, or a spectral norm."""

    def __init__(self, rewriter) -> None:
        self.rewriter = rewriter
        self.by_scope: dict[int, tuple] = {}

    def applies(self, layer, site) -> bool:
        scope = layer.scope
        if _EQUALIZED_CLASS.match(layer.class_name) or (scope.is_class and _EQUALIZED_CLASS.match(scope.name)):
            return True
        if self._wrapped(layer.statement, lambda arg: arg is layer.call):
            return True
        if not site.loop:
            owner = self.rewriter.code(site.owner)
            if self._wrapped(site.function or self.rewriter.module,
                             lambda arg: self.rewriter.code(arg) == owner):
                return True
        if not scope.is_class:
            return False
        scaled_weights, scaled_calls = self._scaled_in_methods(scope)
        return any(f"{path}.weight" in scaled_weights for path in layer.paths) \
            or (len(scope.layers) == 1 and any(path in scaled_calls for path in layer.paths))

    def _wrapped(self, where, is_layer) -> bool:
        """A rescaling wrapper in ``where`` is handed the layer: ``equal_lr(conv)``,
        ``spectral_norm(nn.Conv2d(...))``."""
        if where is None:
            return False
        for node in walk(where):
            if type(node) is cst.Call and _RESCALING_WRAPPER.search(dotted(node.func) or "") \
                    and any(is_layer(arg.value) for arg in node.args):
                return True
        return False

    def _scaled_in_methods(self, scope) -> tuple:
        """What the class's run-time methods multiply or divide: ``self.x.weight`` texts, and the layers
        whose input or output is scaled by an attribute computed with a square root or a power
        (``self.scale = (2 / fan_in) ** 0.5``; ``self.conv(x * self.scale)``)."""
        cached = self.by_scope.get(id(scope))
        if cached is not None:
            return cached
        scale_names = set()
        for function in scope.methods.values():
            for node in walk(function):
                if type(node) is cst.Assign and len(node.targets) == 1 and _uses_root_or_power(node.value):
                    target = dotted(node.targets[0].target) or ""
                    if target.startswith("self."):
                        scale_names.add(target)
        weights, calls = set(), set()
        for name, function in scope.methods.items():
            if name == "__init__":
                continue
            for node in walk(function):
                if type(node) is cst.BinaryOperation and type(node.operator) in (cst.Multiply, cst.Divide):
                    operands = [self.rewriter.code(node.left), self.rewriter.code(node.right)]
                    weights.update(text for text in operands if text.endswith(".weight"))
                    if scale_names & set(operands):
                        calls.update(_layer_called_on(node, function))
        self.by_scope[id(scope)] = (weights, calls)
        return weights, calls


def _is(expr, *values) -> bool:
    """Whether an argument is left out (None among ``values``) or a literal equal to one of ``values``."""
    if expr is None:
        return None in values
    value = number(expr)
    return value is not None and value in values


def _uses_root_or_power(expr) -> bool:
    for node in walk(expr):
        if type(node) is cst.BinaryOperation and type(node.operator) is cst.Power:
            return True
        if type(node) is cst.Call and (dotted(node.func) or "").rsplit(".", 1)[-1] in ("sqrt", "rsqrt"):
            return True
    return False


def _layer_called_on(product, function) -> set:
    """``self.conv`` for ``self.conv(x * s)`` and ``self.conv(x) * s``."""
    called = set()
    for node in walk(function):
        if type(node) is cst.Call and (any(arg.value is product for arg in node.args)
                                       or node is product.left or node is product.right):
            name = dotted(node.func)
            if name is not None:
                called.add(name)
    return called
