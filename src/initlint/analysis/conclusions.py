"""Whole-file conclusions: what may be initialised elsewhere, inits that run too early."""
from __future__ import annotations


import libcst as cst

from .facts import Layer, held_parts
from .patterns import INSPECTING_CALLS, MODULE_METHODS_THAT_DO_NOT_INIT, plain_module_base
from .syntax import block_statements, dotted, small_statements, walk


class Conclusions:
    """Part of the Analyzer (see collect.py): its methods share the Analyzer's state."""

    def _mark_unresolved_inits(self) -> None:
        for scope in self.scopes:
            if not scope.is_class:
                continue
            if not all(plain_module_base(base) for base in scope.bases):
                scope.may_init_elsewhere = True
            init = scope.methods.get("__init__")
            if init is None:
                continue
            for node in walk(init.body):
                if type(node) is cst.Call and type(node.func) is cst.Attribute \
                        and dotted(node.func.value) == "self" \
                        and node.func.attr.value not in scope.methods \
                        and node.func.attr.value not in MODULE_METHODS_THAT_DO_NOT_INIT:
                    scope.may_init_elsewhere = True
                    if not all(plain_module_base(base) for base in scope.bases):
                        # A framework base's init hook (``self.post_init()``) walks the whole model
                        # tree, which may include every module class of this file.
                        self.may_init_elsewhere = True
        for function, _, param in self.visitor_functions.values():
            # A visitor that hands its module to code initlint cannot see (``super()._init_weights(m)``)
            # may initialise anything it reaches.
            for node in walk(function.body):
                if type(node) is cst.Call and dotted(node.func) not in INSPECTING_CALLS and any(
                        type(arg.value) is cst.Name and arg.value.value == param for arg in node.args):
                    self.may_init_elsewhere = True
                    break
        for function, _, _ in self.functions:
            # A builder this file never calls hands its layers to callers elsewhere, which may initialise them.
            part = self.returns.get(id(function))
            if part is not None and not self._called(function):
                for layer in self._layers_of_part(part):
                    layer.maybe_init = True
        # Layers a class holds from builders elsewhere share its fate, and so do the layers of the blocks
        # it runs in a row (a forward loop, a spliced comprehension): an init initlint cannot follow,
        # ``self.blocks[0].fc.weight``, may reach into them, and their copies compound along the path.
        todo = [scope for scope in self.scopes if scope.is_class and scope.may_init_elsewhere]
        seen = {id(scope) for scope in todo}
        while todo:
            scope = todo.pop()
            for layer in scope.layers:
                layer.maybe_init = True
            for held in self._chained_blocks(scope):
                if id(held) not in seen:
                    seen.add(id(held))
                    todo.append(held)

    def _chained_blocks(self, scope) -> list:
        """The class scopes of the block instances ``scope`` holds that run one after another."""
        return [self.class_scopes[part.instance_of] for part in held_parts(scope)
                if part.instance_of and (id(part) in self.chained_parts or (part.loop_copies or 1) > 1)
                and part.instance_of in self.class_scopes]


    def _early_init_calls(self):
        """``self.apply(fn)`` / ``self.init_method()`` in ``__init__`` before layers it should reach that
        get no init of their own: ``(call statement, scope, statement to move it after or None)``."""
        found = []
        for scope in self.scopes:
            init = scope.methods.get("__init__") if scope.is_class else None
            assignments = self.submodule_assignments.get(id(scope), []) if init is not None else []
            if not assignments:
                continue
            body = block_statements(init.body)
            for index, statement in enumerate(body):
                smalls = small_statements(statement)
                if len(smalls) != 1 or type(smalls[0]) is not cst.Expr \
                        or type(smalls[0].value) is not cst.Call:
                    continue
                functions = self._functions_called(smalls[0].value, scope)
                reached = {id(l) for s in self.sites if any(s.function is f for f in functions) for l in s.reach}
                missed = [a for a in assignments if a[0] > index and any(
                    id(layer) in reached and not self._has_own_weight_init(layer, functions)
                    for layer in self._layers_of_part(a[2]))]
                if not missed:
                    continue
                last = max(a[0] for a in assignments)
                # Moving the call past other inits would change which one wins: then offer no move.
                between = {id(node) for later in body[index + 1:last + 1] for node in walk(later)}
                safe = not any(id(s.statement) in between for s in self.sites) and not any(
                    self._functions_called(c, scope) for later in body[index + 1:last + 1]
                    for c in walk(later) if type(c) is cst.Call)
                found.append((statement, scope, body[last] if safe else None))
        return found

    def _has_own_weight_init(self, layer: Layer, functions: list) -> bool:
        return any(s.param == "weight" and any(r is layer for r in s.reach)
                   and not any(s.function is f for f in functions) for s in self.sites)

    def _functions_called(self, call, scope) -> list:
        """The functions of this file that ``self.apply(fn)`` or ``self.method()`` runs."""
        func = call.func
        if not (type(func) is cst.Attribute and dotted(func.value) == "self"):
            return []
        if func.attr.value == "apply" and len(call.args) == 1:
            fn = call.args[0].value
            name = fn.attr.value if type(fn) is cst.Attribute else dotted(fn)
            return [f for f, _, _ in self.functions if f.name.value == name]
        if func.attr.value in scope.methods and func.attr.value != "__init__":
            return [scope.methods[func.attr.value]]
        return []
