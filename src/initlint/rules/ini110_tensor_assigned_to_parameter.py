import libcst as cst

from ..analysis import vocab
from ..analysis.noop import plain_tensor
from ..findings import Fix, RawFinding
from .base import Rule, layer_names


class TensorAssignedToParameter(Rule):
    code = "INI110"
    severity = "error"
    name = "tensor-assigned-to-parameter"
    summary = "a plain tensor assigned to a layer's weight or bias (TypeError)"
    fixable = True
    fix_safety = "unsafe"
    docs = """\
## What it does
Flags `layer.weight = <value>` and `layer.bias = <value>` on a Linear/Conv layer (named, reached by a
`modules()` loop, an `apply` function or a helper's type test, or `self` in a subclass of
`nn.Linear`/`nn.Conv2d`/...) where the value is certainly not an
`nn.Parameter`: a tensor built by a `torch` function (`torch.randn(...)`, `torch.zeros(...)`,
`torch.Tensor(...)`), `.data`, `.clone()`, `.detach()` or arithmetic (`m.weight * 0.1`, which returns a
plain tensor even from a Parameter), a number, or a `torch.nn.init` call handed one of those.
Assigning to `.weight.data`, or an `nn.Parameter(...)`, is not flagged.

## Why is this bad?
`weight` and `bias` are registered parameters: `nn.Module.__setattr__` accepts only an
`nn.Parameter` or None there and raises `TypeError: cannot assign 'torch.FloatTensor' as parameter
'weight' (torch.nn.Parameter or None expected)` (torch 2.13), also for the bias of a `bias=False` layer,
which is registered as None. The model cannot be built.

## Example
```python
class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)
        self.fc.weight = torch.randn(10, 64) * 0.01
```

## Use instead
```python
class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(64, 10)
        with torch.no_grad():
            self.fc.weight.copy_(torch.randn(10, 64) * 0.01)
```

## Fix
Unsafe: assigns to `.data` instead (`self.fc.weight.data = torch.randn(10, 64) * 0.01`), which keeps
the Parameter (and any optimizer that holds it) and takes the new values. The new tensor's shape,
dtype and device become the parameter's, which initlint cannot check: review the shape. None for the
bias of a layer that may be built with `bias=False` (it has no bias to take the values).

## References
- PyTorch, `torch.nn.Module.__setattr__`, `torch.nn.Parameter`.
"""

    def check(self, facts, options, rewriter):
        for site in facts.sites:
            node = site.call
            if site.via != "other" or type(node) is not cst.Assign or len(node.targets) != 1:
                continue
            target = node.targets[0].target
            if not (type(target) is cst.Attribute and target.attr.value in ("weight", "bias")):
                continue  # ``.weight.data = ...`` and slices are fine
            if any(layer.wrapped for layer in site.reach):
                continue  # ``weight_norm(nn.Linear(...))``: its weight is recomputed, not a registered Parameter
            subclassed = _torch_layer_base(site, facts) if not site.reach else None
            if not site.reach and not site.standalone_kinds and subclassed is None:
                continue
            why = plain_tensor(node.value, facts.imports)
            if why is None:
                continue
            if site.reach:
                where = layer_names(site.reach)
            elif subclassed is not None:
                where = f"this {subclassed} subclass"
            else:
                where = f"every {', '.join(site.standalone_kinds)} it meets"
            fix = None
            if target.attr.value == "weight" or (site.reach and all(layer.bias == "true" for layer in site.reach)):
                # A bias=False layer's bias is None: there is no ``.data`` to take the values.
                fix = Fix("assign to `.data`", replace={target: cst.Attribute(value=target, attr=cst.Name("data"))})
            yield RawFinding(self.code, node,
                             f"assigning to `{rewriter.code(target)}` raises TypeError: it is a registered "
                             f"parameter of {where}, which takes only a Parameter or None, and {why}: assign "
                             f"to `{rewriter.code(target)}.data` or copy into it", fix)


def _torch_layer_base(site, facts):
    """``self.weight = ...`` in a method of a subclass of a torch Linear/Conv class: the base's name."""
    owner = site.owner
    if type(owner) is not cst.Name or site.function is None:
        return None
    params = site.function.params.params
    if not params or params[0].name.value != owner.value:
        return None
    for scope in facts.scopes:
        if scope.is_class and any(method is site.function for method in scope.methods.values()):
            for base in scope.bases:
                if base and base.startswith("torch.nn.") and base[len("torch.nn."):] in vocab.LAYER_KINDS:
                    return base[len("torch.nn."):]
    return None
