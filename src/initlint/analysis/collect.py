"""Build FileFacts from a parsed module: one pass for layers, one for init sites, one for flow."""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Optional

import libcst as cst

from . import vocab
from .facts import FileFacts, InitSite, Layer, Part, Scope
from .flow import resolve_followers
from .names import ImportTable, torch_name, vendored
from .syntax import (argument, block_statements, boolean, children, dotted, has_star_args, names_in,
                     number, small_statements, string, walk)

_ENDS_BLOCK = (cst.Return, cst.Continue, cst.Raise)


@dataclass
class Condition:
    test: cst.BaseExpression
    positive: bool


@dataclass
class Context:
    scope: Scope
    function: Optional[cst.FunctionDef]
    self_name: Optional[str]
    conditions: tuple = ()
    bindings: dict = field(default_factory=dict)   # loop var -> ("modules", Scope|None) | ("parts", [Part])
    class_name_vars: dict = field(default_factory=dict)  # var holding m.__class__.__name__ -> m
    in_forward: bool = False
    order_prefix: tuple = ()

    def with_condition(self, test, positive) -> "Context":
        new = Context(**{**self.__dict__})
        new.conditions = self.conditions + (Condition(test, positive),)
        return new

    def with_binding(self, name, binding) -> "Context":
        new = Context(**{**self.__dict__})
        new.bindings = {**self.bindings, name: binding}
        return new


class Analyzer:
    def __init__(self, module: cst.Module, extra_relu: frozenset = frozenset()) -> None:
        self.module = module
        self.extra_relu = extra_relu
        self._index_module()
        self.module_scope = Scope("<module>", module, is_class=False, ordered=True)
        self.scopes: list[Scope] = [self.module_scope]
        self.class_scopes: dict[str, Scope] = {}
        self.layer_classes: dict[str, str] = {}      # user subclass name -> torch kind
        self.class_ancestors: dict[str, set] = {}    # user class name -> its user-class ancestors
        self.layers: list[Layer] = []
        self.layer_parts: dict[int, Part] = {}
        self.loop_depth = 0
        self.branch_depth = 0     # inside if/try/match while collecting parts
        self.builder_depth: dict[int, int] = {}  # id(local list part) -> branch depth where it was bound
        self.init_call_index: dict[int, dict] = {}
        self.sites: list[InitSite] = []
        self.init_calls: list[tuple[cst.Call, str]] = []  # every torch.nn.init call, canonical name
        self.truth_tests: list[tuple] = []  # (node to rewrite, the ``.bias`` expression)
        self.visitor_functions: dict[int, tuple[cst.FunctionDef, Scope, str]] = {}
        self.applied: dict[int, list[Optional[Scope]]] = {}  # visitor function id -> where applied
        self.functions: list[tuple[cst.FunctionDef, Scope, bool]] = []  # (def, scope, is_method)
        self.may_init_elsewhere = False
        self.counter = itertools.count()
        # Statement order: every statement gets a number as parts are collected; names bound in a
        # function or at module level are looked up as bound at the statement being scanned (``self.at``).
        self.seq = itertools.count()
        self.statement_seq: dict[int, int] = {}
        self.at: Optional[int] = None
        self.namespaces: dict[int, Scope] = {}   # id(function) -> its local names
        self.collecting: Optional[cst.FunctionDef] = None
        self.standalone_kinds: tuple = ()   # layer kinds the site being added dispatches to, unapplied
        self.resolving: set = set()          # (function, parameter) pairs being resolved from their callers
        self.param_parts: dict = {}          # (function, parameter) -> what its callers hand it
        self.trained: set = set()            # id(function) (id(None): module level) where training ran
        self.submodule_assignments: dict[int, list] = {}  # scope id -> [(index, stmt, part)]
        self.init_method_calls: dict[int, list] = {}      # scope id -> [(index, stmt, kind, target)]

    # ------------------------------------------------------------------ structure
    def run(self) -> FileFacts:
        self._find_scopes(self.module.body, self.module_scope, in_class=False)
        self._find_layer_classes()
        # Layers and other parts: module level first, then every function.
        self._collect_parts(self.module.body, self.module_scope, None, None, {})
        for function, scope, is_method in self.functions:
            self_name = self._self_name(function) if is_method else None
            self.namespaces[id(function)] = Scope(function.name.value, function, is_class=False,
                                                  ordered=True, is_method=is_method)
            self.collecting = function
            self._collect_parts(block_statements(function.body), scope, function, self_name, {},
                                top_level_init=is_method and function.name.value == "__init__")
        self.collecting = None
        self._find_visitor_functions()
        order = 0
        for function, scope, is_method in self.functions:
            order += 1
            ctx = Context(scope, function, self._self_name(function) if is_method else None,
                          in_forward=is_method and function.name.value == "forward")
            ctx.order_prefix = self._order_prefix(function, scope, is_method, order)
            visitor = self.visitor_functions.get(id(function))
            if visitor is not None:
                ctx = ctx.with_binding(visitor[2], self._visitor_binding(function))
            ctx.class_name_vars = self.class_name_vars.get(id(function), {})
            self._scan_block(block_statements(function.body), ctx)
        module_ctx = Context(self.module_scope, None, None, order_prefix=(3,))
        module_ctx.class_name_vars = self.class_name_vars.get(None, {})
        self._scan_block(self.module.body, module_ctx, skip_defs=True)
        resolve_followers(self)
        self._mark_unresolved_inits()
        early = self._early_init_calls()
        return FileFacts(self.module, self.scopes, self.layers, self.sites, self.truth_tests, early,
                         self.imports, self.may_init_elsewhere, init_calls=self.init_calls)

    def _find_scopes(self, statements, scope: Scope, in_class: bool) -> None:
        for statement in statements:
            if isinstance(statement, cst.ClassDef):
                class_scope = Scope(statement.name.value, statement, is_class=True,
                                    bases=[self._base_name(arg.value) for arg in statement.bases])
                self.scopes.append(class_scope)
                self.class_scopes[statement.name.value] = class_scope
                for inner in block_statements(statement.body):
                    if isinstance(inner, cst.FunctionDef):
                        class_scope.methods[inner.name.value] = inner
                self._find_scopes(block_statements(statement.body), class_scope, in_class=True)
            elif isinstance(statement, cst.FunctionDef):
                self.functions.append((statement, scope, in_class))
                self._find_scopes(block_statements(statement.body), scope, in_class=False)
            elif isinstance(statement, (cst.If, cst.Try, cst.With, cst.For, cst.While)):
                for block in _blocks_of(statement):
                    self._find_scopes(block, scope, in_class)

    def _base_name(self, expr) -> Optional[str]:
        resolved = torch_name(self.imports.resolve(expr))
        if resolved is not None:
            return resolved
        name = dotted(expr)
        return f"local:{name}" if name else None

    def _find_layer_classes(self) -> None:
        changed = True
        while changed:
            changed = False
            for name, scope in self.class_scopes.items():
                if name in self.layer_classes:
                    continue
                for base in scope.bases:
                    kind = None
                    if base and base.startswith("torch.nn."):
                        kind = vocab.LAYER_KINDS.get(base[len("torch.nn."):])
                    elif base and base.startswith("local:"):
                        kind = self.layer_classes.get(base[6:])
                    if kind:
                        self.layer_classes[name] = kind
                        changed = True
                        break
        for name, scope in self.class_scopes.items():
            ancestors, todo = {name}, [name]
            while todo:
                for base in self.class_scopes[todo.pop()].bases:
                    if base and base.startswith("local:") and base[6:] in self.class_scopes \
                            and base[6:] not in ancestors:
                        ancestors.add(base[6:])
                        todo.append(base[6:])
            self.class_ancestors[name] = ancestors

    @staticmethod
    def _self_name(function: cst.FunctionDef) -> Optional[str]:
        params = function.params.params
        return params[0].name.value if params else None

    # ------------------------------------------------------------------ parts (layers, containers)
    def _collect_parts(self, statements, scope, function, self_name, locals_, top_level_init=False):
        for index, statement in enumerate(statements):
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                continue
            self.statement_seq[id(statement)] = next(self.seq)
            if not isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                looping = isinstance(statement, (cst.For, cst.While))
                branching = not looping and not isinstance(statement, cst.With)
                self.loop_depth += looping
                self.branch_depth += branching
                for block in _blocks_of(statement):
                    self._collect_parts(block, scope, function, self_name, locals_)
                self.loop_depth -= looping
                self.branch_depth -= branching
                continue
            for small in statement.body:
                self._collect_small(small, statement, scope, self_name, locals_,
                                    index if top_level_init else None)

    def _collect_small(self, small, statement, scope, self_name, locals_, init_index):
        if isinstance(small, (cst.Assign, cst.AnnAssign)):
            value = small.value
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
            if value is None:
                return
            part = self._describe(value, statement, scope, locals_)
            for target in targets:
                self._bind(target, part, scope, self_name, locals_, statement, init_index)
            return
        if isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name) \
                and isinstance(small.operator, cst.AddAssign):
            part = self._describe(small.value, statement, scope, locals_)
            builder = locals_.get(small.target.value)
            if builder is not None and builder.kind == "list" and part.kind == "list":
                self._extend_builder(builder, part.elements)
            return
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            call = small.value
            func = call.func
            if isinstance(func, cst.Attribute) and func.attr.value in ("append", "extend", "insert",
                                                                        "add_module", "register_module"):
                added = [arg.value for arg in call.args if not arg.keyword]
                if func.attr.value in ("insert", "add_module", "register_module"):
                    added = added[1:]
                parts = [self._describe(expr, statement, scope, locals_) for expr in added]
                if func.attr.value == "extend" and parts and parts[0].kind == "list":
                    parts = parts[0].elements
                owner = func.value
                if isinstance(owner, cst.Name) and owner.value in locals_ \
                        and locals_[owner.value].kind == "list":
                    self._extend_builder(locals_[owner.value], parts)
                    return
                path = self._path(owner, self_name, scope)
                if path:
                    if func.attr.value in ("add_module", "register_module"):
                        name = string(argument(call, 0, "name"))
                        for part in parts:
                            self._register(f"{path}.{name}" if name else f"{path}[*]", part, scope)
                    else:
                        for part in parts:
                            self._register(f"{path}[*]", part, scope)
                    return
        # Anything else: register the layers it builds, as wrapped if inside unknown calls.
        self._describe_loose(small, statement, scope, locals_)

    def _extend_builder(self, builder: Part, parts: list) -> None:
        builder.elements.extend(parts)
        if self.branch_depth > self.builder_depth.get(id(builder), 0):
            builder.conditional = True

    def _describe_loose(self, node, statement, scope, locals_):
        for child in _outer_calls(node):
            self._describe(child, statement, scope, locals_)

    def _bind(self, target, part, scope, self_name, locals_, statement, init_index):
        if isinstance(target, cst.Name):
            locals_[target.value] = part
            self.builder_depth[id(part)] = self.branch_depth
            self._register(target.value, part, self._namespace(), statement)
            return
        path = self._path(target, self_name, scope)
        if path is None:
            return
        self._register(path, part, scope if path.startswith("self") else self._namespace(), statement)
        if init_index is not None and path.startswith("self."):
            self.submodule_assignments.setdefault(id(scope), []).append((init_index, statement, part))

    def _namespace(self) -> Scope:
        """Where plain names bound by the statement being collected live."""
        return self.module_scope if self.collecting is None else self.namespaces[id(self.collecting)]

    def _register(self, path: str, part: Part, scope: Scope, statement=None, nested: bool = True) -> None:
        """File ``part`` under ``path``; container elements under ``path[i]`` (and, not nested further,
        under ``path[i - n]`` and ``path.name``: nesting every alias would cost 2**depth)."""
        scope.parts.setdefault(path, []).append(part)
        if scope.ordered:
            scope.part_seqs.setdefault(path, []).append(self.statement_seq.get(id(statement), -1))
        if part.kind == "layer" and part.layer is not None and not scope.is_method:
            part.layer.paths.append(path)
            if part.layer.path_statement is None:
                part.layer.path_statement = statement
        elif part.kind in ("seq", "list") and nested:
            count = len(part.elements)
            names = part.element_names + [None] * (count - len(part.element_names))
            for i, (element, name) in enumerate(zip(part.elements, names)):
                if part.repeated:
                    self._register(f"{path}[*]", element, scope, statement)
                    continue
                self._register(f"{path}[{i}]", element, scope, statement)
                self._register(f"{path}[{i - count}]", element, scope, statement, nested=False)
                if name:
                    self._register(f"{path}.{name}", element, scope, statement, nested=False)

    def _describe(self, expr, statement, scope, locals_, wrapped=False) -> Part:
        """Classify a module-building expression, registering every layer it constructs."""
        if isinstance(expr, cst.Name) and expr.value in locals_:
            return locals_[expr.value]
        if isinstance(expr, (cst.List, cst.Tuple)):
            part = Part("list")
            for element in expr.elements:
                if isinstance(element, cst.StarredElement):
                    inner = self._describe(element.value, statement, scope, locals_, wrapped)
                    if inner.kind == "list":
                        part.elements.extend(inner.elements)
                        part.element_names.extend(inner.element_names)
                    continue
                part.elements.append(self._describe(element.value, statement, scope, locals_, wrapped))
                part.element_names.append(None)
            return part
        if isinstance(expr, (cst.ListComp, cst.GeneratorExp)):
            self.loop_depth += 1
            element = self._describe(expr.elt, statement, scope, locals_, wrapped)
            self.loop_depth -= 1
            if element.kind == "layer" and not expr.for_in.inner_for_in and not expr.for_in.ifs:
                element.layer.comprehension = True
            return Part("list", elements=[element], element_names=[None], repeated=True)
        if not isinstance(expr, cst.Call):
            self._describe_loose(expr, statement, scope, locals_)
            return Part("other", keys=_literal_dict_keys(expr))
        if isinstance(expr.func, cst.Attribute) and expr.func.attr.value in _RETURNS_SELF:
            # ``Net().to(device)``, ``nn.Linear(4, 4).cuda()``: the same module
            for arg in expr.args:
                self._describe_loose(arg.value, statement, scope, locals_)
            return self._describe(expr.func.value, statement, scope, locals_, wrapped)
        qualified = torch_name(self.imports.resolve(expr.func))
        short = qualified[len("torch.nn."):] if qualified and qualified.startswith("torch.nn.") else None
        local_class = dotted(expr.func)
        if short in vocab.LAYER_KINDS or (qualified is None and local_class in self.layer_classes):
            kind = vocab.LAYER_KINDS.get(short) or self.layer_classes[local_class]
            layer = Layer(kind, short or local_class, expr, statement, scope,
                          bias=self._bias_state(expr, kind, locals_) if short else "unknown",
                          wrapped=wrapped, custom_class=short is None, repeated=self.loop_depth > 0)
            self.layers.append(layer)
            scope.layers.append(layer)
            for arg in expr.args:
                self._describe_loose(arg.value, statement, scope, locals_)
            part = Part("layer", layer=layer)
            self.layer_parts[id(layer)] = part
            return part
        if short in vocab.ACTIVATION_MODULES:
            act, default_slope = vocab.ACTIVATION_MODULES[short]
            slope = None
            if default_slope is not None:
                keyword = {"LeakyReLU": "negative_slope", "PReLU": "init"}.get(short)
                given = number(argument(expr, 0 if short == "LeakyReLU" else 1, keyword)) \
                    if keyword else None
                slope = default_slope if given is None else given
            return Part("act", act=act, slope=slope)
        if short in vocab.NORM_MODULES:
            return Part("norm", norm=short)
        if short in vocab.PASS_THROUGH_MODULES:
            return Part("pass", op=short)
        if short == "Sequential":
            return self._describe_sequential(expr, statement, scope, locals_, wrapped)
        if short in ("ModuleList", "ModuleDict"):
            first = argument(expr, 0, "modules")
            if first is None:
                return Part("list")
            inner = self._describe_container_arg(first, statement, scope, locals_, wrapped)
            return inner if inner.kind == "list" else Part("other")
        if self.is_extra_relu(expr.func, qualified):
            return Part("act", act="relu")
        # Unknown call: layers built in its arguments are wrapped (e.g. zero_module(nn.Conv2d(...))).
        if qualified is None and local_class in self.class_scopes:
            scope.uses_classes.add(local_class)
        for arg in expr.args:
            self._describe(arg.value, statement, scope, locals_, wrapped=True)
        if isinstance(expr.func, cst.Attribute):
            self._describe_loose(expr.func.value, statement, scope, locals_)
        return Part("other", instance_of=local_class if local_class in self.class_scopes else None,
                    keys=_literal_dict_keys(expr))

    def _describe_container_arg(self, expr, statement, scope, locals_, wrapped) -> Part:
        if isinstance(expr, (cst.Dict, cst.Call)) and not self._is_layer_call(expr):
            return self._describe_named(expr, statement, scope, locals_, wrapped)
        return self._describe(expr, statement, scope, locals_, wrapped)

    def _is_layer_call(self, expr) -> bool:
        qualified = torch_name(self.imports.resolve(expr.func)) if isinstance(expr, cst.Call) else None
        return bool(qualified and qualified.startswith("torch.nn."))

    def _describe_named(self, expr, statement, scope, locals_, wrapped) -> Part:
        """``OrderedDict([("fc", nn.Linear(...)), ...])`` or a dict literal: named elements."""
        pairs = []
        if isinstance(expr, cst.Dict):
            pairs = [(el.key, el.value) for el in expr.elements if isinstance(el, cst.DictElement)]
        elif isinstance(expr, cst.Call) and expr.args and isinstance(expr.args[0].value, (cst.List, cst.Tuple)):
            for element in expr.args[0].value.elements:
                if isinstance(element.value, cst.Tuple) and len(element.value.elements) == 2:
                    pairs.append((element.value.elements[0].value, element.value.elements[1].value))
        else:
            self._describe_loose(expr, statement, scope, locals_)
            return Part("other")
        part = Part("list")
        for key, value in pairs:
            part.elements.append(self._describe(value, statement, scope, locals_, wrapped))
            part.element_names.append(string(key))
        return part

    def _describe_sequential(self, expr, statement, scope, locals_, wrapped) -> Part:
        part = Part("seq")
        args = list(expr.args)
        if len(args) == 1 and not args[0].star and isinstance(args[0].value, (cst.Call, cst.Dict)) \
                and not self._is_layer_call(args[0].value) and not self._builds_module(args[0].value):
            named = self._describe_named(args[0].value, statement, scope, locals_, wrapped)
            if named.kind == "list":
                named.kind = "seq"
                for index, element in enumerate(named.elements):
                    if element.parent is None:
                        element.parent = (named, index)
            return named
        for arg in args:
            if arg.star == "*":
                inner = self._describe(arg.value, statement, scope, locals_, wrapped)
                if inner.kind in ("list", "seq") and not inner.repeated:
                    part.elements.extend(inner.elements)
                    part.element_names.extend(inner.element_names)
                    part.conditional = part.conditional or inner.conditional
                else:
                    part.elements.append(Part("other"))
                    part.element_names.append(None)
                continue
            part.elements.append(self._describe(arg.value, statement, scope, locals_, wrapped))
            part.element_names.append(None)
        for index, element in enumerate(part.elements):
            if element.parent is None:
                element.parent = (part, index)
        return part

    @staticmethod
    def _dict_keys(expr, locals_) -> Optional[frozenset]:
        """The keys of ``{"device": d, "dtype": t}`` / ``dict(device=d)``, directly or through a name."""
        if isinstance(expr, cst.Name):
            part = locals_.get(expr.value)
            return part.keys if part is not None else None
        return _literal_dict_keys(expr)

    def is_extra_relu(self, func, qualified) -> bool:
        """A callable the user's configuration declares ReLU-like (by name, dotted name or qualified name)."""
        if not self.extra_relu:
            return False
        name = dotted(func) or ""
        return bool({name, name.rsplit(".", 1)[-1], qualified} & self.extra_relu)

    def _builds_module(self, expr) -> bool:
        return isinstance(expr, cst.Call) and dotted(expr.func) in self.class_scopes

    def _bias_state(self, call: cst.Call, kind: str, locals_) -> str:
        for arg in call.args:
            if arg.star == "**":  # ``**dd`` from a dict of known keys leaves ``bias`` as written
                keys = self._dict_keys(arg.value, locals_)
                if keys is None or "bias" in keys:
                    return "unknown"
            elif arg.star:
                return "unknown"
        value = argument(call, vocab.BIAS_POSITION[kind], "bias")
        if value is None:
            return "true"
        literal = boolean(value)
        if literal is not None:
            return "true" if literal else "false"
        if isinstance(value, cst.Name):
            return "param"
        return "unknown"

    # ------------------------------------------------------------------ paths
    def _path(self, expr, self_name, scope) -> Optional[str]:
        parts = []
        while True:
            if isinstance(expr, cst.Attribute):
                parts.append("." + expr.attr.value)
                expr = expr.value
            elif isinstance(expr, cst.Subscript):
                if len(expr.slice) != 1 or not isinstance(expr.slice[0].slice, cst.Index):
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
            elif isinstance(expr, cst.Name):
                head = "self" if expr.value == self_name else expr.value
                return head + "".join(reversed(parts))
            else:
                return None

    def lookup(self, path: str, scope: Scope, function=None, at: Optional[int] = None) -> Optional[list[Part]]:
        """What ``path`` holds: ``self...`` in the class; a plain name as bound before statement ``at``
        in the function, else at module level; ``net.fc`` through the class ``net`` is an instance of."""
        if path.startswith("self"):
            return _parts_at(scope, path, None)
        head = _HEAD.match(path).group(0)
        homes = (self.namespaces.get(id(function)), self.module_scope) if function is not None \
            else (self.module_scope,)
        for home in homes:
            bound = _parts_at(home, head, at) if home is not None else None
            if not bound:
                continue
            found = _parts_at(home, path, at)
            if found or path == head:
                return found
            return self._inside(bound, path[len(head):])
        if function is not None and id(function) not in self.visitor_functions:
            given = self._param_parts(function, head)  # a helper's parameter: what its callers hand it
            if given:
                return self._inside(given, path[len(head):])
        return None

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
                for part in _parts_at(self.class_scopes[name], path, None) or ()]

    # ------------------------------------------------------------------ init sites
    def _index_module(self) -> None:
        """One walk over the whole file for what later steps look up: imports, ``.apply(...)`` calls,
        and per function the names it type-tests (``isinstance(m, ...)``, ``m.__class__.__name__``)."""
        imports, self.apply_calls = [], []
        self.calls_by_name: dict[str, list] = {}       # f(...) / self.f(...) -> [(call, caller, statement)]
        self.name_uses: dict[str, int] = {}
        self.type_tested: dict[int, set] = {}          # id(function) -> names tested
        self.class_name_vars: dict = {}                # id(function) or None -> {var: subject}
        stack = [(self.module, None, None)]
        while stack:
            node, function, statement = stack.pop()
            kind = type(node)
            if kind is cst.Import or kind is cst.ImportFrom:
                imports.append(node)
                continue
            if kind is cst.Call:
                if isinstance(node.func, cst.Name) and node.func.value == "isinstance" and node.args \
                        and isinstance(node.args[0].value, cst.Name):
                    self.type_tested.setdefault(id(function), set()).add(node.args[0].value.value)
                elif isinstance(node.func, cst.Attribute) and node.func.attr.value == "apply" \
                        and len(node.args) == 1:
                    self.apply_calls.append((node.args[0].value, node.func.value, function, statement))
                elif (dotted(node.func) or "").rsplit(".", 1)[-1] == "named_apply" and len(node.args) >= 2:
                    # timm's ``named_apply(fn, module)``
                    self.apply_calls.append((node.args[0].value, node.args[1].value, function, statement))
                elif node.args and (isinstance(node.func, cst.Name) or (
                        isinstance(node.func, cst.Attribute) and isinstance(node.func.value, cst.Name))):
                    name = node.func.value if isinstance(node.func, cst.Name) else node.func.attr.value
                    self.calls_by_name.setdefault(name, []).append((node, function, statement))
            elif kind is cst.Name:
                self.name_uses[node.value] = self.name_uses.get(node.value, 0) + 1
            elif kind is cst.Attribute and node.attr.value == "__name__":
                subject = _class_name_subject(node)
                if subject:
                    self.type_tested.setdefault(id(function), set()).add(subject)
            elif kind is cst.Assign and len(node.targets) == 1 \
                    and isinstance(node.targets[0].target, cst.Name):
                subject = _class_name_subject(node.value)
                if subject:
                    key = id(function) if function is not None else None
                    self.class_name_vars.setdefault(key, {})[node.targets[0].target.value] = subject
            inner = node if kind is cst.FunctionDef else function
            if isinstance(node, cst.BaseStatement):
                statement = node
            stack.extend((child, inner, statement) for child in children(node))
        self.imports = ImportTable.from_nodes(imports)

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
            if isinstance(fn, cst.Call) and fn.args:  # functools.partial(fn, ...)
                fn = fn.args[0].value
            name = fn.attr.value if isinstance(fn, cst.Attribute) else (
                fn.value if isinstance(fn, cst.Name) else None)
            given = self.modules_given(owner, caller, self.statement_seq.get(id(statement)))
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

    def _visitor_binding(self, function) -> tuple:
        """What an ``apply`` visitor's module parameter reaches: the layers of the models it is applied to
        here, or nothing initlint can name (``standalone``) when it is applied nowhere it can see."""
        applied = self.applied.get(id(function), ())
        given = [part for parts in applied if parts is not None for part in parts]
        if not given:
            return ("opaque", None) if self._called(function) else ("standalone", None)
        layers = {id(layer): layer for part in given for layer in self._layers_of_part(part)}
        return ("modules", list(layers.values()))

    def modules_given(self, expr, caller, at) -> Optional[list[Part]]:
        """What a module expression holds where ``caller`` hands it on (``self``, ``net``, ``self.features``),
        or None when initlint cannot tell."""
        scope = self.method_scopes.get(id(caller)) if caller is not None else None
        self_name = self._self_name(caller) if scope is not None else None
        if isinstance(expr, cst.Name) and self_name is not None and expr.value == self_name:
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
            if isinstance(call.func, cst.Attribute) != is_method:
                continue
            value = argument(call, position, param)
            if value is None:
                continue
            parts = self.modules_given(value, caller, self.statement_seq.get(id(statement)))
            if parts is None:
                return None
            given.extend(parts)
        return given or None

    def _called(self, function) -> bool:
        """Whether this file names the function anywhere but in its ``def`` (calls, applies or hands it
        on): a helper named nowhere else is checked on its own, for what it does to any model."""
        return self.name_uses.get(function.name.value, 0) > 1

    def _may_be_initialised(self, parts: Optional[list[Part]]) -> None:
        """Code initlint cannot see may initialise these modules' layers."""
        for part in parts or ():
            if part.instance_of:
                self.class_scopes[part.instance_of].may_init_elsewhere = True
            for layer in self._layers_of_part(part):
                layer.maybe_init = True

    def reachable_layers(self, scope: Optional[Scope]) -> list[Layer]:
        """Layers a ``modules()`` walk from this class can reach (every layer when unknown)."""
        if scope is None or not scope.is_class:
            return [layer for layer in self.layers if not layer.wrapped]
        seen, todo, layers = {scope.name}, [scope], []
        while todo:
            current = todo.pop()
            layers.extend(layer for layer in current.layers if not layer.wrapped)
            for name in current.uses_classes:
                if name not in seen and name in self.class_scopes:
                    seen.add(name)
                    todo.append(self.class_scopes[name])
        return layers

    def _order_prefix(self, function, scope, is_method, position) -> tuple:
        if not is_method:
            return (2, position)
        init = scope.methods.get("__init__")
        if function is init:
            return (0,)
        index = self._methods_called_from_init(scope).get(function.name.value)
        return (0, index, 1) if index is not None else (1, position)

    def _methods_called_from_init(self, scope: Scope) -> dict:
        """``{method name: index of the first __init__ statement calling it}`` (``self.m()`` or
        ``self.apply(self.m)``), computed once per class."""
        cached = self.init_call_index.get(id(scope))
        if cached is None:
            cached = {}
            init = scope.methods.get("__init__")
            for index, statement in enumerate(block_statements(init.body) if init else ()):
                for node in walk(statement):
                    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
                            and dotted(node.func.value) == "self":
                        name = node.func.attr.value
                        if name == "apply" and node.args and isinstance(node.args[0].value, cst.Attribute):
                            name = node.args[0].value.attr.value
                        cached.setdefault(name, index)
            self.init_call_index[id(scope)] = cached
        return cached

    def _scan_block(self, statements, ctx: Context, skip_defs=False) -> None:
        for statement in statements:
            if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
                continue
            self.at = self.statement_seq.get(id(statement))
            if isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                for small in statement.body:
                    self._scan_small(small, statement, ctx)
                continue
            if isinstance(statement, cst.If):
                self._scan_if(statement, ctx)
                body = block_statements(statement.body)
                if statement.orelse is None and body and _ends_block(body[-1]):
                    ctx = ctx.with_condition(statement.test, False)
                continue
            if isinstance(statement, cst.For):
                binding = self._loop_binding(statement.iter, ctx)
                inner = ctx
                if binding is not None:
                    for name in _loop_names(statement.target):
                        inner = inner.with_binding(name, binding)
                self._scan_expression(statement.iter, statement, ctx)
                self._scan_block(block_statements(statement.body), inner)
                if statement.orelse is not None:
                    self._scan_block(block_statements(statement.orelse.body), ctx)
                continue
            for block in _blocks_of(statement):
                self._scan_block(block, ctx)

    def _scan_if(self, statement: cst.If, ctx: Context) -> None:
        self._note_truth_tests(statement.test, ctx)
        self._scan_expression(statement.test, statement, ctx)
        self._scan_block(block_statements(statement.body), ctx.with_condition(statement.test, True))
        orelse = statement.orelse
        if isinstance(orelse, cst.If):
            self._scan_if(orelse, ctx.with_condition(statement.test, False))
        elif orelse is not None:
            self._scan_block(block_statements(orelse.body), ctx.with_condition(statement.test, False))

    def _loop_binding(self, iterable, ctx: Context):
        if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Attribute) \
                and iterable.func.attr.value in ("parameters", "named_parameters"):
            return ("params", None)
        if isinstance(iterable, cst.Call) and isinstance(iterable.func, cst.Attribute) \
                and iterable.func.attr.value in ("modules", "named_modules", "children", "named_children"):
            owner = iterable.func.value
            if dotted(owner) == "self" and ctx.scope.is_class:
                return ("modules", ctx.scope)
            path = self._path(owner, ctx.self_name, ctx.scope)
            found = self.lookup(path, ctx.scope, ctx.function, self.at) if path else None
            if found:  # ``self.mlp.modules()``, ``net.modules()``: the layers built into that module
                return ("modules", [layer for part in found for layer in self._layers_of_part(part)])
            if path is not None and path.startswith("self"):
                return ("modules", [])  # a submodule initlint cannot see into
            if isinstance(owner, cst.Name) and ctx.function is not None and not self._called(ctx.function) \
                    and owner.value in [p.name.value for p in ctx.function.params.params]:
                return ("standalone", None)  # a helper's model parameter, and the helper is called nowhere
            return ("opaque", None)  # a model initlint cannot name
        if isinstance(iterable, (cst.List, cst.Tuple)):
            parts = []
            for element in iterable.elements:
                path = self._path(element.value, ctx.self_name, ctx.scope)
                found = self.lookup(path, ctx.scope, ctx.function, self.at) if path else None
                parts.extend(found or [Part("other")])
            return ("parts", parts)
        path = self._path(iterable, ctx.self_name, ctx.scope)
        found = self.lookup(path, ctx.scope, ctx.function, self.at) if path else None
        if found:
            elements = [el for part in found if part.kind in ("seq", "list") for el in part.elements]
            if elements:
                return ("parts", elements)
        return None

    def _scan_small(self, small, statement, ctx: Context) -> None:
        if isinstance(small, (cst.Assign, cst.AugAssign)):
            targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else [small.target]
            for target in targets:
                while isinstance(target, cst.Subscript):  # ``m.bias.data[:] = 0``
                    target = target.value
                parsed = _param_target(target)
                if parsed is not None:
                    self._add_site(small, statement, ctx, "other", "other", parsed, None)
        self._scan_expression(small, statement, ctx)

    def _scan_expression(self, node, statement, ctx: Context) -> None:
        for child in walk(node, into_defs=False):
            if isinstance(child, cst.Call):
                self._scan_call(child, statement, ctx)

    def _scan_call(self, call: cst.Call, statement, ctx: Context) -> None:
        qualified = torch_name(self.imports.resolve(call.func))
        init_name = qualified[len(vocab.INIT_MODULE) + 1:] \
            if qualified and qualified.startswith(vocab.INIT_MODULE + ".") else None
        if init_name is None and qualified and qualified.endswith(".trunc_normal_") and vendored(qualified, "timm"):
            init_name = "trunc_normal_"  # timm's has torch's signature and defaults
        if init_name is not None:
            name = init_name
            deprecated = name in vocab.DEPRECATED_INIT_FUNCTIONS
            canonical = vocab.DEPRECATED_INIT_FUNCTIONS.get(name, name)
            if canonical not in vocab.INIT_FUNCTIONS:
                return
            self.init_calls.append((call, canonical))
            target = argument(call, 0, "tensor")
            parsed = _param_target(target) if target is not None else None
            if parsed is None and self._is_parameter_loop_var(target, ctx):
                self._init_initlint_cannot_name(ctx)
            site = self._add_site(call, statement, ctx, canonical, "torch", parsed, call,
                                  deprecated=deprecated)
            if site is None and (deprecated or ctx.in_forward):
                # Still worth reporting (INI201/INI203) even when the target is not a layer parameter.
                self.sites.append(InitSite(call, statement, ctx.function, canonical, "torch", "unknown",
                                           target, reach_known=False, in_forward=ctx.in_forward,
                                           deprecated=deprecated, order=self._next_order(ctx), args=call))
            return
        if qualified and qualified.rsplit(".", 1)[-1] in vocab.MODULE_INIT_HELPERS and any(
                vendored(qualified, package) for package in vocab.MODULE_INIT_HELPER_PACKAGES):
            target = argument(call, 0, "module")
            parsed = _param_target(target) if target is not None else None
            if parsed is not None:
                self.sites.append(InitSite(call, statement, ctx.function, qualified.rsplit(".", 1)[-1],
                                           "helper", parsed[1], parsed[0], reach_known=False,
                                           order=self._next_order(ctx), args=call))
            else:  # handed a module, as intended: it initialises that module's weight and bias
                self._note_unknown_call(call, statement, ctx)
            return
        func = call.func
        if _trains(call, qualified):
            self.trained.add(id(ctx.function))
        if (isinstance(func, cst.Attribute) and func.attr.value == "load_state_dict") or \
                (qualified and qualified.rsplit(".", 1)[-1] == "load_checkpoint" and call.args):
            self._note_loaded(func.value if isinstance(func, cst.Attribute) and func.attr.value == "load_state_dict"
                              else call.args[0].value, ctx)
            return
        if isinstance(func, cst.Attribute) and func.attr.value in vocab.TENSOR_INIT_METHODS:
            parsed = _param_target(func.value)
            if parsed is not None:
                self._add_site(call, statement, ctx, func.attr.value, "method", parsed, call)
            elif self._is_parameter_loop_var(func.value, ctx):
                self._init_initlint_cannot_name(ctx)
            return
        if qualified is None or not qualified.startswith("torch"):
            self._note_unknown_call(call, statement, ctx)

    def _note_loaded(self, model, ctx: Context) -> None:
        """Weights loaded into a model of this file, unconditionally and before any training in the same
        body, replace whatever init it had (a best checkpoint loaded after training does not)."""
        if ctx.conditions or (ctx.scope.is_class and ctx.self_name is not None) or id(ctx.function) in self.trained:
            return
        for part in self.modules_given(model, ctx.function, self.at) or ():
            for layer in self._layers_of_part(part):
                layer.values_loaded = True

    def _note_unknown_call(self, call: cst.Call, statement, ctx: Context) -> None:
        """A call initlint cannot see into may initialise what it is handed: ``init_weights(self)``,
        ``c2_msra_fill(self.conv)``, ``lecun_normal_(self.fc.weight)``."""
        name = (dotted(call.func) or "").rsplit(".", 1)[-1]
        if not _INIT_LIKE_NAME.search(name):
            return  # ``_log_api_usage_once(self)``, ``print(self.fc)``: handed a module, not initialising it
        for arg in call.args:
            value = arg.value
            if isinstance(value, cst.Name) and value.value == ctx.self_name:
                ctx.scope.may_init_elsewhere = True
                continue
            parsed = _param_target(value)
            if parsed is not None:
                self._add_site(call, statement, ctx, "other", "other", parsed, call)
                continue
            if isinstance(value, (cst.Name, cst.Attribute, cst.Subscript)):
                reach, _, loop, exact = self._resolve_owner(value, ctx)
                for param in ("weight", "bias") if reach else ():
                    self.sites.append(InitSite(call, statement, ctx.function, "other", "other", param, value,
                                               reach=reach, loop=loop, exact_filter=exact,
                                               in_forward=ctx.in_forward, order=self._next_order(ctx)))

    def _mark_same_path(self, owner, ctx: Context) -> None:
        path = self._path(owner, None, ctx.scope)
        if path is None or "." not in path:  # a bare name: it may be any layer
            for layer in self.layers:
                layer.maybe_init = True
            return
        rest = path[_HEAD.match(path).end():]
        for scope in self.class_scopes.values():
            for part in _parts_at(scope, "self" + rest, None) or ():
                for layer in self._layers_of_part(part):
                    layer.maybe_init = True

    def _is_parameter_loop_var(self, expr, ctx: Context) -> bool:
        while isinstance(expr, cst.Attribute) and expr.attr.value == "data":
            expr = expr.value
        return isinstance(expr, cst.Name) and ctx.bindings.get(expr.value, (None,))[0] == "params"

    def _init_initlint_cannot_name(self, ctx: Context) -> None:
        """An init of parameters initlint cannot tell apart (``for p in self.parameters()``)."""
        if ctx.scope.is_class and ctx.self_name is not None:
            ctx.scope.may_init_elsewhere = True
        else:
            self.may_init_elsewhere = True

    def _next_order(self, ctx: Context) -> tuple:
        return ctx.order_prefix + (next(self.counter),)

    def _add_site(self, node, statement, ctx, func, via, parsed, call, deprecated=False):
        if parsed is None:
            return None
        owner, param = parsed
        self.standalone_kinds = ()
        reach, known, loop, exact = self._resolve_owner(owner, ctx)
        if not reach and known is False and not loop:
            # An init of something initlint cannot name may reach, from elsewhere, the layers of this
            # file found at the same path (``model.fc`` -> any class's ``self.fc``).
            if ctx.scope.is_class and ctx.self_name is not None:
                ctx.scope.may_init_elsewhere = True
            else:
                self._mark_same_path(owner, ctx)
        site = InitSite(node, statement, ctx.function, func, via, param, owner, reach=reach,
                        reach_known=known, loop=loop, exact_filter=exact,
                        guarded=self._guarded(ctx), in_forward=ctx.in_forward, deprecated=deprecated,
                        order=self._next_order(ctx), args=call, standalone_kinds=self.standalone_kinds)
        self.standalone_kinds = ()
        self.sites.append(site)
        return site

    def _resolve_owner(self, owner, ctx: Context):
        """(layers reached, reach fully known, via a loop, loop condition tests only types)."""
        if isinstance(owner, cst.Name) and owner.value in ctx.bindings:
            kind, value = ctx.bindings[owner.value]
            if kind == "parts":
                layers = [p.layer for p in value if p.kind == "layer"]
                return layers, all(p.kind == "layer" for p in value), True, True
            matcher, exact = self._type_filter(owner.value, ctx)
            if kind in ("standalone", "opaque"):
                # Applied to no model initlint can see: it may initialise any layer it matches, elsewhere.
                for layer in self.layers:
                    if matcher is None or matcher(layer):
                        layer.maybe_init = True
                if kind == "standalone" and matcher is not None:
                    self.standalone_kinds = tuple(sorted(p.kind for p in _PROBES if matcher(p)))
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
        layers = [p.layer for p in found if p.kind == "layer"]
        return layers, len(layers) == len(found), False, True

    def _type_filter(self, var: str, ctx: Context):
        """A predicate over layers from the conditions around a site, and whether it tests only types."""
        matchers, exact = [], True
        for condition in ctx.conditions:
            for test, positive in _conjuncts(condition.test, condition.positive):
                mentions = var in names_in(test) or any(
                    name in names_in(test) for name, subject in ctx.class_name_vars.items() if subject == var)
                matcher = self._type_test(test, var, ctx) if mentions else None
                if matcher is not None and positive:
                    matchers.append(matcher)
                elif not _mentions_bias(test):
                    exact = False
        if not matchers:
            return None, False
        return (lambda layer: all(m(layer) for m in matchers)), exact

    def _type_test(self, test, var, ctx):
        if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.Or):
            left, right = self._type_test(test.left, var, ctx), self._type_test(test.right, var, ctx)
            if left and right:
                return lambda layer: left(layer) or right(layer)
            return None
        if isinstance(test, cst.Call) and dotted(test.func) == "isinstance" and len(test.args) == 2:
            subject = test.args[0].value
            if not (isinstance(subject, cst.Name) and subject.value == var):
                return None
            types = test.args[1].value
            elements = [e.value for e in types.elements] if isinstance(types, cst.Tuple) else [types]
            checks = [self._isinstance_check(e) for e in elements]
            return lambda layer: any(check(layer) for check in checks)
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
            comparison = test.comparisons[0]
            left, right, op = test.left, comparison.comparator, comparison.operator
            # classname.find("Conv") != -1 / >= 0
            if isinstance(left, cst.Call) and isinstance(left.func, cst.Attribute) \
                    and left.func.attr.value == "find" and self._is_class_name_of(left.func.value, var, ctx):
                needle = string(argument(left, 0, None))
                bound = number(right)
                if needle is not None and bound is not None:
                    found_wanted = (isinstance(op, cst.NotEqual) and bound == -1) or \
                        (isinstance(op, cst.GreaterThanEqual) and bound == 0) or \
                        (isinstance(op, cst.GreaterThan) and bound == -1)
                    if found_wanted:
                        return lambda layer: needle in layer.class_name
                return None
            if isinstance(op, cst.In) and self._is_class_name_of(right, var, ctx):
                needle = string(left)
                return (lambda layer: needle in layer.class_name) if needle is not None else None
            if isinstance(op, (cst.Equal, cst.Is)):
                if self._is_class_name_of(left, var, ctx) and string(right) is not None:
                    wanted = string(right)
                    return lambda layer: layer.class_name == wanted
                if _is_type_of(left, var):
                    check = self._isinstance_check(right)
                    exact_name = (dotted(right) or "").rsplit(".", 1)[-1]
                    return lambda layer: check(layer) and layer.class_name == exact_name
        if isinstance(test, cst.Call) and isinstance(test.func, cst.Attribute) \
                and test.func.attr.value in ("startswith", "endswith") \
                and self._is_class_name_of(test.func.value, var, ctx):
            needle = string(argument(test, 0, None))
            if needle is None:
                return None
            if test.func.attr.value == "startswith":
                return lambda layer: layer.class_name.startswith(needle)
            return lambda layer: layer.class_name.endswith(needle)
        return None

    def _is_class_name_of(self, expr, var, ctx) -> bool:
        if isinstance(expr, cst.Name) and ctx.class_name_vars.get(expr.value) == var:
            return True
        return _class_name_subject(expr) == var

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

    def _guarded(self, ctx: Context) -> bool:
        return any(_mentions_bias(c.test) for c in ctx.conditions)

    def _note_truth_tests(self, test, ctx: Context) -> None:
        for node, expr in _truth_tested(test):
            if not (isinstance(expr, cst.Attribute) and expr.attr.value == "bias"):
                continue
            owner = expr.value
            if isinstance(owner, cst.Name) and owner.value == ctx.self_name:
                continue  # ``self.bias`` is often the module's own flag
            if (isinstance(owner, cst.Name) and owner.value in ctx.bindings) or self._resolve_owner(owner, ctx)[0]:
                self.truth_tests.append((node, expr))

    # ------------------------------------------------------------------ whole-file conclusions
    def _mark_unresolved_inits(self) -> None:
        for scope in self.scopes:
            if not scope.is_class:
                continue
            if not all(_plain_module_base(base) for base in scope.bases):
                scope.may_init_elsewhere = True
            init = scope.methods.get("__init__")
            if init is None:
                continue
            for node in walk(init.body):
                if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
                        and dotted(node.func.value) == "self" \
                        and node.func.attr.value not in scope.methods \
                        and node.func.attr.value not in _MODULE_METHODS_THAT_DO_NOT_INIT:
                    scope.may_init_elsewhere = True
                    if not all(_plain_module_base(base) for base in scope.bases):
                        # A framework base's init hook (``self.post_init()``) walks the whole model
                        # tree, which may include every module class of this file.
                        self.may_init_elsewhere = True
        for function, _, param in self.visitor_functions.values():
            # A visitor that hands its module to code initlint cannot see (``super()._init_weights(m)``)
            # may initialise anything it reaches.
            for node in walk(function.body):
                if isinstance(node, cst.Call) and dotted(node.func) not in _INSPECTING_CALLS and any(
                        isinstance(arg.value, cst.Name) and arg.value.value == param for arg in node.args):
                    self.may_init_elsewhere = True
                    break

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
                if len(smalls) != 1 or not isinstance(smalls[0], cst.Expr) \
                        or not isinstance(smalls[0].value, cst.Call):
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
                    for c in walk(later) if isinstance(c, cst.Call))
                found.append((statement, scope, body[last] if safe else None))
        return found

    def _has_own_weight_init(self, layer: Layer, functions: list) -> bool:
        return any(s.param == "weight" and any(r is layer for r in s.reach)
                   and not any(s.function is f for f in functions) for s in self.sites)

    def _functions_called(self, call, scope) -> list:
        """The functions of this file that ``self.apply(fn)`` or ``self.method()`` runs."""
        func = call.func
        if not (isinstance(func, cst.Attribute) and dotted(func.value) == "self"):
            return []
        if func.attr.value == "apply" and len(call.args) == 1:
            fn = call.args[0].value
            name = fn.attr.value if isinstance(fn, cst.Attribute) else dotted(fn)
            return [f for f, _, _ in self.functions if f.name.value == name]
        if func.attr.value in scope.methods and func.attr.value != "__init__":
            return [scope.methods[func.attr.value]]
        return []

    def _layers_of_part(self, part: Part) -> list:
        if part.kind == "layer":
            return [part.layer]
        if part.kind in ("seq", "list"):
            return [l for el in part.elements for l in self._layers_of_part(el)]
        if part.kind == "other" and part.instance_of:
            return self.reachable_layers(self.class_scopes[part.instance_of])
        return []


# Module methods that return the module itself.
_RETURNS_SELF = frozenset({"to", "cuda", "cpu", "train", "eval", "float", "double", "half", "bfloat16",
                           "requires_grad_", "to_empty", "apply", "share_memory"})
_HEAD = re.compile(r"[^.\[]+")


def _literal_dict_keys(expr) -> Optional[frozenset]:
    if isinstance(expr, cst.Dict):
        keys = [string(el.key) if isinstance(el, cst.DictElement) else None for el in expr.elements]
        return None if None in keys else frozenset(keys)
    if isinstance(expr, cst.Call) and dotted(expr.func) == "dict" \
            and all(arg.keyword is not None and not arg.star for arg in expr.args):
        return frozenset(arg.keyword.value for arg in expr.args)
    return None


# One layer of each kind, to ask which kinds a type test admits.
_PROBES = tuple(Layer(kind, kind, None, None, None, "true") for kind in sorted(vocab.ALL_KINDS))


def _parts_at(home: Scope, path: str, at: Optional[int]) -> Optional[list]:
    """The parts filed under ``path`` (or its ``[*]`` form); in an ordered namespace, only those of the
    last binding at or before statement ``at``."""
    key = path
    found = home.parts.get(key)
    if found is None and "[" in path:
        key = _ANY_INDEX.sub("[*]", path)
        found = home.parts.get(key)
    if found is None or at is None or not home.ordered:
        return found
    seqs = home.part_seqs[key]
    earlier = [seq for seq in seqs if seq <= at]
    if not earlier:
        return None
    latest = max(earlier)
    return [part for part, seq in zip(found, seqs) if seq == latest]


# ``apply`` is followed where its function is found (and marks an init elsewhere where it is not).
_MODULE_METHODS_THAT_DO_NOT_INIT = frozenset({"apply", 
    "register_buffer", "register_parameter", "add_module", "register_module", "to", "train", "eval",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "requires_grad_", "float", "double", "half", "cuda", "cpu", "modules", "named_modules",
    "parameters", "named_parameters", "children", "named_children", "__setattr__",
    "save_hyperparameters", "log", "log_dict"})


def _trains(call: cst.Call, qualified: Optional[str]) -> bool:
    """A call that trains: ``loss.backward()``, ``optimizer.step()``, ``trainer.fit(...)``, ``train(...)``,
    or an optimizer being built (``model.train()`` only switches the mode)."""
    name = (dotted(call.func) or "").rsplit(".", 1)[-1]
    if name in ("backward", "step", "fit") or (qualified or "").startswith("torch.optim."):
        return True
    return "train" in name.lower() and not (name == "train" and isinstance(call.func, cst.Attribute)
                                            and not call.args)


def _plain_module_base(base: Optional[str]) -> bool:
    """``nn.Module``, or a framework base that adds no init of its own (Lightning's LightningModule)."""
    if base == "torch.nn.Module":
        return True
    return bool(base) and base.endswith(".LightningModule") and bool(
        vendored(base, "lightning") or vendored(base, "pytorch_lightning"))


# Helpers that initialise what they are handed are named for it: init_weights, kaiming_init,
# c2_msra_fill, reset_parameters, lecun_normal_ (in-place, trailing underscore).
_ANY_INDEX = re.compile(r"\[[^\]]*\]")
_INIT_LIKE_NAME = re.compile(r"init|reset|fill|weight|_$", re.IGNORECASE)
_INSPECTING_CALLS = frozenset({"isinstance", "type", "hasattr", "getattr", "id", "print", "str", "repr", "len"})


def _blocks_of(statement) -> list:
    """The statement lists inside a compound statement (``if``/``elif``/``else``, loops, ``try``, ``with``,
    ``match``)."""
    blocks = []
    for name in ("body", "orelse", "finalbody"):
        child = getattr(statement, name, None)
        if child is None:
            continue
        if isinstance(child, cst.If):
            blocks.extend(_blocks_of(child))
        elif isinstance(child, (cst.IndentedBlock, cst.SimpleStatementSuite)):
            blocks.append(block_statements(child))
        else:  # Else, Finally
            blocks.append(block_statements(child.body))
    for part in tuple(getattr(statement, "handlers", ())) + tuple(getattr(statement, "cases", ())):
        blocks.append(block_statements(part.body))
    return blocks


def _outer_calls(node):
    """The outermost calls in an expression, skipping nested function bodies."""
    stack = [node]
    from .syntax import children
    while stack:
        current = stack.pop()
        if isinstance(current, cst.Call):
            yield current
            continue
        if isinstance(current, (cst.Lambda, cst.FunctionDef, cst.ClassDef)):
            continue
        stack.extend(reversed(list(children(current))))


def _param_target(expr):
    """``(owner, "weight"|"bias")`` for ``owner.weight``, ``owner.bias.data``, ``owner.weight.detach()``."""
    while True:
        if isinstance(expr, cst.Attribute) and expr.attr.value == "data":
            expr = expr.value
        elif isinstance(expr, cst.Call) and isinstance(expr.func, cst.Attribute) \
                and expr.func.attr.value == "detach" and not expr.args:
            expr = expr.func.value
        else:
            break
    if isinstance(expr, cst.Attribute) and expr.attr.value in ("weight", "bias"):
        return expr.value, expr.attr.value
    return None


def _class_name_subject(expr) -> Optional[str]:
    """``m`` for ``m.__class__.__name__`` or ``type(m).__name__``."""
    if isinstance(expr, cst.Attribute) and expr.attr.value == "__name__":
        inner = expr.value
        if isinstance(inner, cst.Attribute) and inner.attr.value == "__class__" \
                and isinstance(inner.value, cst.Name):
            return inner.value.value
        if _is_type_call(inner):
            return inner.args[0].value.value
    return None


def _is_type_call(expr) -> bool:
    return isinstance(expr, cst.Call) and dotted(expr.func) == "type" and len(expr.args) == 1 \
        and isinstance(expr.args[0].value, cst.Name)


def _is_type_of(expr, var) -> bool:
    if _is_type_call(expr):
        return expr.args[0].value.value == var
    return isinstance(expr, cst.Attribute) and expr.attr.value == "__class__" \
        and isinstance(expr.value, cst.Name) and expr.value.value == var


def _conjuncts(test, positive):
    """Split ``a and b`` (when true) into its parts; strip ``not``."""
    while isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        test, positive = test.expression, not positive
    if positive and isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _conjuncts(test.left, True) + _conjuncts(test.right, True)
    if not positive and isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.Or):
        return _conjuncts(test.left, False) + _conjuncts(test.right, False)
    return [(test, positive)]


def _mentions_bias(test) -> bool:
    for node in walk(test):
        if isinstance(node, cst.Name) and "bias" in node.value:
            return True
        if isinstance(node, cst.SimpleString) and "bias" in node.value:
            return True
    return False


def _truth_tested(test):
    """``(node, expr)`` for each operand whose truth value the test uses: ``node`` is ``not expr``
    when negated, else ``expr`` itself."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not) \
            and not isinstance(test.expression, (cst.UnaryOperation, cst.BooleanOperation)):
        return [(test, test.expression)]
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return _truth_tested(test.expression)
    if isinstance(test, cst.BooleanOperation):
        return _truth_tested(test.left) + _truth_tested(test.right)
    return [(test, test)]


def _ends_block(statement) -> bool:
    smalls = small_statements(statement)
    return bool(smalls) and isinstance(smalls[-1], _ENDS_BLOCK)


def _loop_names(target) -> list:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, cst.Tuple):
        return [n for el in target.elements for n in _loop_names(el.value)]
    return []


def analyze(module: cst.Module, extra_relu: frozenset = frozenset()) -> FileFacts:
    return Analyzer(module, extra_relu).run()
