"""One walk over the file for what later passes look up."""
from __future__ import annotations

from collections import Counter
from typing import Optional

import libcst as cst

from .names import ImportTable
from .noop import SyntaxIndex, remember_syntax_index
from .patterns import class_name_subject
from .syntax import children, dotted, walk


class ModuleIndex:
    """Part of the Analyzer (see collect.py): its methods share the Analyzer's state."""

    def _index_module(self) -> None:
        """One walk over the whole file for what later steps look up: imports, ``.apply(...)`` calls,
        calls by name, and per function the names it type-tests (``isinstance(m, ...)``,
        ``m.__class__.__name__``)."""
        self.apply_calls = []
        self.calls_by_name: dict[str, list] = {}       # f(...) / self.f(...) -> [(call, caller, statement)]
        self.script_call_funcs: list = []              # what is called outside any class
        self.names_seen: list[str] = []                # every name used (``nn.init``'s ``init`` excepted)
        self.path_names: list[str] = []
        self._name_uses: Optional[Counter] = None
        self.type_tested: dict[int, set] = {}          # id(function) -> names tested
        self.class_name_vars: dict = {}                # id(function) or None -> {var: subject}
        self.type_tuples: dict = {}                    # module-level name -> the tuple or list bound to it
        self.bound_names: set[str] = set()             # with a star import: names the file binds itself
        self.imports = ImportTable.from_nodes(self._index(self.module))
        if self.imports.star_imported:  # rare: a second walk, for the names bound and used as a path's head
            heads = set()
            for node in walk(self.module):
                kind = type(node)
                if kind is cst.Attribute and type(node.value) is cst.Name:
                    heads.add(node.value.value)
                elif kind in _BINDINGS:
                    self._note_bound(node, kind)
            self.imports.assume_torch_names(heads - self.bound_names)

    @property
    def name_uses(self) -> Counter:
        """How often each name is used (counted once, when first asked)."""
        if self._name_uses is None:
            self._name_uses = Counter(self.names_seen)
            self._name_uses.subtract(self.path_names)
        return self._name_uses

    @property
    def script_calls(self) -> set[str]:
        """The dotted names called outside any class."""
        return {name for name in map(dotted, self.script_call_funcs) if name}

    def _index(self, root) -> list:
        """Index ``root`` (the module, or a definition pulled in from another file); its imports."""
        imports = []
        stack = [(root, None, None, False)]
        names, paths = self.names_seen, self.path_names
        # the file's own calls, simple statements and functions, for the no-op rules (noop.syntax_index):
        # collected here rather than in a walk of their own
        calls, simple_statements, functions = ([], [], []) if root is self.module else (None, None, None)
        while stack:
            node, function, statement, in_class = stack.pop()
            kind = type(node)
            if kind is cst.Import or kind is cst.ImportFrom:
                imports.append(node)
                continue
            if calls is not None:
                if kind is cst.SimpleStatementLine or kind is cst.SimpleStatementSuite:
                    simple_statements.append(node)
                elif kind is cst.FunctionDef:
                    functions.append(node)
            if kind is cst.Call:
                if calls is not None:
                    calls.append(node)
                func = node.func
                func_kind = type(func)
                if not in_class:
                    self.script_call_funcs.append(func)
                if func_kind is cst.Name and func.value in ("isinstance", "type") and node.args \
                        and type(node.args[0].value) is cst.Name:  # ``isinstance(m, ...)``, ``type(m)``
                    self.type_tested.setdefault(id(function), set()).add(node.args[0].value.value)
                elif func_kind is cst.Attribute and func.attr.value == "apply" and len(node.args) == 1:
                    self.apply_calls.append((node.args[0].value, func.value, function, statement))
                elif len(node.args) >= 2 and "named_apply" in (getattr(func, "value", None), getattr(
                        getattr(func, "attr", None), "value", None)):  # timm's ``named_apply(fn, module)``
                    self.apply_calls.append((node.args[0].value, node.args[1].value, function, statement))
                elif node.args and (func_kind is cst.Name or (
                        func_kind is cst.Attribute and type(func.value) is cst.Name)):
                    name = func.value if func_kind is cst.Name else func.attr.value
                    self.calls_by_name.setdefault(name, []).append((node, function, statement))
            elif kind is cst.Name:
                names.append(node.value)
            elif kind is cst.Attribute:
                if type(node.value) is cst.Attribute:  # ``nn.init`` in ``nn.init.zeros_``: a path, not a use
                    paths.append(node.value.attr.value)
                if node.attr.value == "__class__" and type(node.value) is cst.Name:  # ``m.__class__``
                    self.type_tested.setdefault(id(function), set()).add(node.value.value)
            elif kind is cst.Assign and len(node.targets) == 1 and type(node.targets[0].target) is cst.Name:
                subject = class_name_subject(node.value)
                if subject:
                    key = id(function) if function is not None else None
                    self.class_name_vars.setdefault(key, {})[node.targets[0].target.value] = subject
                elif function is None and not in_class and type(node.value) in (cst.Tuple, cst.List):
                    # ``LAYERS = (nn.Conv2d, nn.Linear)``: a tuple of types that ``isinstance`` may test
                    self.type_tuples[node.targets[0].target.value] = node.value
            inner = node if kind is cst.FunctionDef else function
            if kind in _STATEMENTS:
                statement = node
            inside = in_class or kind is cst.ClassDef
            for child in children(node):
                stack.append((child, inner, statement, inside))
        if calls is not None:
            remember_syntax_index(root, SyntaxIndex(calls, simple_statements, functions))
        return imports

    def _note_bound(self, node, kind) -> None:
        if kind is cst.FunctionDef or kind is cst.ClassDef:
            self.bound_names.add(node.name.value)
            return
        if kind is cst.Param:
            self.bound_names.add(node.name.value)
            return
        targets = [t.target for t in node.targets] if kind is cst.Assign else \
            [node.target] if kind in (cst.AnnAssign, cst.For, cst.AugAssign) else \
            [node.name] if kind is cst.AsName else []
        while targets:
            target = targets.pop()
            if type(target) is cst.Name:
                self.bound_names.add(target.value)
            elif type(target) in (cst.Tuple, cst.List):
                targets.extend(element.value for element in target.elements)


# Statement types, looked up by type: an isinstance check against LibCST's abstract bases is slow.
_BINDINGS = frozenset({cst.FunctionDef, cst.ClassDef, cst.Param, cst.Assign, cst.AnnAssign, cst.AugAssign,
                       cst.For, cst.AsName})
_STATEMENTS = frozenset({cst.SimpleStatementLine, cst.SimpleStatementSuite, cst.If, cst.For, cst.While,
                         cst.With, cst.Try, cst.TryStar, cst.FunctionDef, cst.ClassDef, cst.Match})
