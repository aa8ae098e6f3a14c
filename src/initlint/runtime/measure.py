"""Run a model once and measure what each Linear/Conv hands on.

Everything is reduced to a few numbers as soon as it is produced: no layer
output is kept, so the run costs little more memory than a plain forward.
Statistics of a layer's output are taken in its forward hook, before anything
(an in-place ``relu_``, ``x += ...``) can change it.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
import torch.nn as nn

from .follow import UNKNOWN, Follower, FollowMode, hooked, plain_weights, run_inputs
from .gains import RELU_FAMILY

_SLICE = 1 << 22  # elements per slice of a temporary

# Below this share of its second moment varying across the batch, a layer's input is
# checked too (only then, so the common case costs nothing more).
_NEARLY_CONSTANT = 1e-3

# Outputs this close to an asymptote have a derivative below ~2-4% of its peak.
_TANH_SATURATED = 0.99
_SIGMOID_SATURATED = 0.01
_HARDTANH_BOUND = 1.0  # hardtanh(x) = clamp(x, -1, 1): zero gradient at and beyond the bounds


@dataclass
class LayerSignal:
    """What one layer's first call produced on the batch (see docs/runtime.md)."""

    pre_moment: float                     # per-sample second moment of the layer's output
    input_share: float                    # part of it that varies across the batch
    activation: str = ""                  # the activation measured after it, if any
    post_moment: Optional[float] = None   # per-sample second moment of that activation's output
    inactive_fraction: Optional[float] = None   # ReLU family: inputs < 0
    dead_units: Optional[float] = None          # ReLU family: units never > 0 on the batch
    saturated_fraction: Optional[float] = None  # tanh/sigmoid/hardtanh: outputs in the flat region
    in_bounds: float = 1.0                # conv with zero padding: share of kernel taps on the input, not padding
    received_share: Optional[float] = None  # the same share of the layer's input (measured only when the
                                            # output's is small: a loss already in the input is upstream's)
    averaged: float = 1.0                 # second-moment factor of the global averages (squeeze-excite,
                                          # pooled heads) between the model's input and this layer's


def second_moment(tensor: torch.Tensor) -> float:
    """mean(x^2) over every element: the per-sample second moment averaged over the batch."""
    values = tensor.detach()
    if values.numel() == 0:
        return math.nan
    wide = None if values.dtype in (torch.float32, torch.float64) else torch.float32
    return float(torch.linalg.vector_norm(values, dtype=wide)) ** 2 / values.numel()


def _pieces(values: torch.Tensor) -> list:
    """Flat slices of ``values``, so element-wise temporaries stay small."""
    return values.reshape(-1).split(_SLICE)


def _count(values: torch.Tensor, test: Callable[[torch.Tensor], torch.Tensor]) -> float:
    """Fraction of the elements for which ``test`` holds."""
    return sum(int(torch.count_nonzero(test(piece))) for piece in _pieces(values)) / max(values.numel(), 1)


def batch_variance(values: torch.Tensor) -> float:
    """Variance across the batch (dim 0) of each element, averaged over elements.

    Computed a block of columns at a time from the deviations from the first
    example (the shifted-data formula: exactly 0 when every example is the same,
    no cancellation against a large common offset); ``var(dim=0)`` on a column
    block is tens of times slower."""
    rows = values.reshape(values.shape[0], -1)
    count = rows.shape[0]
    columns = max(1, _SLICE // count)
    wide = None if rows.dtype in (torch.float32, torch.float64) else torch.float32
    total = 0.0
    for block in rows.split(columns, dim=1):
        shifted = block - block[:1]
        squares = float(torch.linalg.vector_norm(shifted, dtype=wide)) ** 2
        sums = float(torch.linalg.vector_norm(shifted.sum(0, dtype=wide))) ** 2
        total += max(squares - sums / count, 0.0)
    return total / max(rows.numel(), 1)


def _taps_inside(size: int, outputs: int, kernel: int, stride: int, dilation: int, before: int) -> int:
    """How many (output position, kernel tap) pairs of one dimension read the input
    rather than the zero padding: for each tap, the output positions it lands inside for."""
    inside = 0
    for tap in range(kernel):
        offset = tap * dilation - before  # input position = output * stride + offset
        first = -(offset // stride) if offset < 0 else 0  # ceil(-offset / stride)
        last = min(outputs - 1, (size - 1 - offset) // stride)
        inside += max(0, last - first + 1)
    return inside


def zero_padding_share(layer: nn.Module, layer_input: Any, output: torch.Tensor) -> float:
    """The share of a zero-padded conv's kernel taps, over its output positions, that
    fall on the input.  A 3x3 conv on a 2x2 map reads padding for 5 of 9 taps, so its
    output second moment is 4/9 of what its weights' scale predicts, whatever the init."""
    if (not isinstance(layer, nn.modules.conv._ConvNd) or layer.transposed or layer.padding_mode != "zeros"
            or not isinstance(layer_input, torch.Tensor)):
        return 1.0
    dims = len(layer.kernel_size)
    if layer_input.dim() < dims or output.dim() < dims:
        return 1.0
    padding = layer.padding
    if isinstance(padding, str):  # "valid": none; "same": total dilation * (k - 1), the smaller half first
        padding = [0 if padding == "valid" else d * (k - 1) // 2 for k, d in zip(layer.kernel_size, layer.dilation)]
    if not any(padding):
        return 1.0
    share = 1.0
    for size, outputs, kernel, stride, dilation, before in zip(
            layer_input.shape[-dims:], output.shape[-dims:], layer.kernel_size, layer.stride, layer.dilation,
            padding):
        if outputs and kernel:
            share *= _taps_inside(size, outputs, kernel, stride, dilation, before) / (outputs * kernel)
    return share


def _unit_dim(tensor: torch.Tensor, is_conv: bool) -> int:
    return 1 if is_conv and tensor.dim() >= 2 else tensor.dim() - 1


class batch_statistics:
    """Context manager for measuring: no grad, eval mode (no dropout) except that
    batch and instance norms normalise with the batch's own statistics, as in
    training, without updating any running statistic.  Every flag is restored."""

    def __init__(self, model: nn.Module):
        self.model = model

    def __enter__(self) -> nn.Module:
        self.flags = [(module, module.training) for module in self.model.modules()]
        norms = [m for m in self.model.modules() if isinstance(m, nn.modules.batchnorm._NormBase)]
        self.tracking = [(norm, norm.track_running_stats) for norm in norms]
        self.no_grad = torch.no_grad()
        self.no_grad.__enter__()
        self.model.eval()
        for norm in norms:
            norm.training = True
            norm.track_running_stats = False  # batch statistics, nothing recorded
        return self.model

    def __exit__(self, *exc: Any) -> None:
        self.no_grad.__exit__(*exc)
        for norm, tracking in self.tracking:
            norm.track_running_stats = tracking
        for module, flag in self.flags:
            module.training = flag


class _SignalMode(FollowMode):
    def __init__(self, model: nn.Module):
        super().__init__(plain_weights(model))
        self.conv_layers = {name: m for name, m in model.named_modules() if isinstance(m, nn.modules.conv._ConvNd)}
        self.signals: dict[str, LayerSignal] = {}  # in execution order
        self.stand_ins: dict[str, nn.Module] = {}  # for measured names that are not modules

    def _paused(self, compute: Callable[[], Any]) -> Any:
        self.paused = True  # our own tensor code must not count as consuming the signal
        try:
            return compute()
        finally:
            self.paused = False

    def on_layer_output(self, name: str, output: Any, layer_input: Any = None) -> None:
        if not isinstance(output, torch.Tensor) or output.dim() == 0:
            return

        def measure() -> LayerSignal:
            moment = second_moment(output)
            spread = batch_variance(output.detach()) if output.shape[0] > 1 else 0.0
            conv = self.conv_layers.get(name)
            in_bounds = 1.0 if conv is None else zero_padding_share(conv, layer_input, output)
            received = None
            if (spread <= _NEARLY_CONSTANT * moment and isinstance(layer_input, torch.Tensor)
                    and layer_input.dim() and layer_input.shape[0] > 1):
                received_moment = second_moment(layer_input)
                received = batch_variance(layer_input.detach()) / received_moment if received_moment > 0 else 0.0
            return LayerSignal(moment, spread / moment if moment > 0 else 0.0, in_bounds=in_bounds,
                               received_share=received, averaged=self._averaged_before(layer_input))

        self.signals[name] = self._paused(measure)

    def _averaged_before(self, layer_input: Any) -> float:
        """The global averages on the way to ``layer_input``: those since the layer that
        produced it, times that layer's own."""
        tag = self.tag_of(layer_input) if isinstance(layer_input, torch.Tensor) else None
        if tag is None:
            return 1.0
        producer = self.signals.get(tag.layer)
        return tag.averaged * (producer.averaged if producer is not None else 1.0)

    def on_pass(self, func: Callable, before: torch.Tensor, result: Any, tag: Any) -> Any:
        # A global average of a zero-mean map is small by geometry (its size depends on how
        # correlated the positions are), not because of any init: a squeeze-excite's squeeze.
        name = getattr(func, "__name__", "")
        if not isinstance(result, torch.Tensor) or not (
                name == "mean" or (name.startswith("adaptive_avg_pool") and result.dim() > 2
                                   and result[0, 0].numel() == 1)):
            return tag

        def factor() -> float:
            inside, outside = second_moment(before), second_moment(result)
            return outside / inside if inside > 0 else 1.0

        return dataclasses.replace(tag, averaged=tag.averaged * self._paused(factor))

    def on_activation(self, name: str, step: Follower, before: torch.Tensor, call: Callable) -> Any:
        signal = self.signals.get(name)
        if signal is None or signal.activation:
            return call()
        signal.activation = step.op
        if step.op in RELU_FAMILY:
            def inactive() -> None:
                values = before.detach()
                # Strictly negative: an exactly-zero input comes from upstream (a zero input
                # vector), not from this layer's weights or bias.
                signal.inactive_fraction = _count(values, lambda piece: piece < 0)
                unit_dim = _unit_dim(values, name in self.conv_layers)
                other = [d for d in range(values.dim()) if d != unit_dim]
                per_unit = values.amax(dim=other) if other else values
                signal.dead_units = float((per_unit <= 0).float().mean())
            self._paused(inactive)  # before the call: an in-place ReLU overwrites its input
        elif step.op == "hardtanh":  # flat (zero gradient) outside [-1, 1]; counted before an in-place call
            self._paused(lambda: setattr(signal, "saturated_fraction", _count(
                before.detach(), lambda piece: piece.abs() >= _HARDTANH_BOUND)))
        result = call()
        if isinstance(result, torch.Tensor):
            def after() -> None:
                signal.post_moment = second_moment(result)
                if step.op == "tanh":
                    signal.saturated_fraction = _count(result.detach(), lambda piece: piece.abs() > _TANH_SATURATED)
                elif step.op == "sigmoid":
                    signal.saturated_fraction = _count(result.detach(), lambda piece: (
                        (piece < _SIGMOID_SATURATED) | (piece > 1.0 - _SIGMOID_SATURATED)))
            self._paused(after)
        return result


class InProjection(nn.Module):
    """Stands for one of MultiheadAttention's input projections (q, k or v), which are
    parameters of the attention module, not layers: a Linear-shaped view of its
    weight block and bias block, for the audit's table and fingerprint."""

    def __init__(self, weight: torch.Tensor, bias: Optional[torch.Tensor]):
        super().__init__()
        self.weight, self.bias = weight, bias


_ATTENTION = Follower("other", "multi_head_attention")


def _projections(attention: nn.MultiheadAttention) -> list:
    """(suffix, weight, bias) of the q, k and v projections."""
    biases = attention.in_proj_bias.chunk(3) if attention.in_proj_bias is not None else (None,) * 3
    if attention.in_proj_weight is not None:
        weights = attention.in_proj_weight.chunk(3)
        return [(f"in_proj_weight[{part}]", weight, bias) for part, weight, bias in zip("qkv", weights, biases)]
    weights = (attention.q_proj_weight, attention.k_proj_weight, attention.v_proj_weight)
    return [(f"{part}_proj_weight", weight, bias) for part, weight, bias in zip("qkv", weights, biases)]


def _attention_hooks(model: nn.Module, mode: "_SignalMode") -> list:
    """Measure MultiheadAttention's q, k and v projections on the module's inputs
    (the module may take a fused fast path that never computes them one by one)."""

    def hook(attention: nn.MultiheadAttention, args: tuple, kwargs: dict, name: str) -> None:
        names = ("query", "key", "value")
        inputs = [args[i] if i < len(args) else kwargs.get(key) for i, key in enumerate(names)]
        batch_dim = 0 if attention.batch_first else 1

        def measure() -> None:
            for (suffix, weight, bias), tensor in zip(_projections(attention), inputs):
                key = f"{name}.{suffix}" if name else suffix
                if not isinstance(tensor, torch.Tensor) or key in mode.signals:
                    continue
                output = nn.functional.linear(tensor, weight, bias)
                if output.dim() > 1:
                    output = output.movedim(batch_dim, 0)
                moment = second_moment(output)
                spread = batch_variance(output) if output.dim() > 1 and output.shape[0] > 1 else 0.0
                mode.signals[key] = LayerSignal(moment, spread / moment if moment > 0 else 0.0)
                mode.stand_ins[key] = InProjection(weight.detach(), None if bias is None else bias.detach())
                mode.followers[key] = _ATTENTION

        mode._paused(measure)

    return [module.register_forward_pre_hook(functools.partial(hook, name=name), with_kwargs=True)
            for name, module in model.named_modules() if isinstance(module, nn.MultiheadAttention)]


def measure_signals(model: nn.Module, example_inputs: Any) -> tuple[dict, dict, dict]:
    """Each executed Linear/Conv's :class:`LayerSignal`, in order of first execution,
    and its :class:`Follower` as seen in the same run (no separate tracing).
    MultiheadAttention's q/k/v projections appear as ``attn.in_proj_weight[q]`` ...
    (or ``attn.q_proj_weight`` ...), with an :class:`InProjection` in ``stand_ins``."""
    mode = _SignalMode(model)
    handles = _attention_hooks(model, mode)
    try:
        with batch_statistics(model), hooked(model, mode), mode:
            output = run_inputs(model, example_inputs)
    finally:
        for handle in handles:
            handle.remove()
    mode.reached_output(output)
    return mode.signals, {name: mode.followers.get(name, UNKNOWN) for name in mode.signals}, mode.stand_ins


def duplicate_rows(weight: torch.Tensor, transposed: bool = False) -> int:
    """How many output units have a weight row identical to another unit's.

    Each row is reduced to one number, its product with a fixed random vector
    (equal rows give equal numbers, up to rounding), computed in the weight's own
    dtype so no copy of the weight is made; only rows whose numbers nearly agree
    are then compared exactly.
    """
    values = weight.detach()
    rows = values.transpose(0, 1).flatten(1) if transposed else values.flatten(1)
    if rows.shape[0] < 2:
        return 0
    probe = torch.randn(rows.shape[1], generator=torch.Generator().manual_seed(0)).to(rows.dtype)
    keys = (rows @ probe).to(torch.float64)
    order = keys.argsort()
    ordered = keys[order]
    scale = float(ordered.abs().max()) or 1.0
    close = torch.nonzero((ordered[1:] - ordered[:-1]).abs() <= 1e-4 * scale).flatten().tolist()
    twins = set()
    for index in close:
        first, second = int(order[index]), int(order[index + 1])
        if torch.equal(rows[first], rows[second]):
            twins.update((first, second))
    return len(twins)
