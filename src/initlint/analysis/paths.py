"""What a path or a module expression holds: ``self.fc``, ``net.fc``, a helper's parameter."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from .facts import Layer, Part, Scope
from .patterns import HEAD, is_self_path, parts_at
from .syntax import argument, number, string


class PathLookup:
    """Part of the Analyzer (see collect.py): its methods share the Analyzer's state."""

    def _path(self, expr, self_name, scope) -> Optional[str]:
        parts = []
        while True:
            if type(expr) is cst.Attribute:
                parts.append("." + expr.attr.value)
                expr = expr.value
            elif type(expr) is cst.Subscript:
                if len(expr.slice) != 1 or type(expr.slice[0].slice) is not cst.Index:
                    return None
                index = expr.slice[0].slice.value
                value = number(index)
                text = string(index)
                if value is not None and value == int(value):
                    parts.append(f"[{int(value)}]")
                elif text is not None:
                    parts.append(f"[{text}]")
                else:
                    parts.append("[*]")
                expr = expr.value
            elif type(expr) is cst.Name:
                head = "self" if expr.value == self_name else expr.value
                return head + "".join(reversed(parts))
            else:
                return None

    def lookup(self, path: str, scope: Scope, function=None, at: Optional[int] = None) -> Optional[list[Part]]:
        """What ``path`` holds: ``self...`` in the class; a plain name as bound before statement ``at``
        in the function, else at module level; ``net.fc`` through the class ``net`` is an instance of."""
        if is_self_path(path):
            return parts_at(scope, path, None)
        head = HEAD.match(path).group(0)
        homes = (self.namespaces.get(id(function)), self.module_scope) if function is not None \
            else (self.module_scope,)
        for home in homes:
            bound = parts_at(home, head, at) if home is not None else None
            if not bound:
                continue
            found = parts_at(home, path, at)
            if found or path == head:
                return found
            return self._inside(bound, path[len(head):])
        if function is not None and id(function) not in self.visitor_functions:
            given = self._param_parts(function, head)  # a helper's parameter: what its callers hand it
            if given:
                return self._inside(given, path[len(head):])
        return None

    def loop_elements(self, path: str, found: Optional[list[Part]], scope: Scope, function=None,
                      at: Optional[int] = None) -> list[Part]:
        """The modules a loop over ``path`` (holding ``found``) goes through: the elements of the lists and
        Sequentials there; for ``self.blocks = nn.ModuleList()`` (or ``[]``) grown by one
        ``self.blocks.append(...)``, what that append adds."""
        elements = [el for part in found or [] if part.kind in ("seq", "list") for el in part.elements]
        if not elements and found and len(found) == 1 and found[0].kind == "list" and is_self_path(path):
            appended = self.lookup(f"{path}[*]", scope, function, at) or []
            if len(appended) == 1:
                return appended
        return elements

    def _inside(self, parts: list[Part], rest: str) -> Optional[list[Part]]:
        """``rest`` (``.fc``, ``.features[0]``) inside each part that is an instance of a class here."""
        if not rest:
            return parts
        inside = [p for part in parts if part.instance_of
                  for p in self._class_lookup(part.instance_of, "self" + rest)]
        return inside or None

    def _class_lookup(self, class_name: str, path: str) -> list[Part]:
        """``self.fc`` of a class of this file, or of its ancestors here."""
        return [part for name in self.class_ancestors.get(class_name, ())
                for part in parts_at(self.class_scopes[name], path, None) or ()]

    def reachable_layers(self, scope: Optional[Scope]) -> list[Layer]:
        """Layers a ``modules()`` walk from this class can reach (every layer when unknown)."""
        if scope is None or not scope.is_class:
            return [layer for layer in self.layers if not layer.wrapped]
        seen, todo, layers = {scope.name}, [scope], []
        while todo:
            current = todo.pop()
            layers.extend(layer for layer in current.layers if not layer.wrapped)
            for name in sorted(current.uses_classes):  # a set: sorted, so messages do not vary per run
                if name not in seen and name in self.class_scopes:
                    seen.add(name)
                    todo.append(self.class_scopes[name])
        return layers

    def _layers_of_part(self, part: Part) -> list:
        if part.kind == "layer":  # a builder's copy for a later call: the layer as rules know it
            return [part.layer.original or part.layer]
        if part.kind in ("seq", "list"):
            return [l for el in part.elements for l in self._layers_of_part(el)]
        if part.kind == "other" and part.instance_of:
            return self.reachable_layers(self.class_scopes[part.instance_of])
        return []

    def modules_given(self, expr, caller, at) -> Optional[list[Part]]:
        """What a module expression holds where ``caller`` hands it on (``self``, ``net``, ``self.features``),
        or None when initlint cannot tell."""
        scope = self.method_scopes.get(id(caller)) if caller is not None else None
        self_name = self._self_name(caller) if scope is not None else None
        if type(expr) is cst.Name and self_name is not None and expr.value == self_name:
            return [Part("other", instance_of=scope.name)]
        path = self._path(expr, self_name, scope or self.module_scope)
        found = self.lookup(path, scope or self.module_scope, caller, at) if path else None
        if not found or any(part.kind == "other" and not part.instance_of for part in found):
            return None
        return found

    def _param_parts(self, function, param: str) -> Optional[list[Part]]:
        """What the callers in this file hand a function's parameter; None when it is called nowhere here
        or handed something initlint cannot tell."""
        params = [p.name.value for p in function.params.params]
        is_method = id(function) in self.method_scopes
        if is_method:
            params = params[1:]
        key = (id(function), param)
        if key in self.param_parts:
            return self.param_parts[key]
        if param not in params or key in self.resolving:  # recursion: a helper handing on its own parameter
            return None
        self.resolving.add(key)
        self.param_parts[key] = self._callers_hand(function, params.index(param), param, is_method)
        self.resolving.discard(key)
        return self.param_parts[key]

    def _callers_hand(self, function, position: int, param: str, is_method: bool) -> Optional[list[Part]]:
        given = []
        for call, caller, statement in self.calls_by_name.get(function.name.value, ()):
            if self._is_method_call(call) != is_method:
                continue
            value = argument(call, position, param)
            if value is None:
                continue
            parts = self.modules_given(value, caller, self.statement_seq.get(id(statement)))
            if parts is None:
                return None
            given.extend(parts)
            if not self.is_foreign_node(call):
                self.anchors.setdefault(id(function), call)
        return given or None

    def _is_method_call(self, call: cst.Call) -> bool:
        """``self.f(...)``/``obj.f(...)``, not ``utils.f(...)`` through an imported module."""
        func = call.func
        return type(func) is cst.Attribute and not (
            type(func.value) is cst.Name and func.value.value in self.imports.local_to_qualified)
