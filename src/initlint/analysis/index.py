"""One walk over the file for what later passes look up."""
from __future__ import annotations

import libcst as cst

from .names import ImportTable
from .patterns import class_name_subject
from .syntax import children, dotted


class ModuleIndex:
    """Part of the Analyzer (see collect.py): its methods share the Analyzer's state."""

    def _index_module(self) -> None:
        """One walk over the whole file for what later steps look up: imports, ``.apply(...)`` calls,
        calls by name, and per function the names it type-tests (``isinstance(m, ...)``,
        ``m.__class__.__name__``)."""
        self.apply_calls = []
        self.calls_by_name: dict[str, list] = {}       # f(...) / self.f(...) -> [(call, caller, statement)]
        self.script_calls: set[str] = set()            # dotted names called outside any class
        self.name_uses: dict[str, int] = {}
        self.type_tested: dict[int, set] = {}          # id(function) -> names tested
        self.class_name_vars: dict = {}                # id(function) or None -> {var: subject}
        self.imports = ImportTable.from_nodes(self._index(self.module))

    def _index(self, root) -> list:
        """Index ``root`` (the module, or a definition pulled in from another file); its imports."""
        imports = []
        stack = [(root, None, None, False)]
        while stack:
            node, function, statement, in_class = stack.pop()
            kind = type(node)
            if kind is cst.Import or kind is cst.ImportFrom:
                imports.append(node)
                continue
            if kind is cst.Call:
                if not in_class:
                    name = dotted(node.func)
                    if name:
                        self.script_calls.add(name)
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
            elif kind is cst.Attribute:
                if type(node.value) is cst.Attribute:  # ``nn.init`` in ``nn.init.zeros_``: a path, not a use
                    self.name_uses[node.value.attr.value] = self.name_uses.get(node.value.attr.value, 0) - 1
                if node.attr.value == "__name__":
                    subject = class_name_subject(node)
                    if subject:
                        self.type_tested.setdefault(id(function), set()).add(subject)
            elif kind is cst.Assign and len(node.targets) == 1 \
                    and isinstance(node.targets[0].target, cst.Name):
                subject = class_name_subject(node.value)
                if subject:
                    key = id(function) if function is not None else None
                    self.class_name_vars.setdefault(key, {})[node.targets[0].target.value] = subject
            inner = node if kind is cst.FunctionDef else function
            if kind in _STATEMENTS:
                statement = node
            inside = in_class or kind is cst.ClassDef
            stack.extend((child, inner, statement, inside) for child in children(node))
        return imports


# Statement types, looked up by type: an isinstance check against LibCST's abstract bases is slow.
_STATEMENTS = frozenset({cst.SimpleStatementLine, cst.SimpleStatementSuite, cst.If, cst.For, cst.While,
                         cst.With, cst.Try, cst.TryStar, cst.FunctionDef, cst.ClassDef, cst.Match})
