"""One-call initialisers.  Each takes a layer (a module with ``.weight``) or a bare
weight tensor, is a no-op on ``None``, honours ``generator=`` and returns what it got.

Layers get their bias zeroed (or set to the focal prior); ``bias=False`` layers are
fine.  Tensors on the meta device have no storage and are left alone.
"""
from __future__ import annotations

import math
from typing import Any, Optional, TypeVar, Union

import torch
import torch.nn as nn

from .fans import fan
from .gains import gain

Target = TypeVar("Target", bound=Union[nn.Module, torch.Tensor, None])

DISTRIBUTIONS = ("normal", "uniform", "truncated_normal")

# Std of N(0, 1) truncated to [-2, 2]; dividing by it makes the truncated draw exact.
_TRUNCATED_STD = 0.8796256610342398


def _weight_and_layer(target: Union[nn.Module, torch.Tensor]) -> tuple[torch.Tensor, Optional[nn.Module]]:
    if isinstance(target, torch.Tensor):
        return target, None
    weight = getattr(target, "weight", None)
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"{type(target).__name__} has no weight tensor to initialise")
    return weight, target


def fill_(tensor: torch.Tensor, std: float, distribution: str = "normal",
          generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Fill ``tensor`` with zero-mean values of standard deviation ``std``."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {distribution!r}")
    if tensor.is_meta:
        return tensor
    with torch.no_grad():
        if distribution == "normal":
            tensor.normal_(0.0, std, generator=generator)
        elif distribution == "uniform":
            bound = math.sqrt(3.0) * std
            tensor.uniform_(-bound, bound, generator=generator)
        else:  # cut at two standard deviations of the underlying normal
            sigma = std / _TRUNCATED_STD
            nn.init.trunc_normal_(tensor, 0.0, sigma, -2.0 * sigma, 2.0 * sigma, generator=generator)
    return tensor


def scaled_init_(target: Target, gain_value: float, mode: str = "fan_in", distribution: str = "normal",
                 generator: Optional[torch.Generator] = None, bias: bool = True) -> Target:
    """weight ~ std = gain / sqrt(fan); zero the bias if ``bias``."""
    if target is None:
        return target
    weight, layer = _weight_and_layer(target)
    fill_(weight, gain_value / math.sqrt(fan(weight, layer, mode)), distribution, generator)
    if bias and layer is not None:
        zero_bias_(layer)
    return target


def he_init_(layer: Target, activation: Any = "relu", mode: str = "fan_in",
             distribution: str = "normal", generator: Optional[torch.Generator] = None) -> Target:
    """He/Kaiming: std = gain(activation) / sqrt(fan).  ``activation`` is anything
    :func:`initlint.runtime.gain` accepts, e.g. "relu", nn.LeakyReLU(0.1), nn.GELU or a number."""
    return scaled_init_(layer, gain(activation), mode, distribution, generator)


def xavier_init_(layer: Target, activation: Any = None, distribution: str = "uniform",
                 generator: Optional[torch.Generator] = None) -> Target:
    """Xavier/Glorot: std = gain(activation) * sqrt(2 / (fan_in + fan_out))."""
    return scaled_init_(layer, gain(activation), "fan_avg", distribution, generator)


def lecun_init_(layer: Target, distribution: str = "normal",
                generator: Optional[torch.Generator] = None) -> Target:
    """LeCun: std = 1 / sqrt(fan_in), right for linear outputs and SELU."""
    return scaled_init_(layer, 1.0, "fan_in", distribution, generator)


def zero_bias_(layer: Target) -> Target:
    bias = getattr(layer, "bias", None)
    if isinstance(bias, torch.Tensor) and not bias.is_meta:
        with torch.no_grad():
            bias.zero_()
    return layer


def prior_bias_(layer: Target, prob: float) -> Target:
    """Bias so that sigmoid(bias) == prob at init (focal loss: -log((1 - p) / p))."""
    if not 0.0 < prob < 1.0:
        raise ValueError(f"prob must be in (0, 1), got {prob}")
    bias = getattr(layer, "bias", None)
    if isinstance(bias, torch.Tensor) and not bias.is_meta:
        with torch.no_grad():
            bias.fill_(-math.log((1.0 - prob) / prob))
    return layer


def zero_init_(layer: Target) -> Target:
    """Zero weight and bias: for the last layer (or norm) of a residual branch, so the
    block starts as the identity.  Never use it before a nonlinearity (INI001)."""
    if layer is None:
        return layer
    weight, module = _weight_and_layer(layer)
    if not weight.is_meta:
        with torch.no_grad():
            weight.zero_()
    if module is not None:
        zero_bias_(module)
    return layer
