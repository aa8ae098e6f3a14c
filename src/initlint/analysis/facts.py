"""The facts rules read: layers, what follows them, and where their parameters are initialised."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import libcst as cst

from .syntax import dotted


@dataclass(frozen=True)
class Follower:
    """What consumes a layer's output first (pass-through ops such as dropout are skipped)."""
    kind: str  # "act", "norm", "layer", "output", "residual", "end", "unknown"
    act: Optional[str] = None
    slope: Optional[float] = None
    norm: Optional[str] = None
    # What consumes the norm's or activation's own output. Not part of equality: two layers before the
    # same activation count as followed alike whatever comes after it.
    then: Optional["Follower"] = field(default=None, compare=False)
    layer: Optional["Layer"] = field(default=None, compare=False)  # kind "layer": which one, when known
    # Something between the layer and this follower does not keep a per-channel constant per channel
    # (a reshape, dropout, zero padding): what a norm here removes is not the layer's bias.
    reshaped: bool = field(default=False, compare=False)
    # Kind "unknown" from consumers that disagree: the layers among them (the value still goes into those).
    feeds: tuple = field(default=(), compare=False)
    # Kind "unknown": instances of this file's classes (their parts) the value goes into.
    blocks: tuple = field(default=(), compare=False)

    def describe(self) -> str:
        if self.kind == "act":
            return self.act if self.slope is None else f"{self.act}(slope={self.slope:g})"
        if self.kind == "norm":
            return self.norm or "a norm layer"
        return self.kind


UNKNOWN = Follower("unknown")


@dataclass(eq=False)
class Layer:
    """One construction of a Linear/Conv layer."""
    kind: str                        # torch base kind: "Linear", "Conv2d", ...
    class_name: str                  # the class actually constructed (a user subclass too)
    call: cst.Call
    statement: Optional[cst.CSTNode]  # the statement holding the construction
    scope: "Scope"
    bias: str                        # "true", "false", "param" (a name that may be False), "unknown"
    wrapped: bool = False            # built inside a call initlint does not know (zero_module(...))
    custom_class: bool = False       # a user subclass: it may initialise itself
    paths: list[str] = field(default_factory=list)   # "self.fc", "self.mlp[0]", "model[2]"
    path_statements: dict = field(default_factory=dict)  # path -> the statement that first gave it
    repeated: bool = False           # built in a loop or comprehension: stands for several layers
    # Built in a loop the file gives the length of, its copies feeding each other in turn (nothing but
    # activations and pass-through modules between them): how many. None where that is not known.
    loop_copies: Optional[int] = None
    maybe_init: bool = False         # code initlint cannot follow may initialise it
    comprehension: bool = False      # the element of a comprehension (every element is such a layer)
    values_loaded: bool = False      # weights are loaded into it after construction (load_state_dict)
    follower: Follower = UNKNOWN
    # A builder called more than once (``conv_block(3, 32)``, ``conv_block(32, 32)``) makes one Layer per
    # construction for the rules, and for the model's signal path a copy per later call: the original
    # stands for the first call. ``path_follower``: what follows the first call's layer (``follower``
    # merges every call's). ``bindings``: per builder call around the construction, innermost first, the
    # builder's parameters (never rebound in it) and the expressions the call gives them.
    original: Optional["Layer"] = None
    copies: list["Layer"] = field(default_factory=list)
    path_follower: Optional[Follower] = None
    bindings: tuple = ()

    @property
    def looped(self) -> bool:
        """Built in a loop or comprehension: stands for several layers along a path (``repeated`` also
        marks a builder's layers called again, whose later calls have their copies)."""
        return (self.copies[0] if self.copies else self).repeated

    @property
    def name(self) -> str:
        """Its first path, preferring a name (``self.mlp.fc1``) to a negative index (``self.mlp[-4]``), and
        either to a builder's own name for it (``make_mlp()[0]``)."""
        plain = [p for p in self.paths if "[-" not in p and "()" not in p] or \
            [p for p in self.paths if "()" not in p] or [p for p in self.paths if "[-" not in p]
        named = [p for p in plain if not p.endswith("]")]
        return (named or plain or self.paths or [self.class_name])[0]


@dataclass(eq=False)
class Part:
    """What a module-building expression makes."""
    kind: str  # "layer", "act", "norm", "pass", "seq", "list", "other"
    layer: Optional[Layer] = None
    act: Optional[str] = None
    slope: Optional[float] = None
    norm: Optional[str] = None
    elements: list["Part"] = field(default_factory=list)
    element_names: list[Optional[str]] = field(default_factory=list)
    instance_of: Optional[str] = None  # "other": an instance of this file's class of that name
    repeated: bool = False  # a comprehension: one element stands for many
    # "other": an instance built in a loop of known length whose copies run one after another (a forward
    # loop ``for blk in self.blocks: x = blk(x)``, or a Sequential): how many. None where not known.
    loop_copies: Optional[int] = None
    conditional: bool = False  # built with appends under an ``if``: the order of elements is uncertain
    parent: Optional[tuple] = None  # (enclosing Sequential part, index) for nested Sequentials
    keys: Optional[frozenset] = None  # "other": a dict literal with these keys (for ``**kwargs``)
    op: Optional[str] = None          # "pass": the module class (``Dropout``, ``Flatten``)
    chunks: list = field(default_factory=list)  # per element: the statement that added it (None: unknown)
    uncertain_from: Optional[int] = None  # elements from here on follow an unknown number of others
    also: list = field(default_factory=list)  # further (Sequential, index) places of the same module


@dataclass(eq=False)
class InitSite:
    """One place a weight or bias is (re)initialised."""
    call: cst.CSTNode                  # the call (or assignment) doing it
    statement: cst.CSTNode             # the simple statement holding it
    function: Optional[cst.FunctionDef]
    func: str                          # canonical: "zeros_", "fill_", "kaiming_normal_", "other", ...
    via: str                           # "torch" (nn.init), "method" (w.zero_()), "other", "helper"
    param: str                         # "weight" or "bias"
    owner: cst.BaseExpression          # the module expression: ``self.fc``, ``m``
    reach: list[Layer] = field(default_factory=list)
    reach_known: bool = True           # False: may touch layers initlint cannot name
    loop: bool = False                 # reached through a modules() loop / apply function / list loop
    exact_filter: bool = True          # the loop's condition tests only types (and bias presence)
    guarded: bool = False              # under a test of the bias (``if m.bias is not None``)
    in_forward: bool = False
    deprecated: bool = False
    order: tuple = ()
    args: Optional[cst.Call] = None    # the call whose arguments configure the init
    # In a helper applied to no model initlint can see: the layer kinds its type tests admit. Such a site
    # reaches no layer, but what it does to every layer of these kinds can still be wrong.
    standalone_kinds: tuple = ()
    config: bool = False               # an OpenMMLab ``init_cfg`` dict: no call to rewrite
    # The instances (ids of their parts) of a class built more than once in the file that this site reaches
    # through (``model_uniform.apply(f)``); None: every instance. A later init of other instances leaves
    # this one in effect for these.
    instances: Optional[frozenset] = None

    def argument(self, position: int, keyword: str):
        from .syntax import argument
        return None if self.args is None else argument(self.args, position, keyword)


@dataclass(eq=False)
class Scope:
    """A class body (``self.x`` paths) or the module (plain names)."""
    name: str
    node: cst.CSTNode
    is_class: bool
    bases: list[Optional[str]] = field(default_factory=list)
    methods: dict[str, cst.FunctionDef] = field(default_factory=dict)
    parts: dict[str, list[Part]] = field(default_factory=dict)     # path -> what is assigned there
    layers: list[Layer] = field(default_factory=list)
    may_init_elsewhere: bool = False  # an init initlint cannot follow may reach these layers
    uses_classes: set[str] = field(default_factory=set)
    ordered: bool = False             # a function's or the module's names: bindings follow statement order
    origin: Optional[str] = None      # a class pulled in from another file: that file, relative to this one
    is_method: bool = False           # the local names of a method (not paths that name its layers)
    part_seqs: dict[str, list[int]] = field(default_factory=dict)  # path -> statement numbers, as parts


@dataclass(eq=False)
class FileFacts:
    module: cst.Module
    scopes: list[Scope]
    layers: list[Layer]
    sites: list[InitSite]
    bias_truth_tests: list[tuple]  # (``m.bias`` or ``not m.bias``, ``m.bias``) used as a truth value
    early_apply_calls: list[tuple[cst.CSTNode, Scope, cst.CSTNode]]  # (call stmt, scope, last assignment stmt)
    imports: object
    may_init_elsewhere: bool = False
    init_calls: list = field(default_factory=list)  # (call, canonical name) for every torch.nn.init call
    dependencies: list = field(default_factory=list)  # other files of the project read for this one
    foreign: Optional[object] = None  # node -> whether it belongs to a definition pulled in from them
    relocated: dict = field(default_factory=dict)  # id(pulled-in init call) -> (call here running it, file)
    # The model's path across its blocks: what each class's ``forward`` input meets first (class name ->
    # Follower), and each instance of a class of this file: (its part, the scope holding it, what
    # follows its output).
    block_entries: dict = field(default_factory=dict)
    block_instances: list = field(default_factory=list)
    dormant: frozenset = frozenset()  # id() of init methods that never run (nothing calls them, a flag that is off)
    # (file, class name): classes of the project's other files whose instances this file initialises
    initialised_here: list = field(default_factory=list)
    _sites_by_layer: Optional[dict] = field(default=None, init=False, repr=False)

    def classes_holding(self, layers) -> tuple:
        """The names of this file's classes that hold any of ``layers`` (directly, not through another
        class): whose instances an init elsewhere in the run may reach."""
        wanted = {id(layer) for layer in layers}
        return tuple(sorted({scope.name for scope in self.scopes if scope.is_class and scope.origin is None
                             and any(id(layer) in wanted for layer in scope.layers)}))

    def sites_for(self, layer: Layer, param: str) -> list[InitSite]:
        """The sites reaching this layer's parameter, in source order (indexed once per file)."""
        if self._sites_by_layer is None:
            self._sites_by_layer = {}
            for site in self.sites:
                for reached in {id(r) for r in site.reach}:
                    self._sites_by_layer.setdefault((reached, site.param), []).append(site)
        return self._sites_by_layer.get((id(layer), param), [])

    def effective_sites(self, layer: Layer, param: str) -> list[InitSite]:
        """Sites not overridden by a later init of the same parameter."""
        sites = sorted(self.sites_for(layer, param), key=lambda s: s.order)
        if not sites:
            return []
        last = sites[-1].order
        if all(s.instances is None for s in sites):  # the usual case: the last init replaces the others
            return [s for s in sites if s.order == last]
        return [s for s in sites if s.order == last or not any(
            t.order > s.order and _covers(t, s) for t in sites)]

    def is_effective(self, site: InitSite, layer: Layer) -> bool:
        return any(s is site for s in self.effective_sites(layer, site.param))

    def own_findings(self, raw: list) -> list:
        """Findings of this file: those in pulled-in definitions move to the call here that runs them
        (without a fix: the code to change is in the other file), or are dropped. Findings on an
        ``init_cfg`` dict or a module helper say so, and carry no fix (there is no init call to rewrite)."""
        configs = {id(site.call) for site in self.sites if site.config}
        kept = []
        for finding in raw:
            if id(finding.node) in configs and finding.code != "INI107":  # INI107 reads the helper call itself
                # An init_cfg dict or a module helper: no init call to rewrite.
                finding.fix = None
                helper = dotted(finding.node.func) if type(finding.node) is cst.Call else None
                finding.message += f" (what `{helper}` does)" if helper and helper != "dict" else " (this init_cfg)"
            if self.foreign is None or not self.foreign(finding.node):
                kept.append(finding)
                continue
            moved = self.relocated.get(id(finding.node))
            if moved is not None:
                anchor, origin, application = moved
                kept.append(type(finding)(finding.code, anchor, f"{finding.message} (in {origin}, run here)",
                                          application=application))
        return kept


def _covers(later: InitSite, earlier: InitSite) -> bool:
    """Whether ``later`` re-initialises every instance ``earlier`` initialises."""
    return later.instances is None or (earlier.instances is not None and earlier.instances <= later.instances)


def held_parts(scope: "Scope", seen: Optional[set] = None):
    """Every part ``scope`` files under its paths, and the elements inside them, each once (``seen``: ids
    of parts already given, shared across scopes by a caller that walks several)."""
    seen = set() if seen is None else seen
    todo = [part for parts in scope.parts.values() for part in parts]
    while todo:
        part = todo.pop()
        if id(part) in seen:
            continue
        seen.add(id(part))
        todo.extend(part.elements)
        yield part
