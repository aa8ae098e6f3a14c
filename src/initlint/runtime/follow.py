"""Find what follows each Linear/Conv layer: the first op that consumes its output
and is not a pass-through (dropout, pooling, flatten/reshape/view/permute, identity).

Two strategies, same classification:

* ``torch.fx`` symbolic tracing (no inputs needed, nothing is executed);
* when tracing fails (data-dependent control flow, ...), run the model once on
  ``example_inputs`` under a ``TorchFunctionMode`` that tags each layer's output
  tensor and follows the tag through pass-through ops.

A norm or residual add is recorded with what comes after it (``Follower.then``).
"""
from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

import torch
import torch.fx
import torch.nn as nn
from torch.overrides import TorchFunctionMode

from .fans import is_hf_conv1d
from .gains import RELU_FAMILY, named_gain, canonical_name, describe_call, describe_module

LAYER_TYPES = (nn.Linear, nn.modules.conv._ConvNd)


def is_layer(module: nn.Module) -> bool:
    """A Linear/Conv (subclasses included) or Hugging Face's Conv1D."""
    return isinstance(module, LAYER_TYPES) or is_hf_conv1d(module)


def attention_out_projections(model: nn.Module) -> dict[str, str]:
    """MultiheadAttention module name -> its out_proj's name.  MultiheadAttention
    uses out_proj's weight directly (out_proj is never called), so its output
    stands for out_proj's."""
    return {name: f"{name}.out_proj" if name else "out_proj" for name, module in model.named_modules()
            if isinstance(module, nn.MultiheadAttention)}

_PASS_NAMES = frozenset({
    "dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout",
    "identity", "flatten", "unflatten", "reshape", "view", "view_as", "permute", "transpose",
    "t", "contiguous", "squeeze", "unsqueeze", "getitem", "chunk", "split", "narrow", "expand",
    "expand_as", "clone", "to", "float", "double", "half", "bfloat16", "type", "detach",
    "cat", "concat", "stack", "pad", "mean", "interpolate", "pixel_shuffle",
})
# Shape/metadata queries: they read the tensor but do not consume its values.
_IGNORED_NAMES = frozenset({
    "size", "dim", "get", "numel", "getattr", "is_contiguous", "data_ptr", "stride",
    "format", "repr", "len", "requires_grad_", "element_size",
})
_NORM_NAMES = frozenset({"batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm",
                         "local_response_norm"})
_ADD_NAMES = frozenset({"add", "iadd", "radd", "sub", "isub", "rsub"})
_LAYER_NAMES = frozenset({"linear", "bilinear", "conv1d", "conv2d", "conv3d",
                          "conv_transpose1d", "conv_transpose2d", "conv_transpose3d"})

_PASS_MODULES = (
    nn.modules.dropout._DropoutNd, nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd,
    nn.modules.pooling._AdaptiveAvgPoolNd, nn.modules.pooling._AdaptiveMaxPoolNd,
    nn.Flatten, nn.Unflatten, nn.Identity, nn.Upsample, nn.PixelShuffle,
    nn.modules.padding._ConstantPadNd, nn.modules.padding._ReflectionPadNd,
    nn.modules.padding._ReplicationPadNd, nn.ZeroPad2d,
)
# Module classes -> the functional names they call, so both strategies agree on names.
_NORM_MODULES = {
    nn.modules.batchnorm._BatchNorm: "batch_norm", nn.GroupNorm: "group_norm",
    nn.LayerNorm: "layer_norm", nn.modules.instancenorm._InstanceNorm: "instance_norm",
    nn.LocalResponseNorm: "local_response_norm",
}
if hasattr(nn, "RMSNorm"):  # torch >= 2.4
    _NORM_MODULES[nn.RMSNorm] = "rms_norm"


@dataclass(frozen=True)
class Follower:
    """What consumes a layer's output.

    kind: "activation" | "norm" | "add" | "layer" | "output" | "other" | "unknown"
    op:   "relu", "gelu", "leaky_relu", "batch_norm", "add", "linear", "conv2d", "matmul", ...
          (functional names, whichever strategy found them)
    gain: the activation's gain (kind == "activation" only)
    then: for a norm or add, what follows it
    """

    kind: str
    op: str
    gain: Optional[float] = None
    then: Optional["Follower"] = None

    @property
    def activation(self) -> Optional["Follower"]:
        """The activation applied to this layer's signal, directly or after a norm."""
        if self.kind == "activation":
            return self
        if self.kind == "norm" and self.then is not None and self.then.kind == "activation":
            return self.then
        return None

    @property
    def is_relu_family(self) -> bool:
        return self.kind == "activation" and self.op in RELU_FAMILY

    def __str__(self) -> str:
        return self.op if self.then is None else f"{self.op} -> {self.then}"


OUTPUT = Follower("output", "output")
UNKNOWN = Follower("unknown", "unknown")
_PASS = Follower("pass", "pass")
_IGNORE = Follower("ignore", "ignore")


def _activation(described: tuple) -> Follower:
    name, param = described
    return Follower("activation", name, named_gain(name, param))


def classify_call(name: str, args: tuple = (), kwargs: Optional[dict] = None) -> Follower:
    """Classify a function or method call by name (``F.relu``, ``Tensor.view``, ``operator.add``)."""
    name = canonical_name(name).strip("_")
    if name in _IGNORED_NAMES:
        return _IGNORE
    if name in _PASS_NAMES or "pool" in name:
        return _PASS
    if name in _NORM_NAMES:
        return Follower("norm", name)
    if name.rstrip("_") in _ADD_NAMES:
        return Follower("add", "add")
    if name in _LAYER_NAMES:
        return Follower("layer", name)
    described = describe_call(name, args, kwargs or {})
    if described is not None:
        return _activation(described)
    return Follower("other", name)


def classify_module(module: nn.Module) -> Follower:
    if isinstance(module, _PASS_MODULES):
        return _PASS
    for cls, name in _NORM_MODULES.items():
        if isinstance(module, cls):
            return Follower("norm", name)
    if isinstance(module, nn.modules.conv._ConvNd):
        transposed = "_transpose" if module.transposed else ""
        return Follower("layer", f"conv{transposed}{len(module.kernel_size)}d")
    if isinstance(module, (nn.Linear, nn.Bilinear)) or is_hf_conv1d(module):
        return Follower("layer", "bilinear" if isinstance(module, nn.Bilinear) else "linear")
    described = describe_module(module)
    if described is not None:
        return _activation(described)
    return Follower("other", type(module).__name__)


def _finish(first: Follower, then: Optional[Follower]) -> Follower:
    """Attach what follows a norm/add (one level deep is all a decision needs)."""
    if first.kind in ("norm", "add"):
        return Follower(first.kind, first.op, first.gain, then or UNKNOWN)
    return first


# ---------------------------------------------------------------- torch.fx strategy

class _LayerTracer(torch.fx.Tracer):
    """Keeps every layer a call_module node, also subclasses defined outside torch.nn
    (timm's ScaledStdConv2d) and Hugging Face's Conv1D, which fx would trace through;
    traces into torch.nn modules that hold layers (nn.TransformerEncoderLayer), which
    fx would keep whole, except MultiheadAttention (its out_proj is never called)."""

    def __init__(self, into_torch_modules: bool = True):
        super().__init__()
        self.into_torch_modules = into_torch_modules

    def is_leaf_module(self, module: nn.Module, qualified_name: str) -> bool:
        if is_layer(module) or isinstance(module, nn.MultiheadAttention):
            return True
        holds_layers = self.into_torch_modules and any(is_layer(inner) for inner in module.modules()
                                                       if inner is not module)
        return super().is_leaf_module(module, qualified_name) and not holds_layers


def _fx_followers(model: nn.Module, into_torch_modules: bool = True) -> dict[str, Follower]:
    tracer = _LayerTracer(into_torch_modules)
    graph = tracer.trace(model)
    graph_module = torch.fx.GraphModule(tracer.root, graph)
    out_projections = attention_out_projections(graph_module)
    modules = dict(graph_module.named_modules())
    order = {node: index for index, node in enumerate(graph_module.graph.nodes)}

    def classify(node: torch.fx.Node) -> Follower:
        if node.op == "output":
            return OUTPUT
        if node.op == "call_module":
            return classify_module(modules[node.target])
        if node.op == "call_function":
            if node.target is getattr:
                return _IGNORE
            return classify_call(getattr(node.target, "__name__", ""), node.args, node.kwargs)
        if node.op == "call_method":
            return classify_call(node.target, node.args, node.kwargs)
        return Follower("other", node.op)

    def first_consumer(start: torch.fx.Node) -> tuple[Optional[Follower], Optional[torch.fx.Node]]:
        found: list[tuple[int, Follower, torch.fx.Node]] = []
        frontier, seen = [start], {start}
        while frontier:
            node = frontier.pop()
            for user in node.users:
                if user in seen:
                    continue
                seen.add(user)
                step = classify(user)
                if step is _PASS:
                    frontier.append(user)
                elif step is not _IGNORE:
                    found.append((order[user], step, user))
        if not found:
            return None, None
        _, step, node = min(found, key=lambda item: item[0])
        return step, node

    followers: dict[str, Follower] = {}
    for node in graph_module.graph.nodes:
        if node.op != "call_module":
            continue
        name = out_projections.get(node.target, node.target)
        if name in followers:
            continue  # a layer called twice is judged by its first call
        if not is_layer(modules[node.target]) and node.target not in out_projections:
            continue
        step, step_node = first_consumer(node)
        if step is None:
            followers[name] = UNKNOWN
            continue
        then = first_consumer(step_node)[0] if step.kind in ("norm", "add") else None
        followers[name] = _finish(step, then)
    return followers


# ----------------------------------------------------- TorchFunctionMode strategy

def tensors_in(value: Any) -> Iterable[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from tensors_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from tensors_in(item)


@dataclass
class _Tag:
    layer: str
    pending: Optional[Follower] = None  # a norm/add already seen, waiting for its "then"
    averaged: float = 1.0  # second-moment factor of global averages passed through (see on_pass)


class FollowMode(TorchFunctionMode):
    """Tags each layer's first output and records the first real op that consumes it.

    A layer's output is tagged by a forward hook on the layer (see :func:`hooked`),
    which also covers parametrized weights, and by the weight's identity when a
    functional ``F.linear(x, layer.weight)`` uses it outside the module.
    Subclasses measure tensors through the ``on_*`` methods; ``paused`` lets them
    run tensor code of their own without it being followed.
    """

    def __init__(self, layer_of_weight: dict[int, str]):
        super().__init__()
        self.layer_of_weight = layer_of_weight
        # id -> (weak reference, tag): tags never keep a tensor alive, and a reused
        # id is recognised because its reference no longer points at the tensor.
        self.tags: dict[int, tuple[weakref.ref, _Tag]] = {}
        self.followers: dict[str, Follower] = {}
        self.started: set = set()
        self.paused = False

    def tag_of(self, tensor: torch.Tensor) -> Optional[_Tag]:
        entry = self.tags.get(id(tensor))
        return entry[1] if entry is not None and entry[0]() is tensor else None

    def tag(self, value: Any, tag: _Tag) -> None:
        for tensor in tensors_in(value):
            self.tags[id(tensor)] = (weakref.ref(tensor), tag)

    def layer_output(self, name: str, output: Any, layer_input: Any = None) -> None:
        """A layer produced ``output`` (from ``layer_input``, when known); only its first call counts."""
        if name in self.started:
            return
        self.started.add(name)
        self.on_layer_output(name, output, layer_input)
        self.tag(output, _Tag(name))

    def reached_output(self, output: Any) -> None:
        """The model returned ``output``: layers whose tag reached it are followed by the output."""
        for tensor in tensors_in(output):
            tag = self.tag_of(tensor)
            if tag is not None:
                self.resolve(tag, OUTPUT)

    def on_layer_output(self, name: str, output: Any, layer_input: Any = None) -> None:
        """Called once per layer with its first output, before anything consumes it."""

    def on_pass(self, func: Callable, before: torch.Tensor, result: Any, tag: _Tag) -> _Tag:
        """A pass-through op ``func`` made ``result`` from the tagged ``before``: the tag to carry on."""
        return tag

    def on_activation(self, name: str, step: Follower, before: torch.Tensor, call: Callable) -> Any:
        """The activation ``step`` is applied to layer ``name``'s signal ``before``;
        ``call()`` applies it and returns the result."""
        return call()

    def resolve(self, tag: _Tag, step: Follower) -> Optional[_Tag]:
        """Record ``step`` for the tag's layer; return a tag to carry on, if any."""
        if tag.layer in self.followers:
            return None
        if tag.pending is not None:
            self.followers[tag.layer] = _finish(tag.pending, step)
            return None
        if step.kind in ("norm", "add"):
            return _Tag(tag.layer, step)
        self.followers[tag.layer] = step
        return None

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: Optional[dict] = None):
        kwargs = kwargs or {}
        if self.paused:
            return func(*args, **kwargs)
        step = classify_call(getattr(func, "__name__", ""), args, kwargs)
        tagged = []
        if step is not _IGNORE:
            for tensor in tensors_in((args, kwargs)):
                tag = self.tag_of(tensor)
                if tag is not None:
                    tagged.append((tensor, tag))
        activated = next(((tensor, tag) for tensor, tag in tagged
                          if step.kind == "activation" and tag.layer not in self.followers
                          and (tag.pending is None or tag.pending.kind == "norm")), None)
        if activated is not None:
            result = self.on_activation(activated[1].layer, step, activated[0], lambda: func(*args, **kwargs))
        else:
            result = func(*args, **kwargs)
        for tensor, tag in tagged:
            carry = self.on_pass(func, tensor, result, tag) if step is _PASS else self.resolve(tag, step)
            if carry is not None:
                self.tag(result, carry)
        if step.kind == "layer" and len(args) > 1 and id(args[1]) in self.layer_of_weight:
            self.layer_output(self.layer_of_weight[id(args[1])], result, args[0])
        return result


class hooked:
    """Context manager: forward hooks that hand each Linear/Conv's output to ``mode``."""

    def __init__(self, model: nn.Module, mode: FollowMode):
        self.model, self.mode = model, mode

    def __enter__(self) -> FollowMode:
        def hook(module: nn.Module, args: Any, output: Any, name: str) -> None:
            self.mode.layer_output(name, output, args[0] if args else None)

        def attention_hook(module: nn.Module, args: Any, output: Any, name: str) -> None:
            self.mode.layer_output(name, output[0] if isinstance(output, tuple) else output)

        self.handles = [module.register_forward_hook(functools.partial(hook, name=name))
                        for name, module in self.model.named_modules() if is_layer(module)]
        modules = dict(self.model.named_modules())
        self.handles += [modules[attention].register_forward_hook(functools.partial(attention_hook, name=name))
                         for attention, name in attention_out_projections(self.model).items()]
        return self.mode

    def __exit__(self, *exc: Any) -> None:
        for handle in self.handles:
            handle.remove()


def plain_weights(model: nn.Module) -> dict[int, str]:
    """id of each layer's weight tensor -> layer name (parametrized weights have none)."""
    return {id(m._parameters["weight"]): name for name, m in model.named_modules()
            if is_layer(m) and m._parameters.get("weight") is not None}


def run_inputs(model: nn.Module, example_inputs: Any) -> Any:
    """Call ``model`` with a tensor, a tuple/list of positional args, or a dict of kwargs."""
    if isinstance(example_inputs, dict):
        return model(**example_inputs)
    if isinstance(example_inputs, (tuple, list)):
        return model(*example_inputs)
    return model(example_inputs)


class eval_mode:
    """Context manager: eval mode (no dropout, no BN statistics update), no grad,
    restoring each module's training flag afterwards."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self) -> nn.Module:
        self.flags = [(module, module.training) for module in self.model.modules()]
        self.no_grad = torch.no_grad()
        self.no_grad.__enter__()
        self.model.eval()
        return self.model

    def __exit__(self, *exc: Any) -> None:
        self.no_grad.__exit__(*exc)
        for module, flag in self.flags:
            module.training = flag


def _runtime_followers(model: nn.Module, example_inputs: Any) -> dict[str, Follower]:
    layers = [name for name, m in model.named_modules() if is_layer(m)]
    mode = FollowMode(plain_weights(model))
    with eval_mode(model), hooked(model, mode), mode:
        output = run_inputs(model, example_inputs)
    mode.reached_output(output)
    return {name: mode.followers.get(name, UNKNOWN) for name in layers}


def find_followers(model: nn.Module, example_inputs: Any = None) -> tuple[dict[str, Follower], str]:
    """Map each Linear/Conv module name to its :class:`Follower`; also return the
    strategy used ("fx" or "torch_function")."""
    layer_names = [name for name, m in model.named_modules() if is_layer(m)]
    try:
        traced = _fx_followers(model)
    except Exception as error:  # any tracing failure means: fall back to running the model
        if example_inputs is not None:
            return _runtime_followers(model, example_inputs), "torch_function"
        try:  # torch.nn's composite modules (nn.TransformerEncoderLayer) whole: their layers stay unknown
            traced = _fx_followers(model, into_torch_modules=False)
        except Exception:
            raise ValueError(
                f"torch.fx cannot trace {type(model).__name__} ({type(error).__name__}: {error}); "
                "pass example_inputs so the model can be run instead"
            ) from error
    return {name: traced.get(name, UNKNOWN) for name in layer_names}, "fx"
