from dataclasses import dataclass
from typing import Optional

import libcst as cst

from ..analysis.names import torch_name
from ..analysis.noop import declared_dims, enclosing_method, weight_dims
from ..analysis.syntax import argument, boolean, number, string
from .base import Rule
from .init_signatures import (FAN_MODES, GAIN_NONLINEARITIES, INIT_SIGNATURES, NUMERIC_PARAMETERS,
                              TENSOR_METHOD_SIGNATURES, binding_problems, helper_signature, spelled_as)
from .rewrite import quote_of
from ..findings import Fix, RawFinding

_CALCULATE_GAIN = "torch.nn.init.calculate_gain"
_KAIMING = ("kaiming_uniform_", "kaiming_normal_")
# Keywords from other APIs whose torch.nn.init name is certain: TensorFlow's ``stddev``, ``fill_``'s ``value``.
_RENAMES = {"stddev": ("std", "the standard deviation is `std`"), "value": ("val", "the value is `val`")}
_UNIFORM_STD_HINT = "uniform_ takes bounds, not a standard deviation"
_KAIMING_GAIN_HINT = "Kaiming's gain comes from `nonlinearity` and `a`"


@dataclass
class Problem:
    exception: str
    reason: str
    edits: Optional[dict] = None  # original node -> new node; None: no exact fix
    change: str = ""              # what the edit does, for the fix description


class InvalidInitArguments(Rule):
    code = "INI107"
    severity = "error"
    name = "invalid-init-arguments"
    summary = "torch.nn.init arguments that raise when the model is built"
    fixable = True
    docs = """\
## What it does
Flags `torch.nn.init` calls (and `calculate_gain`, the tensor methods `normal_`/`uniform_`, and the
mmcv/mmengine/fvcore helpers such as `kaiming_init(m, ...)` that pass their arguments on to them) whose
literal arguments make torch 2.13 raise:
- a keyword the function does not have (`normal_(w, stddev=0.01)`, `gain=` to a Kaiming function,
  `std=` to `uniform_`), too many positional arguments, an argument given twice, or a required one
  missing (`constant_(w)`): TypeError;
- a `nonlinearity` that `calculate_gain` rejects: it accepts exactly `linear`, `conv1d`, `conv2d`,
  `conv3d`, `conv_transpose1d`/`2d`/`3d`, `sigmoid`, `tanh`, `relu`, `leaky_relu` and `selu`, case
  included, so `"gelu"`, `"silu"`, `"swish"`, `"elu"`, `"mish"` and `"ReLU"` raise ValueError; so does a
  `leaky_relu` slope (`a`, `param`) that is a string or a bool;
- a Kaiming `mode` other than `fan_in`/`fan_out` (in any case): ValueError;
- `trunc_normal_` or `uniform_` with a literal lower bound above the upper one (the defaults count:
  `trunc_normal_(w, a=3)` has b=2): RuntimeError; `normal_`/`sparse_` with a negative `std`:
  RuntimeError; `trunc_normal_` with `std=0`: ZeroDivisionError;
- a literal of a type the parameter cannot take: a string or None for a number (`mean`, `std`, `a`,
  `b`, `val`, `gain`, ...), a number or string in the `generator` position (`xavier_uniform_(w, 0,
  0.02)` hands 0.02 to `generator`), a float for `dirac_`'s `groups`: TypeError; a number or None as
  Kaiming's `mode`: AttributeError;
- a tensor of a rank the init rejects (ValueError): `sparse_` and `eye_` on anything but a 2-D weight
  (every Conv weight), `dirac_` on anything but a 3-5-D one (a Linear weight), `orthogonal_` and the
  Xavier/Kaiming functions on a 1-D tensor: a BatchNorm/GroupNorm/InstanceNorm weight (named, or under an
  `isinstance` test for one), or a parameter the class builds with a literal shape
  (`self.scale = nn.Parameter(torch.ones(dim))`). A layer's bias is INI102's.

`calculate_gain` calls are checked wherever they are. Only literals are judged: a value that comes from a variable or a config is
never guessed at. Equal `trunc_normal_` bounds (`a == b`) do not raise in torch 2.13 (every value
becomes that bound), so they are not reported here.

## Why is this bad?
The model cannot be built: the call raises the first time the constructor or the `apply` function
runs. Code ported from TensorFlow (`stddev`) or written for a newer activation (`"gelu"`) often sits in
a branch that tests and demos never reach, and the crash comes at training time.

## Example
```python
nn.init.normal_(self.fc.weight, stddev=0.01)
nn.init.kaiming_normal_(self.conv.weight, nonlinearity="gelu")
```

## Use instead
```python
nn.init.normal_(self.fc.weight, std=0.01)
nn.init.kaiming_normal_(self.conv.weight, nonlinearity="relu")  # the activation that follows
```

## Fix
None for a tensor of the wrong rank (which init was meant is the author's call). Where the intent is
certain: `stddev=` becomes `std=` and `constant_(w, value=...)` becomes `val=`
(when not also given); a misspelled
`nonlinearity` or `mode` gets its exact spelling (`"ReLU"` and `"Leaky-ReLU"` → `"relu"` and
`"leaky_relu"`, `"fanout"` → `"fan_out"`); `gain=calculate_gain("tanh")` (or `gain=1`) on a Kaiming call
without its own `nonlinearity` becomes `nonlinearity="tanh"` (`"linear"`). An unsupported
`nonlinearity` (in a Kaiming call, or in `calculate_gain` passed as an init's `gain`) becomes the
activation that really follows every layer the init reaches when that is ReLU/ReLU6 (`"relu"`), tanh or
sigmoid, or LeakyReLU with the slope the call already gives as `a`.

None: where no single call is equivalent. torch has no gain for GELU, SiLU/Swish, ELU or Mish, so a
layer really followed by one of them gets no fix (choose `"relu"` for a close He init, or
`"linear"`); `gain=` on a Kaiming call with any other value, `std=` to `uniform_`, other unknown
keywords, positional-count errors, a missing argument and inverted bounds could each mean several
things.

## References
- PyTorch 2.13, `torch.nn.init` (`calculate_gain`, `kaiming_normal_`, `trunc_normal_`).
- TensorFlow, `tf.keras.initializers.RandomNormal(stddev=...)` (where `stddev` comes from).
"""

    def check(self, facts, options, rewriter):
        gain_sites = {}  # id(gain expression) -> the init site it configures
        site_of_call = {}
        for site in facts.sites:
            if site.via == "torch" and site.args is not None:
                site_of_call[id(site.args)] = site
                if site.func in ("xavier_uniform_", "xavier_normal_", "orthogonal_"):
                    gain = site.argument(1, "gain")
                    if gain is not None:
                        gain_sites[id(gain)] = site
        for call, name in facts.init_calls:
            if name == "calculate_gain":
                continue  # with the other calculate_gain calls below
            problems = self._init_problems(call, name, INIT_SIGNATURES[name], site_of_call.get(id(call)), facts,
                                           rewriter)
            yield from self._finding(call, problems, rewriter)
        checked = set()
        for site in facts.sites:
            signature = TENSOR_METHOD_SIGNATURES.get(site.func)
            if site.via == "method" and signature is not None and id(site.call) not in checked:
                checked.add(id(site.call))
                problems = self._init_problems(site.call, site.func, signature, None, facts, rewriter)
                yield from self._finding(site.call, problems, rewriter)
        for site in facts.sites:
            helper = helper_signature(site.call)
            if helper is None or site.via != "torch" or site.param != "weight" or id(site.call) in checked:
                continue
            # An mmcv/mmengine/fvcore helper handed a module: its own arguments, then the torch.nn.init call
            # it makes (``site.args``, written by the analysis: its edits would land nowhere).
            checked.add(id(site.call))
            signature = INIT_SIGNATURES[site.func]
            passed_on = self._init_problems(site.args, site.func, signature, site, facts, rewriter)
            for problem in passed_on:
                problem.edits = None
            problems = self._binding(site.call, site.func, helper) + passed_on
            yield from self._finding(site.call, problems, rewriter)
        for call in _calculate_gain_calls(facts):
            problems = self._binding(call, "calculate_gain", INIT_SIGNATURES["calculate_gain"])
            problems += self._nonlinearity(argument(call, 0, "nonlinearity"), argument(call, 1, "param"),
                                           "param", gain_sites.get(id(call)), default=None)
            yield from self._finding(call, problems, rewriter)

    def _finding(self, call, problems, rewriter):
        if not problems:
            return
        fix = None
        if all(p.edits is not None for p in problems):
            edits = {node: new for p in problems for node, new in p.edits.items()}
            fix = Fix("; ".join(p.change for p in problems if p.change), replace=edits)
        yield RawFinding(self.code, call,
                         f"`{rewriter.code(call.func)}` raises {problems[0].exception} when it runs: "
                         + "; ".join(p.reason for p in problems), fix)

    def _init_problems(self, call, name, signature, site, facts, rewriter) -> list[Problem]:
        problems = self._binding(call, name, signature)

        def given(param):
            return argument(call, signature.parameters.index(param), param)

        if name in _KAIMING:
            problems += self._kaiming_gain(call, given, facts.imports)  # a binding error: raised first
        problems += self._literal_types(name, signature, given, rewriter)
        if name in _KAIMING:
            mode = string(given("mode"))
            if mode is not None and mode.lower() not in FAN_MODES:
                spelled = spelled_as(mode, FAN_MODES)
                problems.append(Problem("ValueError", f'mode "{mode}" is not "fan_in" or "fan_out"',
                                        _respelled(given("mode"), spelled), f'mode="{spelled}"'))
            problems += self._nonlinearity(given("nonlinearity"), given("a"), "a", site, "leaky_relu",
                                           self._slope_named_like_nonlinearity(call, given))
        if site is not None:
            problems += _shape_problems(name, site, facts)
        elif name in _DIMS_NEEDED and _on_self(argument(call, 0, "tensor")):
            problems += _declared_problems(name, call, enclosing_method(call, facts), facts)
        starred = any(arg.star for arg in call.args)
        if name in ("trunc_normal_", "uniform_"):
            low, high = (-2.0, 2.0) if name == "trunc_normal_" else (0.0, 1.0)
            lower, upper = ("from", "to") if "from" in signature.parameters else ("a", "b")  # the tensor method
            a, a_text = _literal(given(lower), low, starred, rewriter)
            b, b_text = _literal(given(upper), high, starred, rewriter)
            if a is not None and b is not None and a > b:
                problems.append(Problem("RuntimeError", f"its lower bound {lower}={a_text} is above its upper "
                                                        f"bound {upper}={b_text}"))
        if name in ("normal_", "sparse_", "trunc_normal_"):
            std = number(given("std"))
            if std is not None and std < 0 and name != "trunc_normal_":
                problems.append(Problem("RuntimeError", f"std={rewriter.code(given('std'))} is negative"))
            if std == 0 and name == "trunc_normal_":
                problems.append(Problem("ZeroDivisionError", "std=0 leaves no distribution to truncate"))
        return problems

    @staticmethod
    def _literal_types(name, signature, given, rewriter) -> list[Problem]:
        """Literals of a type the parameter cannot take: a string or None where torch computes with a
        number, a float as ``dirac_``'s ``groups``, anything but None as ``generator``, a number or None
        as Kaiming's ``mode``."""
        problems = []
        for param in signature.parameters:
            value = given(param)
            if value is None:
                continue
            text = rewriter.code(value)
            numeric = number(value) is not None or boolean(value) is not None
            computed_with = param in NUMERIC_PARAMETERS and not (name in _KAIMING and param == "a")
            if computed_with and (string(value) is not None or text == "None"):
                problems.append(Problem("TypeError", f"{param}={text} is not a number"))
            elif param == "groups" and type(value) is cst.Float:
                problems.append(Problem("TypeError", f"groups={text} is not a whole number"))
            elif param == "generator" and (numeric or string(value) is not None):
                problems.append(Problem("TypeError", f"generator={text} is not a torch.Generator"))
            elif param == "mode" and (numeric or text == "None"):
                problems.append(Problem("AttributeError", f"mode={text} is not a string"))
        return problems

    @staticmethod
    def _binding(call, name, signature) -> list[Problem]:
        problems = []
        found_problems = binding_problems(call, signature)
        renames = {}  # id(unknown keyword argument) -> the parameter it becomes
        for found in found_problems:
            target = _RENAMES.get(found.keyword.keyword.value, ("",))[0] if found.keyword is not None else ""
            if target in signature.parameters and \
                    argument(call, signature.parameters.index(target), target) is None:
                renames[id(found.keyword)] = target
        for found in found_problems:
            reason, edits, change = found.reason, None, ""
            keyword = found.keyword.keyword.value if found.keyword is not None else None
            if keyword == "gain" and name in _KAIMING:
                continue  # judged with its value in ``_kaiming_gain``
            if keyword == "std" and name == "uniform_":
                reason += f" ({_UNIFORM_STD_HINT})"
            if keyword in _RENAMES:
                reason += f" ({_RENAMES[keyword][1]})"
            target = renames.get(id(found.keyword))
            if target is not None:
                edits, change = {found.keyword.keyword: cst.Name(target)}, f"`{keyword}=` -> `{target}=`"
            if found.missing is not None and found.missing in renames.values():
                edits = {}  # the rename supplies it
            problems.append(Problem("TypeError", reason, edits, change))
        return problems

    @staticmethod
    def _kaiming_gain(call, given, imports) -> list[Problem]:
        """``gain=`` on a Kaiming call: exact as ``nonlinearity`` when it names a gain Kaiming computes."""
        gain_arg = next((arg for arg in call.args if arg.keyword is not None and arg.keyword.value == "gain"),
                        None)
        if gain_arg is None:
            return []
        reason = f"it has no parameter `gain` ({_KAIMING_GAIN_HINT})"
        value = gain_arg.value
        named, quote = None, quote_of(call)
        if number(value) == 1:
            named = "linear"
        elif type(value) is cst.Call and len(value.args) == 1 and value.args[0].keyword is None \
                and torch_name(imports.resolve(value.func)) == _CALCULATE_GAIN:
            named, quote = string(value.args[0].value), quote_of(value)
        if given("nonlinearity") is not None or named not in GAIN_NONLINEARITIES or named == "leaky_relu":
            return [Problem("TypeError", reason)]  # leaky_relu's default slope differs from Kaiming's a=0
        new = gain_arg.with_changes(keyword=cst.Name("nonlinearity"),
                                    value=cst.SimpleString(f"{quote}{named}{quote}"))
        return [Problem("TypeError", reason, {gain_arg: new}, f'`gain=` -> `nonlinearity="{named}"`')]

    @staticmethod
    def _nonlinearity(expr, slope_expr, slope_name, site, default, slope_fix=None) -> list[Problem]:
        """A ``nonlinearity`` that ``calculate_gain`` rejects, or a leaky_relu slope that is not a number
        (``slope_fix``: the edit that moves a slope which is really a nonlinearity name)."""
        text = string(expr) if expr is not None else default
        if text is None:
            not_a_name = type(expr) is cst.Name and expr.value == "None" or number(expr) is not None
            return [Problem("ValueError", "its nonlinearity is not a name")] if not_a_name else []
        if text not in GAIN_NONLINEARITIES:
            spelled = spelled_as(text, GAIN_NONLINEARITIES)
            reason = f'nonlinearity "{text}" is not one calculate_gain knows'
            if spelled is not None:
                reason += f' (its spelling is "{spelled}")'
                change = f'nonlinearity="{spelled}"'
            else:
                spelled = _activation_after(site, number(slope_expr))
                change = f'nonlinearity="{spelled}", the activation that follows'
            return [Problem("ValueError", reason, _respelled(expr, spelled), change)]
        if text == "leaky_relu" and (string(slope_expr) is not None or boolean(slope_expr) is not None):
            reason = f"the leaky_relu slope {slope_name}={slope_expr.value} is not a number"
            return [Problem("ValueError", reason, slope_fix, f"{slope_expr.value} becomes `nonlinearity=`")]
        return []

    @staticmethod
    def _slope_named_like_nonlinearity(call, given) -> Optional[dict]:
        """``kaiming_normal_(w, "relu")``: the name went to ``a``; as the last positional argument, with no
        ``nonlinearity`` given, it moves there."""
        slope = given("a")
        positional = [arg for arg in call.args if arg.keyword is None]
        if string(slope) not in GAIN_NONLINEARITIES or given("nonlinearity") is not None \
                or len(positional) != 2 or positional[1].value is not slope:
            return None
        moved = positional[1].with_changes(keyword=cst.Name("nonlinearity"), equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")))
        return {positional[1]: moved}


# What each init needs of its tensor's dimensions (torch 2.13), and the ValueError's words.
_DIMS_NEEDED = {
    "sparse_": ((2,), "only 2-D tensors"), "eye_": ((2,), "only 2-D tensors"),
    "dirac_": ((3, 4, 5), "only 3-, 4- or 5-D tensors"),
    "orthogonal_": ((2, 3, 4, 5), "tensors of 2 or more dimensions"),
    "xavier_uniform_": ((2, 3, 4, 5), "2 or more dimensions to compute fan in and fan out"),
    "xavier_normal_": ((2, 3, 4, 5), "2 or more dimensions to compute fan in and fan out"),
    "kaiming_uniform_": ((2, 3, 4, 5), "2 or more dimensions to compute fan in and fan out"),
    "kaiming_normal_": ((2, 3, 4, 5), "2 or more dimensions to compute fan in and fan out"),
}


def _shape_problems(name, site, facts) -> list:
    """An init whose tensor has dimensions it rejects: ``sparse_`` on a Conv weight, ``dirac_`` on a
    Linear weight, Xavier/Kaiming/``orthogonal_`` on a BatchNorm's 1-D weight (a bias is INI102's)."""
    needed = _DIMS_NEEDED.get(name)
    if needed is None:
        return []
    found = weight_dims(site, facts)
    if found is not None and found[0] not in needed[0]:
        dims, owners = found
        return [Problem("ValueError", f"{name} takes {needed[1]}, and the weight of {owners} is {dims}-D")]
    return _declared_problems(name, site.args, site.function, facts) if found is None else []


def _on_self(expr) -> bool:
    return type(expr) is cst.Attribute and type(expr.value) is cst.Name


def _declared_problems(name, call, function, facts) -> list:
    """The same checks on a parameter the class builds with a literal shape (``nn.Parameter(torch.zeros(d))``),
    where INI102 (a layer's bias) does not already say it."""
    needed = _DIMS_NEEDED.get(name)
    tensor = argument(call, 0, "tensor") if needed is not None and call is not None else None
    found = declared_dims(tensor, function, facts) if tensor is not None else None
    if found is None or found[0] in needed[0]:
        return []
    dims, owner = found
    return [Problem("ValueError", f"{name} takes {needed[1]}, and {owner} is built {dims}-D")]


def _respelled(expr, text) -> Optional[dict]:
    if text is None or type(expr) is not cst.SimpleString:
        return None
    return {expr: cst.SimpleString(f"{expr.prefix}{expr.quote}{text}{expr.quote}")}


def _literal(expr, default, starred, rewriter):
    """(value, text) of a numeric argument, its default when not given; (None, None) when unknown."""
    if expr is None:
        return (None, None) if starred else (default, f"{default:g} (the default)")
    value = number(expr)
    return (value, rewriter.code(expr)) if value is not None else (None, None)


def _activation_after(site, slope: Optional[float]) -> Optional[str]:
    """The nonlinearity name of the activation after every layer ``site`` reaches, where calculate_gain
    knows it exactly: ReLU/ReLU6, tanh, sigmoid, or a LeakyReLU whose slope the call already gives."""
    if site is None or not site.reach or not site.reach_known:
        return None
    followers = {layer.follower for layer in site.reach}
    if len(followers) != 1:
        return None
    follower = followers.pop()
    if follower.kind != "act":
        return None
    if follower.act in ("relu", "relu6"):
        return "relu"
    if follower.act in ("tanh", "sigmoid"):
        return follower.act
    if follower.act == "leaky_relu" and slope is not None \
            and slope == (0.01 if follower.slope is None else follower.slope):
        return "leaky_relu"
    return None


def _calculate_gain_calls(facts):
    """Every ``torch.nn.init.calculate_gain`` call of the file (the analysis records them)."""
    return [call for call, name in facts.init_calls if name == "calculate_gain"]
