"""Which init each Linear/Conv gets: defaults by what follows it, plus user rules.

Defaults (see docs/runtime.md for the reasoning):

* an activation follows (directly or after a norm): He, std = gain(act) / sqrt(fan_in),
  normal; for the ReLU family that is Kaiming He, for GELU/SiLU/Mish the numeric
  gain, for tanh/sigmoid torch's ``calculate_gain``;
* SELU: LeCun (gain 1), the scale its self-normalisation is derived for
  (torch's 3/4 gain makes deep SELU stacks settle at a lower second moment);
* anything else (output, residual add, another layer, a norm with no activation,
  attention matmuls, unknown): LeCun, std = 1 / sqrt(fan_in), i.e. gain 1;
* biases: zero.

Rules are checked in order; the first that matches decides.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

import torch
import torch.nn as nn

from .follow import Follower
from .gains import gain

SCHEMES = ("he", "lecun", "xavier", "zero", "keep")

# A custom init: called as fn(layer, generator) and expected to work in place.
CustomInit = Callable[[nn.Module, torch.Generator], None]


@dataclass(frozen=True)
class Decision:
    """What to do to one layer."""

    scheme: Union[str, CustomInit]     # one of SCHEMES, or a callable
    gain: float = 1.0
    mode: str = "fan_in"
    distribution: str = "normal"
    bias: Union[str, float] = "zero"   # "zero", "keep", or a prior probability
    because: str = "default"           # the rule or default that decided


@dataclass(frozen=True)
class Rule:
    """Override for the layers it matches; every given criterion must match.

    type:        a layer class or tuple of classes (isinstance)
    name:        fnmatch pattern on the module's qualified name, e.g. "head" or "*.proj"
    followed_by: matches the follower's kind ("activation", "norm", "add", "output",
                 "layer", "other", "unknown"), its op ("relu", "gelu", "batch_norm",
                 "matmul", ...) or the op of the activation after a norm
    init:        "he", "lecun", "xavier", "zero", "keep" (leave untouched) or a
                 callable ``fn(layer, generator)``
    activation:  gain source for "he"/"xavier" (anything ``gain`` takes); None means
                 the activation that actually follows (gain 1 if none)
    bias:        "zero", "keep", or a probability p for the focal prior -log((1-p)/p)
    """

    init: Union[str, CustomInit]
    type: Union[type, tuple, None] = None
    name: Optional[str] = None
    followed_by: Optional[str] = None
    activation: object = None
    mode: str = "fan_in"
    distribution: str = "normal"
    bias: Union[str, float] = "zero"

    def __post_init__(self) -> None:
        if isinstance(self.init, str) and self.init not in SCHEMES:
            raise ValueError(f"init must be one of {SCHEMES} or a callable, got {self.init!r}")

    def matches(self, name: str, layer: nn.Module, follower: Follower) -> bool:
        if self.type is not None and not isinstance(layer, self.type):
            return False
        if self.name is not None and not fnmatch.fnmatchcase(name, self.name):
            return False
        if self.followed_by is not None:
            wanted = self.followed_by.lower()
            activation = follower.activation
            seen = {follower.kind.lower(), follower.op.lower()}
            if activation is not None:
                seen.add(activation.op.lower())
            if wanted not in seen:
                return False
        return True

    def describe(self) -> str:
        parts = [f"{key}={value!r}" for key, value in
                 (("type", self.type), ("name", self.name), ("followed_by", self.followed_by))
                 if value is not None]
        return f"rule({', '.join(parts)})"


@dataclass
class InitPolicy:
    """An ordered list of :class:`Rule` overrides on top of the defaults."""

    rules: list = field(default_factory=list)

    def add(self, init: Union[str, CustomInit], **criteria) -> "InitPolicy":
        """Append ``Rule(init, **criteria)``; returns self so calls chain."""
        self.rules.append(Rule(init, **criteria))
        return self

    def matching_rule(self, name: str, layer: nn.Module, follower: Follower) -> Optional[Rule]:
        return next((rule for rule in self.rules if rule.matches(name, layer, follower)), None)

    def decide(self, name: str, layer: nn.Module, follower: Follower) -> Decision:
        activation = follower.activation
        rule = self.matching_rule(name, layer, follower)
        if rule is not None:
            if rule.activation is not None:
                rule_gain = gain(rule.activation)
            else:
                rule_gain = activation.gain if activation is not None else 1.0
            return Decision(rule.init, rule_gain, rule.mode, rule.distribution, rule.bias, rule.describe())
        if activation is not None and activation.op == "selu":
            return Decision("lecun", 1.0, because="followed by selu (self-normalising: LeCun)")
        if activation is not None:
            return Decision("he", activation.gain, because=f"followed by {activation.op}")
        return Decision("lecun", 1.0, because=f"followed by {follower}")
