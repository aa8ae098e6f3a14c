from dataclasses import dataclass

from ..analysis.syntax import string
from .base import Rule
from .init_signatures import HELPER_SIGNATURES
from .rewrite import keep_arguments, quote_of
from ..findings import Fix, RawFinding


@dataclass(frozen=True)
class _Helper:
    """What an mmcv/mmengine/fvcore helper does to a module's weight, as one ``torch.nn.init`` call."""
    normal: str                # the torch function (for ``distribution="normal"``, the helpers' default)
    uniform: str = ""          # the torch function for ``distribution="uniform"``
    fixed: tuple = ()          # (keyword, value) the helper passes where torch's default differs
    weight_style: bool = False  # raises on a 1-D tensor such as a bias


_HELPERS = {
    "constant_init": _Helper("constant_"),
    "normal_init": _Helper("normal_"),
    "uniform_init": _Helper("uniform_"),
    "trunc_normal_init": _Helper("trunc_normal_"),
    "xavier_init": _Helper("xavier_normal_", "xavier_uniform_", weight_style=True),
    "kaiming_init": _Helper("kaiming_normal_", "kaiming_uniform_", (("mode", "fan_out"), ("nonlinearity", "relu")),
                            weight_style=True),
    "caffe2_xavier_init": _Helper("kaiming_uniform_", fixed=(("a", 1),), weight_style=True),
    "c2_xavier_fill": _Helper("kaiming_uniform_", fixed=(("a", 1),), weight_style=True),
    "c2_msra_fill": _Helper("kaiming_normal_", fixed=(("mode", "fan_out"), ("nonlinearity", "relu")),
                            weight_style=True),
}
# fvcore's helpers read ``module.weight`` without testing for it: a tensor makes them raise.
_RAISING_HELPERS = ("c2_xavier_fill", "c2_msra_fill")


class ModuleHelperOnTensor(Rule):
    code = "INI204"
    severity = "error"
    name = "module-init-helper-on-tensor"
    summary = "an mmcv/mmengine/fvcore module init helper handed a tensor"
    fixable = True
    docs = """\
## What it does
Flags `constant_init`, `normal_init`, `kaiming_init`, `xavier_init`, ... (mmcv, mmengine) and
`c2_msra_fill`, `c2_xavier_fill` (fvcore) called with a tensor such as `m.weight` or `m.bias`.

## Why is this bad?
These helpers take a module and initialise its `.weight` and `.bias`. mmcv's and mmengine's test
`hasattr(module, "weight")` first: a tensor has no `.weight`, so the call does nothing at all, without
an error. fvcore's read `module.weight` directly and raise AttributeError.

## Example
```python
from mmcv.cnn import constant_init, normal_init

self.conv = nn.Conv2d(3, 64, 3)
self.fc = nn.Linear(256, 10)
constant_init(self.conv.bias, 0)
normal_init(self.fc.weight, std=0.01)
```

## Use instead
```python
self.conv = nn.Conv2d(3, 64, 3)
self.fc = nn.Linear(256, 10)
nn.init.constant_(self.conv.bias, 0)
nn.init.normal_(self.fc.weight, std=0.01)
```
or hand the helper the module (`normal_init(self.fc, std=0.01)`), which also sets its bias.

## Fix
Replaces the helper with the `torch.nn.init` call it makes on a module's weight, on the tensor it was
given, with the same arguments: `constant_init(t, val)` → `constant_(t, val)`, `normal_init` →
`normal_` (`mean`, `std`), `uniform_init` → `uniform_` (`a`, `b`), `trunc_normal_init` →
`trunc_normal_`, `xavier_init(t, gain, distribution=...)` → `xavier_normal_`/`xavier_uniform_`
(mmcv's default distribution is normal), `kaiming_init` → `kaiming_normal_`/`kaiming_uniform_` with
`mode="fan_out", nonlinearity="relu"` written out where not given (mmcv's defaults, not torch's),
`caffe2_xavier_init`/`c2_xavier_fill` → `kaiming_uniform_(t, a=1)`, `c2_msra_fill` →
`kaiming_normal_(t, mode="fan_out", nonlinearity="relu")`.

None: when the call passes `bias=` (meant for a module's bias, it has no place in a tensor init), a
`distribution` that is not a literal, `*args`/`**kwargs` or an unknown keyword; for Xavier/Kaiming
helpers given a bias (Xavier and Kaiming raise ValueError on a 1-D tensor: see INI102);
and for `bias_init_with_prob`, which computes a value and initialises nothing.

## References
- mmengine, `mmengine.model.weight_init`; fvcore, `fvcore.nn.weight_init`.
"""

    def check(self, facts, options, rewriter):
        for site in facts.sites:
            if site.via == "helper":
                tensor = f"`{rewriter.code(site.owner)}.{site.param}`"
                effect = "it raises AttributeError (a tensor has no `.weight`)" \
                    if site.func in _RAISING_HELPERS else "it does nothing"
                yield RawFinding(self.code, site.call,
                                 f"{site.func} expects a module but gets the tensor {tensor}: {effect}",
                                 self._fix(site, rewriter))

    @staticmethod
    def _fix(site, rewriter):
        helper = _HELPERS.get(site.func)
        call = site.args
        if helper is None or (helper.weight_style and site.param == "bias"):
            return None
        parameters = HELPER_SIGNATURES[site.func].parameters[1:]  # after the module
        tensor, positional, keywords = None, [], {}
        for index, arg in enumerate(call.args):
            if arg.star:
                return None
            if arg.keyword is None:
                if index == 0:
                    tensor = arg.value
                elif index - 1 < len(parameters):
                    positional.append((parameters[index - 1], arg.value))
                else:
                    return None
            elif arg.keyword.value == "module":
                tensor = arg.value
            elif arg.keyword.value in parameters:
                keywords[arg.keyword.value] = arg.value
            else:
                return None
        given = dict(positional, **keywords)
        distribution = given.get("distribution")
        if tensor is None or "bias" in given or (distribution is not None and string(distribution) not in (
                "normal", "uniform")):
            return None
        name = helper.uniform if string(distribution) == "uniform" else helper.normal
        # The helpers' parameters before ``bias`` come in torch's order: positional arguments stay so.
        args = [rewriter.code(tensor)] + [rewriter.code(value) for _, value in positional]
        args += [f"{param}={rewriter.code(value)}" for param, value in keywords.items()
                 if param != "distribution"]
        quote = quote_of(call)
        args += [f"{param}={quote}{value}{quote}" if isinstance(value, str) else f"{param}={value}"
                 for param, value in helper.fixed if param not in given]
        new_call, needs = rewriter.call(name, ", ".join(args))
        return Fix(f"use {name}", replace={call: keep_arguments(call, new_call)}, needs=needs)
