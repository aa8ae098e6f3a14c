"""Small helpers over LibCST nodes: a fast walker, dotted names and literal values.

LibCST's own visitor rebuilds every node it passes (``_visit_and_replace_children``), which costs
more than the parse itself. Analysis only reads, so it walks the dataclass fields directly.
"""
from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from typing import Iterator, Optional

import libcst as cst

# Fields that only hold whitespace, punctuation or comments: never worth descending into.
_SKIP_FIELD_PREFIXES = ("whitespace", "lpar", "rpar", "comma", "semicolon", "leading_lines",
                        "lines_after", "header", "footer", "operator", "colon", "equal", "star",
                        "dot", "lbracket", "rbracket", "lbrace", "rbrace", "first_line",
                        "empty_lines", "newline", "asynchronous", "default_indent",
                        "default_newline", "encoding", "has_trailing_newline", "indent")

_child_fields: dict[type, tuple[str, ...]] = {}


def _fields_of(node_type: type) -> tuple[str, ...]:
    names = _child_fields.get(node_type)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(node_type)
                      if not f.name.startswith(_SKIP_FIELD_PREFIXES))
        _child_fields[node_type] = names
    return names


_is_node_type: dict[type, bool] = {}

# While a file is analysed (``remembered_children``) its nodes' children are computed once: the analysis
# walks the same subtrees many times. The memo holds each node, so no id is reused while it lives.
_memo: Optional[dict] = None


@contextmanager
def remembered_children() -> Iterator[None]:
    global _memo
    outermost = _memo is None
    if outermost:
        _memo = {}
    try:
        yield
    finally:
        if outermost:
            _memo = None


def children(node: cst.CSTNode) -> tuple:
    """The nodes directly below ``node``, in source order (whitespace and punctuation left out)."""
    memo = _memo
    if memo is not None:
        entry = memo.get(id(node))
        if entry is not None:
            return entry[1]
    found = []
    # ``isinstance`` against LibCST's abstract node classes goes through ABCMeta: a type lookup is
    # several times faster on this hot path.
    for name in _fields_of(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            for item in value:
                item_kind = type(item)
                is_node = _is_node_type.get(item_kind)
                if is_node is None:
                    is_node = _is_node_type[item_kind] = issubclass(item_kind, cst.CSTNode)
                if is_node:
                    found.append(item)
            continue
        is_node = _is_node_type.get(kind)
        if is_node is None:
            is_node = _is_node_type[kind] = issubclass(kind, cst.CSTNode)
        if is_node:
            found.append(value)
    found = tuple(found)
    if memo is not None:
        memo[id(node)] = (node, found)
    return found


_DEFINITIONS = frozenset({cst.FunctionDef, cst.ClassDef, cst.Lambda})  # by type: see ``children``


def walk(node: cst.CSTNode, into_defs: bool = True) -> Iterator[cst.CSTNode]:
    """Every node below ``node`` (itself included), in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if not into_defs and current is not node and type(current) in _DEFINITIONS:
            continue
        stack.extend(reversed(children(current)))


def walk_with_parents(node: cst.CSTNode, parents: dict) -> None:
    """Fill ``parents`` (child id -> parent) for the subtree below ``node``."""
    stack = [node]
    while stack:
        current = stack.pop()
        for child in children(current):
            parents[id(child)] = current
            stack.append(child)


def dotted(expr: cst.BaseExpression) -> Optional[str]:
    """``a.b.c`` for a chain of Names and Attributes, else None."""
    parts = []
    while type(expr) is cst.Attribute:
        parts.append(expr.attr.value)
        expr = expr.value
    if type(expr) is not cst.Name:
        return None
    parts.append(expr.value)
    return ".".join(reversed(parts))


def number(expr: Optional[cst.BaseExpression]) -> Optional[float]:
    """The value of a numeric literal (with sign), else None."""
    if expr is None:
        return None
    if type(expr) is cst.UnaryOperation and type(expr.operator) in (cst.Minus, cst.Plus):
        inner = number(expr.expression)
        if inner is None:
            return None
        return -inner if type(expr.operator) is cst.Minus else inner
    if type(expr) in (cst.Integer, cst.Float):
        try:
            return float(expr.evaluated_value)
        except (ValueError, OverflowError):
            return None
    return None


def string(expr: Optional[cst.BaseExpression]) -> Optional[str]:
    if type(expr) is cst.SimpleString:
        value = expr.evaluated_value
        return value if isinstance(value, str) else None
    return None


def boolean(expr: Optional[cst.BaseExpression]) -> Optional[bool]:
    if type(expr) is cst.Name and expr.value in ("True", "False"):
        return expr.value == "True"
    return None


def argument(call: cst.Call, position: Optional[int], keyword: Optional[str]):
    """The expression passed for a parameter, by keyword or by position (stars end positions)."""
    if keyword is not None:
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == keyword:
                return arg.value
    if position is not None:
        index = 0
        for arg in call.args:
            if arg.star or arg.keyword is not None:
                break
            if index == position:
                return arg.value
            index += 1
    return None


def has_star_args(call: cst.Call) -> bool:
    return any(arg.star for arg in call.args)


def block_statements(body) -> list:
    """The statements of an IndentedBlock or Module; a one-line suite (``if x: a; b``) is one statement."""
    if type(body) is cst.SimpleStatementSuite:
        return [body]
    return list(getattr(body, "body", ()))


def small_statements(statement) -> list:
    if type(statement) in (cst.SimpleStatementLine, cst.SimpleStatementSuite):
        return list(statement.body)
    return []


def names_in(expr: cst.CSTNode) -> set[str]:
    return {node.value for node in walk(expr) if type(node) is cst.Name}


def binding_targets(node: cst.CSTNode) -> list:
    """The target expressions ``node`` itself assigns, loops over, binds with walrus or ``with``/``except``/
    ``import ... as``, or deletes, with tuples, lists and starred targets taken apart (``self.conv``,
    ``x[0]``, ``a``)."""
    kind = type(node)
    if kind is cst.Assign:
        targets = [target.target for target in node.targets]
    elif kind in (cst.AnnAssign, cst.AugAssign, cst.For, cst.CompFor, cst.NamedExpr):
        targets = [node.target]
    elif kind is cst.AsName:
        targets = [node.name]
    elif kind is cst.Del:
        targets = [node.target]
    else:
        return []
    found = []
    while targets:
        target = targets.pop()
        if type(target) in (cst.Tuple, cst.List):
            targets.extend(element.value for element in target.elements)
        elif type(target) is cst.StarredElement:
            targets.append(target.value)
        else:
            found.append(target)
    return found


def bound_names(node: cst.CSTNode) -> set[str]:
    """The names ``node`` itself binds or changes in place (not those of statements inside it):
    assignment, loop, walrus, ``with``/``except``/``import ... as`` targets, imports, ``del``, and the
    name of a def or class; a comprehension's variables too (inside it, the name is not the outer one).
    ``x[0] = ...`` and ``x.a = ...`` count for ``x``: its value is no longer what it was given."""
    kind = type(node)
    if kind in (cst.FunctionDef, cst.ClassDef):
        return {node.name.value}
    if kind is cst.Import:
        return {(dotted(alias.name) or "").split(".")[0] for alias in node.names if alias.asname is None}
    if kind is cst.ImportFrom:
        if type(node.names) is cst.ImportStar:
            return set()
        return {alias.name.value for alias in node.names if alias.asname is None and type(alias.name) is cst.Name}
    names = set()
    for target in binding_targets(node):
        while type(target) in (cst.Attribute, cst.Subscript):
            target = target.value
        if type(target) is cst.Name:
            names.add(target.value)
    return names
