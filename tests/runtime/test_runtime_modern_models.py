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


# ------------------------------------------------------------------------- saturation (INI304)

def _tanh_mlp(depth=50, width=64, activation=nn.Tanh, std=1.0):
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), activation()]
    model = nn.Sequential(*layers, nn.Linear(width, 10))
    generator = torch.Generator().manual_seed(0)
    for module in model:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, std, generator=generator)
            nn.init.zeros_(module.bias)
    return model


def _vectors(batch=256, width=64):
    return torch.randn(batch, width, generator=torch.Generator().manual_seed(1))


def test_saturated_tanh_mlp_is_reported_at_every_saturated_layer():
    report = audit(_tanh_mlp(), _vectors(), print_table=False)
    assert report.codes == ["INI304"]
    assert [finding.layer for finding in report.findings] == [str(2 * index) for index in range(50)]
    first = report.findings[0].message
    assert first.startswith("tanh is saturated for 7") and "% of this layer's outputs (|tanh| > 0.99" in first
    assert 'xavier_init_(layer, "tanh")' in first
    assert all(layer.saturated_fraction > 0.6 for layer in report.layers[:50])


def test_tanh_mlp_after_init_model_is_not_saturated():
    model = _tanh_mlp()
    init_model_(model)
    report = audit(model, _vectors(), print_table=False)
    assert report.codes == []
    assert max(layer.saturated_fraction for layer in report.layers[:50]) < 0.2  # 5/3 gain on unit inputs: ~11%


def test_saturation_threshold_is_an_option():
    model = _tanh_mlp(depth=3, std=0.35)  # pre-activation second moment about 8: ~30% saturated
    fractions = [layer.saturated_fraction for layer in audit(model, _vectors(), print_table=False).layers[:3]]
    assert all(0.2 < fraction < 0.5 for fraction in fractions)
    assert audit(model, _vectors(), print_table=False).codes == []
    assert audit(model, _vectors(), print_table=False, saturated_above=0.2).codes == ["INI304"]
    with pytest.raises(ValueError, match="0 < saturated_above < 1"):
        audit(model, _vectors(), print_table=False, saturated_above=1.5)


def test_hardtanh_and_sigmoid_saturation():
    hard = _tanh_mlp(depth=2, activation=nn.Hardtanh)
    report = audit(hard, _vectors(), print_table=False)
    assert report.codes == ["INI304"]
    assert "hardtanh is saturated for 9" in report.findings[0].message
    assert "(|x| >= 1, where its gradient is 0)" in report.findings[0].message
    in_place = _tanh_mlp(depth=2, activation=lambda: nn.Hardtanh(inplace=True))
    assert audit(in_place, _vectors(), print_table=False).layers[0].saturated_fraction == \
        pytest.approx(report.layers[0].saturated_fraction)
    gate = nn.Sequential(nn.Linear(64, 64), nn.Sigmoid(), nn.Linear(64, 2))
    nn.init.constant_(gate[0].bias, 10.0)
    report = audit(gate, _vectors(), print_table=False)
    assert [(finding.code, finding.layer) for finding in report.findings] == [("INI304", "0")]
    assert "(sigmoid < 0.01 or > 0.99, where its gradient is under 4% of its peak)" in report.findings[0].message
    # ReLU6 lowers to hardtanh(0, 6): a ReLU, not a saturating activation.
    relu6 = _tanh_mlp(depth=2, activation=nn.ReLU6)
    assert audit(relu6, _vectors(), print_table=False).layers[0].saturated_fraction is None
