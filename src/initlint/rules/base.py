"""What every rule shares: its metadata, and small questions about facts."""
from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Iterable, Optional

import libcst as cst

from ..analysis import vocab
from ..analysis.facts import FileFacts, Follower, InitSite, Layer
from ..analysis.patterns import is_self_path
from ..analysis.signal_path import SignalPaths
from ..analysis.syntax import argument, number
from ..findings import RawFinding


# The factor by which the forward signal's RMS must change along the model's path (shrink or growth)
# for INI002-INI005 to report: the configured default (``min-signal-change``), about 6 default-init
# ReLU layers, 14 square Xavier ones.
MIN_SIGNAL_CHANGE = 100.0


@dataclass(frozen=True)
class Options:
    """Rule options. ``Options()`` gives the rules' every finding (``min_signal_change=1``); what the
    command line, flake8 and pre-commit use by default comes from the configuration
    (``config.Settings().options``: ``min-signal-change`` = MIN_SIGNAL_CHANGE)."""
    relu_stack_depth: int = 2
    min_signal_change: float = 1.0
    extra_relu_activations: frozenset = frozenset()  # user callables/classes that act like ReLU


class Rule:
    code: str = ""
    name: str = ""
    summary: str = ""
    docs: str = ""        # Markdown: what it does, why it is bad, example, use instead, fix, references
    fixable: bool = False
    # "error": crashes, does nothing, or leaves the net untrainable; "warning": slows or stalls training;
    # "advice": harmless but worth knowing. Advice rules run only when selected.
    severity: str = "warning"
    # "safe": only initial values or a crash guard change; "unsafe": parameters, names or shapes change.
    fix_safety: str = "safe"

    @property
    def default_enabled(self) -> bool:
        return self.severity != "advice"

    def check(self, facts: FileFacts, options: Options, fixer) -> Iterable[RawFinding]:
        raise NotImplementedError


def relu_like(follower: Follower) -> bool:
    return follower.kind == "act" and follower.act in vocab.RELU_FAMILY


def nonlinear_next(follower: Follower) -> bool:
    """The layer is hidden: its output goes through a nonlinearity (directly, or after a norm) into
    another layer. A sigmoid or tanh whose output is the model's output marks an output head."""
    if follower.kind == "act":
        return follower.act != "softmax" and follower.then is not None and follower.then.kind == "layer"
    if follower.kind == "norm" and follower.then is not None:
        return nonlinear_next(follower.then)
    return False


def constant_value(site: InitSite) -> tuple[bool, Optional[float]]:
    """Whether the site sets a constant, and which (None when not a literal)."""
    if site.func in ("zeros_", "zero_"):
        return True, 0.0
    if site.func == "ones_":
        return True, 1.0
    if site.func == "constant_":
        return True, number(site.argument(1, "val"))
    if site.func == "fill_":
        return True, number(site.argument(0, "value"))
    return False, None


def runs(facts: FileFacts, site: InitSite) -> bool:
    """Whether the site's code runs: not in an init method nothing calls, or calls only under a flag
    that defaults to off and no caller turns on."""
    return site.function is None or id(site.function) not in facts.dormant


def effective_reach(facts: FileFacts, site: InitSite) -> list[Layer]:
    """The layers this site reaches where no later init overrides it (loaded weights do too)."""
    return [layer for layer in site.reach if not layer.values_loaded and facts.is_effective(site, layer)]


def layer_label(layer: Layer, site: Optional[InitSite] = None) -> str:
    """A layer's name for messages: its path (``Net.fc1`` when the site is outside the layer's class),
    else where it is built; a layer built by a loop is named with its copies."""
    if not layer.paths:
        return f"the {layer.class_name} built at line {line_of(layer.call)}"
    name = layer.name
    if site is not None and is_self_path(name) and layer.scope is not None and layer.scope.is_class \
            and not any(site.function is method for method in layer.scope.methods.values()):
        name = layer.scope.name + name[4:]
    if name.endswith("[*]"):
        return f"the {layer.class_name} layers of {name[:-3]}"
    return f"{name} and its copies" if layer.repeated else name


def line_of(node) -> str:
    """A placeholder the engine turns into the node's line number once positions are known."""
    return f"\x00{id(node)}\x00"


def layer_names(layers: list[Layer], limit: int = 3, site: Optional[InitSite] = None) -> str:
    names = []
    for layer in layers:
        label = layer_label(layer, site)
        if label not in names:
            names.append(label)
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def literal_fans(layer: Layer) -> Optional[tuple[int, int]]:
    """``(fan_in, fan_out)`` of a layer built with literal sizes (ungrouped convs), else None."""
    if layer.call is None or layer.custom_class:
        return None
    if layer.kind == "Linear":
        sizes = [number(_size(layer, 0, "in_features")), number(_size(layer, 1, "out_features"))]
        return (int(sizes[0]), int(sizes[1])) if None not in sizes else None
    channels = [number(_size(layer, 0, "in_channels")), number(_size(layer, 1, "out_channels"))]
    kernel = _size(layer, 2, "kernel_size")
    groups = argument(layer.call, 7 if layer.kind.startswith("ConvTranspose") else 6, "groups")
    if None in channels or kernel is None or groups is not None:
        return None
    receptive = _kernel_volume(layer, kernel, 1)
    if receptive is None:
        return None
    fan_in, fan_out = int(channels[0]) * receptive, int(channels[1]) * receptive
    return (fan_out, fan_in) if layer.kind.startswith("ConvTranspose") else (fan_in, fan_out)


def _size(layer: Layer, position: int, keyword: str):
    """A size argument of the layer's construction, as the builder calls around it give it
    (``nn.Conv2d(cin, cout, k)`` in ``nin_block(1, 96, 11, 4, 0)``)."""
    return _given(layer, argument(layer.call, position, keyword))


def _given(layer: Layer, expr):
    for frame in layer.bindings:  # innermost builder first; a name it does not bind is no parameter
        if type(expr) is not cst.Name or expr.value not in frame:
            break
        expr = frame[expr.value]
    return expr


def _kernel_volume(layer: Layer, expr, default: int) -> Optional[int]:
    """The product of a literal kernel size or stride (an int or a tuple of ints)."""
    if expr is None:
        return default
    if number(expr) is not None:
        return int(number(expr)) ** int(layer.kind[-2])
    if type(expr) is not cst.Tuple:
        return None
    volume = 1
    for element in expr.elements:
        size = number(_given(layer, element.value))
        if size is None:
            return None
        volume *= int(size)
    return volume


def signal_fans(layer: Layer) -> Optional[tuple[float, int, int]]:
    """``(taps, fan_in, fan_out)`` of a layer built with literal sizes: how many inputs each output sums
    (for a strided ConvTranspose, in_channels x kernel / stride), and the fans PyTorch's inits use
    (for a ConvTranspose, whose weight is (in, out, k...), fan_in is out_channels x kernel)."""
    fans = literal_fans(layer)
    if fans is None:
        return None
    if not layer.kind.startswith("ConvTranspose"):
        return float(fans[0]), fans[0], fans[1]
    stride = _kernel_volume(layer, _size(layer, 3, "stride"), 1)
    if not stride:
        return None
    return fans[1] / stride, fans[0], fans[1]


def activation_keep(follower: Follower) -> float:
    """The fraction of the second moment the activation after a layer keeps: (1 + slope^2) / 2 for
    the ReLU family, 1 for anything else (the linear regime)."""
    if follower.kind != "act" or follower.act not in vocab.RELU_FAMILY:
        return 1.0
    gain = vocab.activation_gain(follower.act, follower.slope)
    return 1.0 if gain is None else 1 / gain ** 2


def signal_factor(layer: Layer, weight_variance: Optional[float], width_free: float) -> float:
    """By how much the layer (and its activation) multiplies the signal's second moment: from the
    weight's variance where the sizes are literal, else the width-free ``width_free``.
    ``weight_variance`` maps ``(fan_in, fan_out)`` to Var(w)."""
    fans = signal_fans(layer)
    if fans is None or weight_variance is None:
        return width_free
    taps, fan_in, fan_out = fans
    return taps * weight_variance(fan_in, fan_out) * activation_keep(layer.follower)


def with_copies(layers) -> list:
    """The layers with their copies for a builder's later calls: one init reaches them all, and each has
    its own sizes and place along the model's path."""
    return [each for layer in layers for each in (layer, *layer.copies)]


def rms_change(variance_factor: float) -> float:
    """The log of the RMS change of a second-moment factor, as SignalPaths adds them up."""
    return 0.5 * math.log(variance_factor) if variance_factor > 0 else 0.0


class Effect:
    """How much a rule's layers change the forward signal along the model's path, and whether that
    crosses ``min-signal-change``. ``factors``: id(layer) -> (layer, second-moment factor); factors
    below 1 shrink the signal, above 1 grow it, and a path compounds those in one direction."""

    def __init__(self, facts: FileFacts, options: Options, factors: dict) -> None:
        self.options = options
        self.factors = factors
        self.shrinking = SignalPaths(facts, lambda l: -rms_change(self._factor(l)) if self._factor(l) < 1 else 0.0)
        self.growing = SignalPaths(facts, lambda l: rms_change(self._factor(l)) if self._factor(l) > 1 else 0.0)

    def _factor(self, layer: Layer) -> float:
        entry = self.factors.get(id(layer))
        return 1.0 if entry is None else entry[1]

    def along(self, layers) -> tuple[float, int, Optional[Layer]]:
        """The largest RMS change along a path through any of ``layers`` (a factor >= 1, either way),
        how many such layers the path holds, and the last of them."""
        return self.path_through(layers)[:3]

    def path_through(self, layers) -> tuple[float, int, Optional[Layer], tuple]:
        """As ``along``, with the path's layers in order."""
        best = (1.0, 0, None, ())
        for layer in with_copies(layers):
            factor = self._factor(layer)
            if factor == 1.0:
                continue
            paths = self.shrinking if factor < 1 else self.growing
            total, count, last, path = paths.through(layer)
            if math.exp(total) > best[0]:
                best = (math.exp(total), count, last, path)
        return best

    def activations_level(self, facts: FileFacts, path: tuple) -> Optional[float]:
        """By how much the activations themselves shrink along ``path`` with PyTorch's default biases
        (Var(b) = 1/(3 fan_in), a floor the signal cannot push them under), from unit-scale input;
        None where a size is not literal or a bias is not the default."""
        second_moment = 1.0
        for layer in path:
            fans = signal_fans(layer)
            if fans is None or (layer.looped and not layer.loop_copies):
                return None
            bias = 0.0
            if layer.bias == "true" and not facts.sites_for(layer.original or layer, "bias"):
                bias = activation_keep(layer.follower) / (3 * fans[1])
            elif layer.bias != "false" and layer.bias != "true":
                return None
            for _ in range(layer.loop_copies or 1):
                second_moment = self._factor(layer) * second_moment + bias
        return second_moment ** -0.5 if second_moment > 0 else None

    def reported(self, change: float) -> bool:
        return change >= self.options.min_signal_change


def describe_change(change: float, count: int, last: Optional[Layer], home=None, grows: bool = False,
                    site: Optional[InitSite] = None) -> str:
    """``the signal shrinks about 529x over 7 such layers by self.fc7``; a last layer in another class
    than ``home`` (the scope of the finding's layers) is named with its class (``DoubleConv.conv2``)."""
    verb = "grows" if grows else "shrinks"
    label = None if last is None else layer_label(last, site)
    if label is not None and last.scope is not home and last.scope is not None and last.scope.is_class \
            and is_self_path(label):
        label = last.scope.name + label[4:]
    where = f" by {label}" if label is not None else ""
    over = f" over {count} such layers" if count > 1 else ""
    return f"the signal {verb} about {_times(change)}{over}{where}"


def bias_note(effect: Effect, facts: FileFacts, change: float, path: tuple) -> str:
    """Where PyTorch's default biases keep the activations well above the shrunken signal (narrow
    layers), say so: the signal still carries little of the input, but the activations do not vanish."""
    level = effect.activations_level(facts, path)
    if level is None or level * 3 > change:
        return ""
    return f", though the default biases keep the activations themselves within about {_times(max(level, 1.0))}"


def _times(change: float) -> str:
    return f"{change:.1f}x" if change < 10 else f"{change:.0f}x" if change < 1e6 else f"{change:.0e}x"
