"""What follows each layer: ``nn.Sequential`` order and data flow through methods like ``forward``."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Optional

import libcst as cst

from . import vocab
from .facts import Follower, Part, UNKNOWN, held_parts
from .names import torch_name
from .patterns import blocks_of, is_self_path
from .syntax import argument, block_statements, number, small_statements, walk, walk_with_parents

if TYPE_CHECKING:  # for annotations only: flow runs as a pass of the Analyzer
    from .collect import Analyzer

_MAX_DEPTH = 12
_SHAPE_READS = frozenset({"size", "shape", "dim", "ndim", "ndimension", "dtype", "device", "numel", "is_cuda"})


def resolve_followers(analyzer: "Analyzer") -> tuple[dict, list]:
    """Set every layer's follower; return what the model's path across blocks needs: each class's
    ``forward`` entry follower, and every instance of a class of this file with what follows it."""
    consumers: dict[int, list[Follower]] = {}
    entries: dict[str, Follower] = {}
    for function, scope, is_method in analyzer.functions:
        if scope.is_class and function.name.value != "__init__":
            flow = _FunctionFlow(analyzer, function, scope, is_method, consumers)
            flow.run()
            if is_method and function.name.value == "forward" and scope.origin is None:
                entries[scope.name] = flow.input_follower()
    resolver = _Resolver(consumers)
    for layer in analyzer.layers + [copy for layer in analyzer.layers for copy in layer.copies]:
        followers = list(consumers.get(id(layer), []))
        part = analyzer_part_of(analyzer, layer)
        if part is not None and part.parent is not None:
            for place in [part.parent] + part.also:
                followers.append(resolver.element_follower(*place))
        layer.follower = _merge(followers)
    for layer in analyzer.layers:
        if layer.copies:  # a builder called again: rules judge what follows any call's layer
            layer.path_follower = layer.follower
            layer.follower = _merge([layer.follower] + [copy.follower for copy in layer.copies])
    return entries, _instances(analyzer, consumers, resolver)


def _instances(analyzer, consumers, resolver) -> list:
    """``(part, scope, follower)`` for every instance of a class of this file held by a class."""
    found, seen = [], set()
    for scope in analyzer.scopes:
        if not scope.is_class:
            continue
        for part in held_parts(scope, seen):
            if part.kind != "other" or not part.instance_of:
                continue
            followers = list(consumers.get(id(part), []))
            if part.parent is not None:
                followers.extend(resolver.element_follower(*place) for place in [part.parent] + part.also)
            if followers:
                found.append((part, scope, _merge(followers)))
    return found


def analyzer_part_of(analyzer, layer) -> Optional[Part]:
    return analyzer.layer_parts.get(id(layer))


def _joins(arg, parents, imports) -> bool:
    """Whether ``arg`` is the first argument of ``torch.cat``/``torch.stack``: the values in it go on,
    joined, to what consumes the call."""
    call = parents.get(id(arg))
    return type(arg) is cst.Arg and type(call) is cst.Call and call.args[0] is arg \
        and torch_name(imports.resolve(call.func)) in vocab.JOIN_FUNCTIONS


def _same_chunk(seq: Part, first: int, second: int) -> bool:
    """Whether two elements were added by the same statement (their order is certain)."""
    chunks = seq.chunks
    return second < len(chunks) and chunks[first] is not None and chunks[first] == chunks[second]


def _through(follower: Follower, ops: list) -> Follower:
    """``follower`` as reached through these pass-through ops."""
    if follower.reshaped or all(op in vocab.PER_CHANNEL_PRESERVING for op in ops):
        return follower
    return dataclasses.replace(follower, reshaped=True)


def _merge(followers: list[Follower]) -> Follower:
    """One follower when every consumer of the output agrees; a use initlint cannot read may disagree.
    Where they disagree, the layers among them are kept (``feeds``): the value goes into those all the same."""
    if followers and not any(f.kind == "unknown" for f in followers):
        first = followers[0]
        if all(f == first for f in followers[1:]):
            return first
    feeds = tuple(layer for f in followers
                  for layer in ((f.layer,) if f.kind == "layer" and f.layer is not None else f.feeds))
    blocks = tuple(block for f in followers for block in f.blocks)
    return Follower("unknown", feeds=feeds, blocks=blocks) if feeds or blocks else UNKNOWN


class _Resolver:
    def __init__(self, consumers) -> None:
        self.consumers = consumers

    def seq_end(self, seq: Part, depth=0) -> Follower:
        if seq.parent is not None and depth < _MAX_DEPTH:
            return self.element_follower(seq.parent[0], seq.parent[1], depth + 1)
        followers = self.consumers.get(id(seq))
        return _merge(followers) if followers else Follower("end")

    def element_follower(self, seq: Part, index: int, depth=0) -> Follower:
        """What follows element ``index``; where the elements' order is uncertain (appends under
        branches), only what the same statement added after it."""
        passed = []
        for position in range(index + 1, len(seq.elements)):
            if seq.conditional and not _same_chunk(seq, index, position):
                return UNKNOWN
            element = seq.elements[position]
            if element.kind == "pass":
                passed.append(element.op)
                continue
            found = self.entry(element, lambda: self.element_follower(seq, position, depth + 1), depth)
            return _through(found, passed)
        if seq.conditional:
            return UNKNOWN
        found = self.seq_end(seq, depth + 1) if seq.kind == "seq" else UNKNOWN
        return _through(found, passed)

    def entry(self, part: Part, after, depth=0) -> Follower:
        """What a value meets on entering ``part``; ``after`` gives what follows ``part`` itself."""
        if depth > _MAX_DEPTH:
            return UNKNOWN
        if part.kind == "act":
            return Follower("act", act=part.act, slope=part.slope, then=after())
        if part.kind == "norm":
            return Follower("norm", norm=part.norm, then=after())
        if part.kind == "layer":
            return Follower("layer", layer=part.layer)
        if part.kind == "seq":
            if part.conditional:
                return UNKNOWN
            for element in part.elements:
                if element.kind != "pass":
                    return self.entry(element, lambda: UNKNOWN, depth + 1)
            return after()
        if part.kind == "other" and part.instance_of:  # an instance of this file's class: a block
            return Follower("unknown", blocks=(part,))
        return UNKNOWN


class _FunctionFlow:
    """Follows the values produced by layer calls in one method."""

    def __init__(self, analyzer, function, scope, is_method, consumers) -> None:
        self.analyzer = analyzer
        self.function = function
        self.scope = scope
        self.self_name = analyzer._self_name(function) if is_method else None
        self.consumers = consumers
        self.parents: dict[int, cst.CSTNode] = {}
        self.statement_place: dict[int, tuple] = {}   # id(stmt) -> (block, index, enclosing stmt)
        self.loop_parts: dict[str, list[Part]] = {}
        # id(For) -> (the name it carries, the elements it runs in turn) for ``for blk in self.blocks:
        # x = blk(x)``: each element's output is the next one's input, the last one's is ``x`` after the loop
        self.chains: dict[int, tuple] = {}

    def run(self) -> None:
        calls = [node for node in walk(self.function.body, into_defs=False) if type(node) is cst.Call]
        if not calls:
            return
        walk_with_parents(self.function.body, self.parents)
        self._index_block(block_statements(self.function.body), None)
        for call in calls:
            parts = self._parts_called(call.func)
            if not parts:
                continue
            chained = self._chained_followers(call)
            if chained is None:
                follower = self.consumer(call, 0)
                chained = [(part, follower) for part in parts]
            for part, follower in chained:
                key = id(part.layer) if part.kind == "layer" else id(part)
                self.consumers.setdefault(key, []).append(follower)

    def input_follower(self) -> Follower:
        """What ``forward``'s input meets first (every use until it is bound again, merged)."""
        params = self.function.params.params
        if len(params) < 2 or not self.parents:
            return UNKNOWN
        uses: list[Follower] = []
        for statement in block_statements(self.function.body):
            if self._uses_in(statement, params[1].name.value, 0, uses):
                break
        return _merge(uses) if uses else UNKNOWN

    def _index_block(self, statements, enclosing) -> None:
        for index, statement in enumerate(statements):
            self.statement_place[id(statement)] = (statements, index, enclosing)
            if type(statement) is cst.For:
                self._bind_loop(statement)
            if type(statement) not in (cst.SimpleStatementLine, cst.SimpleStatementSuite,
                                       cst.FunctionDef, cst.ClassDef):
                for block in blocks_of(statement):
                    self._index_block(block, statement)

    def _bind_loop(self, statement: cst.For) -> None:
        iterable, target = statement.iter, statement.target
        reverse = False
        if type(iterable) is cst.Call and type(iterable.func) is cst.Name \
                and iterable.func.value in ("enumerate", "reversed") and iterable.args:
            reverse = iterable.func.value == "reversed"
            iterable = iterable.args[0].value
            if iterable is not None and type(target) is cst.Tuple and statement.iter.func.value == "enumerate":
                target = target.elements[-1].value
        if type(target) is not cst.Name:
            return
        path = self.analyzer._path(iterable, self.self_name, self.scope)
        found = self.analyzer.lookup(path, self.scope, self.function) if path else None
        elements = self.analyzer.loop_elements(path, found, self.scope, self.function) if path else []
        if elements:
            self.loop_parts[target.value] = elements
            carried = _carried_name(statement, target.value)
            known = {id(element) for element in elements}
            added = self.analyzer.lookup(f"{path}[*]", self.scope, self.function) or []  # appended later
            if carried is not None and len(found) == 1 and not found[0].conditional \
                    and found[0].uncertain_from is None and not reverse \
                    and all(id(part) in known for part in added):
                self.chains[id(statement)] = (carried, elements)

    def _chain_of(self, call: cst.Call):
        """The chaining loop whose body calls ``call`` (the loop's element on its carried value), or None."""
        if type(call.func) is not cst.Name or call.func.value not in self.loop_parts:
            return None
        node = self.parents.get(id(call))
        while node is not None and type(node) is not cst.For:
            node = self.parents.get(id(node))
        return None if node is None else (self.chains.get(id(node)), node)

    def _chained_followers(self, call: cst.Call) -> Optional[list]:
        """(element, follower) for each element of the chaining loop whose body calls ``call`` (not another
        loop binding the same name), its follower what its output meets: the next element, or after the last
        one what the carried value meets after the loop. One element standing for its copies (built by a
        comprehension or a loop) may be wrapped in activations (``x = F.relu(layer(x))``); its copies follow
        each other, which repeats.py counts."""
        found = self._chain_of(call)
        if found is None or found[0] is None:
            return None
        (name, elements), loop = found
        after_loop = self._after_loop(loop, name)
        if len(elements) == 1:
            follower = self.consumer(call, 0)
            ends = follower
            while ends.kind == "act" and ends.then is not None and ends is not after_loop:
                ends = ends.then
            # Each copy but the last meets what the loop body wraps it in; with no wrapper, an activation
            # after the loop follows the last copy only, and the copies would be taken as each followed by it.
            if ends is after_loop and (follower is not after_loop or after_loop.kind != "act"):
                self.analyzer.chained_parts.add(id(elements[0]))
            return [(elements[0], follower)]
        if self.parents.get(id(call)) is not self._carried_assignment(loop):
            return None  # wrapped: one follower for every element, as before
        return [(element, self._chain_follower(elements, index, after_loop))
                for index, element in enumerate(elements)]

    def _chain_follower(self, elements: list, index: int, after_loop: Follower, depth: int = 0) -> Follower:
        """What the output of ``elements[index]`` (-1: the loop's input) meets."""
        if index + 1 >= len(elements) or depth > _MAX_DEPTH:
            return after_loop
        following = elements[index + 1]
        if following.kind == "pass":
            return _through(self._chain_follower(elements, index + 1, after_loop, depth + 1), [following.op])
        return _Resolver(self.consumers).entry(
            following, lambda: self._chain_follower(elements, index + 1, after_loop, depth + 1), depth)

    def _after_loop(self, loop: cst.For, name: str) -> Follower:
        """What the carried value meets after the loop (computed once per loop)."""
        key = ("after", id(loop))
        cached = self.chains.get(key)
        if cached is None:
            cached = self._next_use(name, loop, 1)
            self.chains[key] = cached
        return cached

    @staticmethod
    def _carried_assignment(loop: cst.For):
        return small_statements(block_statements(loop.body)[0])[0]

    def _parts_called(self, func) -> list[Part]:
        if type(func) is cst.Name and func.value in self.loop_parts:
            return self.loop_parts[func.value]
        path = self.analyzer._path(func, self.self_name, self.scope)
        if path is None or not is_self_path(path):
            return []
        return self.analyzer.lookup(path, self.scope, self.function) or []

    def consumer(self, node: cst.CSTNode, depth: int) -> Follower:
        if depth > _MAX_DEPTH:
            return UNKNOWN
        parent = self.parents.get(id(node))
        if type(parent) is cst.Element:  # ``torch.cat([x, skip], 1)``: the list is what is consumed
            listed = self.parents.get(id(parent))
            if type(listed) in (cst.List, cst.Tuple) and _joins(self.parents.get(id(listed)), self.parents,
                                                                self.analyzer.imports):
                return self.consumer(listed, depth + 1)
            return UNKNOWN
        if type(parent) is cst.Arg:
            call = self.parents.get(id(parent))
            if type(call) is cst.Call and call.args and call.args[0] is parent:
                return self._call_consumer(call, depth)
            return UNKNOWN
        if type(parent) is cst.Attribute and parent.value is node:
            call = self.parents.get(id(parent))
            if type(call) is cst.Call and call.func is parent:
                method = parent.attr.value
                if method in vocab.ACTIVATION_METHODS:
                    return Follower("act", act=vocab.ACTIVATION_METHODS[method], then=self.consumer(call, depth + 1))
                if method in vocab.PASS_THROUGH_METHODS:
                    return _through(self.consumer(call, depth + 1), [method])
            return UNKNOWN
        if type(parent) is cst.BinaryOperation and type(parent.operator) is cst.Add:
            return Follower("residual")
        if type(parent) is cst.AugAssign and type(parent.operator) is cst.AddAssign:
            return Follower("residual")
        if type(parent) is cst.Return:
            return Follower("output")
        if type(parent) is cst.Assign and parent.value is node and len(parent.targets) == 1 \
                and type(parent.targets[0].target) is cst.Name:
            return self._next_use(parent.targets[0].target.value, self.parents.get(id(parent)), depth)
        return UNKNOWN

    def _call_consumer(self, call: cst.Call, depth: int) -> Follower:
        qualified = torch_name(self.analyzer.imports.resolve(call.func))
        if qualified in vocab.ACTIVATION_FUNCTIONS:
            act = vocab.ACTIVATION_FUNCTIONS[qualified]
            slope = None
            if act == "leaky_relu":
                given = number(argument(call, 1, "negative_slope"))
                slope = 0.01 if given is None else given
            return Follower("act", act=act, slope=slope, then=self.consumer(call, depth + 1))
        if self.analyzer.is_extra_relu(call.func, qualified):
            return Follower("act", act="relu")
        if qualified in vocab.NORM_FUNCTIONS:
            return Follower("norm", norm=vocab.NORM_FUNCTIONS[qualified], then=self.consumer(call, depth + 1))
        if qualified in vocab.PASS_THROUGH_FUNCTIONS or qualified in vocab.JOIN_FUNCTIONS:
            return _through(self.consumer(call, depth + 1), [qualified])
        parts = self._parts_called(call.func)
        if len(parts) != 1:
            return UNKNOWN
        resolver = _Resolver(self.consumers)
        return resolver.entry(parts[0], lambda: self.consumer(call, depth + 1), depth) \
            if parts[0].kind != "pass" else _through(self.consumer(call, depth + 1), [parts[0].op])

    def _next_use(self, name: str, statement, depth: int) -> Follower:
        """What consumes a variable: every use until it is bound again, merged (a value read by two
        different consumers has no single follower)."""
        uses: list[Follower] = []
        place = self.statement_place.get(id(statement))
        while place is not None:
            block, index, enclosing = place
            for later in block[index + 1:]:
                if self._uses_in(later, name, depth, uses):
                    return _merge(uses)
            if enclosing is None:
                return _merge(uses)
            chain = self.chains.get(id(enclosing))
            if chain is not None and chain[0] == name and not uses:
                return self._after_loop(enclosing, name)
            if type(enclosing) in (cst.For, cst.While):
                return UNKNOWN
            place = self.statement_place.get(id(enclosing))
        return UNKNOWN

    def _uses_in(self, statement, name: str, depth: int, uses: list) -> bool:
        """Add the consumers of ``name`` in this statement to ``uses``; True when it rebinds the name
        (or is a compound statement using it: the uses stop being readable there)."""
        smalls = small_statements(statement)
        chain = self.chains.get(id(statement))
        if chain is not None and chain[0] == name:  # the value goes into the loop's first element
            uses.append(self._chain_follower(chain[1], -1, self._after_loop(statement, name)))
            return True
        if not smalls:
            if any(type(n) is cst.Name and n.value == name for n in walk(statement)):
                uses.append(UNKNOWN)
                return True
            return False
        for small in smalls:
            value_side = small.value if type(small) in (cst.Assign, cst.AugAssign, cst.AnnAssign) else small
            if value_side is not None:
                for node in walk(value_side, into_defs=False):
                    if type(node) is cst.Name and node.value == name and not self._is_attribute_name(node) \
                            and not self._inspects(node):
                        uses.append(self.consumer(node, depth + 1))
            if type(small) is cst.Assign and any(
                    type(t.target) is cst.Name and t.target.value == name for t in small.targets):
                return True
            if type(small) is cst.AugAssign and type(small.target) is cst.Name \
                    and small.target.value == name:
                uses.append(Follower("residual") if type(small.operator) is cst.AddAssign else UNKNOWN)
                return True
        return False

    def _inspects(self, node) -> bool:
        """``x.size(0)``, ``x.shape``, ``len(x)``: reading the value's shape does not consume it."""
        parent = self.parents.get(id(node))
        if type(parent) is cst.Attribute and parent.value is node:
            return parent.attr.value in _SHAPE_READS
        if type(parent) is cst.Arg:
            call = self.parents.get(id(parent))
            return type(call) is cst.Call and type(call.func) is cst.Name and call.func.value == "len"
        return False

    def _is_attribute_name(self, node) -> bool:
        parent = self.parents.get(id(node))
        return type(parent) is cst.Attribute and parent.attr is node


def _carried_name(loop: cst.For, target: str) -> Optional[str]:
    """``x`` in ``for blk in blocks: x = blk(x)`` (or ``x = F.relu(blk(x, mask))``): the loop's one
    statement rebinds ``x`` to what the element makes of it, ``x`` read once, as the element's input,
    and the element called once. Anything else (a residual ``x = x + blk(x)``, a second statement
    that reads ``x``, an ``else``) is not a chain."""
    body = block_statements(loop.body)
    if loop.orelse is not None or len(body) != 1:
        return None
    smalls = small_statements(body[0])
    if len(smalls) != 1 or type(smalls[0]) is not cst.Assign or len(smalls[0].targets) != 1 \
            or type(smalls[0].targets[0].target) is not cst.Name:
        return None
    carried = smalls[0].targets[0].target.value
    value = smalls[0].value
    calls = [node for node in walk(value) if type(node) is cst.Call and type(node.func) is cst.Name
             and node.func.value == target]
    if len(calls) != 1 or not calls[0].args or calls[0].args[0].keyword is not None or calls[0].args[0].star \
            or type(calls[0].args[0].value) is not cst.Name or calls[0].args[0].value.value != carried:
        return None
    reads = [node for node in walk(value) if type(node) is cst.Name and node.value in (carried, target)]
    return carried if len(reads) == 2 else None
