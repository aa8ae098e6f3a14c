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
from .dependencies import Dependencies
from .dormant import dormant_functions
from .facts import FileFacts, InitSite, Layer, Part, Scope
from .flow import resolve_followers
from .index import ModuleIndex
from .init_cfg import InitConfigs
from .layers import LayerCollector
from .paths import PathLookup
from .patterns import Context
from .project import Project
from .reach import Reach
from .repeats import settle_copies
from .sites import SiteScanner
from .syntax import block_statements


class Analyzer(LayerCollector, PathLookup, ModuleIndex, Dependencies, Reach, SiteScanner, InitConfigs,
               Conclusions):
    def __init__(self, module: cst.Module, extra_relu: frozenset = frozenset(), path: Optional[str] = None,
                 project: Optional[Project] = None, applied_classes: tuple = ()) -> None:
        self.module = module
        self.applied_classes = applied_classes  # (file, class name): models of other files to pull in
        self.extra_relu = extra_relu
        self.path = path
        self.project = project
        self._foreign_ids: Optional[set] = None
        self.anchors: dict[int, cst.CSTNode] = {}      # pulled-in function -> the call here that runs it
        self.function_origin: dict[int, str] = {}     # pulled-in function -> its file
        self.applied_from: dict[int, list] = {}       # visitor function -> [(caller, statement)] applying it
        self._index_module()
        self._pull_dependencies()
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
        self.builder_loops: dict[int, int] = {}  # id(local list part) -> loop depth where it was bound
        self.looped_builders: set[int] = set()   # id(local list part) grown inside a loop
        self.loop_stack: list = []               # the loops (and comprehensions) around what is collected
        # id(layer) or id(instance part) built inside exactly one loop -> (the loop, the function holding
        # it, the constructing call, its part): how many copies it stands for is settled in repeats.py
        self.built_in_loop: dict[int, tuple] = {}
        self.chained_parts: set[int] = set()     # id(part): elements a forward loop runs one after another
        self.spliced_copies: set[int] = set()    # id(part): a comprehension's element spliced into a Sequential
        self.module_constants: dict = {}         # name -> what the module binds it to once (repeats.py)
        self.param_values: dict = {}             # (id(function), parameter) -> the values its callers give
        self.init_call_index: dict[int, dict] = {}
        self.sites: list[InitSite] = []
        self.init_calls: list[tuple[cst.Call, str]] = []  # every torch.nn.init call, canonical name
        self.truth_tests: list[tuple] = []  # (node to rewrite, the ``.bias`` expression)
        self.visitor_functions: dict[int, tuple[cst.FunctionDef, Scope, str]] = {}
        self.applied: dict[int, list[Optional[Scope]]] = {}  # visitor function id -> where applied
        self.instance_calls: dict[str, set] = {}  # class name -> id of each call building an instance here
        self.applied_to_unknown_models: set[int] = set()  # visitor function ids applied to a bare unknown name
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
        self.collected: set[int] = set()          # functions whose parts are collected (builders on demand)
        self.returns: dict[int, Part] = {}        # builder function -> what it returns
        self.built: set[int] = set()              # builder functions called once already
        self.frames_inside: dict = {}             # (id(layer), id(builder)) -> its frames from builders it calls
        self.enclosing: dict[int, Optional[cst.FunctionDef]] = {}  # function -> the function it is defined in
        self.standalone_kinds: tuple = ()   # layer kinds the site being added dispatches to, unapplied
        self.resolving: set = set()          # (function, parameter) pairs being resolved from their callers
        self.param_parts: dict = {}          # (function, parameter) -> what its callers hand it
        self.trained: set = set()            # id(function) (id(None): module level) where training ran
        self.submodule_assignments: dict[int, list] = {}  # scope id -> [(index, stmt, part)]
        self.init_method_calls: dict[int, list] = {}      # scope id -> [(index, stmt, kind, target)]

    def run(self) -> FileFacts:
        self._find_scopes(self.module.body, self.module_scope, in_class=False)
        for definition, origin in self.foreign:
            known_scopes, known_functions = len(self.scopes), len(self.functions)
            self._find_scopes([definition], self.module_scope, in_class=False)
            for scope in self.scopes[known_scopes:]:
                scope.origin = origin
            for function, _, _ in self.functions[known_functions:]:
                self.function_origin[id(function)] = origin
        for name in self.foreign_names:  # ``models.Net`` as well as ``Net``
            if "." in name and name.rsplit(".", 1)[-1] in self.class_scopes:
                self.class_scopes[name] = self.class_scopes[name.rsplit(".", 1)[-1]]
        self._find_layer_classes()
        # Layers and other parts: module level first, then every function.
        self.plain_functions: dict[str, list] = {}
        for function, scope, is_method in self.functions:
            if not is_method:
                self.plain_functions.setdefault(function.name.value, []).append((function, scope))
        self._collect_parts(self.module.body, self.module_scope, None, None, {})
        for function, scope, is_method in self.functions:
            self._collect_function(function, scope, is_method)
        self._find_visitor_functions()
        self.position_of = {id(function): index + 1 for index, (function, _, _) in enumerate(self.functions)}
        order = 0
        for function, scope, is_method in self.functions:
            order += 1
            ctx = Context(scope, function, self._self_name(function) if is_method else None,
                          in_forward=is_method and function.name.value == "forward")
            ctx.order_prefix = self._order_prefix(function, scope, is_method, order)
            visitor = self.visitor_functions.get(id(function))
            if visitor is not None:
                ctx = ctx.with_binding(visitor[2], self._visitor_binding(function),
                                       self._visitor_instances(function))
            ctx.class_name_vars = self.class_name_vars.get(id(function), {})
            self._scan_block(block_statements(function.body), ctx)
        module_ctx = Context(self.module_scope, None, None, order_prefix=(3,))
        module_ctx.class_name_vars = self.class_name_vars.get(None, {})
        self._scan_block(self.module.body, module_ctx, skip_defs=True)
        self._init_cfg_sites()
        block_entries, block_instances = resolve_followers(self)
        settle_copies(self)
        self._mark_unresolved_inits()
        early = self._early_init_calls()
        # A finding in a pulled-in definition is reported here only at the call of this file that runs
        # it on this file's models (``net.apply(init_weights)``); its own file reports the rest.
        relocated = {id(site.call): (self.anchors[id(site.function)], self.function_origin[id(site.function)],
                                     self._application(site))
                     for site in self.sites if id(site.function) in self.anchors
                     and id(site.function) in self.function_origin}
        return FileFacts(self.module, self.scopes, self.layers, self.sites, self.truth_tests, early,
                         self.imports, self.may_init_elsewhere, init_calls=self.init_calls,
                         dependencies=self.dependencies, foreign=self.is_foreign_node, relocated=relocated,
                         block_entries=block_entries, block_instances=block_instances,
                         dormant=dormant_functions(self), initialised_here=self._classes_initialised_here())


def analyze(module: cst.Module, extra_relu: frozenset = frozenset(), path: Optional[str] = None,
            project: Optional[Project] = None, applied_classes: tuple = ()) -> FileFacts:
    """The facts of one file; with a ``project``, definitions its inits reach in other files are read too,
    and the classes ``applied_classes`` names (models another file applies this file's helpers to)."""
    return Analyzer(module, extra_relu, path, project, applied_classes).run()
