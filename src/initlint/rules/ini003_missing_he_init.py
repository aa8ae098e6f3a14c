from ..analysis.facts import Layer
import libcst as cst

from ..analysis.patterns import blocks_of
from ..analysis.signal_path import layer_count
from .base import Effect, Rule, activation_keep, bias_note, describe_change, layer_label, relu_like, signal_factor, \
    signal_fans, with_copies
from ..findings import Fix, RawFinding


class MissingHeInit(Rule):
    code = "INI003"
    severity = "warning"
    name = "missing-he-init"
    summary = "stacked ReLU layers keep PyTorch's default init"
    fixable = True
    docs = """\
## What it does
Flags a stack of Linear/Conv layers that keep PyTorch's default init and feed each other through
ReLU-family activations: each layer's output goes through the activation (no norm between) into the
next layer of the stack, in `nn.Sequential` order or along `forward()`'s data flow. One finding per
stack, at its first layer, naming every layer in it (`# noqa` on that line silences the whole stack).

How it decides: it compounds the signal's change along the model's data path through the stack,
across blocks (a block class's `forward` entered where it is called and left where it returns) and
builder-made parts: each default-init layer before ReLU multiplies the signal's second moment by 1/6
(by (1 + slope^2)/6 before a leaky ReLU; a strided `ConvTranspose` by in/(3 out stride^2), from its
literal sizes: PyTorch takes its fan_in from out_channels, so there He init gives back only sqrt(6) per
layer, and the message says so), a norm or a residual add ends the path. It reports when the RMS shrinks by at least
`min-signal-change` (default 100x: six such layers) over at least `relu-stack-depth` (default 2) such
layers; layers built in a loop or comprehension count as many as the loop runs where the file gives
its length (`range(6)`, a literal or module-level list such as a VGG `cfg["A"]`, a default argument)
and their copies follow each other (a `Sequential`, a forward loop `for blk in self.blocks: x = blk(x)`),
else as two (with one layer's factor). The message gives the factor, and where PyTorch's default
biases keep the activations well above the shrunken signal (their variance, 1/(3 fan_in), is a floor
the signal cannot push them under), by how much the activations themselves shrink.
Stays silent when anything initlint cannot follow may initialise the layers: an `apply` or init method
it cannot find, an init helper that this file never applies, a base class other than `nn.Module`, a
custom layer subclass, a class of another module the layers are handed to, a builder function this
file never calls; and when another checked file builds the model and initialises it (`apply`, a
`modules()` or `named_parameters()` loop, weights loaded before training).

## Why is this bad?
PyTorch's default Linear/Conv init is `kaiming_uniform_(w, a=sqrt(5))`: U(-1/sqrt(fan_in),
1/sqrt(fan_in)), a variance of 1/(3 fan_in). Before ReLU, which keeps half the variance, each layer
multiplies the signal's variance by about 1/6, so a deep ReLU stack's activations collapse towards its
biases and its gradients vanish.

## Example
```python
layers = [nn.Linear(784, 512), nn.ReLU()]
for _ in range(15):  # 16 ReLU layers in all
    layers += [nn.Linear(512, 512), nn.ReLU()]
self.net = nn.Sequential(*layers, nn.Linear(512, 10))
```

## Use instead
```python
layers = [nn.Linear(784, 512), nn.ReLU()]
for _ in range(15):  # 16 ReLU layers in all
    layers += [nn.Linear(512, 512), nn.ReLU()]
self.net = nn.Sequential(*layers, nn.Linear(512, 10))
for m in self.net.modules():
    if isinstance(m, nn.Linear):
        nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        nn.init.zeros_(m.bias)
```

## Fix
Inserts `kaiming_normal_(<layer>.weight, nonlinearity="relu")` (and `zeros_(<layer>.bias)` for layers
with a bias) right after the statement that creates each layer of the stack; three or more layers built
in one block get one loop after the last of them (`for layer in (self.conv1, self.conv2, ...): ...`);
for the layers of a `ModuleList`/`Sequential` built by a comprehension, a loop over the container
(`for layer in self.hidden: ...`). A stack with a layer that has no name to write the init against
(built in a loop with `append`, or by a call initlint cannot see into) gets no fix.

## References
- He et al. 2015, "Delving Deep into Rectifiers".
- PyTorch, `torch.nn.Linear` and `torch.nn.init`.
"""

    def check(self, facts, options, rewriter):
        if facts.may_init_elsewhere:
            return
        bare = [layer for layer in facts.layers if self._keeps_default(facts, layer)]
        bare_ids = {id(layer) for layer in bare}
        feeds = {}  # id(layer) -> the default-init layer its activation's output goes into
        for layer in bare:
            then = layer.follower.then
            fed = () if then is None else (then.layer,) if then.kind == "layer" else then.feeds
            for successor in fed:  # also where the activation's output has other consumers too
                if successor is not None and id(successor) in bare_ids and successor is not layer:
                    feeds[id(layer)] = successor
                    break
        fed = {id(layer) for layer in feeds.values()}
        fixed: set = set()  # layers an earlier stack's fix initialises (branches joining into one layer)
        effect = Effect(facts, options, {id(layer): (layer, _default_factor(layer)) for layer in with_copies(bare)})
        for first in bare:
            if id(first) in fed:
                continue
            stack = [first]
            while id(stack[-1]) in feeds and feeds[id(stack[-1])] not in stack:
                stack.append(feeds[id(stack[-1])])
            change, count, last, path = effect.path_through(stack)
            if count >= options.relu_stack_depth and effect.reported(change):
                note = bias_note(effect, facts, change, path)
                yield RawFinding(self.code, first.call, self._message(stack, change, count, last, note),
                                 self._fix(stack, rewriter, fixed), uninitialised=tuple(stack))

    @staticmethod
    def _keeps_default(facts, layer: Layer) -> bool:
        if layer.wrapped or layer.custom_class or layer.maybe_init or layer.values_loaded \
                or layer.scope.may_init_elsewhere \
                or not relu_like(layer.follower):
            return False
        return not facts.sites_for(layer, "weight")

    @staticmethod
    def _message(stack: list, change: float, count: int, last, note: str) -> str:
        names = ", ".join(layer_label(layer) for layer in stack)
        acts = sorted({layer.follower.describe() for layer in stack})
        what = f"{len(stack)} layers ({names}) keep" if len(stack) > 1 else f"{names} keeps"
        if len(stack) == 1 and stack[0].repeated:
            what = f"{names} keep"  # "the Linear layers of self.hidden", "self.up[0] and its copies"
        where = "" if count == sum(layer_count(layer) for layer in stack) else \
            " along the model's path"
        return f"{what} PyTorch's default init before {' / '.join(acts)}:{where} " \
               f"{describe_change(change, count, last, stack[0].scope)}{note} ({_what_he_does(stack)}); " \
               f"use He (kaiming) init"

    @staticmethod
    def _fix(stack: list, rewriter, fixed: set):
        kaiming, needs = rewriter.init_function("kaiming_normal_")
        zeros, more = rewriter.init_function("zeros_")
        inserts, containers, named = [], set(), []
        if any(_fix_target(layer) is None for layer in stack):
            return None
        for layer in stack:
            if id(layer) in fixed:
                continue
            fixed.add(id(layer))
            follower = layer.follower
            if follower.act in ("relu", "relu6"):
                nonlinearity = 'nonlinearity="relu"'
            else:
                nonlinearity = f'a={0.01 if follower.slope is None else follower.slope:g}, nonlinearity="leaky_relu"'
            path, loop, statement = _fix_target(layer)
            if loop:
                if path in containers:
                    continue
                containers.add(path)
                inserts.append((statement, _loop(path, nonlinearity, layer.bias == "true", kaiming, zeros, rewriter)))
            else:
                named.append((path, statement, nonlinearity, layer.bias == "true"))
        inserts.extend(_named_inits(named, kaiming, zeros, rewriter))
        uses_zeros = any(layer.bias == "true" for layer in stack)
        return Fix("insert He init", insert_after=inserts, needs=needs | (more if uses_zeros else frozenset()))


def _loop(over: str, nonlinearity: str, bias: bool, kaiming: str, zeros: str, rewriter) -> list:
    lines = [f"for layer in {over}:\n", f"    {kaiming}(layer.weight, {nonlinearity})\n"]
    if bias:
        lines.append(f"    {zeros}(layer.bias)\n")
    return rewriter.statements("".join(lines))


def _named_inits(named: list, kaiming: str, zeros: str, rewriter) -> list:
    """Inits of layers that have a name: one loop over three or more that want the same init and are
    built in one block (after the last of them), else a statement or two after each layer's own."""
    inserts, done = [], set()
    places = _statement_places(rewriter.module) if len(named) >= 3 else {}
    groups: dict = {}
    for entry in named:
        place = places.get(id(entry[1]))
        if place is not None:
            groups.setdefault((id(place[0]), entry[2], entry[3]), []).append((place[1], entry))
    for (_, nonlinearity, bias), members in groups.items():
        paths = list(dict.fromkeys(entry[0] for _, entry in members))
        if len(paths) < 3:
            continue
        last = max(members, key=lambda member: member[0])[1][1]
        inserts.append((last, _loop(_tuple_text(paths), nonlinearity, bias, kaiming, zeros, rewriter)))
        done.update(id(entry) for _, entry in members)
    for entry in named:
        if id(entry) in done:
            continue
        path, statement, nonlinearity, bias = entry
        lines = [f"{kaiming}({path}.weight, {nonlinearity})\n"]
        if bias:
            lines.append(f"{zeros}({path}.bias)\n")
        inserts.append((statement, rewriter.statements("".join(lines))))
    return inserts


def _tuple_text(paths: list) -> str:
    """``(a, b, c)``, wrapped over several lines where one would be long."""
    flat = f"({', '.join(paths)})"
    if len(flat) <= 72:
        return flat
    lines, line = [], ""
    for path in paths:
        if line and len(line) + len(path) + 2 > 76:
            lines.append(line)
            line = ""
        line += f"{path}, "
    lines.append(line)
    return "(\n" + "".join(f"    {text.rstrip()}\n" for text in lines) + ")"


def _statement_places(module) -> dict:
    """id(statement) -> (the block holding it, its index there), for every statement of the module."""
    places = {}
    todo = [module.body]
    while todo:
        block = todo.pop()
        for index, statement in enumerate(block):
            places[id(statement)] = (block, index)
            if type(statement) not in (cst.SimpleStatementLine, cst.SimpleStatementSuite):
                todo.extend(blocks_of(statement))  # function and class bodies too
    return places


def _what_he_does(stack: list) -> str:
    """He init keeps a layer's scale where PyTorch's fan_in is what each output sums. A ConvTranspose's
    weight is (in, out, k...): PyTorch takes fan_in = out_channels x k, while each output sums
    in_channels x k / stride inputs, so there He init gives back only its ratio to the default init."""
    mixed = any(not layer.kind.startswith("ConvTranspose") for layer in stack)
    for layer in stack:
        fans = signal_fans(layer)
        if fans is not None and fans[0] != fans[1]:
            gain = (3 / activation_keep(layer.follower)) ** 0.5
            where = "per ConvTranspose layer" if mixed else "per layer here"
            return f"He init gives back only about {gain:.1f}x {where}: PyTorch takes a ConvTranspose's " \
                   f"fan_in from its out_channels"
    return "He init keeps its scale"


def _default_factor(layer: Layer) -> float:
    """PyTorch's default init: Var(w) = 1 / (3 fan_in); before ReLU, which keeps half the second
    moment, each layer multiplies it by 1/6 (by (1 + slope^2) / 6 before a leaky ReLU)."""
    return signal_factor(layer, lambda fan_in, fan_out: 1 / (3 * fan_in), activation_keep(layer.follower) / 3)


def _fix_target(layer: Layer):
    """``(path, False, statement)`` to init the layer by name after the statement that names it,
    ``(container, True, statement)`` to init every element of a container built by a comprehension of
    this layer, or None. A builder's own name for it (``make_mlp()[0]``) is no place to init it."""
    for path, statement in layer.path_statements.items():
        if "()" in path or statement is None:
            continue
        if not layer.repeated and "[*]" not in path and "[-" not in path:
            return path, False, statement
        if layer.repeated and layer.comprehension and path.endswith("[*]") and "[*]" not in path[:-3]:
            return path[:-3], True, statement
    return None
