from ..analysis.noop import ModelTypes, apply_sites, dispatch_of, type_label
from ..findings import RawFinding
from .base import Rule


class ApplyMatchesNothing(Rule):
    code = "INI109"
    severity = "error"
    name = "apply-matches-no-module"
    summary = "an `apply` helper whose type tests match no module of the model it is applied to"
    fixable = False
    docs = """\
## What it does
Flags `model.apply(fn)` (and `self.apply(self._init)`) where every statement of `fn` is an `if` on the
module's type (`isinstance(m, nn.Conv2d)`, `classname.find("Conv") != -1`, `type(m) == nn.Linear`) and
no module of the model passes any of those tests. It names the types the helper handles and those the
model holds.

It reports only where every module type of the model is known: the model and each module it registers
are built in this file from torch.nn classes without child modules of their own (not `Transformer` or
`MultiheadAttention`), containers of them, or classes of this file that are fully known in turn. A
module handed in as an argument, made by a call initlint cannot see into, or registered under a
computed name leaves the model unknown, and nothing is said. A `self.apply` in a class counts every
class of this file deriving from it.

## Why is this bad?
The helper runs on every module and changes none: the model keeps PyTorch's default init while the code
reads as if it had another. Typical causes: an `init_weights` written for a conv net reused on an MLP,
or a class-name test with the wrong spelling (`"Conv" in classname` for a model of `nn.Linear`).

## Example
```python
def init_weights(m):
    if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 10)
        self.apply(init_weights)
```

## Use instead
```python
def init_weights(m):
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 10)
        self.apply(init_weights)
```

## Fix
None: which layers the helper was meant for is a decision for the author.

## References
- PyTorch, `torch.nn.Module.apply`.
"""

    def check(self, facts, options, rewriter):
        types = ModelTypes(facts.module, facts.imports)
        for site in apply_sites(facts.module, types):
            dispatch = dispatch_of(site.helper, site.helper_is_method, types)
            if dispatch is None or any(dispatch.matches(kind) for kind in site.model_types):
                continue
            held = sorted({type_label(kind) for kind in site.model_types})
            yield RawFinding(self.code, site.call,
                             f"`{site.helper.name.value}` acts only on {' or '.join(dispatch.labels)}, and "
                             f"{site.model_label} holds no such module (its modules: {', '.join(held)}): this apply "
                             f"initialises nothing")
