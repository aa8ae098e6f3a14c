"""Run a real model once and check what its initialisation does to the signal."""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, Optional, TextIO

import torch.nn as nn

from .fans import fan, is_hf_conv1d
from .fingerprints import Fingerprint, fingerprint
from .follow import Follower, tensors_in
from .measure import LayerSignal, duplicate_rows, measure_signals
from .model_init import unwrap, zero_gain_names

# Runtime-only findings (no static equivalent).
SIGNAL_COLLAPSE = "INI300"
SIGNAL_EXPLOSION = "INI301"
DEAD_UNITS = "INI302"
SYMMETRIC_UNITS = "INI303"
SATURATED_ACTIVATIONS = "INI304"

# Below this share of the reference layer's input-dependent share, a layer's output
# no longer depends on the input (default init: the biases have taken over).
_INPUT_SHARE_LOST = 1e-6


@dataclass(frozen=True)
class Finding:
    code: str
    layer: str     # module name, or "" for a model-wide finding
    message: str

    def __str__(self) -> str:
        return f"{self.code} {self.layer or '<model>'}: {self.message}"


@dataclass(frozen=True)
class LayerAudit:
    """One Linear/Conv, measured on its first call (see docs/runtime.md)."""

    depth: int                     # 1-based order of first execution
    name: str
    layer_type: str
    follower: Follower
    fingerprint: Fingerprint
    pre_moment: float              # per-sample second moment of the layer's output
    post_moment: Optional[float]   # ... of the activation after it (directly or after a norm)
    ratio: Optional[float]         # signal / the reference layer's; None if not compared
    input_share: float             # share of pre_moment that varies across the batch
    inactive_fraction: Optional[float]   # ReLU family: activation inputs < 0
    dead_units: Optional[float]          # ReLU family: units never active on the batch
    saturated_fraction: Optional[float]  # tanh/sigmoid/hardtanh: outputs in the flat region
    duplicate_rows: int            # units whose weight row equals another unit's
    codes: tuple = ()


@dataclass
class AuditReport:
    layers: list = field(default_factory=list)
    findings: list = field(default_factory=list)
    strategy: str = ""             # how followers were found: "fx" or "torch_function"
    collapse_below: float = 0.0
    explode_above: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def codes(self) -> list:
        return sorted({finding.code for finding in self.findings})

    def format(self) -> str:
        header = ("#", "layer", "type", "followed by", "init (measured)", "E[x^2]", "E[act^2]",
                  "vs ref", "inactive", "saturated", "codes")
        rows = [header]

        def number(value: Optional[float]) -> str:
            return "" if value is None else f"{value:.3g}"

        def share(value: Optional[float]) -> str:
            return "" if value is None else f"{value:.0%}"

        for layer in self.layers:
            rows.append((
                str(layer.depth), layer.name, layer.layer_type, str(layer.follower), str(layer.fingerprint),
                number(layer.pre_moment), number(layer.post_moment), number(layer.ratio),
                share(layer.inactive_fraction), share(layer.saturated_fraction), " ".join(layer.codes),
            ))
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * width for width in widths))
        lines.append("")
        lines += [str(finding) for finding in self.findings] or ["no findings"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def is_hidden(follower: Follower) -> bool:
    """Does the layer feed an activation or another layer (rather than an output, a
    residual add, a norm that resets its scale, attention, ...)?  Only such layers'
    scale carries on to the next layer, so only they can collapse or explode the signal."""
    return follower.activation is not None or follower.kind == "layer"


def _static_codes(name: str, follower: Follower, guessed: Fingerprint, stacks: dict) -> list[Finding]:
    found = []
    if guessed.scheme in ("zero", "constant") and is_hidden(follower):
        found.append(Finding("INI001", name, f"{guessed.scheme} weight followed by {follower}: "
                                             "every unit computes the same thing"))
    if name in stacks["INI002"]:
        found.append(Finding("INI002", name, f"{guessed.scheme}-scale weight before {follower.op} in a stack of "
                                             "such layers: the signal halves in variance at each; use he_init_"))
    if name in stacks["INI003"]:
        found.append(Finding("INI003", name, f"PyTorch default init before {follower.op} in a stack of such "
                                             "layers: the signal shrinks at each; use he_init_ or init_model_"))
    return found


def _weight_moment(layer: nn.Module, signal: LayerSignal) -> float:
    """The part of the layer's output second moment its weights produce: the whole
    minus the bias's mean square (their cross term averages out over units)."""
    bias = getattr(layer, "bias", None)
    bias_moment = float(bias.detach().float().pow(2).mean()) if bias is not None else 0.0
    return max(signal.pre_moment - bias_moment, 0.0)


def _stack_confirmed(run: list) -> bool:
    """Does the measured signal agree that this stack shrinks it?

    ``run`` is a run of consecutive layers, each directly before a ReLU-family
    activation, whose weights look Xavier/LeCun-scaled or default.  From one layer
    to the next the weights' part of the output second moment is predicted to
    change by (std * sqrt(fan_in) / the previous activation's gain)^2 (1/2 for
    LeCun after a ReLU, 1/6 for PyTorch's default; He gives 1).  The run is
    confirmed when the measured change over it is nearer the prediction than 1 on a
    log scale (below the square root of the predicted product).  A zero-padded
    conv's change is taken over the share of its kernel taps that read the input
    (a 3x3 conv on a 2x2 map: 4/9), which the init has nothing to do with.  Max-pooling that
    makes up for the lost scale, calibration (LSUV), or a weight the layer
    standardises before use (NF-nets) keep the signal, and then nothing is
    reported: the measurement wins."""
    measured = predicted = 1.0
    for (_, before, _, _, previous), (_, _, guessed, layer, signal) in zip(run, run[1:]):
        if not previous.pre_moment or not guessed.std or not before.gain:
            return False
        # Zero padding shrinks a conv's output on small maps whatever its init: not the weights' doing.
        measured *= _weight_moment(layer, signal) / (previous.pre_moment * signal.in_bounds)
        predicted *= (guessed.std * math.sqrt(fan(layer.weight, layer)) / before.gain) ** 2
    return predicted < 1.0 and measured < math.sqrt(predicted)


def _relu_stacks(layers: list) -> dict:
    """INI002/INI003 as the static rules see them: runs of two or more layers in
    execution order, each directly before a ReLU-family activation, whose weights
    are certainly Xavier/LeCun-scaled (INI002) or PyTorch's default (INI003); a
    single such layer only scales the signal once.  A run is reported only when the
    measured signal agrees (:func:`_stack_confirmed`)."""
    tests = {"INI002": lambda schemes: set(schemes) <= {"xavier", "lecun"},
             "INI003": lambda schemes: schemes == ("default",)}
    stacks = {}
    for code, test in tests.items():
        stacks[code] = set()
        run: list = []
        for item in layers + [None]:
            if item is not None and item[1].is_relu_family and test(item[2].schemes):
                run.append(item)
                continue
            if len(run) > 1 and _stack_confirmed(run):
                stacks[code].update(name for name, *_ in run)
            run = []
    return stacks


def _dead_message(layer: nn.Module, follower: Follower, signal: LayerSignal) -> str:
    op = signal.activation
    message = (f"{op} gets a negative input for {signal.inactive_fraction:.0%} of this layer's outputs "
               f"({signal.dead_units:.0%} of its units never fire on the batch)")
    bias = getattr(layer, "bias", None)
    if bias is not None and follower.kind == "activation":
        bias_moment = float(bias.detach().float().pow(2).mean())
        spread = math.sqrt(max(signal.pre_moment - bias_moment, 0.0))
        message += (f"; its bias averages {float(bias.detach().mean()):.3g} against a spread of {spread:.3g} "
                    "from its weights")
    return message


_FLAT_REGION = {"tanh": "|tanh| > 0.99, where its gradient is under 2% of its peak",
                "sigmoid": "sigmoid < 0.01 or > 0.99, where its gradient is under 4% of its peak",
                "hardtanh": "|x| >= 1, where its gradient is 0"}


def _saturated_message(signal: LayerSignal) -> str:
    return (f"{signal.activation} is saturated for {signal.saturated_fraction:.0%} of this layer's outputs "
            f"({_FLAT_REGION[signal.activation]}): its inputs are too large (second moment "
            f"{signal.pre_moment:.3g}); scale the weights (or the bias) down, e.g. init_model_ or xavier_init_(layer, "
            f"\"{signal.activation}\")")


def audit(model: nn.Module, example_inputs: Any, *, print_table: bool = True,
          file: Optional[TextIO] = None, plot: Optional[str] = None,
          collapse_below: float = 1e-4, explode_above: float = 1e4, dead_above: float = 0.8,
          saturated_above: float = 0.5) -> AuditReport:
    """Audit every Linear/Conv of ``model`` on ``example_inputs`` (a batch of >= 2).

    The model runs once without grad, in eval mode except that batch/instance
    norms use the batch's statistics (as in training) without updating their
    running statistics; every module's mode is restored.  Findings:

    * INI300/INI301: the second moment a hidden layer hands on (its activation's
      output) falls below ``collapse_below`` / rises above ``explode_above`` times
      the first hidden layer's; or its output no longer depends on the input;
    * INI302: a ReLU-family activation gets a negative input for more than
      ``dead_above`` of a layer's outputs (reported at that layer, whose bias or
      weights cause it);
    * INI303: hidden units with identical weight rows;
    * INI304: a tanh/sigmoid/hardtanh puts more than ``saturated_above`` of a
      layer's outputs in its flat region, where almost no gradient passes;
    * INI001/INI002/INI003 where the weight's fingerprint is certain.

    ``plot`` is a path to save the second moment by depth to (needs matplotlib).
    """
    if not 0 < collapse_below < 1 < explode_above or not 0 < dead_above < 1 or not 0 < saturated_above < 1:
        raise ValueError(f"need 0 < collapse_below < 1 < explode_above, 0 < dead_above < 1 and "
                         f"0 < saturated_above < 1, got {collapse_below}, {explode_above}, {dead_above} "
                         f"and {saturated_above}")
    model = unwrap(model)  # names as the bare model has them, like init_model_
    first = next(tensors_in(example_inputs), None)
    if first is None or first.dim() == 0 or first.shape[0] < 2:
        raise ValueError("audit needs example inputs with a batch of at least 2")
    modules = dict(model.named_modules())
    signals, followers, stand_ins = measure_signals(model, example_inputs)
    strategy = "torch_function"

    measured = []
    for name, signal in signals.items():
        layer, follower = stand_ins.get(name) or modules[name], followers[name]
        activation = follower.activation
        guessed = fingerprint(layer.weight, layer, activation.gain if activation is not None else None)
        measured.append((name, follower, guessed, layer, signal))
    stacks = _relu_stacks(measured)

    hidden = [item for item in measured if is_hidden(item[1])]
    reference = _signal(hidden[0][4]) if hidden else math.nan
    reference_share = hidden[0][4].input_share if hidden else math.nan
    report = AuditReport(strategy=strategy, collapse_below=collapse_below, explode_above=explode_above)
    collapse = explosion = None
    for depth, (name, follower, guessed, layer, signal) in enumerate(measured, start=1):
        findings = _static_codes(name, follower, guessed, stacks)
        ratio, twins = None, 0
        if is_hidden(follower):
            ratio = _signal(signal) / reference if reference > 0 else 0.0
            lost = _INPUT_SHARE_LOST * reference_share
            if collapse is not None or _zero_by_design(layer, follower, signal):
                pass
            elif ratio < collapse_below * min(signal.averaged, 1.0):  # a global average's shrinking is no init's
                collapse = Finding(SIGNAL_COLLAPSE, name, _collapse_message(ratio, hidden[0][0], collapse_below))
                findings.append(collapse)
            # Lost here, not already in the input (a learned class token plus a LayerScale of 1e-5
            # on what depends on the input: CaiT's class-attention blocks, by design).
            elif signal.input_share < lost and not (signal.received_share is not None
                                                    and signal.received_share < lost):
                collapse = Finding(SIGNAL_COLLAPSE, name, (
                    f"the output no longer depends on the input: only {signal.input_share:.2g} of its second "
                    f"moment varies across the batch (against {reference_share:.2g} at the first hidden layer, "
                    f"{hidden[0][0]})"))
                findings.append(collapse)
            if explosion is None and ratio > explode_above:
                explosion = Finding(SIGNAL_EXPLOSION, name, (
                    f"second moment grows to {ratio:.3g}x that of the first hidden layer ({hidden[0][0]}) "
                    f"(threshold {explode_above:g}x)"))
                findings.append(explosion)
            if guessed.distribution != "constant":
                twins = duplicate_rows(layer.weight, _units_are_columns(layer))
                if twins:
                    findings.append(Finding(SYMMETRIC_UNITS, name, (
                        f"{twins} of {_units(layer)} units have the same weights as another unit: "
                        "they compute the same thing and get the same gradient")))
        if signal.inactive_fraction is not None and signal.inactive_fraction > dead_above:
            findings.append(Finding(DEAD_UNITS, name, _dead_message(layer, follower, signal)))
        if signal.saturated_fraction is not None and signal.saturated_fraction > saturated_above:
            findings.append(Finding(SATURATED_ACTIVATIONS, name, _saturated_message(signal)))
        report.findings += findings
        report.layers.append(LayerAudit(
            depth, name, type(layer).__name__, follower, guessed, signal.pre_moment, signal.post_moment,
            ratio, signal.input_share, signal.inactive_fraction, signal.dead_units, signal.saturated_fraction,
            twins, tuple(finding.code for finding in findings),
        ))

    if print_table:
        print(report.format(), file=file or sys.stdout)
    if plot is not None:
        plot_second_moments(report, plot)
    return report


def _zero_by_design(layer: nn.Module, follower: Follower, signal: LayerSignal) -> bool:
    """Is the layer's signal exactly zero on purpose, as init_model_ keeps it?  Its own
    gain is zero (NF-nets' residual-branch end), the norm after it zeroes it (a zero
    gamma: timm's zero_init_last, torchvision's zero_init_residual), or its input is
    zero for every example (a squeeze-excite after such a layer), where the cause is
    upstream and a real fault is reported there (INI001, INI302)."""
    if signal.pre_moment == 0.0:
        return signal.received_share == 0.0 or bool(zero_gain_names(layer))
    return follower.kind == "norm" and signal.post_moment == 0.0


def _signal(signal: LayerSignal) -> float:
    """What a layer hands on: its activation's output if one follows, else its own."""
    return signal.pre_moment if signal.post_moment is None else signal.post_moment


def _units_are_columns(layer: nn.Module) -> bool:
    """ConvTranspose (in x out/groups x k) and Hugging Face's Conv1D (in x out) keep a
    unit's weights in a column."""
    return bool(getattr(layer, "transposed", False)) or is_hf_conv1d(layer)


def _units(layer: nn.Module) -> int:
    weight = layer.weight
    if is_hf_conv1d(layer):
        return weight.shape[1]
    return weight.shape[1] * layer.groups if getattr(layer, "transposed", False) else weight.shape[0]


def _collapse_message(ratio: float, reference: str, threshold: float) -> str:
    if ratio == 0.0:
        return f"the signal is exactly zero here (the first hidden layer is {reference})"
    return (f"second moment falls to {ratio:.2g} of that of the first hidden layer ({reference}) "
            f"(threshold {threshold:g})")


def plot_second_moments(report: AuditReport, path: str) -> None:
    """Save each layer's second moment relative to the reference by depth (log scale),
    with the collapse and explosion thresholds, to ``path``."""
    try:
        from matplotlib.figure import Figure  # optional extra: initlint[plot]
    except ImportError as error:
        raise ImportError("plotting needs matplotlib: pip install initlint[plot]") from error
    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    compared = [layer for layer in report.layers if layer.ratio is not None]
    floor = 1e-300  # a log axis needs > 0
    if compared:
        axes.semilogy([layer.depth for layer in compared], [max(layer.ratio, floor) for layer in compared],
                      marker="o", label="hidden layers: what they hand on / reference")
    flagged = [layer for layer in compared if {SIGNAL_COLLAPSE, SIGNAL_EXPLOSION} & set(layer.codes)]
    if flagged:
        axes.plot([layer.depth for layer in flagged], [max(layer.ratio, floor) for layer in flagged],
                  linestyle="none", marker="X", markersize=12, color="tab:red", label="reported here")
    axes.axhline(report.collapse_below, color="tab:blue", linestyle="--",
                 label=f"collapse below {report.collapse_below:g}")
    axes.axhline(report.explode_above, color="tab:red", linestyle="--",
                 label=f"explosion above {report.explode_above:g}")
    axes.set_yscale("log")
    axes.set_xlabel("depth (Linear/Conv layers in execution order)")
    axes.set_ylabel("per-sample second moment / reference")
    axes.set_title("initlint audit: signal by depth")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(path)


def assert_well_initialized(model: nn.Module, example_inputs: Any, **options: Any) -> AuditReport:
    """For your own tests: raise AssertionError listing the findings, if any.
    ``options`` are passed to :func:`audit` (printing is off)."""
    report = audit(model, example_inputs, print_table=False, **options)
    if report.findings:
        lines = "\n".join(f"  {finding}" for finding in report.findings)
        raise AssertionError(f"initlint audit found {len(report.findings)} problem(s):\n{lines}")
    return report
