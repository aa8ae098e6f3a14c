"""Definitions pulled in from the project's other files, where this file's inits need them.

Only where an init here reaches code defined elsewhere: an ``apply``/``named_apply`` of an imported
function, a call handing a module to an imported init helper (``init_weights(net)``,
``utils.init_params(net)``), or a script that builds an imported model class and initialises it.
The whole module holding such a definition is pulled in (its helpers call each other), analysed with
this file, and its own findings dropped: that file reports them itself.
"""
from __future__ import annotations

import os
from typing import Optional

import libcst as cst

from .patterns import INIT_LIKE_NAME, plain_module_base
from .syntax import dotted, walk

_LIBRARIES = ("torch", "timm", "mmcv", "mmengine", "fvcore")
_MAX_BUILT_DEPTH = 3  # classes built by classes built by ...: how deep to follow

# Calls of a script that initialise a model it built.
_SCRIPT_INIT_CALLS = frozenset({"apply", "named_apply", "modules", "named_modules", "zero_", "fill_",
                                "normal_", "uniform_", "load_state_dict"})


class Dependencies:
    """Part of the Analyzer (see collect.py): its methods share the Analyzer's state."""

    def _pull_dependencies(self) -> None:
        self.foreign: list = []                 # (definition, its file relative to this one), in order
        self.foreign_names: set[str] = set()    # names they are known by here
        self.dependencies: list[str] = []       # their files
        if self.project is None or self.path is None:
            return
        wanted = self._wanted_imports()
        own = {statement.name.value for statement in self.module.body
               if type(statement) in (cst.ClassDef, cst.FunctionDef)}
        pulled_files = set()
        for path, class_name in self.applied_classes:  # models another file of the run applies a helper to
            dependency = self.project.load(path)
            definition = dependency.definitions.get(class_name) if dependency is not None else None
            if type(definition) is cst.ClassDef and class_name not in own:
                self.foreign_names.add(class_name)
                self._pull_module(dependency, own)
                pulled_files.add(dependency.path)
        for local, qualified in wanted:
            found = self.project.definition(self.path, qualified)
            if found is None:
                continue
            dependency, _ = found
            self.foreign_names.add(local)
            if dependency.path in pulled_files:
                continue
            pulled_files.add(dependency.path)
            self._pull_module(dependency, own)

    def _pull_module(self, dependency, own: set) -> None:
        """Analyse the definitions of ``dependency`` with this file's (those named like one here excepted)."""
        self.dependencies.append(dependency.path)
        self.imports.add_missing(dependency.imports)
        origin = os.path.relpath(dependency.path, os.path.dirname(os.path.abspath(self.path)))
        for name, statement in dependency.definitions.items():
            if name in own:
                continue
            own.add(name)
            self.foreign.append((statement, origin))
            self._index(statement)

    def _wanted_imports(self) -> list[tuple[str, str]]:
        """``(name used here, qualified)`` for the imported names this file's inits reach into."""
        imported = self.imports.local_to_qualified
        wanted = []

        def want(expr_name: str) -> None:
            head, _, rest = expr_name.partition(".")
            qualified = imported.get(head)
            if qualified is None or qualified.startswith(_LIBRARIES):
                return
            wanted.append((expr_name, f"{qualified}.{rest}" if rest else qualified))

        for fn, _, _, _ in self.apply_calls:
            if type(fn) is cst.Call and fn.args:  # functools.partial(fn, ...)
                fn = fn.args[0].value
            name = _dotted_name(fn)
            if name:
                want(name)
        script_calls = self.script_calls
        script_inits = any(name.rsplit(".", 1)[-1] in _SCRIPT_INIT_CALLS or name.startswith(("nn.init", "init."))
                           or INIT_LIKE_NAME.search(name.rsplit(".", 1)[-1]) for name in script_calls)
        for name in script_calls:
            last = name.rsplit(".", 1)[-1]
            if INIT_LIKE_NAME.search(last) or (script_inits and last[:1].isupper()):
                want(name)
        return wanted

    def class_may_initialise(self, name: str) -> bool:
        """Whether the class ``name`` (imported here) may initialise layers it is handed: yes unless it is a
        class of this project whose code calls nothing that initialises and whose bases are nn.Module."""
        head, _, rest = name.partition(".")
        qualified = self.imports.local_to_qualified.get(head)
        if self.project is None or self.path is None or qualified is None:
            return True
        found = self.project.definition(self.path, f"{qualified}.{rest}" if rest else qualified)
        if found is None or type(found[1]) is not cst.ClassDef:
            return True
        dependency, definition = found
        if not all(plain_module_base(dependency.imports.resolve(base.value)) for base in definition.bases):
            return True
        for node in walk(definition.body):
            if type(node) is cst.Call:
                called = dotted(node.func) or ""
                last = called.rsplit(".", 1)[-1]
                if last in _SCRIPT_INIT_CALLS or INIT_LIKE_NAME.search(last) or called.startswith(("nn.init", "init.")):
                    return True
        return False

    def _classes_initialised_here(self) -> list:
        """``(file, class name)`` for the classes of the project's other files whose instances this file
        initialises (``net = Net(); net.apply(f)``, a ``modules()`` or ``named_parameters()`` loop, weights
        loaded before training), and the classes those build in turn: that file's claims that their layers
        keep the default init are wrong in a run that checks this file too (see run_index.py)."""
        if not self.foreign:
            return []
        reached: set = set()
        for site in self.sites:
            if not self.is_foreign_node(site.call) or id(site.function) in self.anchors:
                reached.update(id(layer) for layer in site.reach)
        applied: set = set()  # classes whose instances this file hands to ``apply`` (whatever the function)
        for _, owner, caller, statement in self.apply_calls:
            if not self.is_foreign_node(statement):
                for part in self.modules_given(owner, caller, self.statement_seq.get(id(statement))) or ():
                    if part.instance_of:
                        applied.add(part.instance_of)
        constructed = {name.rsplit(".", 1)[-1] for name in self.script_calls}
        base = os.path.dirname(os.path.abspath(self.path))
        found: dict = {}
        for scope in self.scopes:
            if not scope.is_class or scope.origin is None:
                continue
            layers = self.reachable_layers(scope)
            # Weights loaded count where this file then trains (not an inference script loading a checkpoint).
            loaded = bool(self.trained) and any(layer.values_loaded for layer in layers)
            if loaded or scope.name in applied or any(id(layer) in reached for layer in layers) \
                    or (self.may_init_elsewhere and scope.name in constructed):
                path = os.path.normpath(os.path.join(base, scope.origin))
                self._add_built_classes(path, scope.name, found, 0)
        return sorted(found)

    def _add_built_classes(self, path: str, class_name: str, found: dict, depth: int) -> None:
        """``(path, class_name)`` and the project classes its body constructs (``self.fpn = FPN50()``)."""
        if (path, class_name) in found:
            return
        found[(path, class_name)] = True
        dependency = self.project.load(path) if depth < _MAX_BUILT_DEPTH else None
        definition = dependency.definitions.get(class_name) if dependency is not None else None
        if type(definition) is not cst.ClassDef:
            return
        for node in walk(definition.body):
            if type(node) is not cst.Call:
                continue
            name = _dotted_name(node.func)
            if not name or not name.rsplit(".", 1)[-1][:1].isupper():
                continue
            if name in dependency.definitions:
                self._add_built_classes(path, name, found, depth + 1)
                continue
            head, _, rest = name.partition(".")
            qualified = dependency.imports.local_to_qualified.get(head)
            if qualified is None or qualified.startswith(_LIBRARIES):
                continue
            built = self.project.definition(path, f"{qualified}.{rest}" if rest else qualified)
            if built is not None and type(built[1]) is cst.ClassDef:
                self._add_built_classes(built[0].path, built[1].name.value, found, depth + 1)

    def _application(self, site) -> Optional[tuple]:
        """How this file runs a helper of another file on its models, for that file to report what is
        wrong where the helper is (run_index.py): ``(helper file, helper name, the parameter handed the
        model or None for apply, ((model file, class name), ...))``; None for a method or nested helper."""
        function = site.function
        if not any(definition is function for definition, _ in self.foreign):
            return None
        param = None
        if type(self.anchors[id(function)]) is cst.Call:  # ``init_params(model)``, not ``model.apply(f)``
            params = function.params.params
            if not params:
                return None
            param = params[0].name.value
        holders = [scope for scope in self.scopes if scope.is_class
                   and any(any(reached is layer for layer in scope.layers) for reached in site.reach)]
        used = {name for scope in holders for name in scope.uses_classes}
        base = os.path.dirname(os.path.abspath(self.path))
        models = tuple(sorted({(os.path.normpath(os.path.join(base, scope.origin)) if scope.origin
                                else os.path.abspath(self.path), scope.name)
                               for scope in holders if scope.name not in used}))
        if not models:
            return None
        helper = os.path.normpath(os.path.join(base, self.function_origin[id(function)]))
        return helper, function.name.value, param, models

    def is_foreign_node(self, node) -> bool:
        if not self.foreign:
            return False
        if self._foreign_ids is None:
            self._foreign_ids = {id(n) for definition, _ in self.foreign for n in walk(definition)}
        return id(node) in self._foreign_ids


def _dotted_name(expr):
    if type(expr) is cst.Name:
        return expr.value
    if type(expr) is cst.Attribute and type(expr.value) is cst.Name:
        return f"{expr.value.value}.{expr.attr.value}"
    return None
