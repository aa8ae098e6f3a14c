"""initlint.runtime on the module types today's models are made of (issue 21):
Hugging Face's Conv1D, nn.MultiheadAttention, NF-net gains, lazy norms, legacy
spectral norm, embeddings and tied weights; and the audit's agreement between
static scale findings and the measured signal, and its saturation finding."""
import math

import pytest
import torch
import torch.nn as nn

from initlint.runtime import audit, init_model_


def _vgg_like(div=8):
    """vgg11's first four stages at 1/8 width: 3x3 conv + in-place ReLU, max-pools."""
    layers, cin = [], 3
    for width in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
        if width == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(cin, width // div, 3, padding=1), nn.ReLU(inplace=True)]
            cin = width // div
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin * 4, 10))


def _images(batch=8, size=32):
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))


# ------------------------------------------------------------ scale findings need the measurement

def test_calibrated_plain_stack_has_no_scale_finding_where_the_signal_holds():
    model, images = _vgg_like(), _images()
    init_model_(model, images, calibrate=True)
    report = audit(model, images, print_table=False)
    # The static test alone marks a stack: after LSUV the first convs look Xavier/LeCun-scaled
    # (max-pooling raises the second moment, calibration scales them down to match) ...
    stack = [layer for layer in report.layers[:3] if set(layer.fingerprint.schemes) <= {"xavier", "lecun"}]
    assert len(stack) >= 2 and all(layer.follower.op == "relu" for layer in stack)
    # ... but the signal they hand on does not shrink, so nothing is reported.
    assert [layer.ratio for layer in report.layers[:3]] == pytest.approx([1.0, 1.0, 1.0], rel=0.5)
    assert report.codes == []


def test_xavier_plain_stack_is_still_reported():
    torch.manual_seed(0)
    model = _vgg_like()
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.xavier_normal_(module.weight)
            nn.init.zeros_(module.bias)
    report = audit(model, _images(), print_table=False)
    assert report.codes == ["INI002"]
    # The first conv (3 -> 8) reads as He(fan_out), which Xavier equals at this shape: not marked.
    assert [finding.layer for finding in report.findings] == ["3", "6", "8", "11", "13"]
    assert report.findings[0].message.startswith("xavier-scale weight before relu in a stack of such layers")
