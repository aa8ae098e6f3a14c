"""How many copies a layer or block built in a loop stands for, where the file says how often it runs.

``for v in cfg: layers += [nn.Conv2d(c, v, 3), nn.ReLU()]`` with ``cfg = [64, 'M', 128, ...]`` (or
``CFG['A']``, or what every call in the file passes for ``cfg``), ``for _ in range(depth)`` with
``depth=12`` (a default or a module constant), ``nn.ModuleList([Block() for _ in range(depth)])``: the
copies feed each other where the list they join runs in order (a Sequential, or a forward loop
``for blk in self.blocks: x = blk(x)``) and only activations and pass-through modules lie between them.
Where the length is not in the file (a parameter filled from elsewhere, a condition that cannot be
evaluated, a ``break``), nothing is set: such a layer counts as two layers with one layer's factor.
"""
from __future__ import annotations

from itertools import product
import math
from typing import Optional

import libcst as cst

from . import vocab
from .names import torch_name
from .noop import syntax_index
from .syntax import block_statements, bound_names, dotted, number, small_statements, string, walk

_OPAQUE = object()   # a value the file does not state
_MAX_DEPTH = 4       # parameters followed through this many callers
_MAX_CANDIDATES = 16  # values a name may have across the file's calls
_MAX_RUNS = 1024     # a loop said to run more often than this is not run through


def settle_copies(analyzer) -> None:
    """Set ``loop_copies`` on the layers and block instances built in a loop whose length the file gives."""
    for loop, function, call, part in analyzer.built_in_loop.values():
        if part.kind == "layer" and not part.layer.looped:
            continue
        in_series = id(part) in analyzer.chained_parts or (
            type(loop) is cst.For and part.parent is not None and part.parent[0].kind == "seq" and not part.also)
        if not in_series:
            continue
        # What lies between two copies must be what the rules take to follow each: the layer's activation
        # (a block's copies: nothing, its forward is entered again where it returns).
        follower = (part.layer.path_follower or part.layer.follower) if part.kind == "layer" else None
        between = follower.act if follower is not None and follower.kind == "act" else None
        if between is not None and id(part) in analyzer.spliced_copies:
            continue  # ``*[nn.Linear(d, d) for ...], nn.ReLU()``: only the last copy meets the activation
        copies = _copies(analyzer, loop, function, call, between)
        if copies:
            if part.kind == "layer":  # a builder's later calls: at least as many (the fewest any call makes)
                for layer in (part.layer, *part.layer.copies):
                    layer.loop_copies = copies
            else:
                part.loop_copies = copies


def _copies(analyzer, loop, function, call, between: Optional[str]) -> Optional[int]:
    if type(loop) is not cst.For:  # a comprehension: one copy per value, the element being the call itself
        comp = loop.for_in
        if loop.elt is not call or comp.inner_for_in is not None or comp.ifs:
            return None
        runs = _iterations(analyzer, comp.iter, function)
        return min(len(values) for values in runs) if runs else None
    runs = _iterations(analyzer, loop.iter, function)
    if not runs or type(loop.target) is not cst.Name or loop.orelse is not None:
        return None
    counts = [_built_per_run(analyzer, loop, values, call, between) for values in runs]
    return None if None in counts else min(counts)


# --- running the loop's body over the values it is given --------------------------------------------------

def _built_per_run(analyzer, loop: cst.For, values: list, call: cst.Call, between: Optional[str]) -> Optional[int]:
    """How many copies of ``call`` one run of the loop over ``values`` appends to a list, where between
    two of them that list gets pass-through modules and the activation ``between`` (once; none where
    ``between`` is None); else None."""
    appended: dict = {}   # list name -> what the loop appends to it, in order
    for value in values:
        if _run(analyzer, block_statements(loop.body), loop.target.value, value, {}, appended, call) is None:
            return None
    holders = [tokens for tokens in appended.values() if "copy" in tokens]
    if len(holders) != 1:
        return None
    tokens = holders[0]
    places = [index for index, token in enumerate(tokens) if token == "copy"]
    wanted = [f"act:{between}"] if between is not None else []
    for first, second in zip(places, places[1:]):
        if [token for token in tokens[first + 1:second] if token != "pass"] != wanted:
            return None
    return len(places)


def _run(analyzer, statements, target: str, value, bound: dict, appended: dict, call) -> Optional[str]:
    """Run statements for one value of the loop: "next" (fell through), "continue", or None where the
    body does something that cannot be followed."""
    for statement in statements:
        if type(statement) is cst.If:
            branch = statement
            while type(branch) is cst.If:
                truth = _truth(branch.test, target, value)
                if truth is None:
                    return None
                if truth:
                    break
                branch = branch.orelse
            if branch is None:
                continue
            body = branch.body
            outcome = _run(analyzer, block_statements(body), target, value, bound, appended, call)
            if outcome != "next":
                return outcome
            continue
        smalls = small_statements(statement)
        if not smalls:
            return None  # a nested loop, with, try: not followed
        for small in smalls:
            kind = type(small)
            if kind is cst.Continue:
                return "continue"
            if kind in (cst.Break, cst.Return, cst.Raise):
                return None
            if kind is cst.Assign:
                if len(small.targets) == 1 and type(small.targets[0].target) is cst.Name:
                    name = small.targets[0].target.value
                    if name in appended:
                        return None  # the list itself rebound
                    bound[name] = _token(analyzer, small.value, bound, call)
            elif kind is cst.AugAssign and type(small.target) is cst.Name and type(small.operator) is cst.AddAssign \
                    and type(small.value) in (cst.List, cst.Tuple):
                appended.setdefault(small.target.value, []).extend(
                    _token(analyzer, element.value, bound, call) for element in small.value.elements)
            elif kind is cst.Expr and type(small.value) is cst.Call and type(small.value.func) is cst.Attribute:
                method = small.value.func.attr.value
                owner = dotted(small.value.func.value)
                args = small.value.args
                if method == "append" and owner and len(args) == 1:
                    appended.setdefault(owner, []).append(_token(analyzer, args[0].value, bound, call))
                elif method == "extend" and owner and len(args) == 1 and type(args[0].value) in (cst.List, cst.Tuple):
                    appended.setdefault(owner, []).extend(
                        _token(analyzer, element.value, bound, call) for element in args[0].value.elements)
                elif method in ("insert", "extend", "add_module", "append"):
                    return None
    return "next"


def _token(analyzer, expr, bound: dict, call) -> str:
    """What an appended (or bound) expression is: "copy" (the call counted), "act:<activation>", "pass",
    or "other"."""
    if type(expr) is cst.Name:
        return bound.get(expr.value, "other")
    if expr is call:
        return "copy"
    if type(expr) is not cst.Call:
        return "other"
    qualified = torch_name(analyzer.imports.resolve(expr.func))
    short = qualified[len("torch.nn."):] if qualified and qualified.startswith("torch.nn.") else None
    if short in vocab.ACTIVATION_MODULES:
        return f"act:{vocab.ACTIVATION_MODULES[short][0]}"
    if analyzer.is_extra_relu(expr.func, qualified):
        return "act:relu"
    if short in vocab.PASS_THROUGH_MODULES:
        return "pass"
    return "other"


def _truth(test, target: str, value) -> Optional[bool]:
    """A test of the loop's value against literals (``v == 'M'``, ``v in ('M', 'C')``,
    ``isinstance(v, int)``, ``not ...``), evaluated; None for anything else."""
    if value is _OPAQUE:
        return None
    if type(test) is cst.UnaryOperation and type(test.operator) is cst.Not:
        inner = _truth(test.expression, target, value)
        return None if inner is None else not inner
    if type(test) is cst.Call and dotted(test.func) == "isinstance" and len(test.args) == 2 \
            and type(test.args[0].value) is cst.Name and test.args[0].value.value == target:
        kinds = test.args[1].value
        names = [dotted(element.value) for element in kinds.elements] if type(kinds) is cst.Tuple else [dotted(kinds)]
        types = {"int": int, "str": str, "float": float}
        if not all(name in types for name in names):
            return None
        return isinstance(value, tuple(types[name] for name in names)) and not isinstance(value, bool)
    if type(test) is not cst.Comparison or len(test.comparisons) != 1:
        return None
    left, operator, right = test.left, test.comparisons[0].operator, test.comparisons[0].comparator
    if type(left) is cst.Name and left.value == target:
        other = _literal(right)
    elif type(right) is cst.Name and right.value == target and type(operator) in (cst.Equal, cst.NotEqual):
        other = _literal(left)
    else:
        return None
    if other is _OPAQUE:
        return None
    if type(operator) in (cst.Equal, cst.Is):
        return value == other and type(value) is type(other)
    if type(operator) in (cst.NotEqual, cst.IsNot):
        return not (value == other and type(value) is type(other))
    if type(operator) in (cst.In, cst.NotIn) and isinstance(other, (list, tuple)) and _OPAQUE not in other:
        found = any(value == item and type(value) is type(item) for item in other)
        return found if type(operator) is cst.In else not found
    return None


# --- what values the loop goes over ------------------------------------------------------------------------

def _iterations(analyzer, expr, function) -> Optional[list]:
    """The lists of values the loop may go over (one per way the file builds the model), or None."""
    if type(expr) is cst.Call and dotted(expr.func) == "range" and 1 <= len(expr.args) <= 3 \
            and not any(arg.star or arg.keyword for arg in expr.args):
        bounds = [_values(analyzer, arg.value, function, 0) for arg in expr.args]
        if any(found is None or any(type(v) is not int for v in found) for found in bounds):
            return None
        combinations = list(product(*bounds))
        if len(combinations) > _MAX_CANDIDATES:
            return None  # one left out could be the fewest
        runs = []
        for combination in combinations:
            if len(combination) == 3 and combination[2] == 0:
                return None  # range() would raise
            values = range(*combination)
            if len(values) > _MAX_RUNS:
                return None
            runs.append(list(values))
        return runs or None
    found = _values(analyzer, expr, function, 0)
    if found is None or not all(isinstance(value, (list, tuple)) and len(value) <= _MAX_RUNS for value in found):
        return None
    return [list(value) for value in found]


def _values(analyzer, expr, function, depth: int) -> Optional[list]:
    """Every value ``expr`` may have where the file states it, or None."""
    if depth > _MAX_DEPTH:
        return None
    literal = _literal(expr)
    if literal is not _OPAQUE:
        return [literal]
    if type(expr) is cst.Name:
        if function is not None and _is_param(function, expr.value):
            return None if _rebound(function, expr.value) else _param_values(analyzer, function, expr.value, depth)
        if function is not None and _rebound(function, expr.value):
            return None
        bound = _module_constant(analyzer, expr.value)
        return None if bound is None else _values(analyzer, bound, None, depth + 1)
    if type(expr) is cst.Subscript and len(expr.slice) == 1 and type(expr.slice[0].slice) is cst.Index:
        containers = _values(analyzer, expr.value, function, depth + 1)
        keys = _values(analyzer, expr.slice[0].slice.value, function, depth + 1)
        if containers is None or keys is None:
            return None
        found = []
        for container, key in product(containers, keys):
            if isinstance(container, dict) and key in container:
                found.append(container[key])
            elif isinstance(container, (list, tuple)) and type(key) is int and -len(container) <= key < len(container):
                found.append(container[key])
            else:
                return None
        return found if len(found) <= _MAX_CANDIDATES else None
    return None


def _literal(expr):
    """The value of a literal (numbers, strings, booleans, None, and lists, tuples and dicts of them:
    elements that are not literals are _OPAQUE), else _OPAQUE."""
    value = number(expr)
    if value is not None:
        if not math.isfinite(value):
            return _OPAQUE
        return int(value) if value == int(value) and type(expr) is not cst.Float else value
    text = string(expr)
    if text is not None:
        return text
    if type(expr) is cst.Name and expr.value in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[expr.value]
    if type(expr) in (cst.List, cst.Tuple):
        if any(type(element) is cst.StarredElement for element in expr.elements):
            return _OPAQUE
        return [_literal(element.value) for element in expr.elements]
    if type(expr) is cst.Dict:
        found = {}
        for element in expr.elements:
            if type(element) is not cst.DictElement:
                return _OPAQUE
            key = _literal(element.key)
            if key is _OPAQUE or isinstance(key, list):
                return _OPAQUE
            found[key] = _literal(element.value)
        return found
    return _OPAQUE


def _module_constant(analyzer, name: str):
    """The value bound to ``name`` by the file's one module-level assignment of it (and no other binding)."""
    cache = analyzer.module_constants
    if name not in cache:
        values = []
        for statement in analyzer.module.body:
            if type(statement) is not cst.SimpleStatementLine:
                if any(_binds(node, name) for node in walk(statement, into_defs=False)):
                    values.append(None)
                continue
            for small in statement.body:
                if type(small) is cst.Assign and len(small.targets) == 1 and type(small.targets[0].target) is cst.Name \
                        and small.targets[0].target.value == name:
                    values.append(small.value)
                elif _binds(small, name):
                    values.append(None)
        cache[name] = values[0] if len(values) == 1 else None
    return cache[name]


def _binds(node, name: str) -> bool:
    return name in bound_names(node) or \
        (type(node) is cst.Global and any(item.name.value == name for item in node.names))


def _is_param(function, name: str) -> bool:
    params = function.params
    return any(param.name.value == name for param in [*params.params, *params.kwonly_params,
                                                      *params.posonly_params])


def _rebound(function, name: str) -> bool:
    """Whether the function binds or changes ``name`` itself (any binding statement, ``global``)."""
    return any(_binds(node, name) for node in walk(function.body, into_defs=False))


def _param_values(analyzer, function, name: str, depth: int) -> Optional[list]:
    """What every call in the file passes for the parameter (its default where a call leaves it out),
    or the default where nothing in the file calls the function; None where a caller cannot be read or
    the function is reachable another way (passed around, subclassed, from another file)."""
    key = (id(function), name)
    if key not in analyzer.param_values:
        analyzer.param_values[key] = None  # while resolving: a call cycle gives nothing
        analyzer.param_values[key] = _read_param_values(analyzer, function, name, depth)
    return analyzer.param_values[key]


def _read_param_values(analyzer, function, name: str, depth: int) -> Optional[list]:
    owner = next(((scope, is_method) for candidate, scope, is_method in analyzer.functions
                  if candidate is function), None)
    if owner is None or owner[0].origin is not None or function.params.star_kwarg is not None:
        return None
    scope, is_method = owner
    params = [*function.params.posonly_params, *function.params.params]
    if is_method:
        params = params[1:]
    names = [param.name.value for param in params]
    position = names.index(name) if name in names else None
    kwonly = {param.name.value: param for param in function.params.kwonly_params}
    param = params[position] if position is not None else kwonly.get(name)
    if param is None:
        return None
    if is_method and function.name.value == "__init__":
        callee, through_self = scope.name, False
        if any(f"local:{callee}" in (other.bases or ()) for other in analyzer.class_scopes.values()):
            return None  # a subclass may pass its own value
    elif is_method:
        callee, through_self = function.name.value, True
    elif function.name.value in analyzer.plain_functions and len(analyzer.plain_functions[function.name.value]) == 1:
        callee, through_self = function.name.value, False
    else:
        return None
    calls, supers = [], 0
    for call in syntax_index(analyzer.module).calls:
        func = call.func
        if through_self:
            if type(func) is cst.Attribute and func.attr.value == callee and type(func.value) is cst.Name \
                    and func.value.value == "self":
                calls.append(call)
        elif type(func) is cst.Name and func.value == callee:
            calls.append(call)
        elif type(func) is cst.Name and func.value == "super" and call.args \
                and type(call.args[0].value) is cst.Name and call.args[0].value.value == callee:
            supers += 1
    if analyzer.name_uses.get(callee, 0) != 1 + len(calls) + supers:
        return None  # named somewhere else too: passed around, stored, called in a way not read here
    callers = {id(node): caller for node, caller, _ in analyzer.calls_by_name.get(callee, ())}
    found = []
    for call in calls:
        if any(arg.star for arg in call.args):
            return None
        given = _argument(call, position, name)
        if given is None:
            if param.default is None:
                return None
            values = _values(analyzer, param.default, None, depth + 1)
        elif call.args and id(call) not in callers:
            return None
        else:
            values = _values(analyzer, given, callers[id(call)], depth + 1)
        if values is None:
            return None
        found.extend(values)
    if not calls:
        return None if param.default is None else _values(analyzer, param.default, None, depth + 1)
    return found if len(found) <= _MAX_CANDIDATES else None  # one left out could be the fewest


def _argument(call: cst.Call, position: Optional[int], keyword: str):
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg.value
    if position is not None:
        positional = [arg for arg in call.args if arg.keyword is None]
        if position < len(positional):
            return positional[position].value
    return None
