import libcst as cst

from ..analysis import vocab
from ..analysis.names import torch_name
from ..analysis.noop import syntax_index
from ..analysis.syntax import argument, number
from ..findings import Fix, RawFinding
from .base import Rule


class UniformRangeToNormal(Rule):
    code = "INI006"
    severity = "warning"
    name = "uniform-range-to-normal"
    summary = "`normal_(w, -bound, bound)`: a uniform range handed to a normal init"
    fixable = True
    fix_safety = "unsafe"
    docs = """\
## What it does
Flags `nn.init.normal_(w, -bound, bound)` and `w.normal_(-bound, bound)` (positional or `mean=`/`std=`)
where the mean is exactly minus the standard deviation: the same expression negated
(`-stdv, stdv`, `-1 / math.sqrt(n), 1 / math.sqrt(n)`) or literals (`-0.1, 0.1`). `normal_(w, 0, bound)`
and any other mean are not flagged.

## Why is this bad?
`normal_` takes `(mean, std)`, not the `(a, b)` bounds of `uniform_`. With `mean=-bound` every weight
is shifted negative: on average each unit's output is pushed down by `bound` times the sum of its
inputs, and the spread is a full `bound` instead of the `bound / sqrt(3)` of the uniform init the bounds
describe. The pattern comes from porting `uniform_(w, -stdv, stdv)` (PyTorch's own default init) and
renaming the function only; it is not a crash, so it survives.

## Example
```python
stdv = 1.0 / math.sqrt(self.fc.weight.size(1))
nn.init.normal_(self.fc.weight, -stdv, stdv)
```

## Use instead
```python
nn.init.uniform_(self.fc.weight, -stdv, stdv)
```

## Fix
Unsafe (the distribution changes): `normal_` becomes `uniform_` with the same bounds (`mean=`/`std=`
become `a=`/`b=`). A tensor method given `mean=`/`std=` by keyword gets no fix (`uniform_`'s `from`/`to`
cannot be written as keywords).

## References
- PyTorch 2.13, `torch.nn.init.normal_`, `torch.nn.init.uniform_`, `torch.Tensor.normal_`.
"""

    def check(self, facts, options, rewriter):
        for call in syntax_index(facts.module).calls:
            func = call.func
            qualified = torch_name(facts.imports.resolve(func))
            if qualified in (f"{vocab.INIT_MODULE}.normal_", f"{vocab.INIT_MODULE}.normal"):
                mean, std, offset = argument(call, 1, "mean"), argument(call, 2, "std"), 1
            elif type(func) is cst.Attribute and func.attr.value == "normal_" and qualified is None:
                mean, std, offset = argument(call, 0, "mean"), argument(call, 1, "std"), 0
            else:
                continue
            if mean is None or std is None or not _negated(mean, std, rewriter):
                continue
            yield RawFinding(self.code, call,
                             f"`normal_` takes (mean, std), and this gives mean={rewriter.code(mean)}, "
                             f"std={rewriter.code(std)}: a uniform range, which shifts every value negative; "
                             f"`uniform_` was meant", self._fix(call, offset))

    @staticmethod
    def _fix(call, offset):
        func = call.func
        name = func.attr if type(func) is cst.Attribute else func
        if type(name) is not cst.Name or name.value not in ("normal_", "normal"):
            return None
        edits = {name: cst.Name("uniform_" if name.value == "normal_" else "uniform")}
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value in ("mean", "std"):
                if offset == 0:
                    return None
                edits[arg.keyword] = cst.Name("a" if arg.keyword.value == "mean" else "b")
        return Fix("use `uniform_` with the same bounds", replace=edits)


def _negated(mean, std, rewriter) -> bool:
    """``mean`` is exactly ``-std`` (a negated copy of the same expression, or literals)."""
    low, high = number(mean), number(std)
    if low is not None and high is not None:
        return high > 0 and low == -high
    if type(mean) is cst.UnaryOperation and type(mean.operator) is cst.Minus:
        return _bare(rewriter.code(mean.expression)) == _bare(rewriter.code(std))
    return False


def _bare(text: str) -> str:
    """Code without whitespace or enclosing parentheses, for comparing two spellings of one expression."""
    text = "".join(text.split())
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    return text
