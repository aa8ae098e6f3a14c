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

When two schemes give the same std (a square Linear: Xavier == LeCun) the first in
that list is reported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn

from .fans import fan_in_out, torch_fan_in_out

_BOUNDED_TAIL = 2.4
_UNIFORM_KURTOSIS = 2.1


@dataclass(frozen=True)
class Fingerprint:
    scheme: str        # "default" | "he" | "xavier" | "lecun" | "zero" | "constant" | "custom"
    distribution: str  # "uniform" | "normal" | "truncated_normal" | "constant"
    std: float
    gain: float        # std * sqrt(fan_in): the scale in units of 1/sqrt(fan_in)
    kurtosis: float
    max_over_std: float

    def __str__(self) -> str:
        if self.distribution == "constant":
            return self.scheme
        return f"{self.scheme} ({self.distribution}, gain {self.gain:.3g})"


def _candidates(weight: torch.Tensor, layer: Optional[nn.Module],
                activation_gain: Optional[float]) -> list[tuple[str, float, tuple]]:
    """(scheme, expected std, distributions it can have), in tie-break order."""
    any_shape = ("uniform", "normal", "truncated_normal")
    torch_in, torch_out = torch_fan_in_out(weight)
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


def fingerprint(weight: torch.Tensor, layer: Optional[nn.Module] = None,
                activation_gain: Optional[float] = None) -> Fingerprint:
    values = weight.detach().to(torch.float64).flatten()
    torch_in, _ = torch_fan_in_out(weight)
    centred = values - values.mean()
    std = float(centred.pow(2).mean().sqrt())
    if std == 0.0:
        scheme = "zero" if bool((values == 0).all()) else "constant"
        return Fingerprint(scheme, "constant", 0.0, 0.0, float("nan"), float("nan"))
    kurtosis = float(centred.pow(4).mean()) / std**4
    max_over_std = float(centred.abs().max()) / std
    if max_over_std <= _BOUNDED_TAIL:
        distribution = "uniform" if kurtosis < _UNIFORM_KURTOSIS else "truncated_normal"
    else:
        distribution = "normal"
    # Sampling error of a std estimate is ~sqrt((kurtosis - 1) / (4 n)); allow 4 of them.
    tolerance = max(0.05, 4.0 * math.sqrt(max(kurtosis - 1.0, 0.5) / (4.0 * values.numel())))
    scheme, best_error = "custom", tolerance
    for name, expected, shapes in _candidates(weight, layer, activation_gain):
        error = abs(math.log(std / expected))
        if distribution in shapes and error < best_error - 1e-9:
            scheme, best_error = name, error
    return Fingerprint(scheme, distribution, std, std * math.sqrt(torch_in), kurtosis, max_over_std)
