"""Variance gains for activations.

The gain of an activation ``f`` is the factor that makes ``std = gain / sqrt(fan)``
preserve the second moment of the signal through ``f``.  For the activations torch
knows (``torch.nn.init.calculate_gain``) we return torch's value so that our
numbers agree with everyone else's code.  For the rest (GELU, SiLU, Mish, ELU, ...)
we compute it numerically:

    gain = 1 / sqrt(E[f(z)^2]),   z ~ N(0, 1)

The expectation is a deterministic trapezoidal quadrature of ``f(z)^2 * phi(z)``
on a fine grid over [-12, 12] in float64 (no sampling, so the value never changes
between runs).  For ReLU this formula gives exactly sqrt(2), torch's value.
"""
from __future__ import annotations

import functools
import math
from typing import Any, Callable, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

# torch.nn.init.calculate_gain accepts exactly these names.
_TORCH_GAIN_NAMES = {
    "linear", "identity", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
    "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu",
    "leaky_relu", "selu",
}

# Activations without a torch gain: name -> f(z, param).  param is None for the default.
_NUMERIC_FUNCTIONS: dict[str, Callable[[torch.Tensor, Any], torch.Tensor]] = {
    "gelu": lambda z, p: F.gelu(z),
    "gelu_tanh": lambda z, p: F.gelu(z, approximate="tanh"),
    "silu": lambda z, p: F.silu(z),
    "mish": lambda z, p: F.mish(z),
    "elu": lambda z, p: F.elu(z, alpha=1.0 if p is None else p),
    "celu": lambda z, p: F.celu(z, alpha=1.0 if p is None else p),
    "softplus": lambda z, p: F.softplus(z, beta=1.0 if p is None else p),
    "hardswish": lambda z, p: F.hardswish(z),
    "hardsigmoid": lambda z, p: F.hardsigmoid(z),
    "hardtanh": lambda z, p: F.hardtanh(z),
    "softsign": lambda z, p: F.softsign(z),
}

# Spelling variants users write -> canonical name.
_ALIASES = {
    "swish": "silu",
    "leakyrelu": "leaky_relu",
    "gelutanh": "gelu_tanh",
    "none": "linear",
}

# ReLU-shaped activations (He init with the matching gain).
RELU_FAMILY = frozenset({"relu", "relu6", "leaky_relu", "prelu", "rrelu"})

_PRELU_DEFAULT_SLOPE = 0.25
_RRELU_DEFAULT_SLOPE = (1.0 / 8 + 1.0 / 3) / 2  # mean of RReLU's default U(1/8, 1/3)


def canonical_name(name: str) -> str:
    key = name.strip().lower().replace("-", "_")
    return _ALIASES.get(key.replace("_", ""), key)


def known_activation_names() -> frozenset:
    return frozenset(_TORCH_GAIN_NAMES | set(_NUMERIC_FUNCTIONS) | {"relu6", "prelu", "rrelu"})


def numeric_gain(fn: Callable[[torch.Tensor], torch.Tensor]) -> float:
    """1/sqrt(E[fn(z)^2]) for z ~ N(0,1), by trapezoidal quadrature in float64."""
    z = torch.linspace(-12.0, 12.0, 48001, dtype=torch.float64)
    density = torch.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    with torch.no_grad():
        values = fn(z).to(torch.float64)
    second_moment = torch.trapezoid(values * values * density, z).item()
    if not second_moment > 0.0:
        raise ValueError("activation is zero on N(0,1) inputs; its gain is undefined")
    return 1.0 / math.sqrt(second_moment)


@functools.lru_cache(maxsize=None)
def named_gain(name: str, param: Optional[float]) -> float:
    if name == "relu6":  # identical to ReLU except for the far tail (P(z > 6) ~ 1e-9)
        return math.sqrt(2.0)
    if name in ("prelu", "rrelu"):
        default = _PRELU_DEFAULT_SLOPE if name == "prelu" else _RRELU_DEFAULT_SLOPE
        return torch.nn.init.calculate_gain("leaky_relu", default if param is None else param)
    if name in _TORCH_GAIN_NAMES:
        return float(torch.nn.init.calculate_gain(name, param))
    if name in _NUMERIC_FUNCTIONS:
        fn = _NUMERIC_FUNCTIONS[name]
        return numeric_gain(lambda z: fn(z, param))
    raise ValueError(
        f"unknown activation {name!r}; known: {', '.join(sorted(known_activation_names()))}"
    )


def describe_module(module: nn.Module) -> Optional[Tuple[str, Optional[float]]]:
    """(name, parameter) of an activation module, or None if it is not one we know."""
    if isinstance(module, nn.ReLU6):  # before Hardtanh: ReLU6 subclasses it
        return "relu6", None
    if isinstance(module, nn.LeakyReLU):
        return "leaky_relu", float(module.negative_slope)
    if isinstance(module, nn.PReLU):
        # The slope is learned; before training its value is the init we must match.
        slope = module.init if module.weight.is_meta else float(module.weight.detach().mean())
        return "prelu", slope
    if isinstance(module, nn.RReLU):
        return "rrelu", (module.lower + module.upper) / 2
    if isinstance(module, nn.GELU):
        return ("gelu_tanh" if module.approximate == "tanh" else "gelu"), None
    if isinstance(module, (nn.ELU, nn.CELU)):
        return type(module).__name__.lower(), float(module.alpha)
    if isinstance(module, nn.Softplus):
        return "softplus", float(module.beta)
    simple = {
        nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.SELU: "selu",
        nn.SiLU: "silu", nn.Mish: "mish", nn.Hardswish: "hardswish",
        nn.Hardsigmoid: "hardsigmoid", nn.Hardtanh: "hardtanh", nn.Softsign: "softsign",
        nn.Identity: "linear",
    }
    for cls, name in simple.items():
        if isinstance(module, cls):
            return name, None
    return None


def describe_call(name: str, args: tuple, kwargs: dict) -> Optional[Tuple[str, Optional[float]]]:
    """(name, parameter) of a functional activation call such as F.leaky_relu(x, 0.2)."""
    name = canonical_name(name).rstrip("_")  # relu_ -> relu

    def arg(index: int, key: str, default: Any) -> Any:
        if key in kwargs:
            return kwargs[key]
        return args[index] if len(args) > index else default

    if name == "hardtanh":  # F.relu6 and nn.ReLU6 both lower to hardtanh(x, 0, 6)
        low, high = arg(1, "min_val", -1.0), arg(2, "max_val", 1.0)
        if low == 0.0:
            return "relu6", None
        return ("hardtanh", None) if (low, high) == (-1.0, 1.0) else None
    if name == "leaky_relu":
        return name, float(arg(1, "negative_slope", 0.01))
    if name == "prelu":
        weight = arg(1, "weight", None)
        slope = _PRELU_DEFAULT_SLOPE if weight is None or weight.is_meta else float(weight.detach().mean())
        return name, slope
    if name == "rrelu":
        return name, (arg(1, "lower", 1.0 / 8) + arg(2, "upper", 1.0 / 3)) / 2
    if name == "gelu":
        return ("gelu_tanh" if arg(1, "approximate", "none") == "tanh" else "gelu"), None
    if name in ("elu", "celu"):
        return name, float(arg(1, "alpha", 1.0))
    if name == "softplus":
        return name, float(arg(1, "beta", 1.0))
    if name in known_activation_names() and name not in ("linear", "identity") and not name.startswith("conv"):
        return name, None
    return None


def gain(activation: Any = None, param: Optional[float] = None) -> float:
    """Gain for ``activation``: a name, an ``nn.Module`` instance or class, a callable,
    a number (taken as the gain itself) or ``None`` (linear, gain 1).

    ``param`` is the negative slope for "leaky_relu"/"prelu"/"rrelu" and alpha/beta
    for "elu"/"celu"/"softplus".  Unknown callables and modules are integrated
    numerically; see the module docstring.
    """
    if activation is None:
        return 1.0
    if isinstance(activation, (int, float)) and not isinstance(activation, bool):
        return float(activation)
    if isinstance(activation, str):
        return named_gain(canonical_name(activation), param)
    if isinstance(activation, type) and issubclass(activation, nn.Module):
        activation = activation()
    if isinstance(activation, nn.Module):
        described = describe_module(activation)
        if described is not None:
            name, module_param = described
            return named_gain(name, module_param if param is None else param)
        return numeric_gain(activation)
    if callable(activation):
        name = getattr(activation, "__name__", "")
        # Only trust the name of torch's own functions; a user's "relu" may be anything.
        if (getattr(activation, "__module__", None) or "").startswith("torch"):
            described = describe_call(name, (), {})
            if described is not None:
                return named_gain(described[0], param)
        return numeric_gain(activation)
    raise TypeError(f"cannot compute a gain for {activation!r}")
