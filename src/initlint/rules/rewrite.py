"""Building blocks for fixes: new init calls in the file's own import style."""
from __future__ import annotations

from typing import Optional

import libcst as cst

from ..analysis import vocab
from ..analysis.facts import Follower, InitSite
from ..findings import Fix


class Rewriter:
    """Writes code for one file. Fixes call ``torch.nn.init`` through names the file already has."""

    def __init__(self, module: cst.Module, imports) -> None:
        self.module = module
        self.imports = imports

    def code(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node).strip()

    def init_function(self, name: str) -> tuple[str, frozenset]:
        """``(expression text, imports needed)`` for ``torch.nn.init.<name>``."""
        for local in self.imports.local_names_for(f"{vocab.INIT_MODULE}.{name}"):
            return local, frozenset()
        for local in self.imports.local_names_for(vocab.INIT_MODULE):
            return f"{local}.{name}", frozenset()
        for local in self.imports.local_names_for("torch.nn"):
            return f"{local}.init.{name}", frozenset()
        if "torch" in self.imports.local_to_qualified.values() and \
                self.imports.local_to_qualified.get("torch") == "torch":
            return f"torch.nn.init.{name}", frozenset()
        if "nn" not in self.imports.local_to_qualified:
            return f"nn.init.{name}", frozenset({"import torch.nn as nn"})
        return f"torch.nn.init.{name}", frozenset({"import torch"})

    def call(self, name: str, args: str) -> tuple[cst.Call, frozenset]:
        func, needs = self.init_function(name)
        return cst.parse_expression(f"{func}({args})"), needs

    def parameter(self, site: InitSite, param: Optional[str] = None) -> str:
        """``self.fc.weight`` for a site (dropping ``.data``), or its bias with ``param="bias"``."""
        return f"{self.code(site.owner)}.{param or site.param}"

    def fitting_init(self, site: InitSite, follower: Follower, reason: str) -> Optional[Fix]:
        """Replace a site with the init that suits what follows the layer."""
        target = self.parameter(site)
        if follower.kind == "act" and follower.act in vocab.RELU_FAMILY:
            if follower.act in ("relu", "relu6"):
                name, args = "kaiming_normal_", f'{target}, nonlinearity="relu"'
            else:
                slope = 0.01 if follower.slope is None else follower.slope
                name, args = "kaiming_normal_", f'{target}, a={slope:g}, nonlinearity="leaky_relu"'
        elif follower.kind == "act" and follower.act in ("tanh", "sigmoid"):
            gain_func, _ = self.init_function("calculate_gain")
            name, args = "xavier_uniform_", f'{target}, gain={gain_func}("{follower.act}")'
        else:
            name, args = "xavier_uniform_", target
        new_call, needs = self.call(name, args)
        return Fix(f"{reason}: use {name}", replace={site.call: keep_arguments(site.call, new_call)}, needs=needs)

    def replace_call(self, site: InitSite, name: str, args: str, description: str) -> Fix:
        new_call, needs = self.call(name, args)
        return Fix(description, replace={site.call: keep_arguments(site.call, new_call)}, needs=needs)

    def guard(self, statement: cst.CSTNode, test: str, description: str) -> Optional[Fix]:
        """Wrap a simple statement in ``if <test>:``."""
        if type(statement) is not cst.SimpleStatementLine:
            return None
        inner = statement.with_changes(leading_lines=())
        wrapped = cst.If(test=cst.parse_expression(test), body=cst.IndentedBlock(body=[inner]),
                         leading_lines=statement.leading_lines)
        return Fix(description, replace={statement: wrapped})

    def statements(self, code: str) -> list:
        return list(cst.parse_module(code).body)


def guard_one_line_suite(suite: cst.SimpleStatementSuite, test: str, description: str) -> Optional[Fix]:
    """Wrap the only statement of a one-line suite (``if c: stmt``) in ``if <test>:``, as an indented
    block; the line's trailing comment stays with the statement."""
    if type(suite) is not cst.SimpleStatementSuite or len(suite.body) != 1:
        return None
    line = cst.SimpleStatementLine(body=[suite.body[0].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)],
                                   trailing_whitespace=suite.trailing_whitespace)
    guarded = cst.If(test=cst.parse_expression(test), body=cst.IndentedBlock(body=[line]))
    return Fix(description, replace={suite: cst.IndentedBlock(body=[guarded])})


def guard_shared_line(statement: cst.SimpleStatementLine, node: cst.CSTNode, test: str,
                      description: str) -> Optional[Fix]:
    """Wrap the small statement holding ``node`` on a line of several (``a; b``) in ``if <test>:``: the
    statements before and after it keep their order on lines of their own."""
    if type(statement) is not cst.SimpleStatementLine or len(statement.body) < 2:
        return None
    index = next((i for i, small in enumerate(statement.body) if any(n is node for n in _nodes(small))), None)
    if index is None:
        return None

    def line(smalls, **changes):
        last = smalls[-1].with_changes(semicolon=cst.MaybeSentinel.DEFAULT)
        return cst.SimpleStatementLine(body=[*smalls[:-1], last], **changes)

    before, after = statement.body[:index], statement.body[index + 1:]
    comment = {} if after else {"trailing_whitespace": statement.trailing_whitespace}
    guarded = cst.If(test=cst.parse_expression(test),
                     body=cst.IndentedBlock(body=[line([statement.body[index]], **comment)]))
    if before:
        first, rest = line(before, leading_lines=statement.leading_lines), [guarded]
    else:
        first, rest = guarded.with_changes(leading_lines=statement.leading_lines), []
    if after:
        rest.append(line(after, trailing_whitespace=statement.trailing_whitespace))
    return Fix(description, replace={statement: first}, insert_after=[(statement, rest)])


def _nodes(root):
    stack = [root]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.children)


def quote_of(call: cst.Call) -> str:
    """The quote character the call's own string arguments use (``"`` when it has none), for strings a
    fix adds to it."""
    for arg in call.args:
        if type(arg.value) is cst.SimpleString:
            return arg.value.quote[0]
    return '"'


def keep_arguments(old: cst.Call, new: cst.Call) -> cst.Call:
    """``new`` with the arguments it shares with ``old`` taken from ``old``, whitespace and comments
    included (``self.fc2.weight,  # the hidden layer``), and ``old``'s layout around them, so that a
    rewrite changes only what it must."""
    if type(old) is not cst.Call:
        return new
    code = cst.Module([]).code_for_node
    olds = {(arg.keyword.value if arg.keyword else None, code(arg.value)): arg for arg in old.args}
    args = []
    for index, arg in enumerate(new.args):
        kept = olds.get((arg.keyword.value if arg.keyword else None, code(arg.value)))
        last = index == len(new.args) - 1
        if kept is None:
            args.append(arg)
        elif not last and type(kept.comma) is not cst.Comma:
            args.append(kept.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))))
        elif last and type(kept.comma) is cst.Comma and not _multiline(old):
            args.append(kept.with_changes(comma=cst.MaybeSentinel.DEFAULT))
        else:
            args.append(kept)
    if _multiline(old) and args and type(args[-1].comma) is not cst.Comma:
        last_old = old.args[-1] if old.args else None
        if last_old is not None and type(last_old.comma) is cst.Comma:
            args[-1] = args[-1].with_changes(comma=last_old.comma)
    return new.with_changes(args=args, lpar=old.lpar, rpar=old.rpar,
                            whitespace_after_func=old.whitespace_after_func,
                            whitespace_before_args=old.whitespace_before_args)


def _multiline(call: cst.Call) -> bool:
    return "\n" in cst.Module([]).code_for_node(call)
