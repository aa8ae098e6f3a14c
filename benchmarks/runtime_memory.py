#!/usr/bin/env python3
"""Peak memory of ``initlint.runtime.audit`` against a plain forward of the same batch.

    .venv/bin/python benchmarks/runtime_memory.py [--model vgg11|resnet50ish|mlp] [--batch 8]

Each measurement runs in its own subprocess: build the model (torchvision's VGG11
layout at full width, 133M parameters, or the others below) and the input batch,
reset the peak resident set size (Linux: ``5 > /proc/self/clear_refs``), then run
either ``model(x)`` under ``torch.no_grad()`` or ``audit(model, x)``, and read the
peak (``VmHWM``).  "Resident before" is what the model and the batch hold; the
ratio that matters is the extra memory each run needs on top of that, and the
ratio of the peaks.  Prints figures; asserts nothing.  Needs Linux and torch.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, sys
import torch, torch.nn as nn

def vgg11():
    layers, cin = [], 3
    for width in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
        if width == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(cin, width, 3, padding=1), nn.ReLU(inplace=True)]
            cin = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(7), nn.Flatten(),
                         nn.Linear(512 * 49, 4096), nn.ReLU(True), nn.Dropout(),
                         nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, 1000))

def resnet50ish():  # conv-BN-ReLU bottleneck stacks at ResNet-50's widths, without the skips
    layers, cin = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(True), nn.MaxPool2d(3, 2, 1)], 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for block in range(blocks):
            for cout, kernel, step in ((width, 1, 1), (width, 3, stride if block == 0 else 1), (4 * width, 1, 1)):
                layers += [nn.Conv2d(cin, cout, kernel, step, kernel // 2, bias=False), nn.BatchNorm2d(cout),
                           nn.ReLU(True)]
                cin = cout
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 1000))

def mlp():
    layers = []
    for _ in range(50):
        layers += [nn.Linear(1024, 1024), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(1024, 10))

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
    raise RuntimeError(field + " not in /proc/self/status")

name, batch, what = sys.argv[1], int(sys.argv[2]), sys.argv[3]
torch.manual_seed(0)
model = {"vgg11": vgg11, "resnet50ish": resnet50ish, "mlp": mlp}[name]()
x = torch.randn(batch, 1024) if name == "mlp" else torch.randn(batch, 3, 224, 224)
if what == "audit":
    from initlint.runtime import audit
    from initlint.runtime.follow import find_followers
    find_followers(model)  # import torch.fx and trace before the peak is reset: not the run's memory
before = rss("VmRSS")
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")
if what == "forward":
    with torch.no_grad():
        model(x)
else:
    audit(model, x, print_table=False)
print(json.dumps({"before": before, "peak": rss("VmHWM")}))
"""


def measure(model: str, batch: int, what: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, model, str(batch), what],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("vgg11", "resnet50ish", "mlp"), default="vgg11")
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    forward = measure(args.model, args.batch, "forward")
    audited = measure(args.model, args.batch, "audit")
    mib = 1024 * 1024
    print(f"{args.model}, batch {args.batch}")
    print(f"{'run':8}  {'resident before':>15}  {'peak':>9}  {'extra':>9}")
    for label, figures in (("forward", forward), ("audit", audited)):
        extra = figures["peak"] - figures["before"]
        print(f"{label:8}  {figures['before'] / mib:12.0f} MiB  {figures['peak'] / mib:5.0f} MiB  "
              f"{extra / mib:5.0f} MiB")
    print(f"audit / forward: peak {audited['peak'] / forward['peak']:.2f}x, extra "
          f"{(audited['peak'] - audited['before']) / max(forward['peak'] - forward['before'], 1):.2f}x")


if __name__ == "__main__":
    main()
