"""Guess how a weight was initialised from its statistics alone.

Shape of the distribution:
* all values equal -> "zero" / "constant";
* bounded tails (max|w - mean| / std <= 2.4): uniform if the kurtosis is near 1.8,
  otherwise a normal truncated at about two standard deviations (kurtosis ~2.37,
  max/std ~2.27);
* otherwise normal (kurtosis ~3).

Scale: the measured std is compared with what each scheme would give for this
layer, using torch's fans (what ``nn.init`` and the default init use) and the
corrected fans of :mod:`.fans` where they differ.  The nearest within tolerance wins:

* default: U(+-1/sqrt(fan_in)) (kaiming_uniform_ with a=sqrt(5)), std 1/sqrt(3 fan_in)
* he:      gain/sqrt(fan_in or fan_out), gain sqrt(2) or the following activation's
* xavier:  sqrt(2 / (fan_in + fan_out))
* lecun:   1/sqrt(fan_in)

Schemes that predict the same std for this layer (within 2%) cannot be told apart:
a square Linear has Xavier == LeCun, a Linear with out = 2 in has He(fan_out) ==
LeCun.  Such a tie is reported as a tie ("lecun/xavier"), never resolved by a guess.

The statistics are accumulated in float64 over slices of the weight, so no
float64 copy of a whole weight is made.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn

from .fans import fan_in_out, is_hf_conv1d, torch_fan_in_out

_BOUNDED_TAIL = 2.4
_UNIFORM_KURTOSIS = 2.1
_TIE = 0.02            # relative difference of predicted stds below which schemes tie
_SLICE = 1 << 20       # elements converted to float64 at a time


@dataclass(frozen=True)
class Fingerprint:
    # "default" | "he" | "xavier" | "lecun" | "zero" | "constant" | "custom",
    # or tied schemes joined by "/" ("lecun/xavier")
    scheme: str
    distribution: str  # "uniform" | "normal" | "truncated_normal" | "constant"
    std: float
    gain: float        # std * sqrt(fan_in): the scale in units of 1/sqrt(fan_in)
    kurtosis: float
    max_over_std: float
    mean: float = 0.0  # 0 when indistinguishable from 0 at this sample size

    @property
    def schemes(self) -> tuple:
        """The scheme, or every scheme of a tie."""
        return tuple(self.scheme.split("/"))

    def describe(self) -> str:
        """The distribution in the usual notation, to two significant digits: N(0, 0.02),
        U(-0.1, 0.1), TN(0, 0.02) (truncated normal), zeros, constant 0.5."""
        if self.distribution == "constant":
            return "zeros" if self.scheme == "zero" else f"constant {self.mean:.3g}"
        if self.distribution == "uniform":
            half_width = math.sqrt(3.0) * self.std
            return f"U({self.mean - half_width:.2g}, {self.mean + half_width:.2g})"
        letter = "N" if self.distribution == "normal" else "TN"
        return f"{letter}({self.mean:.2g}, {self.std:.2g})"

    def __str__(self) -> str:
        if self.distribution == "constant":
            return self.scheme
        return f"{self.scheme} ({self.distribution}, gain {self.gain:.3g})"


def _torch_fans(weight: torch.Tensor, layer: Optional[nn.Module]) -> tuple[float, float]:
    """The fans nn.init would use; for Hugging Face's Conv1D (weight stored in x out,
    which torch's helper reads the wrong way round) the true ones."""
    return fan_in_out(weight, layer) if is_hf_conv1d(layer) else torch_fan_in_out(weight)


def _candidates(weight: torch.Tensor, layer: Optional[nn.Module],
                activation_gain: Optional[float]) -> list[tuple[str, float, tuple]]:
    """(scheme, expected std, distributions it can have), in tie-break order."""
    any_shape = ("uniform", "normal", "truncated_normal")
    torch_in, torch_out = _torch_fans(weight, layer)
    fan_pairs = {(torch_in, torch_out), fan_in_out(weight, layer)}
    gains = {math.sqrt(2.0)}
    if activation_gain is not None and activation_gain != 1.0:
        gains.add(activation_gain)
    found = [("default", 1.0 / math.sqrt(3.0 * torch_in), ("uniform",))]
    for fan_in, fan_out in sorted(fan_pairs):
        found += [("he", g / math.sqrt(f), any_shape) for g in sorted(gains) for f in (fan_in, fan_out)]
    for fan_in, fan_out in sorted(fan_pairs):
        found.append(("xavier", math.sqrt(2.0 / (fan_in + fan_out)), any_shape))
    for fan_in, _ in sorted(fan_pairs):
        found.append(("lecun", 1.0 / math.sqrt(fan_in), any_shape))
    return found


def _moments(weight: torch.Tensor) -> tuple[float, float, float, float, bool]:
    """mean, second and fourth central moments, max |w - mean|, and whether every value is 0."""
    flat = weight.detach().reshape(-1)
    count = flat.numel()
    # sum(dtype=float64) would convert the whole weight at once.
    mean = sum(float(part.sum(dtype=torch.float64)) for part in flat.split(_SLICE)) / count
    second = fourth = 0.0
    low, high = (float(value) for value in flat.aminmax())
    for part in flat.split(_SLICE):
        squared = (part.to(torch.float64) - mean).square_()
        second += float(squared.sum())
        fourth += float(squared.square_().sum())
    largest = max(high - mean, mean - low)
    return mean, second / count, fourth / count, largest, low == high == 0.0


def fingerprint(weight: torch.Tensor, layer: Optional[nn.Module] = None,
                activation_gain: Optional[float] = None) -> Fingerprint:
    mean, variance, fourth, largest, all_zero = _moments(weight)
    std = math.sqrt(variance)
    if std == 0.0:
        scheme = "zero" if all_zero else "constant"
        return Fingerprint(scheme, "constant", 0.0, 0.0, math.nan, math.nan, mean)
    torch_in, _ = _torch_fans(weight, layer)
    kurtosis = fourth / variance**2
    max_over_std = largest / std
    if max_over_std <= _BOUNDED_TAIL:
        distribution = "uniform" if kurtosis < _UNIFORM_KURTOSIS else "truncated_normal"
    else:
        distribution = "normal"
    # Sampling error of a std estimate is ~sqrt((kurtosis - 1) / (4 n)); allow 4 of them.
    tolerance = max(0.05, 4.0 * math.sqrt(max(kurtosis - 1.0, 0.5) / (4.0 * weight.numel())))
    fitting = [(name, expected) for name, expected, shapes in _candidates(weight, layer, activation_gain)
               if distribution in shapes and abs(math.log(std / expected)) < tolerance]
    scheme = "custom"
    if fitting:
        _, best = min(fitting, key=lambda item: abs(math.log(std / item[1])))
        tied = [name for name, expected in fitting if abs(math.log(expected / best)) < _TIE]
        scheme = "/".join(dict.fromkeys(tied))  # unique, in tie-break order
    if abs(mean) < 4.0 * std / math.sqrt(weight.numel()):
        mean = 0.0
    return Fingerprint(scheme, distribution, std, std * math.sqrt(torch_in), kurtosis, max_over_std, mean)
