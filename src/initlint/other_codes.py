"""Codes a user can see that are not static rules: INI900 (a file that cannot be read or parsed) and the
run-time audit's findings (``initlint.runtime.audit``, ``initlint audit``). Each has a page like a rule's
(``initlint rule INI900``, docs/rules/INI900.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class OtherCode:
    code: str
    name: str
    severity: str
    summary: str
    origin: str    # who reports it, for the page and ``rule --all``
    docs: str      # Markdown: What it does / Why is this bad? / Example / Use instead / References

    default_enabled = True
    fixable = False
    fix_safety = "safe"


_AUDIT = ("the run-time audit (`initlint.runtime.audit(model, inputs)` or `initlint audit module:factory`), "
          "which builds and runs the model; the linter never reports it")

_AUDIT_REFERENCES = """\
## References
- [docs/runtime.md](../runtime.md), "Findings" and "What each figure means".
- He et al., *Delving Deep into Rectifiers* (2015); Glorot & Bengio, *Understanding the difficulty of
  training deep feedforward neural networks* (2010).
"""

OTHER_CODES: tuple[OtherCode, ...] = (
    OtherCode("INI300", "signal-collapse", "error",
              "the signal a hidden layer hands on vanishes, or no longer depends on the input", _AUDIT, """\
## What it does
Measures, on an example batch, the second moment each hidden Linear/Conv hands on (after its activation)
relative to the first hidden layer's, and reports the first layer where it falls below `collapse_below`
(1e-4 by default: an RMS 100x smaller), or where the part of the output that varies across the batch
falls below 1e-6 of the first hidden layer's (the biases, not the input, decide the output).

## Why is this bad?
A signal that shrinks layer after layer leaves the deep layers with nothing to learn from and their
gradients vanish; an output that no longer depends on the input cannot be trained from it. A stack of
ReLU layers with PyTorch's default init (INI003) does this from about ten layers on.

## Example
```python
layers = [nn.Linear(64, 64) for _ in range(30)]  # default init, each before a ReLU
```

## Use instead
```python
for layer in layers:
    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    nn.init.zeros_(layer.bias)
```

""" + _AUDIT_REFERENCES),
    OtherCode("INI301", "signal-explosion", "error",
              "the signal a hidden layer hands on grows by orders of magnitude", _AUDIT, """\
## What it does
Reports the first hidden Linear/Conv whose handed-on second moment rises above `explode_above` (1e4 by
default) times the first hidden layer's.

## Why is this bad?
Activations and gradients that grow with depth overflow, saturate the following nonlinearities, and make
the first steps of training diverge.

## Example
```python
nn.init.normal_(layer.weight)  # std=1 on a 512-wide layer: each layer multiplies the signal by ~512
```

## Use instead
```python
nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
```

""" + _AUDIT_REFERENCES),
    OtherCode("INI302", "dead-units", "error",
              "a ReLU-family activation gets a negative input for most of a layer's outputs", _AUDIT, """\
## What it does
Reports a layer whose ReLU-family activation receives a negative input for more than `dead_above` (80% by
default) of its outputs on the example batch; the message gives the bias's mean against the spread the
weights produce.

## Why is this bad?
A ReLU unit that is never positive passes no gradient: it stays dead for the rest of training. A large
negative bias, or weights much smaller than the bias, cause it.

## Example
```python
nn.init.constant_(layer.bias, -1.0)  # before a ReLU: most outputs are negative
```

## Use instead
```python
nn.init.zeros_(layer.bias)
```

""" + _AUDIT_REFERENCES),
    OtherCode("INI303", "symmetric-units", "error",
              "a hidden layer has units with identical weight rows", _AUDIT, """\
## What it does
Reports a hidden Linear/Conv in which two or more units (rows of the weight, output channels of a conv)
are identical.

## Why is this bad?
Identical units compute the same output and get the same gradient, so they stay identical: the layer is
narrower than it looks. A constant init (INI001) makes every unit the same.

## Example
```python
nn.init.constant_(layer.weight, 0.01)
```

## Use instead
```python
nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
```

""" + _AUDIT_REFERENCES),
    OtherCode("INI304", "saturated-activations", "warning",
              "a tanh/sigmoid/hardtanh puts most of a layer's outputs in its flat region", _AUDIT, """\
## What it does
For each Linear/Conv followed by a tanh, sigmoid or hardtanh (directly or after a norm), measures the
share of the activation's outputs in its flat region (|tanh| > 0.99, sigmoid < 0.01 or > 0.99, hardtanh
inputs at or beyond ±1) and reports the layers where it exceeds `saturated_above` (0.5 by default,
`--saturated-above`).

## Why is this bad?
Where the activation is flat its gradient is close to zero (under 2-4% of its peak, 0 for hardtanh), so
those units barely learn: the layer's weights or bias are too large for its activation. Weights scaled
for ReLU, or unscaled `normal_`, push tanh and sigmoid there (a 50-layer tanh MLP with N(0, 1) weights is
73% saturated).

## Example
```python
nn.init.normal_(layer.weight)  # std=1, before nn.Tanh()
```

## Use instead
```python
nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain("tanh"))
```

""" + _AUDIT_REFERENCES),
    OtherCode("INI900", "parse-error", "error",
              "the file could not be read or parsed", "the linter, for a file it cannot read or parse", """\
## What it does
Reports a file initlint cannot analyse: it cannot be read (permissions, a dangling symlink named on the
command line), is not valid Python (a syntax error, bytes that are not UTF-8 or the declared encoding,
nesting deeper than Python allows), or is a notebook that is not nbformat 4 JSON. The finding is at the
position the parser names (for a bad byte: its line).

## Why is this bad?
Nothing in the file is checked, so its init bugs go unreported; Python would refuse the file as well.
The other files are still checked, and `--fix` never writes a file that does not parse.

## Example
```python
x = "\\xff"  # saved as Latin-1, without an encoding declaration
```

## Use instead
```python
x = "ÿ"  # saved as UTF-8 (or declare the encoding: `# -*- coding: latin-1 -*-`)
```

## References
- Python Language Reference, "Encoding declarations".
"""),
)

OTHER_CODES_BY_CODE = {other.code: other for other in OTHER_CODES}
OTHER_CODES_BY_NAME = {other.name: other for other in OTHER_CODES}


def find_other_code(code_or_name: str) -> Optional[OtherCode]:
    return OTHER_CODES_BY_CODE.get(code_or_name.upper()) or OTHER_CODES_BY_NAME.get(code_or_name.lower())


def other_code_markdown(other: OtherCode) -> str:
    return (f"# {other.name} ({other.code})\n\n{other.summary[0].upper()}{other.summary[1:]}.\n\n"
            f"Not a static rule: reported by {other.origin}. Severity: {other.severity}.\n\n"
            f"Fix is not available.\n\n{other.docs}")
