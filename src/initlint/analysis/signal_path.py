"""How a change in the forward signal compounds along the model's data path, across its blocks.

A path runs from layer to layer through what follows each (an activation, pass-through ops), over the
layers a rule judges (a layer it does not judge ends the path, as it ends a stack); it enters
an instance of one of this file's classes at what its ``forward`` input meets first, and leaves it
where that ``forward`` returns, to what follows the instance in the class holding it. A norm layer
ends a path (it rescales the signal), and so does a residual add (the identity branch keeps the scale).
A builder called several times has a copy of its layers per later call, so one call's output feeding the
next is a path through both; a path never passes a layer twice (a module applied twice, a loop back).
A layer standing for copies built in a loop that feed each other (``Layer.loop_copies``) weighs as many
layers; an instance standing for such copies (``Part.loop_copies``) is entered again where its
``forward`` returns, once per copy. A context is the tuple of (instance part, which copy) pairs the path
is inside.
"""
from __future__ import annotations

from typing import Callable, Optional

from .facts import FileFacts, Follower, Layer

_MAX_NESTING = 8     # instances inside instances followed at most this deep
_MAX_STEPS = 150     # a path longer than this is not followed further


class SignalPaths:
    """The most compounded change along any path through a layer, for one rule's per-layer changes.

    ``weight(layer)`` is the log of the factor by which the layer changes the signal's RMS in the
    direction the rule is about (0 for layers it does not judge); ``through(layer)`` is the largest sum
    of weights along a path that passes through the layer, with how many judged layers it holds and
    the last of them."""

    def __init__(self, facts: FileFacts, weight: Callable[[Layer], float]) -> None:
        self.facts = facts
        self.weight = weight
        self.instances: dict[str, list] = {}   # class name -> [(part, holding scope name, follower)]
        for part, scope, follower in facts.block_instances:
            self.instances.setdefault(part.instance_of, []).append((part, scope.name, follower))
        self.suffixes: dict = {}
        self.best: dict[int, tuple] = {}        # id(layer) -> (sum, count, last layer)
        self.done = False

    def through(self, layer: Layer) -> tuple[float, int, Optional[Layer], tuple]:
        """(sum of weights, how many layers, the last layer, the layers in order) of the best path
        through ``layer``."""
        if not self.done:
            self._walk_all()
        return self.best.get(id(layer), (0.0, 0, None, ()))

    def _walk_all(self) -> None:
        self.done = True
        prefixes: dict = {}
        for layer in self.facts.layers + [copy for layer in self.facts.layers for copy in layer.copies]:
            if self._weight(layer) > 0:
                self._forward((layer, ()), (0.0, ()), prefixes, 0, set())

    def _weight(self, layer: Layer) -> float:
        return self.weight(layer) * (layer.loop_copies or 1)

    def _forward(self, node, prefix, prefixes, steps, on_path: set) -> None:
        """Walk on from ``node`` with what the path so far holds, recording the best total per layer."""
        key = _key(node)
        known = prefixes.get(key)
        if key in on_path or (known is not None and known[0] >= prefix[0]):
            return
        prefixes[key] = prefix
        layer = node[0]
        after = self._suffix(node, set())
        ahead, total, seen = after[1], prefix[0] + after[0], set(on_path)
        for index, later in enumerate(after[2]):
            if later in seen:  # the best path on from here loops back: it ends before that
                ahead = ahead[:index]
                total = prefix[0] + sum(self._weight(member) for member in ahead)
                break
            seen.add(later)
        on_path.add(key)
        path = prefix[1] + ahead
        count = sum(layer_count(member) for member in path)
        recorded = self.best.get(id(layer))
        if recorded is None or (total, count) > recorded[:2]:
            self.best[id(layer)] = (total, count, path[-1], path)
        if steps <= _MAX_STEPS:
            passed = (prefix[0] + self._weight(layer), prefix[1] + (layer,))
            for successor in self._successors(node):
                self._forward(successor, passed, prefixes, steps + 1, on_path)
        on_path.discard(key)

    def _suffix(self, node, active: set) -> tuple:
        """(sum, layers, their nodes' keys) of the best path starting at ``node`` (its own weight and
        layer included)."""
        key = _key(node)
        cached = self.suffixes.get(key)
        if cached is not None:
            return cached
        if key in active or len(active) > _MAX_STEPS:
            return 0.0, (), ()
        active.add(key)
        best = (0.0, (), ())
        for successor in self._successors(node):
            found = self._suffix(successor, active)
            if (found[0], len(found[1])) > (best[0], len(best[1])):
                best = found
        active.discard(key)
        result = (self._weight(node[0]) + best[0], (node[0],) + best[1], (key,) + best[2])
        self.suffixes[key] = result
        return result

    def _successors(self, node) -> list:
        """The judged layers the node's output goes into next: a layer the rule does not judge (a linear
        projection, a layer with a fitting init) ends the path, as in a stack."""
        layer, context = node
        follower = layer.path_follower or layer.follower  # a builder's layer: what follows its first call
        found = self._after(follower, context, layer.scope.name if layer.scope is not None else None, set())
        return [successor for successor in found if self._weight(successor[0]) > 0]

    def _after(self, follower: Optional[Follower], context: tuple, owner: Optional[str], seen: set) -> list:
        """The layers (with their instance context) a value meeting ``follower`` goes into next."""
        # A loop, not recursion, through activations and from one copy into the next: a block may be
        # copied a thousand times.
        walked = set()
        while follower is not None:
            step = (id(follower), tuple((id(part), copy) for part, copy in context))
            if step in walked:
                return []
            walked.add(step)
            if follower.kind == "act":
                follower = follower.then
                continue
            if follower.kind == "layer":
                return [(follower.layer, context)] if follower.layer is not None else []
            if follower.kind == "unknown":
                found = [(layer, context) for layer in follower.feeds]
                if len(context) < _MAX_NESTING:
                    for block in follower.blocks:
                        entry = self.facts.block_entries.get(block.instance_of)
                        found.extend(self._after(entry, context + ((block, 1),), block.instance_of, seen))
                return found
            if follower.kind != "output":
                return []  # a norm rescales the signal; a residual add keeps the identity's scale; the end
            if not context:  # leaves the class: to what follows the instance holding it
                return self._after_instances(owner, seen)
            instance, copy = context[-1]
            if copy < (instance.loop_copies or 1):  # into the next copy
                follower = self.facts.block_entries.get(instance.instance_of)
                context, owner = context[:-1] + ((instance, copy + 1),), instance.instance_of
                continue
            holder_after = next(((holder, after) for part, holder, after in self.instances.get(instance.instance_of, ())
                                 if part is instance), None)
            if holder_after is None:
                return []
            owner, follower = holder_after
            context = context[:-1]
        return []

    def _after_instances(self, owner: Optional[str], seen: set) -> list:
        """Where a value leaving class ``owner`` (outside any instance context) goes: after each instance."""
        if owner is None or owner in seen:
            return []
        seen = seen | {owner}
        found = []
        for part, holder, after in self.instances.get(owner, ()):
            if (part.loop_copies or 1) > 1:  # a path from inside the first copy goes on into the second
                found.extend(self._after(self.facts.block_entries.get(owner), ((part, 2),), owner, seen))
            else:
                found.extend(self._after(after, (), holder, seen))
        return found


def _key(node) -> tuple:
    """A node of the path: a layer in its instances' context (which copy of each)."""
    return id(node[0]), tuple((id(part), copy) for part, copy in node[1])


def layer_count(layer: Layer) -> int:
    """How many layers a judged layer stands for: its copies where the file gives the loop's length,
    else two for one built in a loop (its factor is counted once: the loop may run once)."""
    return layer.loop_copies or (2 if layer.looped else 1)
