"""``init_model_``: initialise every Linear/Conv by what actually follows it."""
from __future__ import annotations

import fnmatch
import hashlib
import math
from dataclasses import dataclass
from typing import Any, Iterable, Optional

import torch
import torch.nn as nn

from .fans import fan
from .follow import LAYER_TYPES, find_followers
from .helpers import fill_
from .policy import Decision, InitPolicy


@dataclass(frozen=True)
class ParamInit:
    """What one parameter got.

    action: "he" | "lecun" | "xavier" | "zero" | "prior" | "custom" | "kept"
            | "skipped" | "untouched" (not a Linear/Conv parameter)
    """

    name: str
    action: str
    std: Optional[float] = None
    gain: Optional[float] = None
    fan: Optional[float] = None
    mode: Optional[str] = None
    distribution: Optional[str] = None
    value: Optional[float] = None      # constant the bias was filled with
    seed: Optional[int] = None
    follower: str = ""
    reason: str = ""


@dataclass
class InitRecord:
    """Per-parameter record returned by :func:`init_model_`, in ``named_parameters`` order."""

    params: dict
    strategy: str  # how followers were found: "fx" or "torch_function"

    def __getitem__(self, name: str) -> ParamInit:
        return self.params[name]

    def format(self) -> str:
        header = ("parameter", "init", "std", "gain", "follows", "why")
        rows = [header]
        for entry in self.params.values():
            rows.append((
                entry.name,
                entry.action if entry.distribution is None else f"{entry.action} ({entry.distribution})",
                "" if entry.std is None else f"{entry.std:.4g}",
                "" if entry.gain is None else f"{entry.gain:.4g}",
                entry.follower,
                entry.reason,
            ))
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * width for width in widths))
        lines.append(f"(followers found by {self.strategy})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def param_seed(name: str, base_seed: int = 0) -> int:
    """Stable 63-bit seed from a parameter's qualified name: independent of module
    order, Python's hash randomisation and the global RNG."""
    digest = hashlib.blake2b(f"{base_seed}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def _matches_any(name: str, patterns: list) -> bool:
    return any(name == pattern or fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _qualified(module_name: str, param: str) -> str:
    return f"{module_name}.{param}" if module_name else param


def _init_weight(layer: nn.Module, name: str, decision: Decision, base_seed: int,
                 follower: str) -> ParamInit:
    weight = layer.weight
    seed = param_seed(name, base_seed)
    generator = torch.Generator(device=weight.device).manual_seed(seed)
    if callable(decision.scheme):
        decision.scheme(layer, generator)
        return ParamInit(name, "custom", seed=seed, follower=follower, reason=decision.because)
    if decision.scheme == "keep":
        return ParamInit(name, "kept", follower=follower, reason=decision.because)
    if decision.scheme == "zero":
        with torch.no_grad():
            weight.zero_()
        return ParamInit(name, "zero", std=0.0, follower=follower, reason=decision.because)
    mode = {"he": decision.mode, "lecun": "fan_in", "xavier": "fan_avg"}[decision.scheme]
    gain = 1.0 if decision.scheme == "lecun" else decision.gain
    fan_value = fan(weight, layer, mode)
    std = gain / math.sqrt(fan_value)
    fill_(weight, std, decision.distribution, generator)
    return ParamInit(name, decision.scheme, std=std, gain=gain, fan=fan_value, mode=mode,
                     distribution=decision.distribution, seed=seed, follower=follower,
                     reason=decision.because)


def _init_bias(bias: torch.Tensor, name: str, decision: Decision, follower: str) -> ParamInit:
    if callable(decision.scheme) or decision.scheme == "keep" or decision.bias == "keep":
        action = "custom" if callable(decision.scheme) else "kept"
        return ParamInit(name, action, follower=follower, reason=decision.because)
    if decision.bias == "zero":
        value, action = 0.0, "zero"
    else:
        prob = float(decision.bias)
        if not 0.0 < prob < 1.0:
            raise ValueError(f"bias prior must be in (0, 1), got {prob} for {name}")
        value, action = -math.log((1.0 - prob) / prob), "prior"
    with torch.no_grad():
        bias.fill_(value)
    return ParamInit(name, action, value=value, follower=follower, reason=decision.because)


def init_model_(model: nn.Module, example_inputs: Any = None, policy: Optional[InitPolicy] = None,
                *, seed: int = 0, skip: Iterable[str] = ()) -> InitRecord:
    """Initialise every Linear/Conv in ``model`` in place by what follows it.

    example_inputs: only needed when ``torch.fx`` cannot trace the model; then the
        model is run once on them (eval mode, no grad) to see what follows each layer.
    policy: :class:`InitPolicy` overrides; defaults are described in ``policy.py``.
    seed: base seed; each parameter draws from its own generator seeded by
        ``param_seed(qualified_name, seed)``.
    skip: parameter names or fnmatch patterns to leave alone, e.g. the keys of a
        checkpoint you loaded with ``strict=False``.  Meta-device parameters are
        always skipped.
    """
    policy = policy or InitPolicy()
    skip_patterns = list(skip)
    followers, strategy = find_followers(model, example_inputs)
    done: dict[str, ParamInit] = {}
    seen: set = set()  # ids: a parameter tied between two layers is initialised once
    for module_name, layer in model.named_modules():
        if not isinstance(layer, LAYER_TYPES):
            continue
        follower = followers[module_name]
        decision = policy.decide(module_name, layer, follower)
        for param_name in ("weight", "bias"):
            param = getattr(layer, param_name)
            if param is None:
                continue
            if id(param) in seen:
                continue
            seen.add(id(param))
            name = _qualified(module_name, param_name)
            if param.is_meta:
                done[name] = ParamInit(name, "skipped", follower=str(follower), reason="meta device")
            elif _matches_any(name, skip_patterns):
                done[name] = ParamInit(name, "skipped", follower=str(follower), reason="in skip")
            elif param_name == "weight":
                done[name] = _init_weight(layer, name, decision, seed, str(follower))
            else:
                done[name] = _init_bias(param, name, decision, str(follower))
    params = {
        name: done.get(name, ParamInit(name, "untouched", reason="not a Linear/Conv parameter"))
        for name, _ in model.named_parameters()
    }
    return InitRecord(params, strategy)
