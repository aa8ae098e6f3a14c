#!/usr/bin/env python3
"""Time of ``initlint.runtime.audit`` against a plain forward pass of the same model and batch.

    .venv/bin/python benchmarks/runtime_speed.py [--models resnet50,tiny_bert] [--batch 4] [--repeat 7]
                                                 [--threads 1]

For each model (``benchmarks/runtime_models.py``: ResNet-50, EfficientNet-B0,
ResNet-26-D, NF-ResNet-26, a BERT-tiny): build it, make the batch, run one untimed
forward and one untimed audit (warm-up: imports, allocator, first-call costs), then
``--repeat`` rounds, each timing a forward (``model.eval()``, ``torch.no_grad()``)
and then an audit (``print_table=False``) in the same process, so load on the
machine hits both alike.  Prints the medians, the ratio, and whether the target
of issue 21 holds: audit <= 3 x forward + 50 ms.  Asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_models import MODELS  # noqa: E402

from initlint.runtime import audit  # noqa: E402

TARGET_FACTOR, TARGET_FIXED = 3.0, 0.050


def measure(name: str, batch: int, repeat: int) -> dict:
    build, make_input = MODELS[name]
    torch.manual_seed(0)
    model = build()
    inputs = make_input(batch)

    def forward() -> None:
        model.eval()
        with torch.no_grad():
            model(inputs)

    def audited() -> object:
        return audit(model, inputs, print_table=False)

    forward()
    report = audited()
    forwards, audits = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        forward()
        forwards.append(time.perf_counter() - start)
        start = time.perf_counter()
        audited()
        audits.append(time.perf_counter() - start)
    return {"forward": statistics.median(forwards), "audit": statistics.median(audits),
            "layers": len(report.layers), "codes": report.codes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch.set_num_threads (default 1: steadier timings on a shared machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}, "
          f"median of {args.repeat}")
    print("| model | layers audited | forward (ms) | audit (ms) | audit / forward | target 3x + 50 ms | met | findings |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.models.split(","):
        result = measure(name, args.batch, args.repeat)
        target = TARGET_FACTOR * result["forward"] + TARGET_FIXED
        print(f"| {name} | {result['layers']} | {result['forward'] * 1e3:.1f} | {result['audit'] * 1e3:.1f} | "
              f"{result['audit'] / result['forward']:.1f}x | {target * 1e3:.0f} | "
              f"{'yes' if result['audit'] <= target else 'no'} | {' '.join(result['codes']) or 'none'} |",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
