from .base import Rule
from ..findings import RawFinding


class InitInForward(Rule):
    code = "INI201"
    severity = "error"
    name = "init-in-forward"
    summary = "an init call inside forward()"
    docs = """\
## What it does
Flags `nn.init.*` calls and in-place inits of a layer's `weight`/`bias` (`.normal_()`, `.zero_()`,
`.fill_()`, ...) inside a module's `forward()`.

## Why is this bad?
`forward` runs on every call: the weights are re-drawn at every step, so the model never learns, and
the results of evaluation are random.

## Example
```python
def __init__(self):
    super().__init__()
    self.fc = nn.Linear(10, 10)

def forward(self, x):
    nn.init.kaiming_normal_(self.fc.weight)
    return self.fc(x)
```

## Use instead
```python
def __init__(self):
    super().__init__()
    self.fc = nn.Linear(10, 10)
    nn.init.kaiming_normal_(self.fc.weight)

def forward(self, x):
    return self.fc(x)
```

Initialise in `__init__` (or a `reset_parameters` method it calls).

## Fix
None: where the init belongs depends on the module, so initlint leaves the move to you.

## References
- PyTorch, "Building models with nn.Module".
"""

    def check(self, facts, options, rewriter):
        for site in facts.sites:
            if site.in_forward and site.via in ("torch", "method"):
                yield RawFinding(self.code, site.call,
                                 f"{site.func} inside forward() re-initialises the parameters on every call")
