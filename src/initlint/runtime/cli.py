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
or factory, torch missing, the model fails to build or run).
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
        if not isinstance(model, torch.nn.Module):
            return _fail(f"{args.target}() returned {type(model).__name__}, not a torch.nn.Module")
        inputs = torch.randn(*args.input_shape, generator=torch.Generator().manual_seed(args.seed))
        report = audit(model, inputs, print_table=True, plot=args.plot, collapse_below=args.collapse_below,
                       explode_above=args.explode_above, dead_above=args.dead_above,
                       saturated_above=args.saturated_above)
    except Exception as error:  # the user's model may fail in any way; report it in one line
        return _fail(f"{type(error).__name__}: {error}")
    return 1 if report.findings else 0
