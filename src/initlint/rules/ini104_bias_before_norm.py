import libcst as cst

from ..analysis import vocab
from ..analysis.syntax import argument
from .base import Rule, layer_label
from ..findings import Fix, RawFinding


class BiasBeforeNorm(Rule):
    code = "INI104"
    severity = "advice"
    fix_safety = "unsafe"  # removes a parameter: state_dict keys change
    name = "bias-before-batchnorm"
    summary = "Linear/Conv with a bias directly followed by BatchNorm/InstanceNorm"
    fixable = True
    docs = """\
## What it does
Flags a Linear/Conv layer built with a bias (the default) whose output has one consumer and goes
straight into BatchNorm or InstanceNorm, with nothing between that moves values across channels or
positions (max pooling and resizing are fine; a `view`/`reshape`/`flatten`/`permute`, dropout, zero
padding, average pooling or PixelShuffle between make the bias something the norm does not remove).
Advice: off by default (`--select INI104`). Its fix removes a parameter, so it is unsafe.

## Why is this bad?
These norms subtract the per-channel mean, which removes any per-channel constant, the bias included:
the bias gets no useful gradient and only costs memory and time. GroupNorm and LayerNorm do not cancel
it exactly and are not flagged; nor is FrozenBatchNorm (its shift is a buffer, so the layer's bias is the
only learnable shift).

## Example
```python
nn.Sequential(nn.Conv2d(64, 128, 3), nn.BatchNorm2d(128), nn.ReLU())
```

## Use instead
```python
nn.Sequential(nn.Conv2d(64, 128, 3, bias=False), nn.BatchNorm2d(128), nn.ReLU())
```

## Fix
Adds `bias=False` to the layer's construction (or turns `bias=True` into `bias=False`). Unsafe
(`--unsafe-fixes`): the layer loses its `bias` parameter, so `state_dict` keys change (checkpoints stop
loading with `strict=True`) and code that writes `m.bias.data` without a guard crashes.

## References
- Ioffe and Szegedy 2015, "Batch Normalization".
- PyTorch, `torch.nn.BatchNorm2d`.
"""

    def check(self, facts, options, rewriter):
        for layer in facts.layers:
            follower = layer.follower
            if layer.bias != "true" or layer.custom_class or follower.kind != "norm" or follower.reshaped \
                    or follower.norm not in vocab.BIAS_CANCELLING_NORMS:
                continue
            yield RawFinding(self.code, layer.call,
                             f"redundant parameter: the bias of {layer_label(layer)} is removed by the "
                             f"{follower.norm}'s mean subtraction: build it with bias=False", self._fix(layer))

    @staticmethod
    def _fix(layer):
        call = layer.call
        if argument(call, vocab.BIAS_POSITION[layer.kind], None) is not None and \
                argument(call, None, "bias") is None:
            return None  # passed positionally: leave it to the user
        args = list(call.args)
        for index, arg in enumerate(args):
            if arg.keyword is not None and arg.keyword.value == "bias":
                args[index] = arg.with_changes(value=cst.Name("False"))
                break
        else:
            last = args[-1] if args else None
            new_arg = cst.Arg(keyword=cst.Name("bias"), value=cst.Name("False"),
                              equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                                    whitespace_after=cst.SimpleWhitespace("")))
            if last is not None:
                trailing = last.comma if type(last.comma) is cst.Comma else None
                args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
                if trailing is not None:
                    new_arg = new_arg.with_changes(comma=trailing)
            args.append(new_arg)
        return Fix("bias=False", replace={call: call.with_changes(args=args)})
