from ..analysis import vocab
from ..analysis.names import torch_name
from ..analysis.noop import discarded_inits
from ..findings import Fix, RawFinding
from .base import Rule, line_of

# What each wrapper computes the parameter ``{p}`` from, what becomes of an init of it, and what to
# initialise instead on the module ``{o}`` (torch 2.13).
_WRAPPED = {
    "weight_norm": ("recomputes `{p}` from `{p}_g` and `{p}_v` before every forward",
                    "is discarded", "`{o}.{p}_v` (and `{p}_g`, which sets its norm)"),
    "parametrizations.weight_norm": ("computes `{p}` from `parametrizations.{p}.original0` and `original1` "
                                     "each time it is read", "writes into a temporary and is discarded",
                                     "`{o}.parametrizations.{p}.original1` (and `original0`, which sets its norm)"),
    "parametrizations.spectral_norm": ("computes `{p}` from `parametrizations.{p}.original` each time it is read",
                                       "writes into a temporary and is discarded",
                                       "`{o}.parametrizations.{p}.original`"),
}


def _wrapped_message(found) -> str:
    owner, _, param = found.subject.rpartition(".")
    computed, lost, instead = _WRAPPED[found.detail]
    return (f"`{owner}` is wrapped by `{found.detail}` at line {line_of(found.origin)}, which "
            f"{computed.format(p=param)}: this init of `{found.subject}` {lost}; initialise the layer before "
            f"wrapping it, or {instead.format(o=owner, p=param)}")


class DiscardedInit(Rule):
    code = "INI108"
    severity = "error"
    name = "discarded-init"
    summary = ("an init whose result is thrown away: on a copy, never called, returned and dropped, or of a "
               "weight that weight_norm or a parametrization recomputes")
    fixable = True
    docs = """\
## What it does
Flags an init statement that leaves the parameter as it was:
- an in-place init of a **copy** of a parameter: `nn.init.xavier_uniform_(m.weight.data.clone())`,
  `m.weight.detach().clone().normal_(0, 0.02)`, `nn.init.zeros_(torch.clone(m.bias))`,
  `copy.deepcopy(w)`. Only what copies whatever the tensor is counts: `.cpu()`, `.to(...)` and `.float()`
  return the tensor itself for a float32 CPU weight (in torch 2.13), and `.detach()`/`.data` share its
  storage, so inits through them do work and are not reported;
- an init that is **never called**: `m.weight.data.normal_`, or `nn.init.zeros_` in a function body, as
  a statement (the parentheses are missing; a bare `nn.init.zeros_` at top level may be a notebook
  showing the function, so it is left alone);
- a function of this file handed `m.weight` as a statement whose body only **returns a new tensor**
  and never writes into its argument (it reads only its shape, dtype or device):
  `_zero_init(m.weight.data)` with `return torch.eye(*w.shape) * 0`;
- an init of a layer's `weight` **after** the layer was wrapped by `torch.nn.utils.weight_norm`,
  `torch.nn.utils.parametrizations.weight_norm` or `torch.nn.utils.parametrizations.spectral_norm`
  (of the parameter named by `name=`, `"weight"` by default): `self.conv1 = weight_norm(nn.Conv1d(...))`
  then `self.conv1.weight.data.normal_(0, 0.01)`, in the constructor or in a method it calls after the
  wrap (locuslab/TCN's `init_weights()`). Reported only where the wrap certainly ran first: an earlier
  statement of a block that holds the init, with the layer's name not rebound in between. A wrap under a
  condition (`if use_wn:`), in a loop, inside an expression or handed to a container is not followed,
  nor is an init through `apply` or a `modules()` loop, and `torch.nn.utils.spectral_norm` is not
  reported (see below).

## Why is this bad?
The parameter keeps the init it had (PyTorch's default) while the code reads as if it had another:
the new values go into a temporary tensor that is dropped at once, or nothing runs at all. Nothing
raises, so the mistake survives every test.

After a wrap, `weight` is no longer a parameter but a tensor computed from new ones (torch 2.13):
`weight_norm` registers `weight_g` and `weight_v` and recomputes `weight = g * v / |v|` in a hook before
every forward; the parametrizations compute `weight` from `parametrizations.weight.original0`/`original1`
(weight norm) or `parametrizations.weight.original` (spectral norm) each time it is read, so an init of
it writes into a temporary. Measured on a Conv1d: `weight.data.normal_(0, 0.01)` after `weight_norm`
gives a weight of std 0.010 right after the init and 0.085 after one forward, the same as without the
init. An init before the wrap does count (`g` and `v` are taken from the weight), and so does one of
`torch.nn.utils.spectral_norm`'s `weight` before the first forward: until then it is `weight_orig.data`,
the same storage.

## Example
```python
nn.init.xavier_uniform_(self.fc.weight.data.clone())
self.fc.bias.data.zero_

self.conv1 = weight_norm(nn.Conv1d(n_in, n_out, k))
self.conv1.weight.data.normal_(0, 0.01)
```

## Use instead
```python
nn.init.xavier_uniform_(self.fc.weight)
self.fc.bias.data.zero_()

conv1 = nn.Conv1d(n_in, n_out, k)
conv1.weight.data.normal_(0, 0.01)
self.conv1 = weight_norm(conv1)  # g and v from the initialised weight
```
or initialise `self.conv1.weight_v` (its direction; `weight_g` holds its norm), or for the
parametrizations `self.conv1.parametrizations.weight.original1` (and `original0`) /
`.original`.

## Fix
A copy: the copy is removed, so the init writes into the parameter (`w.clone()` -> `w`; for a
tensor method on a parameter that needs grad, `w.clone().normal_()` -> `w.detach().normal_()`).
A bare `zero_`: the call is added (`zero_()`). None for the other bare attributes (which arguments were
meant is unknown) and for a returned tensor (copy it in with `w.copy_(f(w))` once its shape is right).
None for an init after a wrap: moving the init before the wrap moves code across other statements, and
initialising `weight_v` instead keeps the norm in `weight_g`, so neither is an exact rewrite.

## References
- PyTorch, `torch.Tensor.clone`, `torch.Tensor.to` ("if self already has the right dtype and device,
  self is returned").
- PyTorch, `torch.nn.utils.weight_norm`, `torch.nn.utils.parametrizations.weight_norm`,
  `torch.nn.utils.parametrizations.spectral_norm`, `torch.nn.utils.parametrize.register_parametrization`.
- locuslab/TCN, `TCN/tcn.py` (`TemporalBlock.init_weights`); jik876/hifi-gan issue 145, "init_weights
  has no effect after weight_norm" (the same mistake through `apply`).
"""

    def check(self, facts, options, rewriter):
        def init_name(expr):
            qualified = torch_name(facts.imports.resolve(expr))
            if qualified and qualified.startswith(vocab.INIT_MODULE + "."):
                name = qualified[len(vocab.INIT_MODULE) + 1:]
                name = vocab.DEPRECATED_INIT_FUNCTIONS.get(name, name)
                return name if name in vocab.INIT_FUNCTIONS else None
            return None

        for found in discarded_inits(facts.module, facts.imports, init_name):
            if found.form == "copy":
                message = (f"this init writes into `{found.detail}`, a copy of `{found.subject}` that is dropped "
                           f"at once: `{found.subject}` keeps its init")
                fix = Fix("init the parameter itself", replace=found.edits)
            elif found.form == "uncalled":
                what = f"`{found.subject}.{found.detail}`" if found.subject else f"`{found.detail}`"
                message = f"{what} is never called (no parentheses): it does nothing"
                fix = Fix("call `zero_()`", replace=found.edits) if found.edits else None
            elif found.form == "wrapped":
                message = _wrapped_message(found)
                fix = None
            else:
                message = (f"`{found.detail}` returns a new tensor and never writes into `{found.subject}`: "
                           f"called as a statement, its result is thrown away and `{found.subject}` keeps "
                           f"its init")
                fix = None
            yield RawFinding(self.code, found.node, message, fix)
