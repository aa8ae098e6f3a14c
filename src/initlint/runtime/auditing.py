"""Run a real model once and check what its initialisation does to the signal."""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, Optional, TextIO

import torch
import torch.nn as nn

from .fingerprints import Fingerprint, fingerprint
from .follow import LAYER_TYPES, Follower, eval_mode, find_followers, run_inputs

# Runtime-only finding (no static equivalent): the input-dependent signal collapses.
SIGNAL_COLLAPSE = "INI300"


@dataclass(frozen=True)
class Finding:
    code: str
    layer: str     # module name, or "" for a model-wide finding
    message: str

    def __str__(self) -> str:
        return f"{self.code} {self.layer or '<model>'}: {self.message}"


@dataclass(frozen=True)
class LayerAudit:
    depth: int                     # 1-based order of first execution
    name: str
    layer_type: str
    follower: Follower
    fingerprint: Fingerprint
    activation_std: float          # std over the batch per unit, averaged over units
    std_ratio: float               # activation_std / the first layer's
    dead_fraction: Optional[float]  # units never positive in the batch; ReLU family only
    codes: tuple = ()


@dataclass
class AuditReport:
    layers: list = field(default_factory=list)
    findings: list = field(default_factory=list)
    strategy: str = ""             # how followers were found: "fx" or "torch_function"

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def codes(self) -> list:
        return sorted({finding.code for finding in self.findings})

    def format(self) -> str:
        header = ("#", "layer", "type", "followed by", "init (measured)", "act std", "vs #1", "dead", "codes")
        rows = [header]
        for layer in self.layers:
            rows.append((
                str(layer.depth), layer.name, layer.layer_type, str(layer.follower),
                str(layer.fingerprint), f"{layer.activation_std:.3g}", f"{layer.std_ratio:.3g}",
                "" if layer.dead_fraction is None else f"{layer.dead_fraction:.0%}",
                " ".join(layer.codes),
            ))
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * width for width in widths))
        lines.append("")
        lines += [str(finding) for finding in self.findings] or ["no findings"]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def batch_std(output: torch.Tensor) -> float:
    """Input-dependent spread: std over the batch (dim 0) per unit, averaged over units.
    A whole-tensor std would count the bias's spread across units as signal."""
    if output.shape[0] < 2:
        raise ValueError("audit needs example inputs with a batch of at least 2")
    return float(output.detach().to(torch.float64).std(dim=0).mean())


def dead_fraction(output: torch.Tensor, is_conv: bool) -> float:
    """Fraction of units (features, or channels of a conv) never positive in the batch."""
    values = output.detach()
    unit_dim = 1 if is_conv else values.dim() - 1
    per_unit = values.transpose(0, unit_dim).reshape(values.shape[unit_dim], -1)
    return float((per_unit.amax(dim=1) <= 0).to(torch.float64).mean())


def _capture_outputs(model: nn.Module, example_inputs: Any) -> dict[str, torch.Tensor]:
    """Each layer's output on its first call, in execution order."""
    outputs: dict[str, torch.Tensor] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, LAYER_TYPES):
            def hook(module: nn.Module, args: Any, output: torch.Tensor, name: str = name) -> None:
                outputs.setdefault(name, output)
            handles.append(module.register_forward_hook(hook))
    try:
        with eval_mode(model):
            run_inputs(model, example_inputs)
    finally:
        for handle in handles:
            handle.remove()
    return outputs


def _layer_codes(name: str, follower: Follower, guessed: Fingerprint, collapsed: bool) -> list[Finding]:
    found = []
    if guessed.scheme in ("zero", "constant") and follower.activation is not None:
        found.append(Finding("INI001", name, f"{guessed.scheme} weight followed by {follower}: "
                                             "every unit computes the same thing"))
    if guessed.scheme in ("xavier", "lecun") and follower.is_relu_family:
        found.append(Finding("INI002", name, f"{guessed.scheme}-scale weight before {follower.op}: "
                                             "the signal halves in variance at each such layer; use he_init_"))
    if guessed.scheme == "default" and follower.is_relu_family and collapsed:
        found.append(Finding("INI003", name, f"PyTorch default init before {follower.op} in a stack "
                                             "whose signal collapses; use he_init_ or init_model_"))
    return found


def audit(model: nn.Module, example_inputs: Any, *, print_table: bool = True,
          file: Optional[TextIO] = None, plot: Optional[str] = None,
          collapse_below: float = 0.1) -> AuditReport:
    """Audit every Linear/Conv of ``model`` on ``example_inputs`` (a batch of >= 2).

    The model runs once in eval mode without grad; training flags are restored.
    A signal collapse (INI300) is reported when some layer's activation std falls
    below ``collapse_below`` times the first layer's.  Layers whose weight is zero
    are left out of that comparison: a zeroed residual-branch end is deliberate.
    ``plot`` is a path to save the std-by-depth chart to (needs matplotlib).
    """
    followers, strategy = find_followers(model, example_inputs)
    modules = dict(model.named_modules())
    outputs = _capture_outputs(model, example_inputs)

    measured = []
    for name, output in outputs.items():
        layer, follower = modules[name], followers[name]
        gain_after = follower.activation.gain if follower.activation is not None else None
        measured.append((name, layer, follower, fingerprint(layer.weight, layer, gain_after),
                         batch_std(output), output))

    reference = measured[0][4] if measured else 0.0
    compared = [(item[0], item[4]) for item in measured if item[3].scheme != "zero"]
    lowest_name, lowest_std = min(compared, key=lambda item: item[1]) if compared else ("", reference)
    collapsed = reference == 0.0 or lowest_std < collapse_below * reference

    report = AuditReport(strategy=strategy)
    for depth, (name, layer, follower, guessed, std, output) in enumerate(measured, start=1):
        findings = _layer_codes(name, follower, guessed, collapsed)
        report.findings += findings
        dead = dead_fraction(output, isinstance(layer, nn.modules.conv._ConvNd)) if follower.is_relu_family else None
        report.layers.append(LayerAudit(
            depth, name, type(layer).__name__, follower, guessed, std,
            std / reference if reference > 0 else math.nan, dead,
            tuple(finding.code for finding in findings),
        ))
    if collapsed and measured:
        if reference == 0.0:
            message = "the first layer's output does not depend on the input at all"
        else:
            message = (f"input-dependent activation std falls to {lowest_std / reference:.2g} "
                       f"of the first layer's by {lowest_name} (threshold {collapse_below:g})")
        report.findings.append(Finding(SIGNAL_COLLAPSE, "", message))

    if print_table:
        print(report.format(), file=file or sys.stdout)
    if plot is not None:
        plot_activation_std(report, plot)
    return report


def plot_activation_std(report: AuditReport, path: str) -> None:
    """Save activation std by depth (log scale) to ``path``."""
    try:
        from matplotlib.figure import Figure  # optional extra: initlint[plot]
    except ImportError as error:
        raise ImportError("plotting needs matplotlib: pip install initlint[plot]") from error
    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    depths = [layer.depth for layer in report.layers]
    stds = [max(layer.activation_std, 1e-300) for layer in report.layers]  # log axis needs > 0
    axes.semilogy(depths, stds, marker="o")
    axes.set_xlabel("depth (Linear/Conv layers in execution order)")
    axes.set_ylabel("activation std across the batch")
    axes.set_title("initlint audit: input-dependent signal by depth")
    axes.grid(True, which="both", alpha=0.3)
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
