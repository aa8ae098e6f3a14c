"""Scopes, layer classes and what module-building expressions make (parts)."""
from __future__ import annotations

import dataclasses
from typing import Optional

import libcst as cst

from . import vocab
from .facts import Layer, Part, Scope
from .names import torch_name
from .patterns import RETURNS_SELF, blocks_of, is_self_path, literal_dict_keys, outer_calls
from .syntax import argument, block_statements, boolean, bound_names, dotted, number, string, walk


class LayerCollector:
    """Part of the Analyzer (see collect.py): its methods share the Analyzer's state."""

    def _find_scopes(self, statements, scope: Scope, in_class: bool, enclosing=None) -> None:
        for statement in statements:
            if type(statement) is cst.ClassDef:
                class_scope = Scope(statement.name.value, statement, is_class=True,
                                    bases=[self._base_name(arg.value) for arg in statement.bases])
                self.scopes.append(class_scope)
                self.class_scopes[statement.name.value] = class_scope
                for inner in block_statements(statement.body):
                    if type(inner) is cst.FunctionDef:
                        class_scope.methods[inner.name.value] = inner
                self._find_scopes(block_statements(statement.body), class_scope, in_class=True)
            elif type(statement) is cst.FunctionDef:
                self.functions.append((statement, scope, in_class))
                self.enclosing[id(statement)] = enclosing
                self._find_scopes(block_statements(statement.body), scope, in_class=False, enclosing=statement)
            elif type(statement) in (cst.If, cst.Try, cst.With, cst.For, cst.While):
                for block in blocks_of(statement):
                    self._find_scopes(block, scope, in_class, enclosing)

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

    def _collect_parts(self, statements, scope, function, self_name, locals_, top_level_init=False):
        for index, statement in enumerate(statements):
            if type(statement) in (cst.FunctionDef, cst.ClassDef):
                continue
            self.statement_seq[id(statement)] = next(self.seq)
            if type(statement) not in (cst.SimpleStatementLine, cst.SimpleStatementSuite):
                looping = type(statement) in (cst.For, cst.While)
                branching = not looping and type(statement) is not cst.With
                self.loop_depth += looping
                self.branch_depth += branching
                if looping:
                    self.loop_stack.append(statement)
                for block in blocks_of(statement):
                    self._collect_parts(block, scope, function, self_name, locals_)
                if looping:
                    self.loop_stack.pop()
                self.loop_depth -= looping
                self.branch_depth -= branching
                continue
            for small in statement.body:
                self._collect_small(small, statement, scope, self_name, locals_,
                                    index if top_level_init else None)

    def _collect_function(self, function, scope, is_method) -> None:
        """Collect one function's parts (once; a builder is collected where it is first called)."""
        if id(function) in self.collected:
            return
        self.collected.add(id(function))
        saved = self.collecting, self.loop_depth, self.branch_depth, self.loop_stack
        self.namespaces[id(function)] = Scope(function.name.value, function, is_class=False,
                                              ordered=True, is_method=is_method)
        self.collecting, self.loop_depth, self.branch_depth, self.loop_stack = function, 0, 0, []
        self._collect_parts(block_statements(function.body), scope, function,
                            self._self_name(function) if is_method else None, {},
                            top_level_init=is_method and function.name.value == "__init__")
        self.collecting, self.loop_depth, self.branch_depth, self.loop_stack = saved

    def _built_by(self, call: cst.Call, scope: Scope) -> Optional[Part]:
        """What a builder function of this file returns (``make_mlp([obs, 256, 1])``), its layers
        counted as the caller's."""
        name = dotted(call.func)
        # A function of that name defined in the function being collected, else at module level
        # (PyTorch-GAN's classes each define their own nested ``block``).
        candidates = [(function, home) for function, home in self.plain_functions.get(name, ())
                      if self.enclosing.get(id(function)) in (self.collecting, None)]
        candidates.sort(key=lambda candidate: self.enclosing.get(id(candidate[0])) is None)
        if candidates:
            function, home = candidates[0]
            self._collect_function(function, home, False)
            is_method = False
        elif scope.is_class and name and name.startswith("self.") and name[5:] in scope.methods \
                and name[5:] != "__init__":  # ``self._make_layer(block, 64, 2)``
            function = scope.methods[name[5:]]
            self._collect_function(function, scope, True)
            is_method = True
        else:
            return None
        part = self.returns.get(id(function))
        if part is not None:
            frame = _call_frame(function, call, is_method)
            if id(function) in self.built:  # called again: more layers of the same kind, this call's own
                built = _built_here(part)
                part = self._copy_for_call(part, frame, function)
                for layer in built:
                    if layer.original is None:
                        layer.repeated = True
            else:
                for layer in _built_here(part):
                    # its frames so far are those of builders called inside this one (and called first
                    # here); those of builders calling this one come after
                    self.frames_inside[(id(layer), id(function))] = len(layer.bindings)
                    layer.bindings += (frame,)
        self.built.add(id(function))
        if part is not None and scope.is_class:
            known = {id(layer) for layer in scope.layers}
            scope.layers.extend(layer for layer in self._layers_of_part(part) if id(layer) not in known)
        return part

    def _copy_for_call(self, part: Part, frame: dict, function: cst.FunctionDef) -> Part:
        """A builder's part as another call returns it: the same modules, with a copy of each layer
        (the model's path goes through each call's layers in turn) sized by this call's arguments.
        Instances of classes are shared, as before: their layers belong to the class."""
        copied: dict[int, tuple] = {}  # id(original part) -> (original, copy)

        def copy(original: Part) -> Part:
            if id(original) in copied:
                return copied[id(original)][1]
            if original.kind == "other":
                return original
            new = dataclasses.replace(original, elements=[], element_names=list(original.element_names),
                                      chunks=list(original.chunks), parent=None, also=[])
            copied[id(original)] = (original, new)
            if original.kind == "layer" and original.layer is not None:
                layer = original.layer
                root = layer.original or layer
                inside = self.frames_inside.get((id(layer), id(function)), len(layer.bindings) - 1)
                new.layer = dataclasses.replace(layer, paths=[], path_statements={}, original=root, copies=[],
                                                repeated=layer.looped, path_follower=None,
                                                bindings=layer.bindings[:inside] + (frame,))
                root.copies.append(new.layer)
                self.layer_parts[id(new.layer)] = new
            new.elements = [copy(element) for element in original.elements]
            if id(original) in self.looped_builders:
                self.looped_builders.add(id(new))
            return new

        result = copy(part)
        for original, new in list(copied.values()):
            if original.parent is not None and id(original.parent[0]) in copied:
                new.parent = (copied[id(original.parent[0])][1], original.parent[1])
            new.also = [(copied[id(seq)][1], index) for seq, index in original.also if id(seq) in copied]
            for index, element in enumerate(new.elements):
                if element.kind == "other" and new.kind == "seq":  # a shared instance: one more place
                    element.also.append((new, index))
        return result

    def _hand_to_constructor(self, call: cst.Call, handed: list, class_name: str, statement) -> None:
        """``VGG(make_features(cfg))`` with ``self.features = features`` in ``VGG.__init__``: the layers
        handed over are the class's, under that path (``handed``: what each argument makes)."""
        target = self.class_scopes[class_name]
        init = target.methods.get("__init__")
        if init is None or not call.args:
            return
        params = [p.name.value for p in init.params.params][1:]
        slots = {}
        for inner in block_statements(init.body):
            for small in (inner.body if type(inner) is cst.SimpleStatementLine else ()):
                if type(small) is cst.Assign and len(small.targets) == 1 and type(small.value) is cst.Name \
                        and small.value.value in params:
                    path = self._path(small.targets[0].target, self._self_name(init), target)
                    if path and path.startswith("self."):
                        slots[small.value.value] = path
        for index, (arg, part) in enumerate(zip(call.args, handed)):
            if arg.star:
                return
            param = arg.keyword.value if arg.keyword is not None else (params[index] if index < len(params) else None)
            if param in slots and part.kind in ("seq", "list", "layer"):
                self._register(slots[param], part, target, statement)
                known = {id(layer) for layer in target.layers}
                target.layers.extend(l for l in self._layers_of_part(part) if id(l) not in known)

    def _collect_small(self, small, statement, scope, self_name, locals_, init_index):
        if type(small) is cst.Return and small.value is not None and self.collecting is not None \
                and self.collecting.name.value != "forward" and id(self.collecting) not in self.returns:
            part = self._describe(small.value, statement, scope, locals_)
            if part.kind in ("seq", "list", "layer"):
                self.returns[id(self.collecting)] = part
                self._register(f"{self.collecting.name.value}()", part, self._namespace(), statement)
            return
        if type(small) in (cst.Assign, cst.AnnAssign):
            value = small.value
            targets = [t.target for t in small.targets] if type(small) is cst.Assign else [small.target]
            if value is None:
                return
            if len(targets) == 1 and _unpacks(targets[0], value):  # ``netG, netD = Generator(), Discriminator()``
                for target, element in zip(targets[0].elements, value.elements):
                    part = self._describe(element.value, statement, scope, locals_)
                    self._bind(target.value, part, scope, self_name, locals_, statement, init_index)
                return
            part = self._describe(value, statement, scope, locals_)
            for target in targets:
                self._bind(target, part, scope, self_name, locals_, statement, init_index)
            return
        if type(small) is cst.AugAssign and type(small.target) is cst.Name \
                and type(small.operator) is cst.AddAssign:
            part = self._describe(small.value, statement, scope, locals_)
            builder = locals_.get(small.target.value)
            if builder is not None and builder.kind == "list" and part.kind == "list":
                self._extend_builder(builder, part.elements, source=part)
            return
        if type(small) is cst.Expr and type(small.value) is cst.Call:
            call = small.value
            func = call.func
            if type(func) is cst.Attribute and func.attr.value in ("append", "extend", "insert",
                                                                   "add_module", "register_module"):
                added = [arg.value for arg in call.args if not arg.keyword]
                if func.attr.value in ("insert", "add_module", "register_module"):
                    added = added[1:]
                parts = [self._describe(expr, statement, scope, locals_) for expr in added]
                source = None
                if func.attr.value == "extend" and parts and parts[0].kind == "list":
                    source, parts = parts[0], parts[0].elements
                owner = func.value
                if type(owner) is cst.Name and owner.value in locals_ \
                        and locals_[owner.value].kind == "list":
                    builder = locals_[owner.value]
                    if func.attr.value == "insert":
                        self._insert_into_builder(builder, parts, number(argument(call, 0, "index")))
                    else:
                        self._extend_builder(builder, parts, source=source)
                    return
                if type(owner) is cst.Name and owner.value in locals_ and locals_[owner.value].kind == "seq" \
                        and func.attr.value != "insert":
                    # ``net = nn.Sequential(); net.add_module("fc1", ...)``: the model is what is added, in order
                    self._extend_sequential(owner.value, locals_[owner.value], parts, source, statement,
                                            string(argument(call, 0, "name"))
                                            if func.attr.value in ("add_module", "register_module") else None)
                    return
                path = self._path(owner, self_name, scope)
                if path:
                    if func.attr.value in ("add_module", "register_module"):
                        name = string(argument(call, 0, "name"))
                        for part in parts if name else ():  # a computed name: no path to give
                            self._register(f"{path}.{name}", part, scope)
                    else:
                        for part in parts:
                            self._register(f"{path}[*]", part, scope)
                    return
        # Anything else: register the layers it builds, as wrapped if inside unknown calls.
        self._describe_loose(small, statement, scope, locals_)

    def _extend_builder(self, builder: Part, parts: list, source: Optional[Part] = None) -> None:
        """Append ``parts``: elements added by one statement stay next to each other whatever the
        branches around it; those of another list (``source``) keep what is known of its order."""
        builder.chunks.extend([None] * (len(builder.elements) - len(builder.chunks)))
        # After elements appended in a loop, positions count from an unknown number of copies.
        if id(builder) in self.looped_builders and self.loop_depth <= self.builder_loops.get(id(builder), 0) \
                and builder.uncertain_from is None:
            builder.uncertain_from = len(builder.elements)
        if source is not None and (source.chunks or source.conditional):
            builder.chunks.extend(source.chunks + [None] * (len(parts) - len(source.chunks)))
            builder.conditional = builder.conditional or source.conditional
        else:
            builder.chunks.extend([next(self.counter)] * len(parts))  # ids of dead lists get reused
        builder.elements.extend(parts)
        if self.branch_depth > self.builder_depth.get(id(builder), 0):
            builder.conditional = True
        if self.loop_depth > self.builder_loops.get(id(builder), 0):
            self.looped_builders.add(id(builder))

    def _extend_sequential(self, name: str, sequential: Part, parts: list, source: Optional[Part], statement,
                           module_name: Optional[str]) -> None:
        start = len(sequential.elements)
        self._extend_builder(sequential, parts, source=source)
        sequential.element_names.extend([None] * (start - len(sequential.element_names)))
        sequential.element_names.extend([module_name] * len(parts))
        home = self._namespace()
        for index in range(start, len(sequential.elements)):
            element = sequential.elements[index]
            if element.parent is None:
                element.parent = (sequential, index)
            else:
                element.also.append((sequential, index))
            # added under an ``if`` or in a loop: no position is certain
            certain = sequential.uncertain_from is None and not sequential.conditional \
                and id(sequential) not in self.looped_builders
            self._register(f"{name}[{index if certain else '*'}]", element, home, statement, nested=False)
        if module_name:
            for part in parts:
                self._register(f"{name}.{module_name}", part, home, statement, nested=False)

    def _insert_into_builder(self, builder: Part, parts: list, index) -> None:
        """``layers.insert(0, x)``: the elements after it move (SSD's extras); an unknown index leaves
        no position certain."""
        if index is None or index != int(index) or index < 0:
            self._extend_builder(builder, parts)
            builder.conditional = True
            return
        index = min(int(index), len(builder.elements))
        builder.chunks.extend([None] * (len(builder.elements) - len(builder.chunks)))
        builder.element_names.extend([None] * (len(builder.elements) - len(builder.element_names)))
        builder.elements[index:index] = parts
        builder.chunks[index:index] = [next(self.counter)] * len(parts)
        builder.element_names[index:index] = [None] * len(parts)

    def _describe_loose(self, node, statement, scope, locals_):
        for child in outer_calls(node):
            self._describe(child, statement, scope, locals_)

    def _bind(self, target, part, scope, self_name, locals_, statement, init_index):
        if type(target) is cst.Name:
            locals_[target.value] = part
            self.builder_depth[id(part)] = self.branch_depth
            self.builder_loops[id(part)] = self.loop_depth
            self._register(target.value, part, self._namespace(), statement)
            return
        path = self._path(target, self_name, scope)
        if path is None:
            return
        self._register(path, part, scope if is_self_path(path) else self._namespace(), statement)
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
            # A builder's copy for a later call: its path names the original too (the layer rules judge).
            for layer in (part.layer, part.layer.original):
                if layer is not None:
                    layer.paths.append(path)
                    layer.path_statements.setdefault(path, statement)
        elif part.kind in ("seq", "list") and nested:
            count = len(part.elements)
            names = part.element_names + [None] * (count - len(part.element_names))
            for i, (element, name) in enumerate(zip(part.elements, names)):
                if part.repeated or part.conditional:  # no index is certain
                    self._register(f"{path}[*]", element, scope, statement)
                    continue
                certain = part.uncertain_from is None or i < part.uncertain_from
                if id(element) in self.spliced_copies and certain:
                    # ``*[Block() for ...]`` with only known modules before it: its first copy's index
                    self._register(f"{path}[{i}]", element, scope, statement)
                    continue
                if certain:
                    self._register(f"{path}[{i}]", element, scope, statement)
                    self._register(f"{path}[{i - count}]", element, scope, statement, nested=False)
                else:  # after an unknown number of modules: counted from the end only
                    self._register(f"{path}[{i - count}]", element, scope, statement)
                if name:
                    self._register(f"{path}.{name}", element, scope, statement, nested=False)

    def _describe(self, expr, statement, scope, locals_, wrapped=False) -> Part:
        """Classify a module-building expression, registering every layer it constructs."""
        if type(expr) is cst.Name and expr.value in locals_:
            return locals_[expr.value]
        if type(expr) in (cst.List, cst.Tuple):
            part = Part("list")
            for element in expr.elements:
                if type(element) is cst.StarredElement:
                    inner = self._describe(element.value, statement, scope, locals_, wrapped)
                    if inner.kind == "list":
                        part.elements.extend(inner.elements)
                        part.element_names.extend(inner.element_names)
                    continue
                part.elements.append(self._describe(element.value, statement, scope, locals_, wrapped))
                part.element_names.append(None)
            return part
        if type(expr) in (cst.ListComp, cst.GeneratorExp):
            self.loop_depth += 1
            self.loop_stack.append(expr)
            element = self._describe(expr.elt, statement, scope, locals_, wrapped)
            self.loop_stack.pop()
            self.loop_depth -= 1
            if element.kind == "layer" and not expr.for_in.inner_for_in and not expr.for_in.ifs:
                element.layer.comprehension = True
            return Part("list", elements=[element], element_names=[None], repeated=True)
        if type(expr) is cst.Subscript and type(expr.value) is cst.Name and expr.value.value in locals_:
            sliced = self._slice_of_built_list(locals_[expr.value.value], expr)
            if sliced is not None:
                return sliced
        if type(expr) is not cst.Call:
            self._describe_loose(expr, statement, scope, locals_)
            return Part("other", keys=literal_dict_keys(expr))
        if type(expr.func) is cst.Attribute and expr.func.attr.value in RETURNS_SELF:
            # ``Net().to(device)``, ``nn.Linear(4, 4).cuda()``: the same module
            for arg in expr.args:
                self._describe_loose(arg.value, statement, scope, locals_)
            return self._describe(expr.func.value, statement, scope, locals_, wrapped)
        qualified = torch_name(self.imports.resolve(expr.func))
        short = qualified[len("torch.nn."):] if qualified and qualified.startswith("torch.nn.") else None
        local_class = dotted(expr.func)
        here = qualified is None or local_class in self.foreign_names  # a class of this file, or pulled in
        if short in vocab.LAYER_KINDS or (here and local_class in self.layer_classes):
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
            if len(self.loop_stack) == 1:
                self.built_in_loop[id(layer)] = (self.loop_stack[0], self.collecting, expr, part)
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
        if qualified is None:
            built = self._built_by(expr, scope)
            if built is not None:
                return built
        # Unknown call: layers built in its arguments are wrapped (e.g. zero_module(nn.Conv2d(...))).
        handed = [self._describe(arg.value, statement, scope, locals_, wrapped=True) for arg in expr.args]
        if here and local_class in self.class_scopes:
            scope.uses_classes.add(local_class)
            self.instance_calls.setdefault(self.class_scopes[local_class].name, set()).add(id(expr))
            self._hand_to_constructor(expr, handed, local_class, statement)
        elif not (qualified or "").startswith("torch.") and local_class \
                and local_class.rsplit(".", 1)[-1][:1].isupper():
            # Layers built here and handed to a class of another module (``SSD(base, extras)``) become
            # that model's: its methods may initialise them, unless its code shows no init at all.
            given = [layer for part in handed for layer in self._layers_of_part(part)]
            if given and self.class_may_initialise(local_class):
                for layer in given:
                    layer.maybe_init = True
        if type(expr.func) is cst.Attribute:
            self._describe_loose(expr.func.value, statement, scope, locals_)
        elif type(expr.func) is cst.Call:  # ``nn.Sequential(...)(x)``
            self._describe(expr.func, statement, scope, locals_, wrapped)
        part = Part("other", instance_of=self.class_scopes[local_class].name if local_class in self.class_scopes
                    else None,
                    keys=literal_dict_keys(expr))
        if part.instance_of and len(self.loop_stack) == 1:
            self.built_in_loop[id(part)] = (self.loop_stack[0], self.collecting, expr, part)
        return part

    def _slice_of_built_list(self, built: Part, expr: cst.Subscript) -> Optional[Part]:
        """``layers[:-1]``, ``layers[1:]`` of a list built here: the elements it keeps. A list built in a
        loop stands for the loop's modules once each; dropping its trailing activation (the usual MLP
        builder) leaves every copy but the last followed by it, so the list is kept whole."""
        if built.kind not in ("list", "seq") or built.repeated or built.conditional or len(expr.slice) != 1 \
                or type(expr.slice[0].slice) is not cst.Slice:
            return None
        bounds = expr.slice[0].slice
        if bounds.step is not None:
            return None
        lower, upper = (None if b is None else number(b) for b in (bounds.lower, bounds.upper))
        if (bounds.lower is not None and lower is None) or (bounds.upper is not None and upper is None):
            return None
        count = len(built.elements)
        keep = range(count)[slice(None if lower is None else int(lower), None if upper is None else int(upper))]
        if id(built) in self.looped_builders:
            dropped = [built.elements[i] for i in range(count) if i not in keep]
            trailing = not keep or (keep.start == 0 and keep.step == 1)
            if trailing and dropped and all(part.kind in ("act", "norm", "pass") for part in dropped):
                return built
            return None
        names = built.element_names + [None] * (count - len(built.element_names))
        chunks = built.chunks + [None] * (count - len(built.chunks))
        return Part("list", elements=[built.elements[i] for i in keep], element_names=[names[i] for i in keep],
                    chunks=[chunks[i] for i in keep], uncertain_from=None if built.uncertain_from is None else 0)

    def _describe_container_arg(self, expr, statement, scope, locals_, wrapped) -> Part:
        if type(expr) in (cst.Dict, cst.Call) and not self._is_layer_call(expr):
            return self._describe_named(expr, statement, scope, locals_, wrapped)
        return self._describe(expr, statement, scope, locals_, wrapped)

    def _is_layer_call(self, expr) -> bool:
        qualified = torch_name(self.imports.resolve(expr.func)) if type(expr) is cst.Call else None
        return bool(qualified and qualified.startswith("torch.nn."))

    def _describe_named(self, expr, statement, scope, locals_, wrapped) -> Part:
        """``OrderedDict([("fc", nn.Linear(...)), ...])`` or a dict literal: named elements."""
        pairs = []
        if type(expr) is cst.Dict:
            pairs = [(el.key, el.value) for el in expr.elements if type(el) is cst.DictElement]
        elif type(expr) is cst.Call and expr.args and type(expr.args[0].value) in (cst.List, cst.Tuple):
            for element in expr.args[0].value.elements:
                if type(element.value) is cst.Tuple and len(element.value.elements) == 2:
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
        if len(args) == 1 and not args[0].star and type(args[0].value) in (cst.Call, cst.Dict) \
                and not self._is_layer_call(args[0].value) and not self._builds_module(args[0].value):
            named = self._describe_named(args[0].value, statement, scope, locals_, wrapped)
            if named.kind == "list":
                named.kind = "seq"
                for index, element in enumerate(named.elements):
                    if element.parent is None:
                        element.parent = (named, index)
                    else:
                        element.also.append((named, index))
            return named
        for arg in args:
            if arg.star == "*":
                inner = self._describe(arg.value, statement, scope, locals_, wrapped)
                if inner.kind in ("list", "seq") and not inner.repeated:
                    if part.uncertain_from is None and inner.uncertain_from is not None:
                        part.uncertain_from = len(part.elements) + inner.uncertain_from
                    elif part.uncertain_from is None and id(inner) in self.looped_builders:  # ``*conv_blks``
                        part.uncertain_from = len(part.elements) + len(inner.elements)
                    part.chunks.extend([None] * (len(part.elements) - len(part.chunks)))
                    part.chunks.extend(inner.chunks + [None] * (len(inner.elements) - len(inner.chunks)))
                    part.elements.extend(inner.elements)
                    part.element_names.extend(inner.element_names)
                    part.conditional = part.conditional or inner.conditional
                elif inner.kind == "list" and inner.repeated and len(inner.elements) == 1 and not inner.conditional:
                    # ``*[Block(d) for _ in range(depth)]``: copies of one module in a row; those after it
                    # are counted from the end
                    part.chunks.extend([None] * (len(part.elements) - len(part.chunks) + 1))
                    part.elements.append(inner.elements[0])
                    part.element_names.append(None)
                    self.chained_parts.add(id(inner.elements[0]))
                    self.spliced_copies.add(id(inner.elements[0]))
                    if part.uncertain_from is None:
                        part.uncertain_from = len(part.elements)
                else:  # ``*backbone[4:-1]``: how many modules it adds is unknown
                    if part.uncertain_from is None:
                        part.uncertain_from = len(part.elements)
                    part.elements.append(Part("other"))
                    part.element_names.append(None)
                continue
            part.elements.append(self._describe(arg.value, statement, scope, locals_, wrapped))
            part.element_names.append(None)
        for index, element in enumerate(part.elements):
            if element.parent is None:
                element.parent = (part, index)
            else:  # the same module in several places (``layers += [conv2d, ...]`` in two branches)
                element.also.append((part, index))
        return part

    @staticmethod
    def _dict_keys(expr, locals_) -> Optional[frozenset]:
        """The keys of ``{"device": d, "dtype": t}`` / ``dict(device=d)``, directly or through a name."""
        if type(expr) is cst.Name:
            part = locals_.get(expr.value)
            return part.keys if part is not None else None
        return literal_dict_keys(expr)

    def is_extra_relu(self, func, qualified) -> bool:
        """A callable the user's configuration declares ReLU-like (by name, dotted name or qualified name)."""
        if not self.extra_relu:
            return False
        name = dotted(func) or ""
        return bool({name, name.rsplit(".", 1)[-1], qualified} & self.extra_relu)

    def _builds_module(self, expr) -> bool:
        return type(expr) is cst.Call and dotted(expr.func) in self.class_scopes

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
        if type(value) is cst.Name:
            return "param"
        return "unknown"


def _call_frame(function: cst.FunctionDef, call: cst.Call, is_method: bool) -> dict:
    """The builder's parameters this call gives a value (or leaves at a default), by name, for the
    sizes of the layers it builds; none when the call spreads arguments (``*args``)."""
    if any(arg.star for arg in call.args):
        return {}
    params = function.params
    positional = list(params.posonly_params) + list(params.params)
    if is_method and not any(dotted(d.decorator) == "staticmethod" for d in function.decorators):
        positional = positional[1:]
    named = positional + list(params.kwonly_params)
    given = {param.name.value: param.default for param in named
             if param.default is not None and type(param.default) is not cst.Name}  # a name: not the caller's
    for index, arg in enumerate(call.args):
        if arg.keyword is not None:
            if any(param.name.value == arg.keyword.value for param in named):  # not one for ``**kwargs``
                given[arg.keyword.value] = arg.value
        elif index < len(positional):
            given[positional[index].name.value] = arg.value
    rebound = _rebound_names(function)
    return {name: value for name, value in given.items() if name not in rebound}


def _rebound_names(function: cst.FunctionDef) -> set:
    """Names the function binds anew somewhere in its body (a parameter reassigned is no longer what
    the call gave)."""
    return {name for node in walk(function.body) for name in bound_names(node)}


def _built_here(part: Part) -> list:
    """The layers a part builds itself (not those of class instances it holds)."""
    if part.kind == "layer":
        return [part.layer]
    return [layer for element in part.elements for layer in _built_here(element)] if part.kind in ("seq", "list") \
        else []


def _unpacks(target, value) -> bool:
    """``a, b = x, y``: as many names as values, none starred."""
    return type(target) in (cst.Tuple, cst.List) and type(value) in (cst.Tuple, cst.List) \
        and len(target.elements) == len(value.elements) \
        and not any(type(e) is cst.StarredElement for e in (*target.elements, *value.elements))
