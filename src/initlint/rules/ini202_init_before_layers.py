from .base import Rule
from ..findings import Fix, RawFinding


class InitBeforeLayers(Rule):
    code = "INI202"
    severity = "error"
    name = "init-before-layers"
    summary = "apply()/init method called in __init__ before the layers it should reach exist"
    fixable = True
    docs = """\
## What it does
Flags `self.apply(fn)` or a call of the module's own init method in `__init__` when layers that the
init would reach are assigned after the call.

## Why is this bad?
`apply` and `modules()` only see submodules that already exist: layers created later keep PyTorch's
default init, silently.

## Example
```python
def __init__(self):
    super().__init__()
    self.apply(self._init_weights)
    self.fc = nn.Linear(10, 10)

def _init_weights(self, m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
```

## Use instead
```python
def __init__(self):
    super().__init__()
    self.fc = nn.Linear(10, 10)
    self.apply(self._init_weights)

def _init_weights(self, m):
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
```

Call it last, after every submodule is assigned.

Layers that get an init of their own after the call are not counted: a zero-init head assigned after
`self.apply(...)` on purpose stays silent.

## Fix
Moves the call to just after the last statement of `__init__` that assigns a submodule, unless other
inits run between the two (moving the call past them would change which init wins).

## References
- PyTorch, `torch.nn.Module.apply`.
"""

    def check(self, facts, options, rewriter):
        for statement, scope, last_assignment in facts.early_apply_calls:
            call = statement.body[0].value
            fix = None if last_assignment is None else Fix("move the call after the last submodule assignment",
                                                           move_after=[(statement, last_assignment)])
            yield RawFinding(self.code, call,
                             f"`{rewriter.code(call)}` runs before some of the layers it should initialise "
                             f"are assigned in {scope.name}.__init__: call it after them", fix)
