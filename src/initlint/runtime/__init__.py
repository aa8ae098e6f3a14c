"""Run-time half of initlint: one-call initialisers and an audit of a real model.

Needs torch (``pip install initlint[torch]``).  Names are loaded on first use, so
``import initlint.runtime.cli`` works without torch and can say so politely.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "gain": "gains",
    "numeric_gain": "gains",
    "fan": "fans",
    "he_init_": "helpers",
    "xavier_init_": "helpers",
    "lecun_init_": "helpers",
    "zero_bias_": "helpers",
    "prior_bias_": "helpers",
    "zero_init_": "helpers",
    "Follower": "follow",
    "find_followers": "follow",
    "Rule": "policy",
    "InitPolicy": "policy",
    "init_model_": "model_init",
    "InitRecord": "model_init",
    "ParamInit": "model_init",
    "param_seed": "model_init",
    "Fingerprint": "fingerprints",
    "fingerprint": "fingerprints",
    "audit": "auditing",
    "assert_well_initialized": "auditing",
    "AuditReport": "auditing",
    "LayerAudit": "auditing",
    "Finding": "auditing",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))
