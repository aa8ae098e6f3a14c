import libcst as cst

from .base import Rule
from ..findings import Fix, RawFinding


class BiasTruthTest(Rule):
    code = "INI106"
    severity = "error"
    name = "bias-truth-test"
    summary = "a bias guard that tests a tensor's truth value"
    fixable = True
    docs = """\
## What it does
Flags `if m.bias:` (and `not m.bias`, `m.bias and ...`) where `m` is a layer or a module reached by a
`modules()` loop or `apply` function.

## Why is this bad?
`bool(tensor)` is only defined for one-element tensors: any real bias raises `RuntimeError: Boolean
value of Tensor with more than one value is ambiguous`. A bias-free layer passes (None is falsy), so
the bug hides until a layer with a bias comes along.

## Example
```python
for m in self.modules():
    if isinstance(m, nn.Linear):
        if m.bias:
            nn.init.zeros_(m.bias)
```

## Use instead
```python
for m in self.modules():
    if isinstance(m, nn.Linear):
        if m.bias is not None:
            nn.init.zeros_(m.bias)
```

## Fix
Rewrites the test to `m.bias is not None` (`m.bias is None` under `not`).

## References
- PyTorch, `torch.Tensor.__bool__`.
"""

    def check(self, facts, options, rewriter):
        for node, bias in facts.bias_truth_tests:
            text = rewriter.code(bias)
            rewritten = f"{text} is None" if node is not bias else f"{text} is not None"
            yield RawFinding(self.code, node,
                             f"`{rewriter.code(node)}` tests a tensor's truth value, which raises for a "
                             f"multi-element bias: use `{rewritten}`",
                             Fix(f"use `{rewritten}`", replace={node: cst.parse_expression(rewritten)}))
