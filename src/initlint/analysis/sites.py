"""Init sites: every place a weight or bias is (re)initialised, in execution order."""
from __future__ import annotations

import libcst as cst

from . import vocab
from .facts import InitSite, Scope
from .names import torch_name, vendored
from .noop import bias_free_everywhere
from .patterns import (HEAD, INIT_LIKE_NAME, Context, blocks_of, ends_block, is_self_path, loop_names, mentions_bias,
                       param_target, trains, truth_tested)
from .syntax import argument, block_statements, dotted, string, walk


class SiteScanner:
    """Part of the Analyzer (see collect.py): its methods share the Analyzer's state."""

    def _order_prefix(self, function, scope, is_method, position) -> tuple:
        if not is_method:
            # A helper runs where it is first called or applied from a script or a plain function.
            runs = list(self.applied_from.get(id(function), ()))
            runs += [(caller, statement) for call, caller, statement
                     in self.calls_by_name.get(function.name.value, ()) if not self._is_method_call(call)]
            orders = [((3,) if caller is None else (2, self.position_of[id(caller)]))
                      + (self.statement_seq[id(statement)],)
                      for caller, statement in runs
                      if id(statement) in self.statement_seq and (caller is None or (
                          id(caller) in self.position_of and id(caller) not in self.method_scopes))]
            return min(orders) if orders else (2, position)
        init = scope.methods.get("__init__")
        if function is init:
            return (0,)
        index = self._methods_called_from_init(scope).get(function.name.value)
        return (0, index, 1) if index is not None else (1, position)

    def _methods_called_from_init(self, scope: Scope) -> dict:
        """``{method name: index of the first __init__ statement calling it}`` (``self.m()`` or
        ``self.apply(self.m)``), computed once per class."""
        cached = self.init_call_index.get(id(scope))
        if cached is None:
            cached = {}
            init = scope.methods.get("__init__")
            for index, statement in enumerate(block_statements(init.body) if init else ()):
                for node in walk(statement):
                    if type(node) is cst.Call and type(node.func) is cst.Attribute \
                            and dotted(node.func.value) == "self":
                        name = node.func.attr.value
                        if name == "apply" and node.args and type(node.args[0].value) is cst.Attribute:
                            name = node.args[0].value.attr.value
                        cached.setdefault(name, index)
            self.init_call_index[id(scope)] = cached
        return cached

    def _scan_block(self, statements, ctx: Context, skip_defs=False) -> None:
        for statement in statements:
            if type(statement) in (cst.FunctionDef, cst.ClassDef):
                continue
            self.at = self.statement_seq.get(id(statement))
            if type(statement) in (cst.SimpleStatementLine, cst.SimpleStatementSuite):
                for small in statement.body:
                    self._scan_small(small, statement, ctx)
                continue
            if type(statement) is cst.If:
                self._scan_if(statement, ctx)
                body = block_statements(statement.body)
                if statement.orelse is None and body and ends_block(body[-1]):
                    ctx = ctx.with_condition(statement.test, False)
                continue
            if type(statement) is cst.For:
                binding = self._loop_binding(statement.iter, ctx)
                inner = ctx
                if binding is not None:
                    instances = self._loop_instances(statement.iter, ctx)
                    for name in loop_names(statement.target):
                        inner = inner.with_binding(name, binding, instances)
                self._scan_expression(statement.iter, statement, ctx)
                self._scan_block(block_statements(statement.body), inner)
                if statement.orelse is not None:
                    self._scan_block(block_statements(statement.orelse.body), ctx)
                continue
            for block in blocks_of(statement):
                self._scan_block(block, ctx)

    def _scan_if(self, statement: cst.If, ctx: Context) -> None:
        self._note_truth_tests(statement.test, ctx)
        self._scan_expression(statement.test, statement, ctx)
        self._scan_block(block_statements(statement.body), ctx.with_condition(statement.test, True))
        orelse = statement.orelse
        if type(orelse) is cst.If:
            self._scan_if(orelse, ctx.with_condition(statement.test, False))
        elif orelse is not None:
            self._scan_block(block_statements(orelse.body), ctx.with_condition(statement.test, False))

    def _scan_small(self, small, statement, ctx: Context) -> None:
        if type(small) in (cst.Assign, cst.AugAssign):
            targets = [t.target for t in small.targets] if type(small) is cst.Assign else [small.target]
            for target in targets:
                while type(target) is cst.Subscript:  # ``m.bias.data[:] = 0``
                    target = target.value
                parsed = param_target(target)
                if parsed is not None:
                    self._add_site(small, statement, ctx, "other", "other", parsed, None)
        self._scan_expression(small, statement, ctx)

    def _scan_expression(self, node, statement, ctx: Context) -> None:
        for child in walk(node, into_defs=False):
            if type(child) is cst.Call:
                self._scan_call(child, statement, ctx)

    def _scan_call(self, call: cst.Call, statement, ctx: Context) -> None:
        qualified = torch_name(self.imports.resolve(call.func))
        init_name = qualified[len(vocab.INIT_MODULE) + 1:] \
            if qualified and qualified.startswith(vocab.INIT_MODULE + ".") else None
        if init_name is None and qualified and qualified.endswith(".trunc_normal_") and vendored(qualified, "timm"):
            init_name = "trunc_normal_"  # timm's has torch's signature and defaults
        if init_name is not None:
            name = init_name
            deprecated = name in vocab.DEPRECATED_INIT_FUNCTIONS
            canonical = vocab.DEPRECATED_INIT_FUNCTIONS.get(name, name)
            if canonical == "calculate_gain":  # INI107 checks its argument too
                self.init_calls.append((call, canonical))
            if canonical not in vocab.INIT_FUNCTIONS:
                return
            self.init_calls.append((call, canonical))
            target = argument(call, 0, "tensor")
            parsed = param_target(target) if target is not None else None
            if parsed is None and self._is_parameter_loop_var(target, ctx):
                self._init_initlint_cannot_name(ctx)
            site = self._add_site(call, statement, ctx, canonical, "torch", parsed, call,
                                  deprecated=deprecated)
            if site is None and (deprecated or ctx.in_forward):
                # Still worth reporting (INI201/INI203) even when the target is not a layer parameter.
                self.sites.append(InitSite(call, statement, ctx.function, canonical, "torch", "unknown",
                                           target, reach_known=False, in_forward=ctx.in_forward,
                                           deprecated=deprecated, order=self._next_order(ctx), args=call))
            return
        if qualified and qualified.rsplit(".", 1)[-1] in vocab.MODULE_INIT_HELPERS and any(
                vendored(qualified, package) for package in vocab.MODULE_INIT_HELPER_PACKAGES):
            target = argument(call, 0, "module")
            parsed = param_target(target) if target is not None else None
            if parsed is not None:
                self.sites.append(InitSite(call, statement, ctx.function, qualified.rsplit(".", 1)[-1],
                                           "helper", parsed[1], parsed[0], reach_known=False,
                                           order=self._next_order(ctx), args=call))
            elif not self._module_helper_sites(call, qualified.rsplit(".", 1)[-1], target, statement, ctx):
                self._note_unknown_call(call, statement, ctx)  # handed a module it may initialise
            return
        func = call.func
        if trains(call, qualified):
            self.trained.add(id(ctx.function))
        if (type(func) is cst.Attribute and func.attr.value == "load_state_dict") or \
                (qualified and qualified.rsplit(".", 1)[-1] == "load_checkpoint" and call.args):
            self._note_loaded(func.value if type(func) is cst.Attribute and func.attr.value == "load_state_dict"
                              else call.args[0].value, ctx)
            return
        if type(func) is cst.Attribute and func.attr.value in vocab.TENSOR_INIT_METHODS:
            parsed = param_target(func.value)
            if parsed is not None:
                self._add_site(call, statement, ctx, func.attr.value, "method", parsed, call)
            elif self._is_parameter_loop_var(func.value, ctx):
                self._init_initlint_cannot_name(ctx)
            return
        if qualified is None or not qualified.startswith("torch"):
            self._note_unknown_call(call, statement, ctx)

    def _note_loaded(self, model, ctx: Context) -> None:
        """Weights loaded into a model of this file, unconditionally and before any training in the same
        body, replace whatever init it had (a best checkpoint loaded after training does not)."""
        if ctx.conditions or (ctx.scope.is_class and ctx.self_name is not None) or id(ctx.function) in self.trained:
            return
        for part in self.modules_given(model, ctx.function, self.at) or ():
            for layer in self._layers_of_part(part):
                layer.values_loaded = True

    def _module_helper_sites(self, call, name, target, statement, ctx) -> bool:
        """``kaiming_init(m)``, ``normal_init(self.fc, std=0.01)``, ``c2_xavier_fill(conv)``: the inits
        an OpenMMLab/fvcore helper makes on the module it is handed, as sites of its weight and bias
        that rules judge like the calls they stand for (without a fix: the helper call is not one)."""
        spec = vocab.MODULE_HELPER_INITS.get(name)
        if spec is None or target is None or type(target) not in (cst.Name, cst.Attribute, cst.Subscript):
            return False
        reach, _, loop, exact = self._resolve_owner(target, ctx)
        if not reach:
            return False
        params, template = spec
        given = {}
        for position, (param, default) in enumerate(params):
            value = argument(call, position + 1, param)
            given[param] = self.module.code_for_node(value) if value is not None else default
        distribution = string(cst.parse_expression(given["distribution"])) if "distribution" in given else None
        if "distribution" in given and distribution not in ("normal", "uniform"):
            return False
        fields = {}
        for param, code in given.items():
            if f"={{{param}}}" in template:  # ``a={a}``: always written, with the helper's default
                fields[param] = code
            else:  # ``{mean}``: written only where the call gives it (torch's default is the same)
                fields[param] = f", {param}={code}" if code is not None else ""
        fields["distribution"] = distribution
        weight_call = cst.parse_expression(template.format(**fields))
        order = self._next_order(ctx)
        self.sites.append(InitSite(call, statement, ctx.function, dotted(weight_call.func), "torch", "weight",
                                   target, reach=reach, loop=loop, exact_filter=exact, in_forward=ctx.in_forward,
                                   order=order, args=weight_call, config=True))
        bias_call = cst.parse_expression(f"constant_(b, {given.get('bias') or '0'})")
        self.sites.append(InitSite(call, statement, ctx.function, "constant_", "torch", "bias", target,
                                   reach=reach, loop=loop, exact_filter=exact, in_forward=ctx.in_forward,
                                   order=order, args=bias_call, config=True,
                                   guarded=True))  # the helpers test ``bias is not None`` themselves
        return True

    def _note_unknown_call(self, call: cst.Call, statement, ctx: Context) -> None:
        """A call initlint cannot see into may initialise what it is handed: ``init_weights(self)``,
        ``c2_msra_fill(self.conv)``, ``lecun_normal_(self.fc.weight)``."""
        name = (dotted(call.func) or "").rsplit(".", 1)[-1]
        if not INIT_LIKE_NAME.search(name):
            return  # ``_log_api_usage_once(self)``, ``print(self.fc)``: handed a module, not initialising it
        for arg in call.args:
            value = arg.value
            if type(value) is cst.Name and value.value == ctx.self_name:
                ctx.scope.may_init_elsewhere = True
                continue
            parsed = param_target(value)
            if parsed is not None:
                self._add_site(call, statement, ctx, "other", "other", parsed, call)
                continue
            if type(value) in (cst.Name, cst.Attribute, cst.Subscript):
                reach, _, loop, exact = self._resolve_owner(value, ctx)
                for param in ("weight", "bias") if reach else ():
                    self.sites.append(InitSite(call, statement, ctx.function, "other", "other", param, value,
                                               reach=reach, loop=loop, exact_filter=exact,
                                               in_forward=ctx.in_forward, order=self._next_order(ctx)))

    def _is_parameter_loop_var(self, expr, ctx: Context) -> bool:
        while type(expr) is cst.Attribute and expr.attr.value == "data":
            expr = expr.value
        return type(expr) is cst.Name and ctx.bindings.get(expr.value, (None,))[0] == "params"

    def _init_initlint_cannot_name(self, ctx: Context) -> None:
        """An init of parameters initlint cannot tell apart (``for p in self.parameters()``)."""
        if ctx.scope.is_class and ctx.self_name is not None:
            ctx.scope.may_init_elsewhere = True
        else:
            self.may_init_elsewhere = True

    def _next_order(self, ctx: Context) -> tuple:
        if ctx.self_name is None:  # scripts and plain functions run in statement order
            return ctx.order_prefix + (self.at or 0, next(self.counter))
        return ctx.order_prefix + (next(self.counter),)

    def _add_site(self, node, statement, ctx, func, via, parsed, call, deprecated=False):
        if parsed is None:
            return None
        owner, param = parsed
        self.standalone_kinds = ()
        reach, known, loop, exact = self._resolve_owner(owner, ctx)
        if not reach and known is False and not loop:
            # An init of something initlint cannot name may reach, from elsewhere, the layers of this
            # file found at the same path (``model.fc`` -> any class's ``self.fc``).
            if ctx.scope.is_class and ctx.self_name is not None:
                ctx.scope.may_init_elsewhere = True
            else:
                self._mark_same_path(owner, ctx)
        site = InitSite(node, statement, ctx.function, func, via, param, owner, reach=reach,
                        reach_known=known, loop=loop, exact_filter=exact,
                        guarded=self._guarded(ctx), in_forward=ctx.in_forward, deprecated=deprecated,
                        order=self._next_order(ctx), args=call, standalone_kinds=self.standalone_kinds,
                        instances=self._site_instances(owner, ctx) if reach else None)
        self.standalone_kinds = ()
        self.sites.append(site)
        return site

    def _loop_instances(self, iterable, ctx: Context):
        """``for m in model_uniform.modules()``: the instances walked (see InitSite.instances)."""
        if not (type(iterable) is cst.Call and type(iterable.func) is cst.Attribute
                and iterable.func.attr.value in ("modules", "named_modules", "children", "named_children")):
            return None
        return self._instances_through(iterable.func.value, ctx)

    def _site_instances(self, owner, ctx: Context):
        """The instances an init of ``owner`` reaches through: a loop's or visitor's, or ``model_0.fc1``'s."""
        if type(owner) is cst.Name and owner.value in ctx.bindings:
            return ctx.instances.get(owner.value)
        return self._instances_through(owner, ctx)

    def _instances_through(self, expr, ctx: Context):
        if not any(len(calls) > 1 for calls in self.instance_calls.values()):
            return None  # the usual case: no class is built twice here
        path = self._path(expr, ctx.self_name, ctx.scope)
        if path is None or is_self_path(path):
            return None
        head = HEAD.match(path).group(0)
        return self._instances_of(self.lookup(head, ctx.scope, ctx.function, self.at))

    def _guarded(self, ctx: Context) -> bool:
        return any(mentions_bias(c.test) for c in ctx.conditions)

    def _note_truth_tests(self, test, ctx: Context) -> None:
        for node, expr in truth_tested(test):
            if not (type(expr) is cst.Attribute and expr.attr.value == "bias"):
                continue
            owner = expr.value
            if type(owner) is cst.Name and owner.value == ctx.self_name:
                continue  # ``self.bias`` is often the module's own flag
            if (type(owner) is cst.Name and owner.value in ctx.bindings) or self._resolve_owner(owner, ctx)[0]:
                if not bias_free_everywhere(self, owner, ctx):  # None is simply False: nothing raises
                    self.truth_tests.append((node, expr))
