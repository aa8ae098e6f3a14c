"""OpenMMLab's ``init_cfg``: the inits a ``BaseModule`` declares as data, run by ``init_weights()``.

``init_cfg=dict(type="Constant", layer="Conv2d", val=0)`` (the default of ``__init__``'s ``init_cfg``
parameter, or handed to ``super().__init__``) initialises every Conv2d of the module after it is
built. Each config becomes init sites of the layers it names, so the rules judge it like the calls it
stands for; the finding points at the ``dict(...)``. ``override=dict(name="conv_cls", ...)`` reaches the
submodule of that name. Only ``dict(...)`` calls with literal keys are read.
"""
from __future__ import annotations

from typing import Optional

import libcst as cst

from .facts import InitSite, Scope
from .syntax import argument, dotted, string, walk

# init_cfg type -> the torch.nn.init function it runs (Xavier and Kaiming: by ``distribution``, which
# defaults to "normal"; Kaiming's default nonlinearity is relu, as torch's gain for leaky_relu with a=0).
_TYPES = {"Constant": "constant_", "Normal": "normal_", "TruncNormal": "trunc_normal_", "Uniform": "uniform_",
          "Caffe2Xavier": "kaiming_uniform_"}
_BY_DISTRIBUTION = {"Xavier": "xavier_{}_", "Kaiming": "kaiming_{}_"}


class InitConfigs:
    """Part of the Analyzer (see collect.py): its methods share the Analyzer's state."""

    def _init_cfg_sites(self) -> None:
        if self.name_uses.get("init_cfg", 0) <= 0:
            return
        for scope in self.scopes:
            if not scope.is_class or "__init__" not in scope.methods:
                continue
            for config in self._init_configs(scope):
                self._config_sites(config, scope)

    def _init_configs(self, scope: Scope) -> list:
        """The ``dict(...)`` init configs of a class: ``__init__``'s ``init_cfg`` default, or what it
        hands ``super().__init__``; a list literal holds several."""
        init = scope.methods["__init__"]
        found = []
        for param in init.params.params + init.params.kwonly_params:
            if param.name.value == "init_cfg" and param.default is not None:
                found.append(param.default)
        for node in walk(init.body):
            if type(node) is cst.Call and dotted(node.func) == "super().__init__" or (
                    type(node) is cst.Call and type(node.func) is cst.Attribute
                    and node.func.attr.value == "__init__" and type(node.func.value) is cst.Call
                    and dotted(node.func.value.func) == "super"):
                value = argument(node, 0, "init_cfg")
                if value is not None and type(value) is not cst.Name:
                    found.append(value)
        configs = []
        for value in found:
            elements = [e.value for e in value.elements] if type(value) in (cst.List, cst.Tuple) else [value]
            configs.extend(e for e in elements if type(e) is cst.Call and dotted(e.func) == "dict")
        return configs

    def _config_sites(self, config: cst.Call, scope: Scope, names: Optional[list] = None) -> None:
        kind = string(argument(config, None, "type"))
        distribution = string(argument(config, None, "distribution")) or "normal"
        if kind in _BY_DISTRIBUTION and distribution in ("normal", "uniform"):
            func = _BY_DISTRIBUTION[kind].format(distribution)
        elif kind in _TYPES:
            func = _TYPES[kind]
        else:
            return
        layers = self.reachable_layers(scope)
        if names is not None:  # an override: the submodules of these names
            reach = [layer for layer in layers if any(p.split(".")[-1] in names for p in layer.paths)]
        else:
            wanted = _strings(argument(config, None, "layer"))
            if wanted is None:
                return
            reach = [layer for layer in layers if layer.class_name in wanted or layer.kind in wanted]
        order = (1, 0, next(self.counter))  # init_weights() runs after the module is built
        if reach:
            # Read like the call it stands for (keywords ``val``, ``std``, ``mean``, ``a``, ``b``, ``gain``).
            self.sites.append(InitSite(config, config, None, func, "torch", "weight", config, reach=list(reach),
                                       loop=names is None, order=order, args=config, config=True))
            if argument(config, None, "bias") is not None or argument(config, None, "bias_prob") is not None:
                self.sites.append(InitSite(config, config, None, "constant_", "torch", "bias", config,
                                           reach=list(reach), loop=names is None, order=order, config=True))
        override = argument(config, None, "override")
        if names is None and type(override) is cst.Call and dotted(override.func) == "dict":
            override_names = _strings(argument(override, None, "name"))
            if override_names:
                self._config_sites(override, scope, override_names)


def _strings(expr) -> Optional[list]:
    if expr is None:
        return None
    if type(expr) in (cst.List, cst.Tuple):
        values = [string(element.value) for element in expr.elements]
        return None if None in values else values
    value = string(expr)
    return None if value is None else [value]
