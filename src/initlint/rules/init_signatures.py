"""What ``torch.nn.init`` (torch 2.13) accepts, as data: each function's parameters and the strings
``calculate_gain`` and the Kaiming functions take. A call that does not fit raises when it runs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import libcst as cst


@dataclass(frozen=True)
class Signature:
    parameters: tuple          # positional-or-keyword parameters, in order
    required: int = 1          # how many leading parameters have no default
    keyword_only: tuple = ()


INIT_SIGNATURES = {
    "uniform_": Signature(("tensor", "a", "b", "generator")),
    "normal_": Signature(("tensor", "mean", "std", "generator")),
    "trunc_normal_": Signature(("tensor", "mean", "std", "a", "b", "generator")),
    "constant_": Signature(("tensor", "val"), required=2),
    "ones_": Signature(("tensor",)),
    "zeros_": Signature(("tensor",)),
    "eye_": Signature(("tensor",)),
    "dirac_": Signature(("tensor", "groups")),
    "xavier_uniform_": Signature(("tensor", "gain", "generator")),
    "xavier_normal_": Signature(("tensor", "gain", "generator")),
    "kaiming_uniform_": Signature(("tensor", "a", "mode", "nonlinearity", "generator")),
    "kaiming_normal_": Signature(("tensor", "a", "mode", "nonlinearity", "generator")),
    "orthogonal_": Signature(("tensor", "gain", "generator")),
    "sparse_": Signature(("tensor", "sparsity", "std", "generator"), required=2),
    "calculate_gain": Signature(("nonlinearity", "param")),
}
# mmcv/mmengine/fvcore helpers that take a module (they pass these arguments on to torch.nn.init).
HELPER_SIGNATURES = {
    "constant_init": Signature(("module", "val", "bias"), required=2),
    "normal_init": Signature(("module", "mean", "std", "bias")),
    "uniform_init": Signature(("module", "a", "b", "bias")),
    "trunc_normal_init": Signature(("module", "mean", "std", "a", "b", "bias")),
    "xavier_init": Signature(("module", "gain", "bias", "distribution")),
    "kaiming_init": Signature(("module", "a", "mode", "nonlinearity", "bias", "distribution")),
    "caffe2_xavier_init": Signature(("module", "bias")),
    "c2_xavier_fill": Signature(("module",)),
    "c2_msra_fill": Signature(("module",)),
}
# The tensor methods of the same names (``w.normal_(0, 0.01)``): ``from``/``to`` cannot be written as
# keywords in Python, but they still count as positions.
TENSOR_METHOD_SIGNATURES = {
    "normal_": Signature(("mean", "std"), required=0, keyword_only=("generator",)),
    "uniform_": Signature(("from", "to"), required=0, keyword_only=("generator",)),
}

# Parameters torch computes with: a string there raises TypeError. (Kaiming's ``a`` and calculate_gain's
# ``param`` are read only for leaky_relu, so they are judged with the nonlinearity.)
NUMERIC_PARAMETERS = frozenset({"mean", "std", "a", "b", "from", "to", "val", "gain", "sparsity", "groups"})

# ``calculate_gain`` raises ValueError for any other string (it is case-sensitive).
GAIN_NONLINEARITIES = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                       "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu")
# Kaiming's ``mode`` is lower-cased before this check.
FAN_MODES = ("fan_in", "fan_out")


def spelled_as(text: str, choices) -> Optional[str]:
    """The choice ``text`` is a variant spelling of (case, ``-``, ``_`` and spaces aside), if any."""
    def squeeze(value: str) -> str:
        return "".join(ch for ch in value.lower() if ch not in "-_ ")
    matches = [choice for choice in choices if squeeze(choice) == squeeze(text)]
    return matches[0] if len(matches) == 1 else None


@dataclass(frozen=True)
class BindingProblem:
    reason: str
    keyword: Optional[cst.Arg] = None  # the argument at fault, for an unknown keyword
    missing: Optional[str] = None      # the parameter not given, for a missing one


def binding_problems(call: cst.Call, signature: Signature) -> list[BindingProblem]:
    """Why Python cannot bind this call's arguments to ``signature`` (TypeError), if it cannot.
    With ``*args``/``**kwargs`` only unknown keywords are certain."""
    starred = any(arg.star for arg in call.args)
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    problems = []
    if not starred and len(positional) > len(signature.parameters):
        problems.append(BindingProblem(f"it takes at most {len(signature.parameters)} positional arguments, "
                                       f"{len(positional)} are given"))
    given = set(signature.parameters[:len(positional)])
    for arg in call.args:
        if arg.keyword is None:
            continue
        keyword = arg.keyword.value
        if keyword not in signature.parameters and keyword not in signature.keyword_only:
            problems.append(BindingProblem(f"it has no parameter `{keyword}`", arg))
        elif keyword in given and not starred:
            problems.append(BindingProblem(f"it gets `{keyword}` both by position and by keyword"))
        given.add(keyword)
    if not starred:
        missing = [p for p in signature.parameters[:signature.required] if p not in given]
        if missing:
            problems.append(BindingProblem(f"it lacks its required argument `{missing[0]}`", missing=missing[0]))
    return problems


def helper_signature(call) -> Optional[Signature]:
    """The signature of the mmcv/mmengine/fvcore module helper ``call`` calls, if it calls one."""
    func = call.func if type(call) is cst.Call else None
    name = func.attr.value if type(func) is cst.Attribute else getattr(func, "value", None)
    return HELPER_SIGNATURES.get(name) if isinstance(name, str) else None
