"""Deep plain stacks: what each init does to the per-sample second moment by depth."""
import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402

from initlint.runtime import audit, init_model_  # noqa: E402
from runtime_zoo import mlp  # noqa: E402

DEPTH = 20


def conv_stack(channels=32, depth=DEPTH):
    # Circular padding keeps zero-padding border losses (large at 8x8) out of the picture.
    def conv(cin):
        return nn.Conv2d(cin, channels, 3, padding=1, padding_mode="circular")
    layers = [conv(3), nn.ReLU()]
    for _ in range(depth - 2):
        layers += [conv(channels), nn.ReLU()]
    layers.append(conv(channels))
    return nn.Sequential(*layers)


def relative_moments(report):
    """Each layer's per-sample second moment (pre-activation) / layer 1's."""
    return [layer.pre_moment / report.layers[0].pre_moment for layer in report.layers]


@pytest.fixture(scope="module")
def mlp_inputs():
    return torch.randn(256, 64, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def conv_inputs():
    return torch.randn(32, 3, 8, 8, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("build, inputs", [(lambda: mlp(DEPTH, 256), "mlp_inputs"), (conv_stack, "conv_inputs")])
def test_default_init_stack_is_reported_and_init_model_fixes_it(build, inputs, request):
    batch = request.getfixturevalue(inputs)
    torch.manual_seed(0)
    model = build()
    report = audit(model, batch, print_table=False)
    assert report.codes == ["INI003", "INI300"]
    assert {layer.fingerprint.scheme for layer in report.layers} == {"default"}
    record = init_model_(model)
    report = audit(model, batch, print_table=False)
    assert report.findings == []
    assert [entry.action for entry in record.params.values()] == ["he", "zero"] * (DEPTH - 1) + ["lecun", "zero"]
    assert {layer.fingerprint.distribution for layer in report.layers} == {"normal"}
    assert all(layer.input_share > 1e-3 for layer in report.layers)


def test_he_keeps_a_wide_relu_mlp_within_a_factor_of_two(mlp_inputs):
    torch.manual_seed(0)
    model = mlp(DEPTH, 256)
    init_model_(model)
    moments = relative_moments(audit(model, mlp_inputs, print_table=False))
    assert all(0.5 <= moment <= 2.0 for moment in moments)


ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu(0.2)": lambda: nn.LeakyReLU(0.2),
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "selu": nn.SELU,
}


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_calibrated_50_layer_mlp_holds_its_second_moment(activation, mlp_inputs):
    torch.manual_seed(0)
    model = mlp(50, 64, ACTIVATIONS[activation])
    record = init_model_(model, mlp_inputs, calibrate=True)
    report = audit(model, mlp_inputs, print_table=False)
    moments = relative_moments(report)
    assert len(moments) == 50
    assert all(0.5 <= moment <= 2.0 for moment in moments), (min(moments), max(moments))
    assert report.findings == []
    weights = [entry for name, entry in record.params.items() if name.endswith("weight")]
    assert all(entry.calibration is not None and "LSUV x" in entry.reason for entry in weights)
    assert all(entry.std == pytest.approx(float(model[2 * i].weight.detach().std()), rel=0.05)
               for i, entry in enumerate(weights))


def test_calibrate_needs_example_inputs():
    with pytest.raises(ValueError, match="calibrate=True needs example_inputs"):
        init_model_(mlp(3), calibrate=True)


def test_uncalibrated_selu_gets_lecun_and_holds_50_layers(mlp_inputs):
    torch.manual_seed(0)
    model = mlp(50, 64, nn.SELU)
    record = init_model_(model)
    assert record["0.weight"].action == "lecun"
    assert record["0.weight"].reason == "followed by selu (self-normalising: LeCun)"
    moments = relative_moments(audit(model, mlp_inputs, print_table=False))
    assert all(0.5 <= moment <= 2.0 for moment in moments)


@pytest.mark.parametrize("activation, first_out_of_band", [("gelu", 14), ("silu", 5)])
def test_uncalibrated_smooth_activations_hold_to_the_documented_depth(activation, first_out_of_band, mlp_inputs):
    """docs/runtime.md: no zero-bias gain gives GELU/SiLU a stable fixed point; at width
    64 the second moment leaves [0.5, 2] x layer 1's at these depths."""
    torch.manual_seed(0)
    model = mlp(50, 64, ACTIVATIONS[activation])
    init_model_(model)
    report = audit(model, mlp_inputs, print_table=False)
    moments = relative_moments(report)
    assert next(depth for depth, moment in enumerate(moments, 1) if not 0.5 <= moment <= 2.0) == first_out_of_band
    assert report.codes == (["INI301"] if activation == "silu" else [])
