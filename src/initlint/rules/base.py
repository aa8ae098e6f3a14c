"""What every rule shares: its metadata, and small questions about facts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import libcst as cst

from ..analysis import vocab
from ..analysis.facts import FileFacts, Follower, InitSite, Layer
from ..analysis.syntax import argument, number
from ..findings import RawFinding


@dataclass(frozen=True)
class Options:
    """Rule options from ``[tool.initlint]``."""
    relu_stack_depth: int = 2
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


def effective_reach(facts: FileFacts, site: InitSite) -> list[Layer]:
    """The layers this site reaches where no later init overrides it (loaded weights do too)."""
    return [layer for layer in site.reach if not layer.values_loaded and facts.is_effective(site, layer)]


def layer_label(layer: Layer, site: Optional[InitSite] = None) -> str:
    """A layer's name for messages: its path (``Net.fc1`` when the site is outside the layer's class),
    else where it is built; a layer built by a loop is named with its copies."""
    if not layer.paths:
        return f"the {layer.class_name} built at line {line_of(layer.call)}"
    name = layer.name
    if site is not None and name.startswith("self") and layer.scope is not None and layer.scope.is_class \
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
        sizes = [number(argument(layer.call, 0, "in_features")), number(argument(layer.call, 1, "out_features"))]
        return (int(sizes[0]), int(sizes[1])) if None not in sizes else None
    channels = [number(argument(layer.call, 0, "in_channels")), number(argument(layer.call, 1, "out_channels"))]
    kernel = argument(layer.call, 2, "kernel_size")
    groups = argument(layer.call, 7 if layer.kind.startswith("ConvTranspose") else 6, "groups")
    if None in channels or kernel is None or groups is not None:
        return None
    if number(kernel) is not None:
        receptive = int(number(kernel)) ** int(layer.kind[-2])
    else:
        if not isinstance(kernel, cst.Tuple):
            return None
        receptive = 1
        for element in kernel.elements:
            size = number(element.value)
            if size is None:
                return None
            receptive *= int(size)
    fan_in, fan_out = int(channels[0]) * receptive, int(channels[1]) * receptive
    return (fan_out, fan_in) if layer.kind.startswith("ConvTranspose") else (fan_in, fan_out)
