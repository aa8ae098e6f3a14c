"""Syntax patterns and shared definitions of the analysis passes."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

import libcst as cst

from . import vocab
from .facts import Layer, Scope
from .names import vendored
from .syntax import block_statements, dotted, small_statements, string, walk

ENDS_BLOCK = (cst.Return, cst.Continue, cst.Raise)


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
    # loop/visitor variable -> ("modules", Scope | [Layer]) | ("parts", [Part]) | ("params", None)
    # | ("standalone", None): a helper applied nowhere here | ("opaque", None): applied to unknown models
    bindings: dict = field(default_factory=dict)
    class_name_vars: dict = field(default_factory=dict)  # var holding m.__class__.__name__ -> m
    in_forward: bool = False
    order_prefix: tuple = ()
    # loop variable -> how many conditions held where it was bound: those around the loop
    # (``if constant_weight is not None: for m in self.modules(): ...``) choose whether it runs, not which
    # layers it reaches
    bound_under: dict = field(default_factory=dict)
    # loop/visitor variable -> the instances it walks (see InitSite.instances); absent: every instance
    instances: dict = field(default_factory=dict)

    def with_condition(self, test, positive) -> "Context":
        new = Context(**{**self.__dict__})
        new.conditions = self.conditions + (Condition(test, positive),)
        return new

    def with_binding(self, name, binding, instances=None) -> "Context":
        new = Context(**{**self.__dict__})
        new.bindings = {**self.bindings, name: binding}
        new.bound_under = {**self.bound_under, name: len(self.conditions)}
        new.instances = {**self.instances, name: instances}
        return new


# Module methods that return the module itself.
RETURNS_SELF = frozenset({"to", "cuda", "cpu", "train", "eval", "float", "double", "half", "bfloat16",
                           "requires_grad_", "to_empty", "apply", "share_memory"})
HEAD = re.compile(r"[^.\[]+")


def is_self_path(path: str) -> bool:
    """``self``, ``self.fc``, ``self[0]``: a path inside the instance (not a name like ``self_attn``)."""
    return path == "self" or path.startswith(("self.", "self["))


def literal_dict_keys(expr) -> Optional[frozenset]:
    if type(expr) is cst.Dict:
        keys = [string(el.key) if type(el) is cst.DictElement else None for el in expr.elements]
        return None if None in keys else frozenset(keys)
    if type(expr) is cst.Call and dotted(expr.func) == "dict" \
            and all(arg.keyword is not None and not arg.star for arg in expr.args):
        return frozenset(arg.keyword.value for arg in expr.args)
    return None


# One layer of each kind, to ask which kinds a type test admits.
PROBES = tuple(Layer(kind, kind, None, None, None, "true") for kind in sorted(vocab.ALL_KINDS))


def parts_at(home: Scope, path: str, at: Optional[int]) -> Optional[list]:
    """The parts filed under ``path`` (or its ``[*]`` form); in an ordered namespace, only those of the
    last binding at or before statement ``at``."""
    key = path
    found = home.parts.get(key)
    if found is None and "[" in path:
        key = ANY_INDEX.sub("[*]", path)
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
MODULE_METHODS_THAT_DO_NOT_INIT = frozenset({"apply", 
    "register_buffer", "register_parameter", "add_module", "register_module", "to", "train", "eval",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "requires_grad_", "float", "double", "half", "cuda", "cpu", "modules", "named_modules",
    "parameters", "named_parameters", "children", "named_children", "__setattr__",
    "save_hyperparameters", "log", "log_dict"})


def trains(call: cst.Call, qualified: Optional[str]) -> bool:
    """A call that trains: ``loss.backward()``, ``optimizer.step()``, ``trainer.fit(...)``, ``train(...)``,
    or an optimizer being built (``model.train()`` only switches the mode)."""
    name = (dotted(call.func) or "").rsplit(".", 1)[-1]
    if name in ("backward", "step", "fit") or (qualified or "").startswith("torch.optim."):
        return True
    return "train" in name.lower() and not (name == "train" and type(call.func) is cst.Attribute
                                            and not call.args)


def plain_module_base(base: Optional[str]) -> bool:
    """``nn.Module``, or a framework base that adds no init of its own (Lightning's LightningModule)."""
    if base == "torch.nn.Module":
        return True
    return bool(base) and base.endswith(".LightningModule") and bool(
        vendored(base, "lightning") or vendored(base, "pytorch_lightning"))


# Helpers that initialise what they are handed are named for it: init_weights, kaiming_init,
# c2_msra_fill, reset_parameters, lecun_normal_ (in-place, trailing underscore).
ANY_INDEX = re.compile(r"\[[^\]]*\]")
INIT_LIKE_NAME = re.compile(r"init|reset|fill|weight|_$", re.IGNORECASE)
INSPECTING_CALLS = frozenset({"isinstance", "type", "hasattr", "getattr", "id", "print", "str", "repr", "len"})


def blocks_of(statement) -> list:
    """The statement lists inside a compound statement (``if``/``elif``/``else``, loops, ``try``, ``with``,
    ``match``)."""
    blocks = []
    for name in ("body", "orelse", "finalbody"):
        child = getattr(statement, name, None)
        if child is None:
            continue
        if type(child) is cst.If:
            blocks.extend(blocks_of(child))
        elif type(child) in (cst.IndentedBlock, cst.SimpleStatementSuite):
            blocks.append(block_statements(child))
        else:  # Else, Finally
            blocks.append(block_statements(child.body))
    for part in tuple(getattr(statement, "handlers", ())) + tuple(getattr(statement, "cases", ())):
        blocks.append(block_statements(part.body))
    return blocks


def outer_calls(node):
    """The outermost calls in an expression, skipping nested function bodies."""
    stack = [node]
    from .syntax import children
    while stack:
        current = stack.pop()
        if type(current) is cst.Call:
            yield current
            continue
        if type(current) in (cst.Lambda, cst.FunctionDef, cst.ClassDef):
            continue
        stack.extend(reversed(children(current)))


def same_tensor(expr):
    """``expr`` without the ``.data`` and ``.detach()`` around it: views of the same tensor."""
    while True:
        if type(expr) is cst.Attribute and expr.attr.value == "data":
            expr = expr.value
        elif type(expr) is cst.Call and type(expr.func) is cst.Attribute \
                and expr.func.attr.value == "detach" and not expr.args:
            expr = expr.func.value
        else:
            return expr


def param_target(expr):
    """``(owner, "weight"|"bias")`` for ``owner.weight``, ``owner.bias.data``, ``owner.weight.detach()``,
    ``owner.bias[a:b]`` (a slice of a weight initialises only part of it: not a site)."""
    expr = same_tensor(expr)
    if type(expr) is cst.Subscript and type(expr.value) is cst.Attribute and expr.value.attr.value == "bias":
        return expr.value.value, "bias"  # ``self.qkv.bias[a:b].fill_(0)``: needs the bias all the same
    if type(expr) is cst.Attribute and expr.attr.value in ("weight", "bias"):
        return expr.value, expr.attr.value
    return None


def class_name_subject(expr) -> Optional[str]:
    """``m`` for ``m.__class__.__name__`` or ``type(m).__name__``."""
    if type(expr) is cst.Attribute and expr.attr.value == "__name__":
        inner = expr.value
        if type(inner) is cst.Attribute and inner.attr.value == "__class__" \
                and type(inner.value) is cst.Name:
            return inner.value.value
        if is_type_call(inner):
            return inner.args[0].value.value
    return None


def is_type_call(expr) -> bool:
    return type(expr) is cst.Call and dotted(expr.func) == "type" and len(expr.args) == 1 \
        and type(expr.args[0].value) is cst.Name


def is_type_of(expr, var) -> bool:
    if is_type_call(expr):
        return expr.args[0].value.value == var
    return type(expr) is cst.Attribute and expr.attr.value == "__class__" \
        and type(expr.value) is cst.Name and expr.value.value == var


def conjuncts(test, positive):
    """Split ``a and b`` (when true) into its parts; strip ``not``."""
    while type(test) is cst.UnaryOperation and type(test.operator) is cst.Not:
        test, positive = test.expression, not positive
    if positive and type(test) is cst.BooleanOperation and type(test.operator) is cst.And:
        return conjuncts(test.left, True) + conjuncts(test.right, True)
    if not positive and type(test) is cst.BooleanOperation and type(test.operator) is cst.Or:
        return conjuncts(test.left, False) + conjuncts(test.right, False)
    return [(test, positive)]


def mentions_bias(test) -> bool:
    for node in walk(test):
        if type(node) is cst.Name and "bias" in node.value:
            return True
        if type(node) is cst.SimpleString and "bias" in node.value:
            return True
    return False


def truth_tested(test):
    """``(node, expr)`` for each operand whose truth value the test uses: ``node`` is ``not expr``
    when negated, else ``expr`` itself."""
    if type(test) is cst.UnaryOperation and type(test.operator) is cst.Not \
            and type(test.expression) not in (cst.UnaryOperation, cst.BooleanOperation):
        return [(test, test.expression)]
    if type(test) is cst.UnaryOperation and type(test.operator) is cst.Not:
        return truth_tested(test.expression)
    if type(test) is cst.BooleanOperation:
        return truth_tested(test.left) + truth_tested(test.right)
    return [(test, test)]


def ends_block(statement) -> bool:
    smalls = small_statements(statement)
    return bool(smalls) and isinstance(smalls[-1], ENDS_BLOCK)


def loop_names(target) -> list:
    if type(target) is cst.Name:
        return [target.value]
    if type(target) is cst.Tuple:
        return [n for el in target.elements for n in loop_names(el.value)]
    return []
