"""Init methods that never run: nothing in the file calls them, or only under a flag that is off.

``def init_weights(self)`` on a plain ``nn.Module`` that nothing names, or
``def __init__(self, ..., init_weights=False): if init_weights: self._initialize_weights()`` where no
caller passes the flag: the inits in such a method describe no model that runs. Classes with another
base (Hugging Face's ``post_init``, OpenMMLab's runner) have methods their framework calls.
"""
from __future__ import annotations

import libcst as cst

from .syntax import block_statements, dotted, walk

_RUN_BY_TORCH = frozenset({"forward", "reset_parameters", "_reset_parameters", "extra_repr"})


def dormant_functions(analyzer) -> frozenset:
    """id() of every method of this file's plain ``nn.Module`` classes that never runs."""
    found = set()
    for function, scope, is_method in analyzer.functions:
        if not is_method or not scope.is_class or scope.origin is not None:
            continue
        name = function.name.value
        if name.startswith("__") or name in _RUN_BY_TORCH or not _plain_module(analyzer, scope.name, set()):
            continue
        uses = analyzer.name_uses.get(name, 0)
        if uses <= 1 or (uses == 2 and _gated_off(analyzer, scope, name)):
            found.add(id(function))
    return frozenset(found)


def _plain_module(analyzer, class_name: str, seen: set) -> bool:
    """Whether the class derives from ``nn.Module`` alone (through this file's classes)."""
    scope = analyzer.class_scopes.get(class_name)
    if scope is None or class_name in seen or not scope.bases:
        return False
    seen.add(class_name)
    for base in scope.bases:
        if base == "torch.nn.Module":
            continue
        if base is None or not base.startswith("local:") or not _plain_module(analyzer, base[6:], seen):
            return False
    return True


def _gated_off(analyzer, scope, method: str) -> bool:
    """``if flag: self.method()`` in ``__init__``, where ``flag`` is a parameter that defaults to
    False or None, is never rebound, and no call in the file may pass it."""
    init = scope.methods.get("__init__")
    if init is None:
        return False
    params = [param for param in init.params.params][1:]
    defaults = {param.name.value: param.default for param in params + list(init.params.kwonly_params)}
    for statement in block_statements(init.body):
        if type(statement) is not cst.If or type(statement.test) is not cst.Name:
            continue
        flag = statement.test.value
        default = defaults.get(flag)
        if not (type(default) is cst.Name and default.value in ("False", "None")):
            continue
        if not any(type(node) is cst.Call and _names_method(node, method) for node in walk(statement.body)):
            continue
        if _rebound(init, flag):
            return False
        position = next((index for index, param in enumerate(params) if param.name.value == flag), None)
        return not _may_be_passed(analyzer, scope.name, flag, position)
    return False


def _names_method(call: cst.Call, method: str) -> bool:
    """``self.method()`` or ``self.apply(self.method)``."""
    if dotted(call.func) == f"self.{method}":
        return True
    return dotted(call.func) == "self.apply" and bool(call.args) and dotted(call.args[0].value) == f"self.{method}"


def _rebound(function, name: str) -> bool:
    for node in walk(function.body):
        targets = node.targets if type(node) is cst.Assign else \
            [node] if type(node) in (cst.AnnAssign, cst.AugAssign) else ()
        if any(type(target.target) is cst.Name and target.target.value == name for target in targets):
            return True
    return False


def _may_be_passed(analyzer, class_name: str, flag: str, position) -> bool:
    """A call passes ``flag=`` (anything but False/None), a ``**kwargs``, or enough positional arguments
    to the class (or ``super().__init__``) to reach it."""
    for node in walk(analyzer.module):
        if type(node) is not cst.Call:
            continue
        name = (dotted(node.func) or "").rsplit(".", 1)[-1]
        for arg in node.args:
            if arg.star == "**":
                if name in (class_name, "__init__"):
                    return True
            elif arg.keyword is not None and arg.keyword.value == flag and not (
                    type(arg.value) is cst.Name and arg.value.value in ("False", "None")):
                return True
        if name in (class_name, "__init__") and position is not None:
            positional = [arg for arg in node.args if arg.keyword is None]
            if any(arg.star == "*" for arg in positional) or len(positional) > position:
                return True
    return False
