"""``init_model_``: initialise every Linear/Conv by what actually follows it."""
from __future__ import annotations

import dataclasses
import fnmatch
import functools
import hashlib
import math
import sys
from dataclasses import dataclass
from typing import Any, Iterable, Optional

import torch
import torch.nn as nn
from torch.nn.utils import parametrize

from .fans import fan
from .fingerprints import fingerprint
from .follow import Follower, attention_out_projections, eval_mode, find_followers, is_layer, run_inputs
from .helpers import fill_
from .measure import batch_statistics, second_moment
from .policy import Decision, InitPolicy

# Norm layers whose weight is a scale (gamma); a zero gamma is a deliberate choice.
_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm) + \
    ((nn.RMSNorm,) if hasattr(nn, "RMSNorm") else ())

_EMBEDDING_TYPES = (nn.Embedding, nn.EmbeddingBag)

# LSUV: stop when the layer's output second moment is within this of 1.
_CALIBRATION_TOLERANCE = 0.02
_CALIBRATION_PASSES = 4


@dataclass(frozen=True)
class ParamInit:
    """What one parameter got.

    action: "he" | "lecun" | "xavier" | "zero" | "prior" | "constant" | "custom" | "kept"
            | "skipped" | "untouched" (not a Linear/Conv parameter)
    replaced: what the weight held before, when that was not PyTorch's default
            (someone had initialised it), e.g. "N(0, 0.02)"
    tied: the other names of this same tensor (initialised once)
    calibration: the factor LSUV multiplied the weight by (``calibrate=True``)
    """

    name: str
    action: str
    std: Optional[float] = None
    gain: Optional[float] = None
    fan: Optional[float] = None
    mode: Optional[str] = None
    distribution: Optional[str] = None
    value: Optional[float] = None      # constant the tensor was filled with
    seed: Optional[int] = None
    follower: str = ""
    reason: str = ""
    replaced: str = ""
    tied: tuple = ()
    calibration: Optional[float] = None


@dataclass
class InitRecord:
    """Per-parameter record returned by :func:`init_model_`: every name of every
    parameter (tied ones under each of their names), in ``named_parameters`` order."""

    params: dict
    strategy: str  # how followers were found: "fx" or "torch_function"

    def __getitem__(self, name: str) -> ParamInit:
        return self.params[name]

    def format(self) -> str:
        header = ("parameter", "init", "std", "gain", "follows", "why")
        rows = [header]
        for entry in self.params.values():
            action = entry.action if entry.distribution is None else f"{entry.action} ({entry.distribution})"
            notes = [entry.reason]
            if entry.replaced:
                notes.append(f"replaced {entry.replaced}")
            if entry.tied:
                notes.append(f"tied to {', '.join(entry.tied)}")
            rows.append((
                entry.name, action,
                "" if entry.std is None else f"{entry.std:.4g}",
                "" if entry.gain is None else f"{entry.gain:.4g}",
                entry.follower,
                "; ".join(note for note in notes if note),
            ))
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * width for width in widths))
        lines.append(f"(followers found by {self.strategy})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def param_seed(name: str, base_seed: int = 0) -> int:
    """Stable 63-bit seed from a parameter's qualified name: independent of module
    order, Python's hash randomisation and the global RNG."""
    digest = hashlib.blake2b(f"{base_seed}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def clean_name(name: str) -> str:
    """A name as the bare model has it: without torch.compile's ``_orig_mod.``."""
    return name.replace("_orig_mod.", "")


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside DataParallel / DistributedDataParallel / torch.compile wrappers."""
    while True:
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):  # torch.compile's OptimizedModule
            model = model._orig_mod
        else:
            return model


def _refuse_sharded(model: nn.Module) -> None:
    if type(model).__name__ == "FullyShardedDataParallel":
        raise ValueError("init_model_ must run before FSDP wraps the model: its parameters are flattened shards")
    # A DTensor can only exist once its module has been imported (importing it here would take seconds).
    tensor_module = sys.modules.get("torch.distributed.tensor")
    if tensor_module is None:
        return
    for name, param in model.named_parameters():
        if isinstance(param, tensor_module.DTensor):
            raise ValueError(
                f"{name} is a sharded DTensor: call init_model_ on the model before fully_shard()/FSDP2 "
                "(each rank then draws the same, name-seeded values and keeps its shard)")


def _materialise_lazy(model: nn.Module, example_inputs: Any) -> None:
    lazy = [name for name, param in model.named_parameters()
            if isinstance(param, nn.parameter.UninitializedParameter)]
    if not lazy:
        return
    if example_inputs is None:
        raise ValueError(
            f"{', '.join(lazy)} not materialised yet (lazy modules such as LazyLinear): run one forward "
            "pass first, or pass example_inputs and init_model_ will run it")
    # Eval mode without grad: nothing is updated.  Not batch_statistics(), which switches
    # running statistics off on norms that a lazy norm has not even created yet.
    with eval_mode(model):
        run_inputs(model, example_inputs)


@dataclass(frozen=True)
class _Weight:
    """Where a layer's weight really lives.

    kind "plain": params == (weight,); "weight_norm": (g, v) with weight = g v / |v|
    (norm over every dim but ``dim``); "spectral_norm": (original,), divided by its
    largest singular value on every forward; "parametrized by ...": any other
    parametrization, which can only be skipped.
    """

    kind: str
    params: tuple
    param_names: tuple
    dim: int = 0


def _weight_of(module_name: str, layer: nn.Module) -> _Weight:
    prefix = f"{module_name}." if module_name else ""
    if parametrize.is_parametrized(layer, "weight"):
        chain = layer.parametrizations.weight
        kinds = [type(step).__name__ for step in chain]
        base = f"{prefix}parametrizations.weight."
        if kinds == ["_WeightNorm"]:
            return _Weight("weight_norm", (chain.original0, chain.original1),
                           (base + "original0", base + "original1"), chain[0].dim)
        if kinds == ["_SpectralNorm"]:
            return _Weight("spectral_norm", (chain.original,), (base + "original",))
        originals = [(name, param) for name, param in chain.named_parameters(recurse=False)]
        return _Weight(f"parametrized by {', '.join(kinds)}", tuple(param for _, param in originals),
                       tuple(base + name for name, _ in originals))
    hooks = {type(hook).__name__: hook for hook in layer._forward_pre_hooks.values()}
    if "WeightNorm" in hooks:  # the deprecated torch.nn.utils.weight_norm
        return _Weight("weight_norm", (layer.weight_g, layer.weight_v),
                       (prefix + "weight_g", prefix + "weight_v"), hooks["WeightNorm"].dim)
    if "SpectralNorm" in hooks:  # the legacy torch.nn.utils.spectral_norm: weight_orig, weight recomputed
        return _Weight("spectral_norm", (layer.weight_orig,), (prefix + "weight_orig",))
    return _Weight("plain", (layer._parameters["weight"],), (prefix + "weight",))


def _matches_any(names: Iterable[str], patterns: list) -> bool:
    return any(name == pattern or fnmatch.fnmatchcase(name, pattern) for name in names for pattern in patterns)


def _deliberate_zero(effective: torch.Tensor, follower: Follower) -> bool:
    """An exactly-zero weight whose output is the model's output or is added to a
    skip connection: a zero-init head, residual-branch end or LoRA B."""
    return follower.kind in ("output", "add") and not bool(effective.detach().any())


def _fill_weight(weight: _Weight, std: float, distribution: str, generator: torch.Generator) -> None:
    if weight.kind == "weight_norm":
        g, v = weight.params
        fill_(v, std, distribution, generator)
        with torch.no_grad():  # g = |v| makes the computed weight exactly v
            g.copy_(torch.norm_except_dim(v, 2, weight.dim).reshape(g.shape))
    else:
        fill_(weight.params[0], std, distribution, generator)


def _zero_weight(weight: _Weight, generator: torch.Generator) -> None:
    with torch.no_grad():
        if weight.kind == "weight_norm":  # v = 0 would divide 0 by 0
            g, v = weight.params
            v.normal_(generator=generator)
            g.zero_()
        else:
            weight.params[0].zero_()


def _init_weight(layer: nn.Module, weight: _Weight, name: str, decision: Decision, seed: int,
                 follower: str, replaced: str) -> ParamInit:
    generator = torch.Generator(device=weight.params[-1].device).manual_seed(seed)
    note = {"weight_norm": "weight_norm: g = |v|", "spectral_norm": "spectral_norm then divides it by its "
            "largest singular value"}.get(weight.kind, "")
    reason = "; ".join(part for part in (decision.because, note) if part)
    if callable(decision.scheme):
        decision.scheme(layer, generator)
        return ParamInit(name, "custom", seed=seed, follower=follower, reason=reason, replaced=replaced)
    if decision.scheme == "keep":
        return ParamInit(name, "kept", follower=follower, reason=reason)
    if decision.scheme == "zero":
        _zero_weight(weight, generator)
        return ParamInit(name, "zero", std=0.0, follower=follower, reason=reason, replaced=replaced)
    mode = {"he": decision.mode, "lecun": "fan_in", "xavier": "fan_avg"}[decision.scheme]
    gain = 1.0 if decision.scheme == "lecun" else decision.gain
    fan_value = fan(layer.weight, layer, mode)
    std = gain / math.sqrt(fan_value)
    _fill_weight(weight, std, decision.distribution, generator)
    return ParamInit(name, decision.scheme, std=std, gain=gain, fan=fan_value, mode=mode,
                     distribution=decision.distribution, seed=seed, follower=follower,
                     reason=reason, replaced=replaced)


def _init_bias(bias: torch.Tensor, name: str, decision: Decision, follower: str) -> ParamInit:
    if callable(decision.scheme) or decision.scheme == "keep" or decision.bias == "keep":
        action = "custom" if callable(decision.scheme) else "kept"
        return ParamInit(name, action, follower=follower, reason=decision.because)
    if decision.bias == "zero":
        value, action = 0.0, "zero"
    else:
        prob = float(decision.bias)
        if not 0.0 < prob < 1.0:
            raise ValueError(f"bias prior must be in (0, 1), got {prob} for {name}")
        value, action = -math.log((1.0 - prob) / prob), "prior"
    with torch.no_grad():
        bias.fill_(value)
    return ParamInit(name, action, value=value, follower=follower, reason=decision.because)


def _describe_replaced(layer: nn.Module) -> str:
    """What the weight holds now, unless that is PyTorch's default init."""
    found = fingerprint(layer.weight, layer)
    return "" if found.schemes == ("default",) else found.describe()


def _without_bias(layer: nn.Module, output: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The weight's part of a layer's output, and the bias shaped to add back."""
    bias = getattr(layer, "bias", None)
    if bias is None or not bool(bias.detach().any()):
        return output, None
    shape = (-1,) + (1,) * (output.dim() - 2) if isinstance(layer, nn.modules.conv._ConvNd) else (-1,)
    bias = bias.detach().reshape(shape)
    return output - bias, bias


def _calibration_pass(model: nn.Module, example_inputs: Any, weights: dict, totals: dict) -> dict:
    """One forward pass: each layer, on its first call, has its output's second moment
    measured and its weight scaled to make it 1; its output is rescaled the same way
    in flight, so later layers see what the scaled weight gives.  Returns the
    moments measured before scaling."""
    modules = dict(model.named_modules())
    moments: dict = {}

    def hook(module: nn.Module, args: Any, output: torch.Tensor, name: str) -> Optional[torch.Tensor]:
        if name in moments:
            return None
        weight_part, bias = _without_bias(module, output)
        moment = moments[name] = second_moment(weight_part)
        if not 0.0 < moment < math.inf or abs(moment - 1.0) <= _CALIBRATION_TOLERANCE:
            return None
        factor = 1.0 / math.sqrt(moment)
        weights[name][0].params[0].mul_(factor)  # plain weight, or weight_norm's g
        totals[name] *= factor
        return weight_part * factor if bias is None else weight_part * factor + bias

    def attention_hook(attention: nn.Module, args: Any, output: Any, name: str) -> Optional[tuple]:
        # MultiheadAttention applies out_proj's weight itself: its output is out_proj's.
        scaled = hook(modules[name], args, output[0], name)
        return None if scaled is None else (scaled, *output[1:])

    attention_of = {projection: attention for attention, projection in attention_out_projections(model).items()}
    handles = [modules[attention_of[name]].register_forward_hook(functools.partial(attention_hook, name=name))
               if name in attention_of else modules[name].register_forward_hook(functools.partial(hook, name=name))
               for name in weights]
    try:
        with batch_statistics(model):
            run_inputs(model, example_inputs)
    finally:
        for handle in handles:
            handle.remove()
    return moments


def _calibrate(model: nn.Module, example_inputs: Any, weights: dict, entries: dict) -> list:
    """LSUV (Mishkin & Matas 2016): in execution order, scale each layer's weight so
    that its output (without the bias) has unit second moment on the batch.  A pass
    normally settles every layer; the next confirms it (layers called more than once
    or feeding themselves may need another).  A layer whose output did not change
    when its weight was scaled (it standardises its weight, as NF-nets' convs do) is
    put back as it was and left out."""
    totals = dict.fromkeys(weights, 1.0)
    ran: set = set()
    invariant: list = []
    previous: dict = {}
    for _ in range(_CALIBRATION_PASSES):
        moments = _calibration_pass(model, example_inputs, weights, totals)
        ran.update(moments)
        for name, moment in moments.items():
            if not 0.0 < moment < math.inf:
                raise ValueError(f"calibration: {clean_name(name)}'s output has second moment {moment} "
                                 "on the example inputs; it cannot be scaled to 1")
        for name, moment in moments.items():
            earlier = previous.get(name)
            # Scaling should have moved the moment from ``earlier`` to 1; it moved by under a tenth of that.
            if earlier is not None and abs(earlier - 1.0) > _CALIBRATION_TOLERANCE \
                    and abs(moment - earlier) < 0.1 * abs(earlier - 1.0):
                weight = weights.pop(name)[0]
                with torch.no_grad():
                    weight.params[0].div_(totals.pop(name))
                invariant.append(name)
        previous = moments
        if all(abs(moment - 1.0) <= _CALIBRATION_TOLERANCE for name, moment in moments.items() if name in weights):
            break
    for name, (_, key) in weights.items():
        if name not in ran:
            continue  # never called on the example inputs: left as initialised
        entry = entries[key]
        entries[key] = dataclasses.replace(entry, std=entry.std * totals[name], calibration=totals[name],
                                           reason=f"{entry.reason}; LSUV x{totals[name]:.3g}")
    return invariant


def init_model_(model: nn.Module, example_inputs: Any = None, *, policy: Optional[InitPolicy] = None,
                calibrate: bool = False, overwrite: bool = False, seed: int = 0,
                skip: Iterable[str] = ()) -> InitRecord:
    """Initialise every Linear/Conv (and Hugging Face Conv1D, MultiheadAttention
    projection) in ``model`` in place by what follows it.

    example_inputs: a batch (tensor, tuple of args or dict of kwargs).  Needed when
        ``torch.fx`` cannot trace the model, to materialise lazy modules, and for
        ``calibrate``.
    policy: :class:`InitPolicy` overrides; defaults are described in ``policy.py``.
    calibrate: after the init, rescale each layer in execution order so that its
        output has unit second moment on ``example_inputs`` (LSUV).
    overwrite: also replace deliberate zeros (a zero weight before the output or a
        residual add, a zero norm gamma, a layer's zero gain) and a layer's weight that
        is an embedding's table (a tied LM head), which are otherwise kept.
    seed: base seed; each parameter draws from its own generator seeded by
        ``param_seed(qualified_name, seed)``, with names as the bare model has them
        (no DDP ``module.`` or torch.compile ``_orig_mod.``).
    skip: parameter names or fnmatch patterns to leave alone, e.g. the keys of a
        checkpoint you loaded with ``strict=False``.  Meta-device parameters are
        always skipped.
    """
    model = unwrap(model)
    _refuse_sharded(model)
    if calibrate and example_inputs is None:
        raise ValueError("calibrate=True needs example_inputs: it scales each layer on that batch")
    _materialise_lazy(model, example_inputs)
    policy = policy or InitPolicy()
    skip_patterns = list(skip)
    followers, strategy = find_followers(model, example_inputs)

    names: dict = {}  # id(tensor) -> every (clean) name it has, first one first
    for name, param in model.named_parameters(remove_duplicate=False):
        names.setdefault(id(param), []).append(clean_name(name))
    done: dict = {}         # id(tensor) -> ParamInit under its first name
    calibrated: dict = {}   # module name -> (_Weight, id of the tensor whose entry records it)

    embeddings = {id(module.weight): clean_name(raw_name) for raw_name, module in model.named_modules()
                  if isinstance(module, _EMBEDDING_TYPES) and isinstance(module.weight, nn.Parameter)}
    for raw_name, module in model.named_modules():
        module_name = clean_name(raw_name)
        if isinstance(module, _NORM_TYPES) and isinstance(module.weight, nn.Parameter):
            _norm_gamma(module.weight, names, done, overwrite, skip_patterns)
        if isinstance(module, nn.MultiheadAttention):
            _init_attention_projections(module, module_name, names, done, policy, seed, skip_patterns)
        if not is_layer(module):
            continue
        follower = followers[raw_name]
        weight = _weight_of(module_name, module)
        if any(id(param) in done for param in weight.params):
            continue  # tied to a layer already initialised
        all_names = [n for param in weight.params for n in names[id(param)]] + [f"{module_name}.weight"]
        embedding = next((embeddings[id(param)] for param in weight.params if id(param) in embeddings), None)
        bias = module.bias if isinstance(module.bias, nn.Parameter) else None
        bias_names = names[id(bias)] if bias is not None else []
        label = str(follower)
        whole_layer = weight.params + ((bias,) if bias is not None else ())
        if any(param.is_meta for param in weight.params):
            _record_each(whole_layer, names, done, "skipped", label, "meta device")
            continue
        weight_skipped = _matches_any(all_names, skip_patterns)
        if weight.kind.startswith("parametrized") and not weight_skipped:
            raise ValueError(
                f"{module_name}.weight is computed by a parametrization ({weight.kind.split(' by ')[1]}); "
                "init_model_ knows how to initialise weight_norm and spectral_norm only: pass "
                f"skip=['{module_name}.*'] and initialise it yourself")
        rule = policy.matching_rule(module_name, module, follower)
        keep_table = not weight_skipped and rule is None and not overwrite and embedding is not None
        if keep_table:  # the weight is an embedding's table (a tied LM head): the embedding decides
            _record_each(weight.params, names, done, "kept", label,
                         f"the embedding {embedding}'s table: an embedding's scale is the model's design "
                         "(overwrite=True gives it this layer's init)")
        elif not weight_skipped and rule is None and not overwrite and _deliberate_zero(module.weight, follower):
            _record_each(whole_layer, names, done, "kept", label,
                         f"zero weight before {follower.kind}: a deliberate zero init (overwrite=True replaces it)")
            continue
        decision = policy.decide(module_name, module, follower)
        if keep_table:
            pass  # the bias is still this layer's
        elif weight_skipped:
            _record_each(weight.params, names, done, "skipped", label, "in skip")
        else:
            key = id(weight.params[-1])
            primary = names[key][0]
            entry = _init_weight(module, weight, primary, decision, param_seed(primary, seed), label,
                                 _describe_replaced(module))
            done[key] = entry
            for param in weight.params[:-1]:  # weight_norm's g: set from v
                done[id(param)] = dataclasses.replace(entry, name=names[id(param)][0], seed=None)
            tied = len(names[key]) > 1
            zero_gains = zero_gain_names(module)
            _record_gains(module, zero_gains, names, done, overwrite, calibrate, label)
            if calibrate and zero_gains and not overwrite:
                done[key] = dataclasses.replace(entry, reason=f"{entry.reason}; not calibrated: its zero "
                                                              f"{', '.join(zero_gains)} is deliberate")
            elif calibrate and entry.std and weight.kind != "spectral_norm" and not tied:
                # weight_norm: the factor goes to g (params[0]) and is recorded there
                calibrated[raw_name] = (weight, id(weight.params[0]))
        if bias is not None and id(bias) not in done:
            if _matches_any(bias_names, skip_patterns):
                done[id(bias)] = ParamInit(bias_names[0], "skipped", follower=label, reason="in skip")
            else:
                done[id(bias)] = _init_bias(bias, bias_names[0], decision, label)

    for key in embeddings:  # not tied to a layer that was initialised
        if key not in done and not _matches_any(names[key], skip_patterns):
            done[key] = ParamInit(names[key][0], "kept", reason="embedding: its scale is the model's design")
    if calibrated:
        keys = {name: key for name, (_, key) in calibrated.items()}
        for name in _calibrate(model, example_inputs, calibrated, done):
            entry = done[keys[name]]
            done[keys[name]] = dataclasses.replace(
                entry, reason=f"{entry.reason}; not calibrated: its output does not scale with its weight")
    params = {}
    for key, all_names in names.items():
        entry = done.get(key) or ParamInit(all_names[0], "untouched", reason="not a Linear/Conv parameter")
        for name in all_names:
            params[name] = dataclasses.replace(entry, name=name, tied=tuple(n for n in all_names if n != name))
    order = [clean_name(name) for name, _ in model.named_parameters(remove_duplicate=False)]
    return InitRecord({name: params[name] for name in order}, strategy)


def _record_each(params: tuple, names: dict, done: dict, action: str, follower: str, reason: str) -> None:
    for param in params:
        done[id(param)] = ParamInit(names[id(param)][0], action, follower=follower, reason=reason)


def _norm_gamma(gamma: nn.Parameter, names: dict, done: dict, overwrite: bool, skip_patterns: list) -> None:
    """A zero norm scale (zero-init residual) is kept, or set to 1 with ``overwrite``."""
    key = id(gamma)
    if key in done or gamma.is_meta or bool(gamma.detach().any()) or _matches_any(names[key], skip_patterns):
        return
    name = names[key][0]
    if not overwrite:
        done[key] = ParamInit(name, "kept", reason="zero norm scale: a deliberate zero init "
                                                   "(overwrite=True sets it to 1)")
        return
    with torch.no_grad():
        gamma.fill_(1.0)
    done[key] = ParamInit(name, "constant", value=1.0, reason="zero norm scale set to 1 (overwrite=True)")


def _record_gains(layer: nn.Module, zero_gains: list, names: dict, done: dict, overwrite: bool,
                  calibrate: bool, follower: str) -> None:
    """A zero gain is kept like a zero norm scale, or set to 1 with ``overwrite``."""
    for gain_name in zero_gains:
        param = layer._parameters[gain_name]
        name = names[id(param)][0]
        if overwrite:
            with torch.no_grad():
                param.fill_(1.0)
            done[id(param)] = ParamInit(name, "constant", value=1.0, follower=follower,
                                        reason="zero gain set to 1 (overwrite=True)")
        else:
            skipped = "; its layer is not calibrated" if calibrate else ""
            done[id(param)] = ParamInit(name, "kept", follower=follower,
                                        reason=f"zero gain: a deliberate zero init, like a zero norm scale"
                                               f"{skipped} (overwrite=True sets it to 1)")


def zero_gain_names(layer: nn.Module) -> list:
    """Names of the layer's own parameters, besides weight and bias, that are all zero:
    a zero-initialised gain such as the one NF-nets' ScaledStdConv2d puts at a
    residual-branch end (the branch starts as the identity, like a zero norm scale)."""
    return [name for name, param in layer.named_parameters(recurse=False)
            if name not in ("weight", "bias") and param is not None and not param.is_meta
            and param.numel() and not bool(param.detach().any())]


_ATTENTION = Follower("other", "multi_head_attention")


def _init_attention_projections(attention: nn.MultiheadAttention, module_name: str, names: dict, done: dict,
                                policy: InitPolicy, seed: int, skip_patterns: list) -> None:
    """MultiheadAttention's input projections, which are parameters of the module, not
    layers: ``in_proj_weight`` (q, k and v stacked, each block embed_dim x embed_dim, so
    the fan is a block's) or ``q/k/v_proj_weight`` when kdim/vdim differ; their
    outputs go into attention (LeCun by default); ``in_proj_bias`` is zeroed.
    out_proj is a Linear and is initialised as one."""
    if attention.in_proj_weight is not None:
        rows = attention.embed_dim
        projections = [(attention.in_proj_weight, attention.in_proj_weight.shape[1], rows)]
    else:
        projections = [(weight, weight.shape[1], weight.shape[0]) for weight in
                       (attention.q_proj_weight, attention.k_proj_weight, attention.v_proj_weight)]
    decision = policy.decide(module_name, attention, _ATTENTION)
    label = str(_ATTENTION)
    for weight, fan_in, fan_out in projections:
        key = id(weight)
        if key in done:
            continue
        name = names[key][0]
        if weight.is_meta or _matches_any(names[key], skip_patterns):
            done[key] = ParamInit(name, "skipped", follower=label, reason="meta device" if weight.is_meta else "in skip")
            continue
        if callable(decision.scheme) or decision.scheme in ("keep", "zero"):
            done[key] = ParamInit(name, "kept", follower=label,
                                  reason=f"{decision.because}: only he, lecun and xavier apply to attention's "
                                         "input projections")
            continue
        found = fingerprint(weight)
        replaced = "" if found.distribution == "uniform" and "xavier" in found.schemes else found.describe()
        gain = 1.0 if decision.scheme == "lecun" else decision.gain
        fan_value = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[
            {"he": decision.mode, "lecun": "fan_in", "xavier": "fan_avg"}[decision.scheme]]
        std = gain / math.sqrt(fan_value)
        generator = torch.Generator(device=weight.device).manual_seed(param_seed(name, seed))
        fill_(weight, std, decision.distribution, generator)
        done[key] = ParamInit(name, decision.scheme, std=std, gain=gain, fan=float(fan_value),
                              mode="fan_in" if decision.scheme == "lecun" else decision.mode,
                              distribution=decision.distribution, seed=param_seed(name, seed), follower=label,
                              reason=f"{decision.because}; fan of one projection (q, k or v)", replaced=replaced)
    bias = attention.in_proj_bias
    if bias is not None and id(bias) not in done and not bias.is_meta:
        if _matches_any(names[id(bias)], skip_patterns):
            done[id(bias)] = ParamInit(names[id(bias)][0], "skipped", follower=label, reason="in skip")
        else:
            done[id(bias)] = _init_bias(bias, names[id(bias)][0], decision, label)
