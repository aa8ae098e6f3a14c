"""Build FileFacts from a parsed module: the Analyzer runs its passes in order.

Where each question is answered:
- layers.py: which layers and containers the code builds, and what each name or path holds;
- paths.py: what ``self.fc``, ``net.fc`` or a helper's parameter refers to;
- index.py: one walk for imports, apply calls, calls by name and type tests;
- reach.py: which layers an init reaches (module loops, ``apply`` visitors, type tests);
- sites.py: the init sites themselves, in execution order;
- flow.py: what follows each layer (Sequential order, forward data flow);
- conclusions.py: what may be initialised elsewhere, and inits that run before their layers exist.
"""
from __future__ import annotations

import itertools
from typing import Optional

import libcst as cst

from .conclusions import Conclusions
from .facts import FileFacts, InitSite, Layer, Part, Scope
from .flow import resolve_followers
from .index import ModuleIndex
from .layers import LayerCollector
from .paths import PathLookup
from .patterns import Context
from .reach import Reach
from .sites import SiteScanner
from .syntax import block_statements


class Analyzer(LayerCollector, PathLookup, ModuleIndex, Reach, SiteScanner, Conclusions):
    def __init__(self, module: cst.Module, extra_relu: frozenset = frozenset()) -> None:
        self.module = module
        self.extra_relu = extra_relu
        self._index_module()
        self.module_scope = Scope("<module>", module, is_class=False, ordered=True)
        self.scopes: list[Scope] = [self.module_scope]
        self.class_scopes: dict[str, Scope] = {}
        self.layer_classes: dict[str, str] = {}      # user subclass name -> torch kind
        self.class_ancestors: dict[str, set] = {}    # user class name -> its user-class ancestors
        self.layers: list[Layer] = []
        self.layer_parts: dict[int, Part] = {}
        self.loop_depth = 0
        self.branch_depth = 0     # inside if/try/match while collecting parts
        self.builder_depth: dict[int, int] = {}  # id(local list part) -> branch depth where it was bound
        self.init_call_index: dict[int, dict] = {}
        self.sites: list[InitSite] = []
        self.init_calls: list[tuple[cst.Call, str]] = []  # every torch.nn.init call, canonical name
        self.truth_tests: list[tuple] = []  # (node to rewrite, the ``.bias`` expression)
        self.visitor_functions: dict[int, tuple[cst.FunctionDef, Scope, str]] = {}
        self.applied: dict[int, list[Optional[Scope]]] = {}  # visitor function id -> where applied
        self.functions: list[tuple[cst.FunctionDef, Scope, bool]] = []  # (def, scope, is_method)
        self.may_init_elsewhere = False
        self.counter = itertools.count()
        # Statement order: every statement gets a number as parts are collected; names bound in a
        # function or at module level are looked up as bound at the statement being scanned (``self.at``).
        self.seq = itertools.count()
        self.statement_seq: dict[int, int] = {}
        self.at: Optional[int] = None
        self.namespaces: dict[int, Scope] = {}   # id(function) -> its local names
        self.collecting: Optional[cst.FunctionDef] = None
        self.standalone_kinds: tuple = ()   # layer kinds the site being added dispatches to, unapplied
        self.resolving: set = set()          # (function, parameter) pairs being resolved from their callers
        self.param_parts: dict = {}          # (function, parameter) -> what its callers hand it
        self.trained: set = set()            # id(function) (id(None): module level) where training ran
        self.submodule_assignments: dict[int, list] = {}  # scope id -> [(index, stmt, part)]
        self.init_method_calls: dict[int, list] = {}      # scope id -> [(index, stmt, kind, target)]

    def run(self) -> FileFacts:
        self._find_scopes(self.module.body, self.module_scope, in_class=False)
        self._find_layer_classes()
        # Layers and other parts: module level first, then every function.
        self._collect_parts(self.module.body, self.module_scope, None, None, {})
        for function, scope, is_method in self.functions:
            self_name = self._self_name(function) if is_method else None
            self.namespaces[id(function)] = Scope(function.name.value, function, is_class=False,
                                                  ordered=True, is_method=is_method)
            self.collecting = function
            self._collect_parts(block_statements(function.body), scope, function, self_name, {},
                                top_level_init=is_method and function.name.value == "__init__")
        self.collecting = None
        self._find_visitor_functions()
        order = 0
        for function, scope, is_method in self.functions:
            order += 1
            ctx = Context(scope, function, self._self_name(function) if is_method else None,
                          in_forward=is_method and function.name.value == "forward")
            ctx.order_prefix = self._order_prefix(function, scope, is_method, order)
            visitor = self.visitor_functions.get(id(function))
            if visitor is not None:
                ctx = ctx.with_binding(visitor[2], self._visitor_binding(function))
            ctx.class_name_vars = self.class_name_vars.get(id(function), {})
            self._scan_block(block_statements(function.body), ctx)
        module_ctx = Context(self.module_scope, None, None, order_prefix=(3,))
        module_ctx.class_name_vars = self.class_name_vars.get(None, {})
        self._scan_block(self.module.body, module_ctx, skip_defs=True)
        resolve_followers(self)
        self._mark_unresolved_inits()
        early = self._early_init_calls()
        return FileFacts(self.module, self.scopes, self.layers, self.sites, self.truth_tests, early,
                         self.imports, self.may_init_elsewhere, init_calls=self.init_calls)


def analyze(module: cst.Module, extra_relu: frozenset = frozenset()) -> FileFacts:
    return Analyzer(module, extra_relu).run()
