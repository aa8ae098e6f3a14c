"""``initlint audit module:factory --input-shape 8,3,32,32``."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Optional

DESCRIPTION = """\
Audit the initialisation of a real model.

WARNING: unlike the static linter, `initlint audit` IMPORTS AND RUNS YOUR CODE:
it imports MODULE, calls FACTORY() to build the model and runs one forward pass
on random input of the given shape.  Only audit code you trust.

Exit status: 0 no findings, 1 findings, 2 usage error (cannot import the module
or factory, torch missing, the model fails to build or run).  When FACTORY()
raises, the message gives the line of your code it raised at and, where the
static linter finds the cause on a line the traceback went through (INI101,
INI102, INI106, INI107, INI204), that finding.
"""


def _shape(text: str) -> tuple:
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not shape or any(size <= 0 for size in shape):
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return shape


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="initlint audit", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", metavar="MODULE:FACTORY",
                        help="importable module and a zero-argument callable returning an nn.Module, "
                             "e.g. mypkg.models:build_resnet")
    parser.add_argument("--input-shape", type=_shape, required=True, metavar="N,C,...",
                        help="shape of the random input batch (batch first, at least 2), e.g. 8,3,32,32")
    parser.add_argument("--seed", type=int, default=0, help="seed for the model factory and the input (default 0)")
    parser.add_argument("--collapse-below", type=float, default=1e-4, metavar="RATIO",
                        help="report a signal collapse when the second moment a hidden layer hands on falls "
                             "below RATIO times the first hidden layer's (default 1e-4)")
    parser.add_argument("--explode-above", type=float, default=1e4, metavar="RATIO",
                        help="report a signal explosion when it rises above RATIO times (default 1e4)")
    parser.add_argument("--dead-above", type=float, default=0.8, metavar="FRACTION",
                        help="report dead units when a ReLU gets a negative input for more than FRACTION "
                             "of a layer's outputs (default 0.8)")
    parser.add_argument("--saturated-above", type=float, default=0.5, metavar="FRACTION",
                        help="report saturated activations when a tanh/sigmoid/hardtanh puts more than FRACTION "
                             "of a layer's outputs in its flat region (default 0.5)")
    parser.add_argument("--plot", metavar="PATH",
                        help="save the second moment by depth, with the thresholds, to PATH (needs matplotlib)")
    return parser


def _fail(message: str) -> int:
    print(f"initlint audit: error: {message}", file=sys.stderr)
    return 2


def main(argv: Optional[list] = None) -> int:
    args = _parser().parse_args(argv)
    module_name, _, factory_name = args.target.partition(":")
    if not module_name or not factory_name:
        return _fail(f"expected MODULE:FACTORY, got {args.target!r}")
    try:
        import torch
    except ImportError:
        return _fail("auditing needs torch; install it with: pip install initlint[torch]")
    from .auditing import audit

    # Like `python -m`, let modules in the current directory be imported.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # the user's module may raise anything while importing
        return _fail(f"cannot import module {module_name!r}: {type(error).__name__}: {error}")
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        return _fail(f"module {module_name!r} has no callable {factory_name!r}")

    torch.manual_seed(args.seed)
    try:
        model = factory()
    except Exception as error:  # the user's factory may raise anything
        return _fail(_build_failure(args.target, error))
    if not isinstance(model, torch.nn.Module):
        return _fail(f"{args.target}() returned {type(model).__name__}, not a torch.nn.Module")
    try:
        inputs = torch.randn(*args.input_shape, generator=torch.Generator().manual_seed(args.seed))
        report = audit(model, inputs, print_table=True, plot=args.plot, collapse_below=args.collapse_below,
                       explode_above=args.explode_above, dead_above=args.dead_above,
                       saturated_above=args.saturated_above)
    except Exception as error:  # the user's model may fail in any way; report it in one line
        return _fail(f"{type(error).__name__}: {error}")
    return 1 if report.findings else 0


# Static findings whose fault is an exception at construction time.
_CRASH_CODES = ("INI101", "INI102", "INI106", "INI107", "INI204")


def _user_frames(error: BaseException) -> list:
    """The traceback's frames in the user's code (innermost last): not in initlint,
    torch or the standard library, and not in installed packages unless the
    factory itself is installed."""
    import sysconfig
    import traceback

    import torch

    paths = sysconfig.get_paths()
    never = {os.path.dirname(os.path.dirname(__file__)), os.path.dirname(torch.__file__),
             paths["stdlib"], paths["platstdlib"]}
    installed = {paths["purelib"], paths["platlib"]}

    def outside(frame: traceback.FrameSummary, roots: set) -> bool:
        path = os.path.realpath(frame.filename)
        return not frame.filename.startswith("<") and \
            not any(path.startswith(os.path.realpath(root) + os.sep) for root in roots)

    frames = traceback.extract_tb(error.__traceback__)
    return [frame for frame in frames if outside(frame, never | installed)] or \
        [frame for frame in frames if outside(frame, never)]


def _shown(path: str) -> str:
    relative = os.path.relpath(path)
    return path if relative.startswith(os.pardir) else relative


def _predicted(frames: list) -> list:
    """Static findings with a crash code on the lines the traceback went through."""
    from ..engine import lint_source

    lines: dict = {}
    for frame in frames:
        lines.setdefault(frame.filename, set()).add(frame.lineno)
    found = []
    for path, wanted in lines.items():
        try:
            with open(path, "rb") as handle:
                source = handle.read()
        except OSError:
            continue
        result = lint_source(source, path, honour_noqa=False)
        found += [finding for finding in result.findings
                  if finding.code in _CRASH_CODES and finding.line in wanted]
    return found


def _build_failure(target: str, error: Exception) -> str:
    lines = [f"building the model failed: {target}() raised {type(error).__name__}: {error}"]
    frames = _user_frames(error)
    if frames:
        frame = frames[-1]
        code = f": {frame.line.strip()}" if frame.line else ""
        lines.append(f"  at {_shown(frame.filename)}:{frame.lineno} in {frame.name}{code}")
    for finding in _predicted(frames):
        lines.append(f"  initlint predicts it: {_shown(finding.path)}:{finding.line}:{finding.column}: "
                     f"{finding.code} {finding.message}")
    return "\n".join(lines)
