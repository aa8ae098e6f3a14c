"""Syntax facts for the rules on inits that do nothing: which module types a model holds (when every one
is known), and which types an ``apply`` helper dispatches to.

A model's types are "fully known" only when every module it registers is built in this file from
torch.nn classes with no child modules of their own, containers of them, or classes of this file that are
fully known themselves; a module handed in, returned by an unknown call, or added under a computed name
makes the whole model unknown (None), and the rules that read this stay silent.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import libcst as cst

from . import vocab
from .facts import Part, Scope
from .vocab import CONTAINERS
from .names import torch_name
from .patterns import RETURNS_SELF, param_target, same_tensor
from .syntax import argument, binding_targets, block_statements, dotted, string, walk, walk_with_parents

# torch 2.13: the torch.nn base classes of each class (``isinstance(m, nn.modules.conv._ConvNd)``).
TORCH_BASES = {
    "Conv1d": ("_ConvNd",), "Conv2d": ("_ConvNd",), "Conv3d": ("_ConvNd",),
    "ConvTranspose1d": ("_ConvTransposeNd", "_ConvNd"), "ConvTranspose2d": ("_ConvTransposeNd", "_ConvNd"),
    "ConvTranspose3d": ("_ConvTransposeNd", "_ConvNd"),
    "LazyConv1d": ("Conv1d", "_ConvNd"), "LazyConv2d": ("Conv2d", "_ConvNd"), "LazyConv3d": ("Conv3d", "_ConvNd"),
    "LazyConvTranspose1d": ("ConvTranspose1d", "_ConvTransposeNd", "_ConvNd"),
    "LazyConvTranspose2d": ("ConvTranspose2d", "_ConvTransposeNd", "_ConvNd"),
    "LazyConvTranspose3d": ("ConvTranspose3d", "_ConvTransposeNd", "_ConvNd"),
    "LazyLinear": ("Linear",),
    "BatchNorm1d": ("_BatchNorm", "_NormBase"), "BatchNorm2d": ("_BatchNorm", "_NormBase"),
    "BatchNorm3d": ("_BatchNorm", "_NormBase"), "SyncBatchNorm": ("_BatchNorm", "_NormBase"),
    "LazyBatchNorm1d": ("_LazyNormBase", "_BatchNorm", "_NormBase"),
    "LazyBatchNorm2d": ("_LazyNormBase", "_BatchNorm", "_NormBase"),
    "LazyBatchNorm3d": ("_LazyNormBase", "_BatchNorm", "_NormBase"),
    "InstanceNorm1d": ("_InstanceNorm", "_NormBase"), "InstanceNorm2d": ("_InstanceNorm", "_NormBase"),
    "InstanceNorm3d": ("_InstanceNorm", "_NormBase"),
    "LazyInstanceNorm1d": ("_LazyNormBase", "_InstanceNorm", "_NormBase"),
    "LazyInstanceNorm2d": ("_LazyNormBase", "_InstanceNorm", "_NormBase"),
    "LazyInstanceNorm3d": ("_LazyNormBase", "_InstanceNorm", "_NormBase"),
    "Dropout": ("_DropoutNd",), "Dropout1d": ("_DropoutNd",), "Dropout2d": ("_DropoutNd",),
    "Dropout3d": ("_DropoutNd",), "AlphaDropout": ("_DropoutNd",), "FeatureAlphaDropout": ("_DropoutNd",),
    "MaxPool1d": ("_MaxPoolNd",), "MaxPool2d": ("_MaxPoolNd",), "MaxPool3d": ("_MaxPoolNd",),
    "AvgPool1d": ("_AvgPoolNd",), "AvgPool2d": ("_AvgPoolNd",), "AvgPool3d": ("_AvgPoolNd",),
    "AdaptiveAvgPool1d": ("_AdaptiveAvgPoolNd",), "AdaptiveAvgPool2d": ("_AdaptiveAvgPoolNd",),
    "AdaptiveAvgPool3d": ("_AdaptiveAvgPoolNd",), "AdaptiveMaxPool1d": ("_AdaptiveMaxPoolNd",),
    "AdaptiveMaxPool2d": ("_AdaptiveMaxPoolNd",), "AdaptiveMaxPool3d": ("_AdaptiveMaxPoolNd",),
    "RNN": ("RNNBase",), "LSTM": ("RNNBase",), "GRU": ("RNNBase",),
    "RNNCell": ("RNNCellBase",), "LSTMCell": ("RNNCellBase",), "GRUCell": ("RNNCellBase",),
    "ReLU6": ("Hardtanh",), "UpsamplingBilinear2d": ("Upsample",), "UpsamplingNearest2d": ("Upsample",),
}
# torch 2.13's torch.nn module classes that hold no module of their own (not the containers, the
# Transformer family, MultiheadAttention, AdaptiveLogSoftmaxWithLoss, DataParallel, or a loss handed a
# distance module): what such a call builds is exactly one module of that class.
LEAF_MODULES = frozenset({
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "AlphaDropout", "AvgPool1d", "AvgPool2d", "AvgPool3d",
    "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "Bilinear", "CELU",
    "CTCLoss", "ChannelShuffle", "CircularPad1d", "CircularPad2d", "CircularPad3d", "ConstantPad1d",
    "ConstantPad2d", "ConstantPad3d", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d",
    "ConvTranspose2d", "ConvTranspose3d", "CosineEmbeddingLoss", "CosineSimilarity", "CrossEntropyLoss",
    "CrossMapLRN2d", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "ELU", "Embedding",
    "EmbeddingBag", "FeatureAlphaDropout", "Flatten", "Fold", "FractionalMaxPool2d",
    "FractionalMaxPool3d", "GELU", "GLU", "GRU", "GRUCell", "GaussianNLLLoss", "GroupNorm",
    "Hardshrink", "Hardsigmoid", "Hardswish", "Hardtanh", "HingeEmbeddingLoss", "HuberLoss", "Identity",
    "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "KLDivLoss", "L1Loss", "LPPool1d", "LPPool2d",
    "LPPool3d", "LSTM", "LSTMCell", "LayerNorm", "LazyBatchNorm1d", "LazyBatchNorm2d",
    "LazyBatchNorm3d", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
    "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d",
    "LazyInstanceNorm3d", "LazyLinear", "LeakyReLU", "Linear", "LinearCrossEntropyLoss",
    "LocalResponseNorm", "LogSigmoid", "LogSoftmax", "MSELoss", "MarginRankingLoss", "MaxPool1d",
    "MaxPool2d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "Mish",
    "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss", "NLLLoss", "NLLLoss2d",
    "PReLU", "PairwiseDistance", "PixelShuffle", "PixelUnshuffle", "PoissonNLLLoss", "RMSNorm", "RNN",
    "RNNBase", "RNNCell", "RNNCellBase", "RReLU", "ReLU", "ReLU6", "ReflectionPad1d", "ReflectionPad2d",
    "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "SELU", "SiLU",
    "Sigmoid", "SmoothL1Loss", "SoftMarginLoss", "Softmax", "Softmax2d", "Softmin", "Softplus",
    "Softshrink", "Softsign", "SyncBatchNorm", "Tanh", "Tanhshrink", "Threshold", "TripletMarginLoss",
    "Unflatten", "Unfold", "Upsample", "UpsamplingBilinear2d", "UpsamplingNearest2d", "ZeroPad1d",
    "ZeroPad2d", "ZeroPad3d"
})
NOT_MODULES = frozenset({"Parameter", "ParameterList", "ParameterDict", "Buffer", "UninitializedParameter"})
# Builtins that never return a module (what they return is not registered when assigned).
PLAIN_BUILTINS = frozenset({"int", "float", "str", "bool", "len", "max", "min", "round", "abs", "sum",
                            "range", "tuple", "list", "dict", "set", "sorted", "print", "getattr_default"})
# Calls on ``self.x`` that add modules to a container.
ADDING_METHODS = frozenset({"append", "extend", "insert", "add_module", "register_module", "update"})

Type = tuple  # ("torch", "Conv2d") or ("local", "Net")


def type_label(kind: Type) -> str:
    return kind[1]


class ModelTypes:
    """Module types of the models built in one file (by class name or expression), when fully known."""

    def __init__(self, module: cst.Module, imports) -> None:
        self.imports = imports
        self.module = module
        self.classes: dict[str, cst.ClassDef] = {}
        self.functions: dict[str, list] = {}
        for statement in module.body:
            if type(statement) is cst.ClassDef:
                self.classes.setdefault(statement.name.value, statement)
            elif type(statement) is cst.FunctionDef:
                self.functions.setdefault(statement.name.value, []).append(statement)
        self._class_types: dict[str, Optional[frozenset]] = {}

    # --- classes -------------------------------------------------------------------------------------

    def local_bases(self, name: str) -> Optional[list]:
        """The bases of a class of this file: ("torch", X) / ("local", Y); None when one is neither."""
        bases = []
        for arg in self.classes[name].bases:
            qualified = torch_name(self.imports.resolve(arg.value))
            local = dotted(arg.value)
            if qualified is not None and qualified.startswith("torch.nn.") and qualified.count(".") == 2:
                bases.append(("torch", qualified[len("torch.nn."):]))
            elif qualified is None and local in self.classes:
                bases.append(("local", local))
            else:
                return None
        return bases

    def ancestors(self, kind: Type) -> set:
        """The class itself and every class it derives from, as types (torch's abstract bases included)."""
        found, todo = set(), [kind]
        while todo:
            current = todo.pop()
            if current in found:
                continue
            found.add(current)
            if current[0] == "torch":
                found.update(("torch", base) for base in TORCH_BASES.get(current[1], ()))
            elif current[1] in self.classes:
                todo.extend(self.local_bases(current[1]) or ())
        return found

    def of_class(self, name: str) -> Optional[frozenset]:
        """Every module type an instance of this class holds (itself included), or None when not all known."""
        if name in self._class_types:
            return self._class_types[name]
        if name not in self.classes:
            return None
        self._class_types[name] = frozenset({("local", name)})  # a class holding itself adds nothing
        result = self._compute_class(name)
        self._class_types[name] = result
        return result

    def _compute_class(self, name: str) -> Optional[frozenset]:
        bases = self.local_bases(name)
        if not bases:  # an unknown base, or a plain class (not a module: its ``apply`` is its own)
            return None
        types = {("local", name)}
        for origin, base in bases:
            if origin == "local":
                inherited = self.of_class(base)
                if inherited is None:
                    return None
                types |= inherited
            elif base != "Module" and base not in LEAF_MODULES:
                return None
        for statement in block_statements(self.classes[name].body):
            if type(statement) is not cst.FunctionDef:
                continue
            params = statement.params.params
            if not params:
                continue
            found = self._registered_in_method(statement, params[0].name.value)
            if found is None:
                return None
            types |= found
        return frozenset(types)

    def _registered_in_method(self, method: cst.FunctionDef, self_name: str, depth: int = 0) -> Optional[set]:
        """The module types a method (or a function handed the module) registers on ``self_name``: assigned
        to ``self.x``, ``self.x[k]`` or ``self.x.y``, added to a container of it, or registered by a
        function of this file it is handed to; None when it may register one initlint cannot name."""
        if depth > 4:
            return None
        types: set = set()
        for node in walk(method.body, into_defs=False):
            found: Optional[set] = set()
            if type(node) in (cst.Assign, cst.AugAssign, cst.AnnAssign):
                targets = [t.target for t in node.targets] if type(node) is cst.Assign else [node.target]
                if node.value is None or not any(_on_self(t, self_name) for t in targets):
                    continue
                if any(type(t) in (cst.Tuple, cst.List) for t in targets):
                    return None
                if any(type(t) is cst.Subscript for t in targets) or type(node) is cst.AugAssign:
                    found = self.contents(node.value, method) if type(node) is cst.AugAssign \
                        else self.registered(node.value, method)
                else:
                    found = self.registered(node.value, method)
            elif type(node) is cst.Call:
                func = node.func
                name = dotted(func) or ""
                if name in ("setattr", "object.__setattr__") or name.endswith("__setattr__") \
                        or name.endswith("__dict__.update"):
                    return None
                handed = [index for index, arg in enumerate(node.args)
                          if type(arg.value) is cst.Name and arg.value.value == self_name]
                if handed and not name.endswith("__init__") and name not in _INSPECTING:
                    # ``build_layers(self, cfg)``: what a function of this file registers on it, else unknown
                    helper = self.functions.get(name, [])
                    if len(helper) != 1 or node.args[handed[0]].keyword is not None \
                            or any(arg.star for arg in node.args) \
                            or handed[0] >= len(helper[0].params.params):
                        return None
                    found = self._registered_in_method(helper[0], helper[0].params.params[handed[0]].name.value,
                                                       depth + 1)
                if type(func) is cst.Attribute and func.attr.value in ADDING_METHODS \
                        and _on_self(func.value, self_name, bare=True):
                    found = self._added_by(node, method)
            elif type(node) in (cst.FunctionDef, cst.ClassDef, cst.Lambda) and _assigns_self(node, self_name):
                return None  # a nested function that registers modules: not followed
            if found is None:
                return None
            types |= found
        return types

    # --- expressions ---------------------------------------------------------------------------------

    def registered(self, expr, function, depth: int = 0) -> Optional[set]:
        """The module types assigning ``expr`` to ``self.x`` registers (a plain list registers nothing)."""
        if depth > 12:
            return None
        if type(expr) in (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString,
                          cst.FormattedString, cst.List, cst.Tuple, cst.Set, cst.Dict, cst.ListComp,
                          cst.SetComp, cst.DictComp, cst.GeneratorExp, cst.Lambda, cst.BinaryOperation,
                          cst.UnaryOperation, cst.Comparison):
            return set()
        if type(expr) is cst.IfExp:
            return _union([self.registered(expr.body, function, depth + 1),
                           self.registered(expr.orelse, function, depth + 1)])
        if type(expr) is cst.BooleanOperation:
            return _union([self.registered(expr.left, function, depth + 1),
                           self.registered(expr.right, function, depth + 1)])
        if type(expr) is cst.Name:
            return self._name(expr.value, function, depth, self.registered)
        if type(expr) is cst.Attribute:
            head = dotted(expr)
            if head is None:
                return None
            first = head.split(".")[0]
            self_name = function.params.params[0].name.value if function is not None and function.params.params \
                else None
            if first == self_name or first == "math":
                return set()
            return None
        if type(expr) is cst.Call:
            return self._call(expr, function, depth)
        return None

    def _call(self, call: cst.Call, function, depth) -> Optional[set]:
        func = call.func
        if type(func) is cst.Attribute and func.attr.value in RETURNS_SELF and func.attr.value != "apply":
            return self.registered(func.value, function, depth + 1)
        qualified = torch_name(self.imports.resolve(func))
        if qualified is not None:
            if qualified.startswith("torch.nn.") and qualified.count(".") == 2:
                short = qualified[len("torch.nn."):]
                if short in NOT_MODULES:
                    return set()
                if short in CONTAINERS:
                    return self._container(call, short, function, depth)
                return {("torch", short)} if short in LEAF_MODULES else None
            if qualified.startswith("torch.nn.functional.") or qualified.startswith("math."):
                return set()
            if qualified.startswith("torch.") and qualified.count(".") == 1 and qualified[6:7].islower():
                return set()  # torch.zeros, torch.randn: tensors
            return None
        name = dotted(func)
        if name in self.classes:
            found = self.of_class(name)
            return set(found) if found is not None else None
        if name in PLAIN_BUILTINS:
            return set()
        if name in self.functions and len(self.functions[name]) == 1:
            builder = self.functions[name][0]
            returns = [node.value for node in walk(builder.body, into_defs=False)
                       if type(node) is cst.Return]
            if not returns or any(value is None for value in returns):
                return None
            return _union([self.registered(value, builder, depth + 1) for value in returns])
        return None

    def _container(self, call: cst.Call, short: str, function, depth) -> Optional[set]:
        found = [{("torch", short)}]
        for arg in call.args:
            if arg.keyword is not None:
                continue
            if arg.star == "*" or short != "Sequential":
                found.append(self.contents(arg.value, function, depth + 1))
            elif arg.star:
                return None
            elif type(arg.value) is cst.Call and dotted(arg.value.func) in ("OrderedDict",
                                                                            "collections.OrderedDict"):
                found.append(self.contents(arg.value, function, depth + 1))
            else:
                found.append(self.registered(arg.value, function, depth + 1))
        return _union(found)

    def contents(self, expr, function, depth: int = 0) -> Optional[set]:
        """The module types a container built from ``expr`` (``*layers``, ``ModuleList(expr)``) holds."""
        if depth > 12:
            return None
        if type(expr) in (cst.List, cst.Tuple, cst.Set):
            parts = []
            for element in expr.elements:
                if type(element) is cst.StarredElement:
                    parts.append(self.contents(element.value, function, depth + 1))
                else:
                    parts.append(self.registered(element.value, function, depth + 1))
            return _union(parts)
        if type(expr) in (cst.ListComp, cst.GeneratorExp, cst.SetComp):
            return self.registered(expr.elt, function, depth + 1)
        if type(expr) is cst.DictComp:
            return self.registered(expr.value, function, depth + 1)
        if type(expr) is cst.Dict:
            return _union([self.registered(el.value, function, depth + 1) if type(el) is cst.DictElement
                           else self.contents(el.value, function, depth + 1) for el in expr.elements])
        if type(expr) is cst.BinaryOperation and type(expr.operator) is cst.Add:
            return _union([self.contents(expr.left, function, depth + 1),
                           self.contents(expr.right, function, depth + 1)])
        if type(expr) is cst.Name:
            return self._name(expr.value, function, depth, self.contents)
        if type(expr) is cst.Call:
            name = dotted(expr.func)
            if name in ("list", "tuple", "reversed") and len(expr.args) == 1:
                return self.contents(expr.args[0].value, function, depth + 1)
            if name in ("OrderedDict", "collections.OrderedDict", "dict") and len(expr.args) == 1 \
                    and type(expr.args[0].value) in (cst.List, cst.Tuple):
                values = []
                for element in expr.args[0].value.elements:
                    pair = element.value
                    if type(pair) is not cst.Tuple or len(pair.elements) != 2:
                        return None
                    values.append(self.registered(pair.elements[1].value, function, depth + 1))
                return _union(values)
            return None
        return None

    def _name(self, name: str, function, depth, mode: Callable) -> Optional[set]:
        """What a local name holds: the union over its assignments in the function (and, as a container,
        what is appended to it); a parameter is a setting only where it is clearly one."""
        if name in ("True", "False", "None"):
            return set()
        if function is None:
            return None
        params = {p.name.value: p for p in list(function.params.params) + list(function.params.kwonly_params)}
        if name in params:
            return set() if _setting_parameter(params[name], function, self.imports) else None
        found, bound = [], False
        for node in walk(function.body, into_defs=False):
            if type(node) is cst.Assign and any(type(t.target) is cst.Name and t.target.value == name
                                                for t in node.targets):
                found.append(mode(node.value, function, depth + 1))
                bound = True
            elif type(node) in (cst.AnnAssign, cst.AugAssign) and type(node.target) is cst.Name \
                    and node.target.value == name and node.value is not None:
                found.append(self.contents(node.value, function, depth + 1) if type(node) is cst.AugAssign
                             else mode(node.value, function, depth + 1))
                bound = bound or type(node) is cst.AnnAssign
            elif type(node) in (cst.For, cst.CompFor, cst.With, cst.NamedExpr) and name in _bound_by(node):
                return None
            else:
                adds, added = self.added_to(node, name, function, depth)
                if adds:
                    found.append(added)
        if not bound:  # only changed here (a module-level model, a global): what it held before is unknown
            return None
        return _union(found)

    def _added_by(self, call: cst.Call, function, depth: int = 0) -> Optional[set]:
        """The module types ``x.append(m)`` / ``x.add_module("fc", m)`` / ``x.extend(ms)`` adds, None when
        unknown (``add_module("fc", module=m)`` is not read)."""
        method = call.func.attr.value
        leading = ("name",) if method in ("add_module", "register_module") else \
            ("index",) if method == "insert" else ()
        if any(arg.keyword is not None and arg.keyword.value not in leading for arg in call.args):
            return None
        values = [arg.value for arg in call.args if arg.keyword is None]
        if leading:
            values = values[1:]
        if method in ("extend", "update") or any(arg.star for arg in call.args):
            return _union([self.contents(value, function, depth + 1) for value in values])
        return _union([self.registered(value, function, depth + 1) for value in values])

    def added_to(self, node, name: str, function, depth: int = 0):
        """``(True, types)`` when ``node`` adds modules to the module or container bound to ``name``
        (``name.append(x)``, ``name.add_module("fc", x)``, ``name.body.extend(xs)``, ``name.fc = x``,
        ``name[0] = x``, ``setattr(name, ...)``; ``types`` None when unknown), else ``(False, None)``."""
        if type(node) is cst.Call:
            func = node.func
            if dotted(func) in ("setattr", "object.__setattr__") and node.args \
                    and _root_name(node.args[0].value) == name:
                return True, None
            if type(func) is not cst.Attribute or func.attr.value not in ADDING_METHODS \
                    or _root_name(func.value) != name:
                return False, None
            return True, self._added_by(node, function, depth)
        if type(node) is cst.Assign and any(type(t.target) in (cst.Attribute, cst.Subscript)
                                            and _root_name(t.target) == name for t in node.targets):
            return True, self.registered(node.value, function, depth + 1)
        if type(node) is cst.AugAssign and type(node.target) in (cst.Attribute, cst.Subscript) \
                and _root_name(node.target) == name:  # ``name.layers += [...]``
            return True, self.contents(node.value, function, depth + 1)
        return False, None


def _root_name(expr) -> Optional[str]:
    """``net`` for ``net.fc``, ``net[0]``, ``net.fc.weight``."""
    while type(expr) in (cst.Attribute, cst.Subscript):
        expr = expr.value
    return expr.value if type(expr) is cst.Name else None


def _union(parts) -> Optional[set]:
    result = set()
    for part in parts:
        if part is None:
            return None
        result |= part
    return result


def _on_self(target, self_name: str, bare: bool = False) -> bool:
    """``self.x`` (or, unless ``bare``, ``self.x[k]`` and ``self.x.y``, which register on a submodule): a
    target that registers on the module."""
    if bare:
        return type(target) is cst.Attribute and type(target.value) is cst.Name \
            and target.value.value == self_name
    while type(target) in (cst.Subscript, cst.Attribute):
        if type(target) is cst.Attribute and type(target.value) is cst.Name:
            return target.value.value == self_name
        target = target.value
    return False


# Calls that look at a module without changing it.
_INSPECTING = frozenset({"isinstance", "type", "hasattr", "getattr", "id", "print", "str", "repr", "len",
                         "super", "vars", "callable"})


def _assigns_self(node, self_name) -> bool:
    """A nested definition that assigns to, or calls a method of, ``self``."""
    return any(type(inner) in (cst.Assign, cst.AugAssign, cst.AnnAssign, cst.Call) and self_name in
               {n.value for n in walk(inner) if type(n) is cst.Name} for inner in walk(node))


def _bound_by(node) -> set:
    target = getattr(node, "target", None)
    if type(node) is cst.With:
        return {n.value for item in node.items if item.asname is not None
                for n in walk(item.asname.name) if type(n) is cst.Name}
    return {n.value for n in walk(target) if type(n) is cst.Name} if target is not None else set()


def _setting_parameter(param: cst.Param, function, imports) -> bool:
    """A parameter that holds a number, string or flag: a literal default, a plain annotation, or a size
    argument of a torch.nn constructor in the function."""
    if param.default is not None and type(param.default) in (cst.Integer, cst.Float, cst.SimpleString):
        return True
    if param.default is not None and type(param.default) is cst.Name \
            and param.default.value in ("True", "False"):
        return True
    if param.annotation is not None and dotted(param.annotation.annotation) in ("int", "float", "str", "bool"):
        return True
    name = param.name.value
    for node in walk(function.body, into_defs=False):
        if type(node) is cst.Call:
            qualified = torch_name(imports.resolve(node.func)) or ""
            short = qualified[len("torch.nn."):] if qualified.startswith("torch.nn.") else ""
            if short[:1].isupper() and short not in CONTAINERS and any(
                    type(arg.value) is cst.Name and arg.value.value == name for arg in node.args):
                return True
    return False


# --- what an apply helper dispatches to -----------------------------------------------------------------

@dataclass
class Dispatch:
    labels: list          # the tests, as written (``nn.Conv2d``, ``"Conv" in classname``)
    matches: Callable     # Type -> bool


def dispatch_of(function: cst.FunctionDef, is_method: bool, types: ModelTypes) -> Optional[Dispatch]:
    """The module types a helper acts on, when its whole body is type-tested ``if``s on its module
    parameter (``classname = m.__class__.__name__`` and a docstring aside); None otherwise."""
    params = list(function.params.params)
    if is_method:
        params = params[1:]
    if not params:
        return None
    var = params[0].name.value
    name_vars = set()
    tests = []
    for index, statement in enumerate(block_statements(function.body)):
        smalls = list(statement.body) if type(statement) is cst.SimpleStatementLine else None
        if smalls is not None:
            for small in smalls:
                if type(small) is cst.Expr and type(small.value) in (cst.SimpleString,
                                                                     cst.ConcatenatedString) \
                        and index == 0:
                    continue
                if type(small) is cst.Pass:
                    continue
                if type(small) is cst.Assign and len(small.targets) == 1 \
                        and type(small.targets[0].target) is cst.Name and _class_name_of(small.value) == var:
                    name_vars.add(small.targets[0].target.value)
                    continue
                return None
            continue
        if type(statement) is not cst.If:
            return None
        branch = statement
        while branch is not None:
            if type(branch) is cst.Else:
                return None
            test = _dispatch_test(branch.test, var, name_vars, types)
            if test is None:
                return None
            tests.append(test)
            branch = branch.orelse
    if not tests:
        return None
    return Dispatch([label for labels, _ in tests for label in labels],
                    lambda kind: any(match(kind) for _, match in tests))


def _class_name_of(expr) -> Optional[str]:
    if type(expr) is cst.Attribute and expr.attr.value == "__name__":
        inner = expr.value
        if type(inner) is cst.Attribute and inner.attr.value == "__class__" and type(inner.value) is cst.Name:
            return inner.value.value
        if type(inner) is cst.Call and dotted(inner.func) == "type" and len(inner.args) == 1 \
                and type(inner.args[0].value) is cst.Name:
            return inner.args[0].value.value
    return None


def _dispatch_test(test, var, name_vars, types: ModelTypes):
    """(labels, predicate over a Type) for a test that holds only for some module types; None otherwise."""
    if type(test) is cst.BooleanOperation:
        left = _dispatch_test(test.left, var, name_vars, types)
        right = _dispatch_test(test.right, var, name_vars, types)
        if type(test.operator) is cst.And:  # the other conjunct narrows a type test further
            known = [side for side in (left, right) if side is not None]
            if not known:
                return None
            return [label for labels, _ in known for label in labels], \
                lambda kind: all(match(kind) for _, match in known)
        if left is None or right is None:
            return None
        return left[0] + right[0], lambda kind: left[1](kind) or right[1](kind)
    if type(test) is cst.Call and dotted(test.func) == "isinstance" and len(test.args) == 2 \
            and type(test.args[0].value) is cst.Name and test.args[0].value.value == var:
        classes = test.args[1].value
        elements = [e.value for e in classes.elements] if type(classes) is cst.Tuple else [classes]
        wanted = []
        for element in elements:
            kind = _type_named(element, types)
            if kind is None:
                return None
            wanted.append(kind)
        labels = [dotted(element) or "?" for element in elements]
        return labels, lambda kind: any(want == ("torch", "Module") or want in types.ancestors(kind)
                                        for want in wanted)
    if type(test) is cst.Comparison and len(test.comparisons) == 1:
        left, comparison = test.left, test.comparisons[0]
        op, right = comparison.operator, comparison.comparator
        if type(left) is cst.Call and type(left.func) is cst.Attribute and left.func.attr.value == "find" \
                and _names_class(left.func.value, var, name_vars):
            needle = string(argument(left, 0, None))
            bound = right.value if type(right) is cst.Integer else (
                "-1" if type(right) is cst.UnaryOperation and type(right.expression) is cst.Integer
                and right.expression.value == "1" else None)
            wanted = (type(op) is cst.NotEqual and bound == "-1") or (
                type(op) is cst.GreaterThanEqual and bound == "0") or (type(op) is cst.GreaterThan
                                                                       and bound == "-1")
            if needle is not None and wanted:
                return [f'a class name containing "{needle}"'], lambda kind: needle in kind[1]
            return None
        if type(op) is cst.In and _names_class(right, var, name_vars) and string(left) is not None:
            needle = string(left)
            return [f'a class name containing "{needle}"'], lambda kind: needle in kind[1]
        if type(op) is cst.Equal and _names_class(left, var, name_vars) and string(right) is not None:
            exact = string(right)
            return [f'the class name "{exact}"'], lambda kind: kind[1] == exact
        if type(op) in (cst.Equal, cst.Is) and _is_type_of(left, var):
            kind_wanted = _type_named(right, types)
            if kind_wanted is None:
                return None
            return [dotted(right) or "?"], lambda kind: kind == kind_wanted
        return None
    if type(test) is cst.Call and type(test.func) is cst.Attribute \
            and test.func.attr.value in ("startswith", "endswith") and _names_class(test.func.value, var, name_vars):
        needle = string(argument(test, 0, None))
        if needle is None:
            return None
        if test.func.attr.value == "startswith":
            return [f'a class name starting "{needle}"'], lambda kind: kind[1].startswith(needle)
        return [f'a class name ending "{needle}"'], lambda kind: kind[1].endswith(needle)
    return None


def _names_class(expr, var, name_vars) -> bool:
    return (type(expr) is cst.Name and expr.value in name_vars) or _class_name_of(expr) == var


def _is_type_of(expr, var) -> bool:
    if type(expr) is cst.Call and dotted(expr.func) == "type" and len(expr.args) == 1:
        return type(expr.args[0].value) is cst.Name and expr.args[0].value.value == var
    return type(expr) is cst.Attribute and expr.attr.value == "__class__" \
        and type(expr.value) is cst.Name and expr.value.value == var


def _type_named(expr, types: ModelTypes) -> Optional[Type]:
    """The type a class expression names: a torch.nn class (abstract bases too) or a class of this file;
    another import is a type no module of a fully known model can be (it returns a type nothing has)."""
    qualified = torch_name(types.imports.resolve(expr))
    if qualified is not None:
        if qualified.startswith("torch.nn."):
            return ("torch", qualified.rsplit(".", 1)[-1])
        return ("foreign", qualified)
    name = dotted(expr)
    if name in types.classes:
        return ("local", name)
    resolved = types.imports.resolve(expr)
    return ("foreign", resolved) if resolved else None


@dataclass
class ApplySite:
    call: cst.Call                        # ``model.apply(fn)``
    helper: cst.FunctionDef
    helper_is_method: bool
    model_label: str                      # what the message calls the model
    model_types: frozenset


def apply_sites(module: cst.Module, types: ModelTypes):
    """``x.apply(f)`` calls whose helper ``f`` is defined in this file and whose model's module types are
    fully known: ``self.apply(self._init)`` in a class (with every class of this file deriving from it),
    ``net.apply(f)`` where each binding of ``net`` in that body builds a known model."""
    if not any(type(call.func) is cst.Attribute and call.func.attr.value == "apply"
               for call in syntax_index(module).calls):
        return
    subclasses: dict[str, set] = {}
    for name in types.classes:
        for origin, base in types.local_bases(name) or ():
            if origin == "local":
                subclasses.setdefault(base, set()).add(name)

    def family(name):
        found, todo = {name}, [name]
        while todo:
            for child in subclasses.get(todo.pop(), ()):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return sorted(found)

    def visit(statements, class_def, function):
        for statement in statements:
            if type(statement) is cst.ClassDef:
                yield from visit(block_statements(statement.body), statement, None)
                continue
            if type(statement) is cst.FunctionDef:
                yield from visit(block_statements(statement.body), class_def if function is None else None,
                                 statement)
                continue
            if type(statement) not in (cst.SimpleStatementLine, cst.SimpleStatementSuite):
                from .patterns import blocks_of
                for block in blocks_of(statement):
                    yield from visit(block, class_def, function)
                continue
            for node in walk(statement, into_defs=False):
                if type(node) is cst.Call and type(node.func) is cst.Attribute \
                        and node.func.attr.value == "apply" and len(node.args) == 1 and node.args[0].keyword is None:
                    site = _apply_site(node, class_def, function, types, family)
                    if site is not None:
                        yield site

    yield from visit(module.body, None, None)


def _apply_site(call, class_def, function, types: ModelTypes, family) -> Optional[ApplySite]:
    fn = call.args[0].value
    if type(fn) is cst.Call and dotted(fn.func) in ("partial", "functools.partial") and fn.args:
        return None  # a partial's bound arguments may change what it tests
    owner = call.func.value
    self_name = function.params.params[0].name.value if function is not None and class_def is not None \
        and function.params.params else None
    helper, is_method = None, False
    if type(fn) is cst.Name and len(types.functions.get(fn.value, ())) == 1:
        helper = types.functions[fn.value][0]
    elif type(fn) is cst.Attribute and type(fn.value) is cst.Name and fn.value.value == self_name \
            and class_def is not None:
        methods = [s for s in block_statements(class_def.body)
                   if type(s) is cst.FunctionDef and s.name.value == fn.attr.value]
        if len(methods) == 1 and not methods[0].decorators:
            helper, is_method = methods[0], True
    if helper is None:
        return None
    if type(owner) is cst.Name and owner.value == self_name and class_def is not None:
        names = family(class_def.name.value)
        if is_method and any(type(s) is cst.FunctionDef and s.name.value == helper.name.value
                             for name in names[1:] for s in block_statements(types.classes[name].body)):
            return None  # a subclass overrides the helper
        found = [types.of_class(name) for name in names]
        if any(kinds is None for kinds in found):
            return None
        label = f"`{names[0]}`" + (f" (and its subclasses {', '.join(names[1:])})" if len(names) > 1 else "")
        return ApplySite(call, helper, is_method, label, frozenset().union(*found))
    if type(owner) is cst.Name:
        scope = function
        if scope is None:  # module level: every module-level binding of the name
            kinds = _module_binding(owner.value, call, types)
        else:
            kinds = types._name(owner.value, scope, 0, types.registered)
        if not kinds:
            return None
        return ApplySite(call, helper, is_method, f"`{owner.value}`", frozenset(kinds))
    if type(owner) is cst.Call and dotted(owner.func) in types.classes:  # ``Net().apply(f)``
        kinds = types.of_class(dotted(owner.func))
        return ApplySite(call, helper, is_method, f"`{dotted(owner.func)}`", kinds) if kinds else None
    return None


def _module_binding(name: str, call, types: ModelTypes) -> Optional[set]:
    found, bound = [], False
    module = types.module
    for node in walk(module, into_defs=False):
        if type(node) is cst.Assign and any(type(t.target) is cst.Name and t.target.value == name
                                            for t in node.targets):
            found.append(types.registered(node.value, None))
            bound = True
            continue
        adds, added = types.added_to(node, name, None)
        if adds:
            found.append(added)
        elif type(node) in (cst.For, cst.With, cst.AugAssign, cst.AnnAssign, cst.NamedExpr, cst.Import,
                            cst.ImportFrom) and name in {n.value for n in walk(node) if type(n) is cst.Name}:
            if type(node) not in (cst.For, cst.With) or name in _bound_by(node):
                return None
    return _union(found) if bound else None


# --- ``if m.bias:`` where every module that reaches the test is bias-free ------------------------------

def bias_free_everywhere(analyzer, owner, ctx) -> bool:
    """Whether ``owner.bias`` is None for every module that can reach this test: a named layer built with
    ``bias=False``, or a loop/visitor over models whose every module is known, where each module the type
    tests around the test admit is a Linear/Conv layer built with ``bias=False``."""
    reach, known, loop, _ = analyzer._resolve_owner(owner, ctx)
    if not loop:
        return bool(reach) and known and all(layer.bias == "false" for layer in reach)
    if type(owner) is not cst.Name:
        return False
    kind, value = ctx.bindings.get(owner.value, (None, None))
    types = _model_types(analyzer)
    if kind == "parts":
        groups = [value]
    elif kind == "modules" and isinstance(value, Scope):
        if not value.is_class or not _class_known(types, value.name):
            return False
        groups = [[Part("other", instance_of=value.name)]]
    elif kind == "modules" and ctx.function is not None:
        groups = _applied_parts(analyzer, ctx.function)
    else:
        return False
    if groups is None:
        return False
    admits = _type_predicate(analyzer, types, owner.value, ctx)
    reached = False
    for parts in groups:
        for part in parts:
            held = _part_types(analyzer, types, part)
            if held is None:
                return False
            for module_type, layer in held:
                if not admits(module_type):
                    continue
                if layer is None or layer.bias != "false":
                    return False  # a module with a bias (or none initlint can tell) reaches the test
                reached = True
    # A test no module reaches here stays reported: the helper is written for models that have one.
    return reached


def _applied_parts(analyzer, function) -> Optional[list]:
    """What each ``apply`` of this visitor hands it, without layers built in a branch that excludes the
    ``apply`` (``if neck == "no": self.classifier = ...`` / ``elif ...: self.classifier.apply(f)``)."""
    given = analyzer.applied.get(id(function)) or []
    places = analyzer.applied_from.get(id(function)) or []
    if not given or len(given) != len(places) or any(parts is None for parts in given):
        return None
    groups = []
    for parts, (caller, statement) in zip(given, places):
        kept = []
        for part in parts:
            if part.kind == "layer" and caller is not None and part.layer.statement is not None \
                    and _exclusive(caller, part.layer.statement, statement):
                continue
            kept.append(part)
        groups.append(kept)
    return groups


def _exclusive(function, first, second) -> bool:
    """Two statements of one function in different branches of the same ``if``/``elif``/``else``."""
    parents = _parents_of(function)

    def branches(node):
        chain = {}
        while node is not None and node is not function:
            parent = parents.get(id(node))
            if type(parent) in (cst.If, cst.Else):
                top = parent
                while type(parents.get(id(top))) in (cst.If, cst.Else) and \
                        getattr(parents.get(id(top)), "orelse", None) is top:
                    top = parents.get(id(top))  # the head of an elif/else chain
                chain.setdefault(id(top), id(parent))
            node = parent
        return chain

    one, other = branches(first), branches(second)
    return any(head in other and other[head] != branch for head, branch in one.items())


def _part_types(analyzer, types: ModelTypes, part) -> Optional[list]:
    """(type, the Layer where it is one) for every module a part holds; None when one is unknown."""
    if part.kind == "layer":
        layer = part.layer.original or part.layer
        return [(("local", layer.class_name) if layer.custom_class else ("torch", layer.class_name), layer)]
    if part.kind == "norm":
        return [(("torch", part.norm), None)]
    if part.kind == "pass":
        return [(("torch", part.op or "Identity"), None)]
    if part.kind == "act":
        names = [name for name, (act, _) in vocab.ACTIVATION_MODULES.items() if act == part.act]
        return [(("torch", names[0] if names else "ReLU"), None)]
    if part.kind in ("seq", "list"):
        found = [(("torch", "Sequential" if part.kind == "seq" else "ModuleList"), None)]
        for element in part.elements:
            inner = _part_types(analyzer, types, element)
            if inner is None:
                return None
            found += inner
        return found
    if part.kind == "other" and part.instance_of is not None and _class_known(types, part.instance_of):
        scope = analyzer.class_scopes[part.instance_of]
        by_type: dict = {}
        for layer in analyzer.reachable_layers(scope):
            key = ("local", layer.class_name) if layer.custom_class else ("torch", layer.class_name)
            by_type.setdefault(key, []).append(layer)
        found = []
        for module_type in types.of_class(part.instance_of):
            found += [(module_type, layer) for layer in by_type.get(module_type, [None])]
        return found
    return None


def _type_predicate(analyzer, types: ModelTypes, var: str, ctx):
    """Which module types the type tests around the site admit (conditions initlint cannot read only
    narrow what reaches it, so they are left out: more modules, never fewer)."""
    from .patterns import conjuncts
    name_vars = {name for name, subject in ctx.class_name_vars.items() if subject == var}
    tests = []
    for condition in ctx.conditions:
        for test, positive in conjuncts(condition.test, condition.positive):
            found = _dispatch_test(test, var, name_vars, types)
            if found is not None:
                tests.append((found[1], positive))
    return lambda module_type: all(match(module_type) == positive for match, positive in tests)


def _model_types(analyzer) -> ModelTypes:
    types = getattr(analyzer, "_noop_model_types", None)
    if types is None:
        types = analyzer._noop_model_types = ModelTypes(analyzer.module, analyzer.imports)
    return types


def _class_known(types: ModelTypes, name: str) -> bool:
    """Every module of the class and of each class of this file deriving from it is known."""
    if types.of_class(name) is None:
        return False
    return not any(("local", name) in (types.local_bases(other) or ()) for other in types.classes)


# --- inits whose result is thrown away ---------------------------------------------------------------

@dataclass
class Discarded:
    node: cst.CSTNode       # what to report
    form: str               # "copy", "uncalled", "returns", "wrapped"
    subject: str            # the parameter expression, as written
    detail: str             # the copy call, the attribute, the function, or the wrapper
    edits: Optional[dict] = None
    origin: Optional[cst.CSTNode] = None  # "wrapped": the wrapping call


# Read-only uses of a tensor parameter inside a function that builds a new tensor from its shape.
_READ_ONLY_ATTRIBUTES = frozenset({"shape", "size", "dim", "ndim", "ndimension", "dtype", "device", "numel",
                                   "new_empty", "new_zeros", "new_ones", "new_full", "new_tensor", "is_cuda",
                                   "requires_grad"})
_NEW_FROM_SHAPE = frozenset({"len", "torch.empty_like", "torch.zeros_like", "torch.ones_like", "torch.rand_like",
                             "torch.randn_like", "torch.full_like"})


def parameter_name(module, expr) -> str:
    """``m.weight`` for ``m.weight.data``/``m.weight.detach()``, as written."""
    owner, param = param_target(expr)
    return f"{module.code_for_node(owner)}.{param}"


def parameter_expr(expr) -> bool:
    """``m.weight``/``m.bias``, maybe through ``.data`` and ``.detach()``."""
    return param_target(expr) is not None


def copy_of_parameter(expr, imports):
    """(the copying node, what replaces it) when ``expr`` is a copy of a parameter whatever the tensor is:
    ``w.clone()`` (also after ``.data``/``.detach()`` and before ``.detach()``), ``torch.clone(w)``,
    ``copy.deepcopy(w)``. ``.cpu()``, ``.to(...)`` and ``.float()`` return the tensor itself for a float32
    CPU weight, so they are not copies here."""
    expr = same_tensor(expr)
    if type(expr) is not cst.Call:
        return None
    if type(expr.func) is cst.Attribute and expr.func.attr.value == "clone" \
            and parameter_expr(expr.func.value):
        return expr, expr.func.value
    name = torch_name(imports.resolve(expr.func)) or dotted(expr.func)
    if name in ("torch.clone", "copy.deepcopy") and len(expr.args) == 1 and parameter_expr(expr.args[0].value):
        return expr, expr.args[0].value
    return None


def discarded_inits(module: cst.Module, imports, init_name):
    """Every init statement whose effect is lost. ``init_name(call)`` is the canonical torch.nn.init name
    a call makes, or None."""
    index = syntax_index(module)
    functions: dict[str, list] = {}
    for function in index.functions:
        functions.setdefault(function.name.value, []).append(function)
    wrapped = None  # built at the first init statement
    for node in index.statements:
        for small in node.body:
            if type(small) is not cst.Expr:
                continue
            value = small.value
            if type(value) is cst.Attribute and value.attr.value in vocab.TENSOR_INIT_METHODS \
                    and parameter_expr(value.value):
                edits = {value: cst.Call(func=value)} if value.attr.value == "zero_" else None
                yield Discarded(value, "uncalled", module.code_for_node(value.value), value.attr.value, edits)
                continue
            if type(value) in (cst.Attribute, cst.Name) and init_name(value) is not None \
                    and id(node) in _in_functions(index):  # at top level it may be a notebook's display
                yield Discarded(value, "uncalled", "", module.code_for_node(value))
                continue
            if type(value) is not cst.Call:
                continue
            tensor = None
            name = init_name(value.func)
            if name is not None:
                tensor = argument(value, 0, "tensor")
                method = False
            elif type(value.func) is cst.Attribute and value.func.attr.value in vocab.TENSOR_INIT_METHODS:
                tensor = value.func.value
                method = True
            if tensor is not None:
                if wrapped is None:
                    wrapped = WrappedLayers(module, imports, index)
                found = wrapped.wrapped_before(tensor, node, small) if wrapped.calls else None
                if found is not None:
                    wrap_call, label = found
                    yield Discarded(value, "wrapped", parameter_name(module, tensor), label, origin=wrap_call)
                    continue
                if method and value.func.attr.value == "copy_":
                    continue
                copied = copy_of_parameter(tensor, imports)
                if copied is not None:
                    copy_node, original = copied
                    if method and not _through_data(original):
                        # ``w.clone().normal_()`` -> ``w.detach().normal_()``: a leaf that needs grad
                        # takes no in-place op.
                        replacement = cst.Call(func=cst.Attribute(value=original, attr=cst.Name("detach")))
                    else:
                        replacement = original
                    yield Discarded(value, "copy", parameter_name(module, original),
                                    module.code_for_node(copy_node), {copy_node: replacement})
                continue
            found = _returning_function(value, functions)
            if found is not None:
                function, subject = found
                yield Discarded(value, "returns", parameter_name(module, subject), function.name.value)


# --- inits of a parameter that a wrapper computes ------------------------------------------------------

# torch 2.13's wrappers after which a module's parameter (``name=``, "weight" by default) is computed from
# new parameters, so an init of it is lost (the hook-based weight_norm recomputes it before every forward;
# the parametrizations compute it at every read). Not here: ``torch.nn.utils.spectral_norm``, whose
# ``weight`` is ``weight_orig.data`` (same storage) until the first forward, so an init of it in a
# constructor does initialise ``weight_orig``.
WEIGHT_WRAPPERS = {
    "torch.nn.utils.weight_norm": "weight_norm",
    "torch.nn.utils.weight_norm.weight_norm": "weight_norm",
    "torch.nn.utils.parametrizations.weight_norm": "parametrizations.weight_norm",
    "torch.nn.utils.parametrizations.spectral_norm": "parametrizations.spectral_norm",
}


@dataclass
class _Wrap:
    call: cst.Call
    label: str          # a WEIGHT_WRAPPERS value
    param: str          # the wrapped parameter
    paths: set          # the names the wrapped module is held in after the call
    statement: cst.CSTNode
    small: cst.CSTNode


class WrappedLayers:
    """The calls of a file that wrap a module held in a name or an attribute path (``self.conv1 =
    weight_norm(nn.Conv1d(...))``, ``conv = weight_norm(conv)``, ``weight_norm(self.conv)``), and whether an
    init certainly runs after one of them on the module it wrapped."""

    def __init__(self, module: cst.Module, imports, index) -> None:
        self.calls = []
        for call in index.calls:
            func = call.func
            if type(func) is cst.Name and imports.local_to_qualified.get(func.value) not in WEIGHT_WRAPPERS:
                continue
            if type(func) is cst.Attribute and func.attr.value not in ("weight_norm", "spectral_norm"):
                continue
            label = WEIGHT_WRAPPERS.get(torch_name(imports.resolve(func)) or "")
            if label is not None:
                self.calls.append((call, label))
        self.wraps: list = []
        if not self.calls:
            return
        self.parents: dict = {}
        walk_with_parents(module, self.parents)
        for call, label in self.calls:
            wrap = self._wrap(call, label)
            if wrap is not None:
                self.wraps.append(wrap)

    def _wrap(self, call: cst.Call, label: str) -> Optional[_Wrap]:
        if any(arg.star for arg in call.args):
            return None
        name = argument(call, 1, "name")
        param = "weight" if name is None else string(name)
        small = self.parents.get(id(call))
        if param is None or small is None:
            return None
        paths = set()
        if type(small) is cst.Assign and small.value is call and len(small.targets) == 1:
            if dotted(small.targets[0].target) is not None:
                paths.add(dotted(small.targets[0].target))
        elif not (type(small) is cst.Expr and small.value is call):
            return None  # handed on, or wrapped in an expression: not followed
        layer = argument(call, 0, "module")
        if layer is not None and dotted(layer) is not None:
            paths.add(dotted(layer))
        statement = self.parents.get(id(small))
        if not paths or type(statement) is not cst.SimpleStatementLine:
            return None
        return _Wrap(call, label, param, paths, statement, small)

    def wrapped_before(self, tensor, statement, small):
        """(the wrapping call, its label) when the init of ``tensor`` in ``small`` (of ``statement``) runs
        on a module that has been wrapped by then, on the parameter it wrapped; None else."""
        target = param_target(tensor)
        if target is None or dotted(target[0]) is None:
            return None
        path = dotted(target[0])
        for wrap in self.wraps:
            if wrap.param == target[1] and path in wrap.paths and self._after(wrap, statement, small, path):
                return wrap.call, wrap.label
        return None

    def _after(self, wrap: _Wrap, statement, small, path: str) -> bool:
        init_scope, wrap_scope = self._scope(statement), self._scope(wrap.statement)
        if init_scope is wrap_scope:
            return self._follows(wrap, statement, small, path)
        # An init in a method that the constructor calls (``self.init_weights()``) after the wrap.
        if not (type(wrap_scope) is cst.FunctionDef and wrap_scope.name.value == "__init__"
                and type(init_scope) is cst.FunctionDef and init_scope.params.params and wrap_scope.params.params):
            return False
        cls = self._class_of(wrap_scope)
        self_name = wrap_scope.params.params[0].name.value
        if cls is None or cls is not self._class_of(init_scope) or init_scope.decorators \
                or init_scope.params.params[0].name.value != self_name or not path.startswith(self_name + "."):
            return False
        if _may_unwrap(init_scope.body, path):
            return False
        called = f"{self_name}.{init_scope.name.value}"
        for node in walk(wrap_scope.body, into_defs=False):
            if type(node) is cst.Call and dotted(node.func) == called:
                call_small = self.parents.get(id(node))
                call_statement = self.parents.get(id(call_small))
                if type(call_small) is cst.Expr and type(call_statement) is cst.SimpleStatementLine \
                        and self._follows(wrap, call_statement, call_small, path):
                    return True
        return False

    def _follows(self, wrap: _Wrap, statement, small, path: str) -> bool:
        """Whether ``small`` runs only after the wrap, with ``path`` not rebound in between: the wrap is an
        earlier statement of a block that holds the init (directly or inside a compound statement)."""
        if statement is wrap.statement:
            smalls = list(statement.body)
            first = next(i for i, s in enumerate(smalls) if s is wrap.small)
            last = next(i for i, s in enumerate(smalls) if s is small)
            return first < last and not any(_may_unwrap(node, path) for node in smalls[first + 1:last])
        block = self.parents.get(id(wrap.statement))
        if type(block) not in (cst.IndentedBlock, cst.Module):
            return False
        node = statement
        while node is not None:
            parent = self.parents.get(id(node))
            if parent is block:
                siblings = list(block.body)
                first = next(i for i, s in enumerate(siblings) if s is wrap.statement)
                last = next(i for i, s in enumerate(siblings) if s is node)
                return first < last and not any(_may_unwrap(s, path) for s in siblings[first + 1:last + 1])
            if type(parent) in (cst.FunctionDef, cst.ClassDef, cst.Lambda):
                return False
            node = parent
        return False

    def _scope(self, node):
        """The function or class whose body holds ``node`` (None at module level)."""
        node = self.parents.get(id(node))
        while node is not None and type(node) not in (cst.FunctionDef, cst.ClassDef):
            node = self.parents.get(id(node))
        return node

    def _class_of(self, function):
        block = self.parents.get(id(function))
        cls = self.parents.get(id(block))
        return cls if type(cls) is cst.ClassDef else None


def _may_unwrap(node, path: str) -> bool:
    """Whether ``node`` (a statement) binds ``path`` or a prefix of it anywhere in it, or undoes a wrap
    (``remove_weight_norm(conv)``, ``parametrize.remove_parametrizations(...)``: any ``remove_*`` call)."""
    bound = {path}
    while "." in path:
        path = path.rpartition(".")[0]
        bound.add(path)
    for inner in walk(node):
        kind = type(inner)
        if kind is cst.Call:
            func = inner.func
            name = func.attr.value if type(func) is cst.Attribute else func.value if type(func) is cst.Name else ""
            if name.startswith("remove_"):
                return True
            continue
        if any(dotted(target) in bound for target in binding_targets(inner)):
            return True
    return False


def _in_functions(index) -> set:
    """ids of the simple statements inside function bodies (computed once per file, when asked)."""
    if index.in_functions is None:
        index.in_functions = {id(node) for function in index.functions for node in walk(function.body)
                              if type(node) in (cst.SimpleStatementLine, cst.SimpleStatementSuite)}
    return index.in_functions


def _through_data(expr) -> bool:
    return any(type(node) is cst.Attribute and node.attr.value == "data" or
               type(node) is cst.Call and type(node.func) is cst.Attribute and node.func.attr.value == "detach"
               for node in walk(expr))


def _returning_function(call: cst.Call, functions):
    """(function, argument) when ``call`` hands a parameter to a function of this file that returns a value
    on every path and only reads that argument's shape, dtype or device (it never writes into it)."""
    name = dotted(call.func)
    if name is None:
        return None
    short = name[5:] if name.startswith("self.") else name
    if "." in short or len(functions.get(short, ())) != 1:
        return None
    function = functions[short][0]
    first = function.params.params[0].name.value if function.params.params else None
    if (first == "self") != name.startswith("self."):
        return None  # a method called as a plain function, or the other way round: not this definition
    params = [p.name.value for p in function.params.params]
    if name.startswith("self."):
        params = params[1:]
    positional = [arg for arg in call.args if arg.keyword is None]
    if any(arg.star for arg in call.args) or len(positional) > len(params):
        return None
    handed = [(params[index], arg.value) for index, arg in enumerate(positional) if parameter_expr(arg.value)]
    handed += [(arg.keyword.value, arg.value) for arg in call.args
               if arg.keyword is not None and arg.keyword.value in params and parameter_expr(arg.value)]
    if not handed:
        return None
    body = list(walk(function.body))
    if any(type(node) in (cst.Global, cst.Nonlocal, cst.Yield, cst.Await) for node in body):
        return None
    returns = [node for node in walk(function.body, into_defs=False) if type(node) is cst.Return]
    if not returns or any(node.value is None for node in returns) or not _ends_in_return(function.body):
        return None
    for param, expr in handed:
        if not _only_read(function, param):
            return None
    return function, handed[0][1]


def _ends_in_return(body) -> bool:
    statements = block_statements(body)
    if not statements:
        return False
    last = statements[-1]
    if type(last) is cst.SimpleStatementLine:
        return type(last.body[-1]) in (cst.Return, cst.Raise)
    if type(last) is cst.If:
        return last.orelse is not None and _ends_in_return(last.body) and (
            _ends_in_return(last.orelse.body) if type(last.orelse) is cst.Else else _ends_in_return(
                cst.IndentedBlock(body=[last.orelse])))
    return False


def _only_read(function: cst.FunctionDef, param: str) -> bool:
    """Every use of ``param`` in the body reads its shape, dtype or device (``t.shape``, ``t.size(0)``,
    ``len(t)``, ``torch.empty_like(t)``)."""
    parents: dict = {}
    walk_with_parents(function.body, parents)
    for node in walk(function.body):
        if not (type(node) is cst.Name and node.value == param):
            continue
        parent = parents.get(id(node))
        if type(parent) is cst.Attribute and parent.value is node:
            if parent.attr.value in _READ_ONLY_ATTRIBUTES:
                continue
            return False
        if type(parent) is cst.Arg:
            call = parents.get(id(parent))
            if type(call) is cst.Call and dotted(call.func) in _NEW_FROM_SHAPE | {
                    "torch." + n.split(".")[-1] for n in _NEW_FROM_SHAPE if n.startswith("torch.")}:
                continue
        return False
    return True


# --- a plain tensor assigned to a registered parameter --------------------------------------------------

_TENSOR_METHODS = frozenset({"clone", "detach", "numpy", "new_empty", "new_zeros", "new_ones", "new_full",
                             "new_tensor", "contiguous", "view", "reshape", "t", "transpose", "permute"})


def plain_tensor(expr, imports) -> Optional[str]:
    """What makes ``expr`` a value that is not a Parameter (and not None) for certain, as a phrase; None
    when it may be a Parameter. ``.to()``/``.float()`` and the torch.nn.init functions return a Parameter
    when handed one, so they count only through what they are handed."""
    if type(expr) in (cst.Integer, cst.Float):
        return "a number is not a Parameter"
    if type(expr) in (cst.BinaryOperation, cst.UnaryOperation):
        return "arithmetic returns a plain tensor"
    if type(expr) is cst.Attribute and expr.attr.value == "data":
        return "`.data` is a plain tensor"
    if type(expr) is not cst.Call:
        return None
    qualified = torch_name(imports.resolve(expr.func))
    if qualified is not None:
        if qualified.startswith("torch.nn.init.") and expr.args:
            return plain_tensor(expr.args[0].value, imports)
        if qualified.count(".") == 1 and qualified[6:7].islower() \
                or qualified in ("torch.Tensor", "torch.FloatTensor"):
            return f"`{qualified}(...)` returns a plain tensor"
        return None
    if type(expr.func) is cst.Attribute:
        if expr.func.attr.value in _TENSOR_METHODS:
            return f"`.{expr.func.attr.value}()` returns a plain tensor"
        if expr.func.attr.value in ("to", "float", "double", "half", "cuda", "cpu", "type", "type_as") \
                or expr.func.attr.value.endswith("_"):
            return plain_tensor(expr.func.value, imports)
    return None


# --- one walk per file for the rules above ----------------------------------------------------------------

@dataclass
class SyntaxIndex:
    calls: list          # every call
    statements: list     # every simple statement line or suite
    functions: list      # every function definition
    in_functions: Optional[set] = None  # see ``_in_functions``


_INDEX: dict = {}


def syntax_index(module: cst.Module) -> SyntaxIndex:
    """Calls, simple statements and functions of a module (in no particular order), collected in one walk
    and kept while the module is checked."""
    cached = _INDEX.get(id(module))
    if cached is not None and cached[0] is module:
        return cached[1]
    calls, statements, functions = [], [], []
    for node in walk(module):
        if type(node) is cst.Call:
            calls.append(node)
        elif type(node) in (cst.SimpleStatementLine, cst.SimpleStatementSuite):
            statements.append(node)
        elif type(node) is cst.FunctionDef:
            functions.append(node)
    return remember_syntax_index(module, SyntaxIndex(calls, statements, functions))


def remember_syntax_index(module: cst.Module, index: SyntaxIndex) -> SyntaxIndex:
    """Keep ``index`` as ``module``'s (the analysis's own walk collects it: see index.py)."""
    _INDEX.clear()  # one file at a time
    _INDEX[id(module)] = (module, index)
    return index


# --- how many dimensions an initialised weight has --------------------------------------------------------

# Norm layers whose weight is always 1-D (LayerNorm's follows its normalized_shape, so it is not here).
ONE_D_WEIGHT_NORMS = frozenset({"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "GroupNorm",
                                "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LazyBatchNorm1d",
                                "LazyBatchNorm2d", "LazyBatchNorm3d", "_BatchNorm", "_InstanceNorm"})


def kind_dims(kind: str) -> int:
    """Dimensions of a Linear/Conv kind's weight: Linear 2, ConvNd/ConvTransposeNd N + 2."""
    return 2 if kind == "Linear" else int(kind[-2]) + 2


def weight_dims(site, facts) -> Optional[tuple]:
    """(dimensions, what has that weight) for the weight an init site reaches, when certain; None else.
    Linear/Conv layers from the analysis; a norm layer's 1-D weight from a type test around the site
    (``if isinstance(m, nn.BatchNorm2d): init(m.weight)``) or a ``self.bn`` built as one."""
    from ..rules.base import layer_names
    if site.param != "weight":
        return None
    if site.reach and site.reach_known and (not site.loop or site.exact_filter):
        dims = {kind_dims(layer.kind) for layer in site.reach}
        if len(dims) == 1:
            return dims.pop(), layer_names(site.reach, site=site)
        return None
    if site.standalone_kinds:
        dims = {kind_dims(kind) for kind in site.standalone_kinds}
        if len(dims) == 1:
            return dims.pop(), "every " + "/".join(site.standalone_kinds) + " it meets"
        return None
    norm = _norm_owner(site, facts)
    return (1, norm) if norm else None


def _norm_owner(site, facts) -> Optional[str]:
    owner = site.owner
    if type(owner) is cst.Name and site.function is not None:
        parents = _parents_of(site.function)
        node = site.statement
        while node is not None and node is not site.function:
            parent = parents.get(id(node))
            if type(parent) in (cst.IndentedBlock, cst.SimpleStatementSuite):
                branch = parents.get(id(parent))
                if type(branch) is cst.If and branch.body is parent:
                    norms = _isinstance_norms(branch.test, owner.value, facts.imports)
                    if norms:
                        return f"the {'/'.join(norms)} layers"
            node = parent
        return None
    name = dotted(owner)
    if name and name.startswith("self.") and site.function is not None:
        for scope in facts.scopes:
            if scope.is_class and any(method is site.function for method in scope.methods.values()):
                parts = scope.parts.get(name) or []
                if parts and all(part.kind == "norm" and part.norm in ONE_D_WEIGHT_NORMS for part in parts):
                    return f"{name} (a {parts[0].norm})"
    return None


def _isinstance_norms(test, var, imports) -> Optional[list]:
    from .patterns import conjuncts
    for part, positive in conjuncts(test, True):
        if positive and type(part) is cst.Call and dotted(part.func) == "isinstance" and len(part.args) == 2 \
                and type(part.args[0].value) is cst.Name and part.args[0].value.value == var:
            classes = part.args[1].value
            elements = [e.value for e in classes.elements] if type(classes) is cst.Tuple else [classes]
            names = [(torch_name(imports.resolve(element)) or "").rsplit(".", 1)[-1] for element in elements]
            if all(name in ONE_D_WEIGHT_NORMS for name in names):
                return names
    return None


_PARENTS: dict = {}


def _parents_of(function) -> dict:
    cached = _PARENTS.get(id(function))
    if cached is None or cached[0] is not function:
        parents: dict = {}
        walk_with_parents(function, parents)
        if len(_PARENTS) > 64:
            _PARENTS.clear()
        cached = _PARENTS[id(function)] = (function, parents)
    return cached[1]


_TENSOR_FACTORIES = frozenset({"torch.empty", "torch.zeros", "torch.ones", "torch.randn", "torch.rand",
                               "torch.Tensor", "torch.FloatTensor"})


def declared_dims(tensor, function, facts) -> Optional[tuple]:
    """(dimensions, its name) of ``self.x`` where the class builds it only as
    ``nn.Parameter(torch.zeros(a, b))`` (literal dimension count: sizes given one by one or as one tuple)."""
    if not (type(tensor) is cst.Attribute and type(tensor.value) is cst.Name) or function is None:
        return None
    params = function.params.params
    if not params or params[0].name.value != tensor.value.value:
        return None
    scope = next((scope for scope in facts.scopes if scope.is_class
                  and any(method is function for method in scope.methods.values())), None)
    if scope is None:
        return None
    found = set()
    for method in scope.methods.values():
        self_name = method.params.params[0].name.value if method.params.params else None
        for node in walk(method.body, into_defs=False):
            if type(node) not in (cst.Assign, cst.AnnAssign) or node.value is None:
                continue
            targets = [t.target for t in node.targets] if type(node) is cst.Assign else [node.target]
            if not any(type(t) is cst.Attribute and type(t.value) is cst.Name and t.value.value == self_name
                       and t.attr.value == tensor.attr.value for t in targets):
                continue
            found.add(_parameter_dims(node.value, facts.imports, method))
    if len(found) != 1 or None in found:
        return None
    return found.pop(), f"self.{tensor.attr.value}"


def _parameter_dims(value, imports, method) -> Optional[int]:
    if not (type(value) is cst.Call and torch_name(imports.resolve(value.func)) == "torch.nn.Parameter"
            and value.args):
        return None
    inner = value.args[0].value
    if not (type(inner) is cst.Call and torch_name(imports.resolve(inner.func)) in _TENSOR_FACTORIES):
        return None
    sizes = [arg for arg in inner.args if arg.keyword is None]
    if not sizes or any(arg.star for arg in inner.args) or any(arg.keyword is not None and arg.keyword.value == "size"
                                                               for arg in inner.args):
        return None
    if len(sizes) == 1 and type(sizes[0].value) in (cst.Tuple, cst.List):
        elements = sizes[0].value.elements
        return None if any(type(e) is cst.StarredElement for e in elements) else len(elements)
    if len(sizes) == 1:  # one size, unless it is a shape (``torch.Tensor(self.weight.size())``)
        return 1 if _an_int(sizes[0].value, method) else None
    if any(type(arg.value) in (cst.Tuple, cst.List, cst.SimpleString) for arg in sizes):
        return None
    return len(sizes)


def _an_int(expr, method) -> bool:
    """A literal integer, a parameter with an integer default or ``int`` annotation, or arithmetic on them."""
    if type(expr) is cst.Integer:
        return True
    if type(expr) is cst.BinaryOperation:
        return _an_int(expr.left, method) and _an_int(expr.right, method)
    if type(expr) is cst.Name:
        for param in list(method.params.params) + list(method.params.kwonly_params):
            if param.name.value == expr.value:
                return type(param.default) is cst.Integer or (
                    param.annotation is not None and dotted(param.annotation.annotation) == "int")
    return False


def enclosing_method(node, facts):
    """The method of a class of this file whose body holds ``node`` (None when none does)."""
    for scope in facts.scopes:
        if scope.is_class:
            for method in scope.methods.values():
                if any(inner is node for inner in walk(method.body, into_defs=False)):
                    return method
    return None
