"""Deep plain stacks: default init collapses the input-dependent signal, init_model_ does not.

Note on the bounds: under He init the *across-batch* std of a plain ReLU stack still
decays, because ReLU makes different inputs' representations more correlated with
depth (mean-field: c -> (sqrt(1-c^2) + (pi - arccos c) c) / pi, std ratio
sqrt(1 - c)).  He preserves the second moment, not that correlation, so at depth 19
the predicted ratio is 0.245, not 1; the tests check that prediction.
"""
import math

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402

from initlint.runtime import audit, init_model_, xavier_init_, zero_init_  # noqa: E402

DEPTH = 20


def relu_mlp(width=512, depth=DEPTH):
    layers = [nn.Linear(64, width), nn.ReLU()]
    for _ in range(depth - 2):
        layers += [nn.Linear(width, width), nn.ReLU()]
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def conv_stack(channels=64, depth=DEPTH):
    # Circular padding keeps zero-padding border losses (large at 8x8) out of the picture.
    def conv(cin):
        return nn.Conv2d(cin, channels, 3, padding=1, padding_mode="circular")
    layers = [conv(3), nn.ReLU()]
    for _ in range(depth - 2):
        layers += [conv(channels), nn.ReLU()]
    layers.append(conv(channels))
    return nn.Sequential(*layers)


def mean_field_std_ratio(depth):
    correlation = 0.0  # independent Gaussian inputs
    for _ in range(depth - 1):
        correlation = (math.sqrt(1 - correlation**2)
                       + (math.pi - math.acos(correlation)) * correlation) / math.pi
    return math.sqrt(1 - correlation)


@pytest.fixture(scope="module")
def mlp_inputs():
    return torch.randn(128, 64, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def conv_inputs():
    return torch.randn(64, 3, 8, 8, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("build, inputs", [(relu_mlp, "mlp_inputs"), (conv_stack, "conv_inputs")])
def test_default_init_collapses_and_audit_says_so(build, inputs, request):
    torch.manual_seed(0)
    report = audit(build(), request.getfixturevalue(inputs), print_table=False)
    ratios = [layer.std_ratio for layer in report.layers]
    assert len(ratios) == DEPTH
    assert ratios[-1] < 1e-3
    assert report.codes == ["INI003", "INI300"]
    relu_layers = [layer for layer in report.layers if layer.follower.op == "relu"]
    assert [layer.codes for layer in relu_layers] == [("INI003",)] * (DEPTH - 1)
    assert {layer.fingerprint.scheme for layer in report.layers} == {"default"}
    assert {layer.fingerprint.distribution for layer in report.layers} == {"uniform"}
    assert report.layers[-2].dead_fraction > 0.3  # the bias, not the input, decides the sign


# The conv head is square (64 -> 64 channels), where LeCun and Xavier give the same
# std; the fingerprint then reports "xavier".
@pytest.mark.parametrize("build, inputs, head_scheme", [
    (relu_mlp, "mlp_inputs", "lecun"), (conv_stack, "conv_inputs", "xavier")])
def test_init_model_keeps_the_signal_and_audit_is_clean(build, inputs, head_scheme, request):
    torch.manual_seed(0)
    model = build()
    record = init_model_(model)
    report = audit(model, request.getfixturevalue(inputs), print_table=False)
    ratios = [layer.std_ratio for layer in report.layers]
    assert report.findings == []
    assert 0.15 < ratios[-1] < 2.0
    assert all(0.15 < ratio <= 1.0 for ratio in ratios)
    assert ratios[-2] == pytest.approx(mean_field_std_ratio(DEPTH - 1), abs=0.06)
    assert [layer.fingerprint.scheme for layer in report.layers] == ["he"] * (DEPTH - 1) + [head_scheme]
    assert {layer.fingerprint.distribution for layer in report.layers} == {"normal"}
    assert report.layers[-2].dead_fraction < 0.3
    assert [entry.action for entry in record.params.values()] == ["he", "zero"] * (DEPTH - 1) + ["lecun", "zero"]


def test_mlp_figures(mlp_inputs):
    """The numbers quoted in docs/runtime.md."""
    torch.manual_seed(0)
    default = audit(relu_mlp(), mlp_inputs, print_table=False).layers[-1].std_ratio
    model = relu_mlp()
    init_model_(model)
    fixed = audit(model, mlp_inputs, print_table=False).layers[-1].std_ratio
    assert default < 1e-7
    assert fixed == pytest.approx(0.20, abs=0.03)


def test_fingerprints_xavier_and_zero_and_their_codes(mlp_inputs):
    torch.manual_seed(0)
    model = relu_mlp(depth=6)
    for module in model:
        xavier_init_(module if isinstance(module, nn.Linear) else None)
    report = audit(model, mlp_inputs, print_table=False)
    assert [layer.fingerprint.scheme for layer in report.layers] == ["xavier"] * 6
    assert [layer.codes for layer in report.layers] == [("INI002",)] * 5 + [()]
    assert report.codes == ["INI002"]

    zero_init_(model[4])
    report = audit(model, mlp_inputs, print_table=False)
    assert report.layers[2].fingerprint.scheme == "zero"
    assert report.layers[2].codes == ("INI001",)
    assert report.layers[3].activation_std == 0.0
    assert report.codes == ["INI001", "INI002", "INI300"]
