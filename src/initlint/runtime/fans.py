"""Fan-in / fan-out that are right for grouped, depthwise, strided and transposed convs.

torch's ``_calculate_fan_in_and_fan_out`` reads the weight shape only: it ignores
``groups`` for fan-out and, for ConvTranspose (weight shaped ``in x out/groups x k``),
it swaps in and out (pytorch issue 23854).  Here a fan counts the weights that
actually meet one unit:

* Conv, weight ``out x in/g x k``: each output sums ``in/g * K`` products
  (fan_in); each input reaches ``out/g`` channels at ``K / S`` positions on average
  (fan_out), K = prod(kernel), S = prod(stride).
* ConvTranspose is the adjoint, so the two swap: fan_in = ``in/g * K / S`` and
  fan_out = ``out/g * K``.
* Linear, weight ``out x in``: fan_in = in, fan_out = out.
* Hugging Face's Conv1D (GPT-2), weight ``in x out``: fan_in = in, fan_out = out.

Given only a weight tensor (no layer) we cannot know groups, stride or
transposition, so a plain Linear/Conv layout with groups=1 and stride 1 is assumed.
"""
from __future__ import annotations

import math
from typing import Optional, Union

import torch
import torch.nn as nn

MODES = ("fan_in", "fan_out", "fan_avg")


def is_hf_conv1d(module: Optional[nn.Module]) -> bool:
    """Hugging Face's ``transformers.pytorch_utils.Conv1D`` (GPT-2 and its family),
    recognised by class name and weight layout without importing transformers: a
    Linear whose weight is stored transposed, (in, out), with ``nf`` = out."""
    # _parameters, not getattr: while torch.fx traces, module.weight is a Proxy
    weight = getattr(module, "_parameters", {}).get("weight")
    return (type(module).__name__ == "Conv1D" and isinstance(weight, torch.Tensor) and weight.dim() == 2
            and getattr(module, "nf", None) == weight.shape[1])


def fan_in_out(weight: torch.Tensor, layer: Optional[nn.Module] = None) -> tuple[float, float]:
    if weight.dim() < 2:
        raise ValueError(f"fan needs a weight with at least 2 dimensions, got shape {tuple(weight.shape)}")
    rows, cols = weight.shape[0], weight.shape[1]
    if is_hf_conv1d(layer):  # weight is in x out
        return float(rows), float(cols)
    kernel = math.prod(weight.shape[2:])
    if not isinstance(layer, nn.modules.conv._ConvNd):
        return float(cols * kernel), float(rows * kernel)
    groups = layer.groups
    stride = math.prod(layer.stride)
    if layer.transposed:  # weight is in x out/groups x k
        in_per_group, out_per_group = rows / groups, cols
        return in_per_group * kernel / stride, float(out_per_group * kernel)
    in_per_group, out_per_group = cols, rows / groups
    return float(in_per_group * kernel), out_per_group * kernel / stride


def fan(weight: Union[torch.Tensor, nn.Module], layer: Optional[nn.Module] = None,
        mode: str = "fan_in") -> float:
    """Fan of ``weight`` (or of ``layer.weight`` when ``weight`` is itself a layer).

    ``mode`` is "fan_in", "fan_out" or "fan_avg" (the mean of the two, Xavier's).
    """
    if isinstance(weight, nn.Module):
        layer, weight = weight, weight.weight
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    fan_in, fan_out = fan_in_out(weight, layer)
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


def torch_fan_in_out(weight: torch.Tensor) -> tuple[float, float]:
    """torch's own convention (what nn.init.* and the default init use)."""
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(weight)
    return float(fan_in), float(fan_out)
