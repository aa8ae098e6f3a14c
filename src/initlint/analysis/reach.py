"""Which layers does an init reach? Loops over modules, apply visitors, type tests."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from . import vocab
from .facts import Part, Scope
from .names import torch_name
from .patterns import (Context, HEAD, PROBES, class_name_subject, conjuncts, is_self_path, is_type_of, mentions_bias,
                       parts_at)
from .syntax import argument, dotted, names_in, number, string


class Reach:
    """Part of the Analyzer (see collect.py): its methods share the Analyzer's state."""

    def _find_visitor_functions(self) -> None:
        """Functions that receive a module and dispatch on its type (``apply`` targets)."""
        self.method_scopes = {id(f): scope for f, scope, is_method in self.functions if is_method}
        by_name: dict[str, list] = {}
        for function, scope, is_method in self.functions:
            by_name.setdefault(function.name.value, []).append((function, scope, is_method))
            params = [p.name.value for p in function.params.params]
            if is_method and params:
                params = params[1:]
            if not params:
                continue
            if params[0] in self.type_tested.get(id(function), ()):
                self.visitor_functions[id(function)] = (function, scope, params[0])
        # Where each visitor is applied: ``self.apply(self._init)`` in a class, ``net.apply(f)`` in a script.
        for fn, owner, caller, statement in self.apply_calls:
            if type(fn) is cst.Call and fn.args:  # functools.partial(fn, ...)
                fn = fn.args[0].value
            if type(fn) is cst.Lambda and type(fn.body) is cst.Call and fn.body.args \
                    and fn.params.params and type(fn.body.args[0].value) is cst.Name \
                    and fn.body.args[0].value.value == fn.params.params[0].name.value:
                fn = fn.body.func  # ``lambda m: init_fn(m, gain)``
            name = fn.attr.value if type(fn) is cst.Attribute else (
                fn.value if type(fn) is cst.Name else None)
            given = self.modules_given(owner, caller, self.statement_seq.get(id(statement)))
            unknown_model = given is None and self._whole_unknown_model(owner, caller)
            candidates = by_name.get(name, [])
            if not candidates:  # a function initlint cannot see initialises what it is applied to
                self._may_be_initialised(given)
                continue
            for function, scope, _ in candidates:
                if id(function) not in self.visitor_functions:
                    params = [p.name.value for p in function.params.params]
                    if scope.is_class and params and params[0] in ("self", "cls"):
                        params = params[1:]
                    if params:
                        self.visitor_functions[id(function)] = (function, scope, params[0])
                self.applied.setdefault(id(function), []).append(given)
                if unknown_model:
                    self.applied_to_unknown_models.add(id(function))
                self.applied_from.setdefault(id(function), []).append((caller, statement))
                if given is not None and not self.is_foreign_node(statement):
                    self.anchors.setdefault(id(function), statement)

    def _applied_parts(self, function) -> list:
        """The modules an ``apply`` visitor is applied to here (those initlint can name)."""
        return [part for parts in self.applied.get(id(function), ()) if parts is not None for part in parts]

    def _visitor_instances(self, function) -> Optional[frozenset]:
        """The instances an ``apply`` visitor is applied to (None: every one, or some initlint cannot name)."""
        if None in self.applied.get(id(function), ()):
            return None
        return self._instances_of(self._applied_parts(function))

    def _instances_of(self, parts) -> Optional[frozenset]:
        """``parts`` as a set of instances, where each is one of several instances of a class of this file
        (``model_uniform = Net()`` next to ``model_0 = Net(...)``); None (every instance) otherwise."""
        if not parts or not all(part.kind == "other" and part.instance_of
                                and len(self.instance_calls.get(part.instance_of, ())) > 1 for part in parts):
            return None
        return frozenset(id(part) for part in parts)

    def _visitor_binding(self, function) -> tuple:
        """What an ``apply`` visitor's module parameter reaches: the layers of the models it is applied to
        here, or nothing initlint can name (``standalone``) when it is applied nowhere it can see."""
        given = self._applied_parts(function)
        if not given:
            if id(function) in self.applied_to_unknown_models or not self._called(function):
                return ("standalone", None)
            return ("opaque", None)
        layers = {id(layer): layer for part in given for layer in self._layers_of_part(part)}
        return ("modules", list(layers.values()))

    def _called(self, function) -> bool:
        """Whether this file names the function anywhere but in its ``def`` (calls, applies or hands it
        on): a helper named nowhere else is checked on its own, for what it does to any model."""
        return self.name_uses.get(function.name.value, 0) > 1

    def _whole_unknown_model(self, owner, function) -> bool:
        """A bare name initlint cannot resolve to this file's modules (``model`` from ``get_model(args)``,
        ``torch.load``, a registry, or a helper's parameter): a whole model, whatever it is. What a helper
        applied to it does to every layer of the types it dispatches to is checked as for a helper applied
        nowhere. An attribute path (``model.head``) may be one layer chosen on purpose: not this."""
        if type(owner) is not cst.Name or owner.value in ("self", "cls"):
            return False
        if function is not None and id(function) in self.method_scopes and owner.value == self._self_name(function):
            return False
        return not self._handed_a_part(function, owner.value)

    def _handed_a_part(self, function, name: str) -> bool:
        """Whether ``name`` is a parameter of ``function`` that a call here hands a part of a model
        (``init_head(self.classifier)``): then the helper is meant for that part only."""
        if function is None:
            return False
        params = [p.name.value for p in function.params.params]
        if name not in params:
            return False
        position = params.index(name) - (1 if id(function) in self.method_scopes else 0)
        for call, _, _ in self.calls_by_name.get(function.name.value, ()):
            value = argument(call, position, name)
            if type(value) in (cst.Attribute, cst.Subscript):
                return True
        return False

    def _may_be_initialised(self, parts: Optional[list[Part]]) -> None:
        """Code initlint cannot see may initialise these modules' layers."""
        for part in parts or ():
            if part.instance_of:
                self.class_scopes[part.instance_of].may_init_elsewhere = True
            for layer in self._layers_of_part(part):
                layer.maybe_init = True

    def _loop_binding(self, iterable, ctx: Context):
        if type(iterable) is cst.Call and type(iterable.func) is cst.Attribute \
                and iterable.func.attr.value in ("parameters", "named_parameters"):
            return ("params", None)
        if type(iterable) is cst.Call and type(iterable.func) is cst.Attribute \
                and iterable.func.attr.value in ("modules", "named_modules", "children", "named_children"):
            owner = iterable.func.value
            if dotted(owner) == "self" and ctx.scope.is_class:
                return ("modules", ctx.scope)
            path = self._path(owner, ctx.self_name, ctx.scope)
            found = self.lookup(path, ctx.scope, ctx.function, self.at) if path else None
            unknown = not found or all(part.kind == "other" and not part.instance_of for part in found)
            if unknown and path is not None and not is_self_path(path) \
                    and self._whole_unknown_model(owner, ctx.function):
                return ("standalone", None)  # ``model.modules()`` of a model initlint cannot name
            if found:  # ``self.mlp.modules()``, ``net.modules()``: the layers built into that module
                return ("modules", [layer for part in found for layer in self._layers_of_part(part)])
            if path is not None and is_self_path(path):
                return ("modules", [])  # a submodule initlint cannot see into
            return ("opaque", None)  # a part of a model initlint cannot name
        if type(iterable) in (cst.List, cst.Tuple):
            parts = []
            for element in iterable.elements:
                path = self._path(element.value, ctx.self_name, ctx.scope)
                found = self.lookup(path, ctx.scope, ctx.function, self.at) if path else None
                parts.extend(found or [Part("other")])
            return ("parts", parts)
        path = self._path(iterable, ctx.self_name, ctx.scope)
        found = self.lookup(path, ctx.scope, ctx.function, self.at) if path else None
        if found:
            elements = self.loop_elements(path, found, ctx.scope, ctx.function, self.at)
            if elements:
                return ("parts", elements)
        return None

    def _resolve_owner(self, owner, ctx: Context):
        """(layers reached, reach fully known, via a loop, loop condition tests only types)."""
        if type(owner) is cst.Name and owner.value in ctx.bindings:
            kind, value = ctx.bindings[owner.value]
            matcher, exact = self._type_filter(owner.value, ctx)
            if kind == "parts":  # ``for layer in self.main: if isinstance(layer, nn.BatchNorm2d): ...``
                layers = [p.layer.original or p.layer for p in value
                          if p.kind == "layer" and (matcher is None or matcher(p.layer))]
                return layers, all(p.kind == "layer" for p in value), True, True
            if kind in ("standalone", "opaque"):
                # Applied to no model initlint can see: it may initialise any layer it matches, elsewhere.
                for layer in self.layers:
                    if matcher is None or matcher(layer):
                        layer.maybe_init = True
                if kind == "standalone" and matcher is not None:
                    self.standalone_kinds = tuple(sorted(p.kind for p in PROBES if matcher(p)))
                return [], True, True, exact
            if isinstance(value, list):
                candidates = value
                if not value:  # an opaque submodule: whatever it initialises, initlint cannot name
                    ctx.scope.may_init_elsewhere = True
                    return [], False, True, False
            else:
                candidates = self.reachable_layers(value)
            if matcher is None:
                if isinstance(value, Scope):
                    value.may_init_elsewhere = True
                elif isinstance(value, list):
                    for layer in value:
                        layer.scope.may_init_elsewhere = True
                else:
                    self.may_init_elsewhere = True
                return [], False, True, False
            return [l for l in candidates if matcher(l)], True, True, exact
        path = self._path(owner, ctx.self_name, ctx.scope)
        if path is None:
            return [], False, False, True
        found = self.lookup(path, ctx.scope, ctx.function, self.at)
        if not found:
            return [], False, False, True
        layers = [p.layer.original or p.layer for p in found if p.kind == "layer"]
        return layers, len(layers) == len(found), False, True

    def _type_filter(self, var: str, ctx: Context):
        """A predicate over layers from the conditions around a site, and whether it tests only types."""
        matchers, exact = [], True
        for condition in ctx.conditions[ctx.bound_under.get(var, 0):]:
            for test, positive in conjuncts(condition.test, condition.positive):
                mentions = var in names_in(test) or any(
                    name in names_in(test) for name, subject in ctx.class_name_vars.items() if subject == var)
                matcher = self._type_test(test, var, ctx) if mentions else None
                if matcher is not None and positive:
                    matchers.append(matcher)
                elif matcher is not None:  # ``elif isinstance(m, nn.Conv2d)`` after ``if isinstance(m, ...)``
                    matchers.append(_negated(matcher))
                elif not mentions_bias(test):
                    exact = False
        if not matchers:
            return None, False
        return (lambda layer: all(m(layer) for m in matchers)), exact

    def _type_test(self, test, var, ctx):
        if type(test) is cst.BooleanOperation and type(test.operator) is cst.Or:
            left, right = self._type_test(test.left, var, ctx), self._type_test(test.right, var, ctx)
            if left and right:
                return lambda layer: left(layer) or right(layer)
            return None
        if type(test) is cst.Call and dotted(test.func) == "isinstance" and len(test.args) == 2:
            subject = test.args[0].value
            if not (type(subject) is cst.Name and subject.value == var):
                return None
            checks = [self._isinstance_check(e) for e in self._type_elements(test.args[1].value)]
            return lambda layer: any(check(layer) for check in checks)
        if type(test) is cst.Call and dotted(test.func) in ("hasattr", "getattr") and len(test.args) >= 2 \
                and type(test.args[0].value) is cst.Name and test.args[0].value.value == var \
                and string(test.args[1].value) == "weight":
            return lambda layer: True  # every Linear/Conv has a weight: no filter among them
        if type(test) is cst.Comparison and len(test.comparisons) == 1:
            comparison = test.comparisons[0]
            left, right, op = test.left, comparison.comparator, comparison.operator
            # classname.find("Conv") != -1 / >= 0
            if type(left) is cst.Call and type(left.func) is cst.Attribute \
                    and left.func.attr.value == "find" and self._is_class_name_of(left.func.value, var, ctx):
                needle = string(argument(left, 0, None))
                bound = number(right)
                if needle is not None and bound is not None:
                    found_wanted = (type(op) is cst.NotEqual and bound == -1) or \
                        (type(op) is cst.GreaterThanEqual and bound == 0) or \
                        (type(op) is cst.GreaterThan and bound == -1)
                    if found_wanted:
                        return lambda layer: needle in layer.class_name
                return None
            if type(op) is cst.In and self._is_class_name_of(right, var, ctx):
                needle = string(left)
                return (lambda layer: needle in layer.class_name) if needle is not None else None
            if type(op) is cst.In and type(right) in (cst.Tuple, cst.List, cst.Set, cst.Name):
                elements = self._type_elements(right)
                if self._is_class_name_of(left, var, ctx):  # ``classname in ("Conv2d", "Linear")``
                    names = [string(e) for e in elements]
                    return (lambda layer: layer.class_name in names) if None not in names else None
                if is_type_of(left, var):  # ``type(m) in (nn.Conv2d, nn.Linear)``
                    checks = [self._exact_type_check(e) for e in elements]
                    return lambda layer: any(check(layer) for check in checks)
            if type(op) in (cst.Equal, cst.Is):
                if self._is_class_name_of(left, var, ctx) and string(right) is not None:
                    wanted = string(right)
                    return lambda layer: layer.class_name == wanted
                if is_type_of(left, var):
                    return self._exact_type_check(right)
        if type(test) is cst.Call and type(test.func) is cst.Attribute \
                and test.func.attr.value in ("startswith", "endswith") \
                and self._is_class_name_of(test.func.value, var, ctx):
            needle = string(argument(test, 0, None))
            if needle is None:
                return None
            if test.func.attr.value == "startswith":
                return lambda layer: layer.class_name.startswith(needle)
            return lambda layer: layer.class_name.endswith(needle)
        return None

    def _type_elements(self, types) -> list:
        """The types of ``(nn.Conv2d, nn.Linear)``, or of a module-level name bound to such a tuple."""
        if type(types) is cst.Name and types.value in self.type_tuples:
            types = self.type_tuples[types.value]
        if type(types) in (cst.Tuple, cst.List, cst.Set):
            return [e.value for e in types.elements]
        return [types]

    def _exact_type_check(self, type_expr):
        """``type(m) == nn.Conv2d``, ``m.__class__ is nn.Conv2d``: that class and no subclass."""
        check = self._isinstance_check(type_expr)
        exact_name = (dotted(type_expr) or "").rsplit(".", 1)[-1]
        return lambda layer: check(layer) and layer.class_name == exact_name

    def _is_class_name_of(self, expr, var, ctx) -> bool:
        if type(expr) is cst.Name and ctx.class_name_vars.get(expr.value) == var:
            return True
        return class_name_subject(expr) == var

    def _isinstance_check(self, type_expr):
        qualified = torch_name(self.imports.resolve(type_expr))
        if qualified is not None:
            if not qualified.startswith("torch.nn."):
                return lambda layer: False
            short = qualified[len("torch.nn."):]
            if short == "Module":
                return lambda layer: True
            if short in vocab.LAYER_KINDS:
                kind = vocab.LAYER_KINDS[short]
                return lambda layer: layer.kind == kind
            if short in vocab.ABSTRACT_LAYER_BASES:
                kinds = vocab.ABSTRACT_LAYER_BASES[short]
                return lambda layer: layer.kind in kinds
            return lambda layer: False
        name = dotted(type_expr)
        if name in self.class_scopes:
            return lambda layer: name in self.class_ancestors.get(layer.class_name, ())
        return lambda layer: False

    def _mark_same_path(self, owner, ctx: Context) -> None:
        path = self._path(owner, None, ctx.scope)
        if path is None or "." not in path:  # a bare name: it may be any layer
            for layer in self.layers:
                layer.maybe_init = True
            return
        rest = path[HEAD.match(path).end():]
        for scope in self.class_scopes.values():
            for part in parts_at(scope, "self" + rest, None) or ():
                for layer in self._layers_of_part(part):
                    layer.maybe_init = True


def _negated(matcher):
    return lambda layer: not matcher(layer)
