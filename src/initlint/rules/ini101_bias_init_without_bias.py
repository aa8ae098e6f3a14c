import libcst as cst

from ..analysis import vocab
from ..analysis.syntax import argument, boolean, dotted, walk
from .base import Rule, layer_names
from .rewrite import guard_one_line_suite, guard_shared_line
from ..findings import Fix, RawFinding


class BiasInitWithoutBias(Rule):
    code = "INI101"
    severity = "error"
    name = "bias-init-on-bias-free-layer"
    summary = "bias init on a layer that may be built with bias=False"
    fixable = True
    docs = """\
## What it does
Flags an init of `<layer>.bias` where the layer is built with `bias=False`, or with `bias=<a parameter>`
that can be False, and the init is not guarded by a test of the bias (`if m.bias is not None:`). Inside
`self.modules()` loops and `apply` functions it flags when a layer they reach is literally bias-free.

mmcv/mmengine/fvcore helpers handed a module (`kaiming_init(m)`, `c2_msra_fill(m)`) are not flagged:
they test the bias for None themselves.

## Why is this bad?
A layer built with `bias=False` has `bias = None`: `nn.init.zeros_(None)` raises `AttributeError` and
`None.data` fails, so the model crashes at construction.

## Example
```python
self.conv = nn.Conv2d(3, 64, 3, bias=False)
nn.init.zeros_(self.conv.bias)
```

## Use instead
```python
self.conv = nn.Conv2d(3, 64, 3, bias=False)
if self.conv.bias is not None:
    nn.init.zeros_(self.conv.bias)
```

## Fix
Deletes the call when the layer is literally `bias=False` (and the call is a statement of its own);
otherwise, for a bias that may be False (`bias=qkv_bias`) or a loop that reaches a bias-free layer,
wraps it in `if <layer>.bias is not None:`, also when it is the body of a one-line `if` (which then
becomes a block) or when it shares its line with other statements (`a; b` is split, in order).
None: when it sits in a one-line suite of several statements (`if c: a; b`) or under a compound
statement initlint does not rewrite.

## References
- PyTorch, `torch.nn.Linear` and `torch.nn.Conv2d` (`bias` argument).
"""

    def check(self, facts, options, rewriter):
        for site in facts.sites:
            if site.param != "bias" or site.guarded or site.via in ("helper", "other") or _module_helper(site):
                continue
            if site.loop and not [l for l in site.reach if l.bias == "false"]:
                continue
            risky = [l for l in site.reach if l.bias == "false" or (not site.loop and l.bias == "param")]
            if not risky:
                continue
            yield RawFinding(self.code, site.call,
                             f"bias init on {layer_names(risky)}, built with {_bias_state(risky)}: "
                             f"test `.bias is not None` first",
                             self._fix(site, risky, rewriter))

    @staticmethod
    def _fix(site, risky, rewriter):
        statement = site.statement
        test = f"{rewriter.code(site.owner)}.bias is not None"
        if type(statement) is cst.SimpleStatementSuite:  # ``if isinstance(m, nn.Linear): init(m.bias)``
            return guard_one_line_suite(statement, test, "guard with `is not None`")
        if type(statement) is cst.SimpleStatementLine and len(statement.body) > 1:  # ``a; init(m.bias)``
            return guard_shared_line(statement, site.call, test, "guard with `is not None`")
        alone = type(statement) is cst.SimpleStatementLine and len(statement.body) == 1 \
            and type(statement.body[0]) in (cst.Expr, cst.Assign, cst.AugAssign)
        if not alone:
            return None
        if not site.loop and len(site.reach) == len(risky) and all(l.bias == "false" for l in risky):
            return Fix("delete the init of a bias that does not exist", replace={statement: None})
        return rewriter.guard(statement, test, "guard with `is not None`")


def _bias_state(risky) -> str:
    """What is certain about the bias: literal ``bias=False`` crashes; ``bias=<parameter>`` crashes only
    when it is False, so say which way its default goes."""
    if all(layer.bias == "false" for layer in risky):
        return "bias=False: its bias is None and this raises"
    names = sorted({argument(layer.call, vocab.BIAS_POSITION[layer.kind], "bias").value
                    for layer in risky if layer.bias == "param"})
    defaults = {_default_of(layer) for layer in risky if layer.bias == "param"}
    given = f"bias={names[0]}" if len(names) == 1 else "a bias that may be False"
    if any(layer.bias == "false" for layer in risky):
        return f"bias=False or {given}: its bias is None there and this raises"
    if defaults == {False}:
        return f"{given}, False by default: its bias is then None and this raises"
    default = " (the default here is True)" if defaults == {True} else ""
    return f"{given}: if this layer is built with bias=False, its bias is None and this raises{default}"


def _default_of(layer):
    """The literal default (True/False) of the parameter a layer's ``bias=`` names, in the function that
    builds it; None when unknown."""
    name = argument(layer.call, vocab.BIAS_POSITION[layer.kind], "bias").value
    functions = list(layer.scope.methods.values()) if layer.scope is not None and layer.scope.is_class else []
    for function in functions:
        if not any(node is layer.call for node in walk(function.body)):
            continue
        params = list(function.params.params) + list(function.params.kwonly_params)
        for param in params:
            if param.name.value == name:
                return boolean(param.default) if param.default is not None else None
    return None


def _module_helper(site) -> bool:
    """An mmcv/mmengine/fvcore helper handed a module (``kaiming_init(m)``): it tests the module's bias
    for None itself, so a bias-free layer is no crash."""
    name = dotted(site.call.func) if type(site.call) is cst.Call else None
    return name is not None and name.rsplit(".", 1)[-1] in vocab.MODULE_INIT_HELPERS
