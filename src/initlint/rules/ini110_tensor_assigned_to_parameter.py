import libcst as cst

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
Flags `layer.weight = <value>` and `layer.bias = <value>` on a Linear/Conv layer (named, or reached by a
`modules()` loop, an `apply` function or a helper's type test) where the value is certainly not an
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
self.fc.weight = torch.randn(10, 64) * 0.01
```

## Use instead
```python
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
            if site.via != "other" or not isinstance(node, cst.Assign) or len(node.targets) != 1:
                continue
            target = node.targets[0].target
            if not (isinstance(target, cst.Attribute) and target.attr.value in ("weight", "bias")):
                continue  # ``.weight.data = ...`` and slices are fine
            if not site.reach and not site.standalone_kinds:
                continue
            why = plain_tensor(node.value, facts.imports)
            if why is None:
                continue
            where = layer_names(site.reach) if site.reach else f"every {', '.join(site.standalone_kinds)} it meets"
            fix = None
            if target.attr.value == "weight" or (site.reach and all(layer.bias == "true" for layer in site.reach)):
                # A bias=False layer's bias is None: there is no ``.data`` to take the values.
                fix = Fix("assign to `.data`", replace={target: cst.Attribute(value=target, attr=cst.Name("data"))})
            yield RawFinding(self.code, node,
                             f"assigning to `{rewriter.code(target)}` raises TypeError: it is a registered "
                             f"parameter of {where}, which takes only a Parameter or None, and {why}: assign "
                             f"to `{rewriter.code(target)}.data` or copy into it", fix)
