import io
import math

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from initlint.runtime import assert_well_initialized, audit, fingerprint, he_init_, init_model_  # noqa: E402
from runtime_zoo import mlp  # noqa: E402


def _inputs(batch=128, features=64, seed=0):
    return torch.randn(batch, features, generator=torch.Generator().manual_seed(seed))


def _he_mlp(depth, width=64, activation=nn.ReLU):
    torch.manual_seed(0)
    model = mlp(depth, width, activation)
    for module in model:
        if isinstance(module, nn.Linear):
            he_init_(module, activation())
    return model


@pytest.mark.parametrize("fill, scheme, distribution", [
    (lambda w: nn.init.kaiming_uniform_(w, a=math.sqrt(5)), "default", "uniform"),
    (lambda w: nn.init.kaiming_normal_(w), "he", "normal"),
    (lambda w: nn.init.kaiming_uniform_(w), "he", "uniform"),
    (lambda w: nn.init.kaiming_normal_(w, mode="fan_out"), "he", "normal"),
    (lambda w: nn.init.xavier_uniform_(w), "xavier", "uniform"),
    (lambda w: nn.init.xavier_normal_(w), "xavier", "normal"),
    (lambda w: nn.init.normal_(w, std=1 / math.sqrt(400)), "lecun", "normal"),
    (lambda w: nn.init.trunc_normal_(w, std=0.05, a=-0.1, b=0.1), "custom", "truncated_normal"),
    (lambda w: nn.init.zeros_(w), "zero", "constant"),
    (lambda w: nn.init.constant_(w, 0.3), "constant", "constant"),
])
def test_fingerprint(fill, scheme, distribution):
    weight = torch.empty(200, 400)
    torch.manual_seed(1)
    fill(weight)
    guessed = fingerprint(weight)
    assert (guessed.scheme, guessed.distribution) == (scheme, distribution)


@pytest.mark.parametrize("shape, fill, scheme", [
    ((256, 128), lambda w: nn.init.kaiming_normal_(w, mode="fan_out"), "he/lecun"),  # out = 2 in
    ((256, 128), lambda w: nn.init.normal_(w, std=1 / math.sqrt(128)), "he/lecun"),
    ((128, 128), lambda w: nn.init.xavier_normal_(w), "xavier/lecun"),                # square
    ((128, 256), lambda w: nn.init.kaiming_normal_(w), "he"),                          # no tie
])
def test_fingerprint_reports_ties_as_ties(shape, fill, scheme):
    weight = torch.empty(*shape)
    torch.manual_seed(2)
    fill(weight)
    guessed = fingerprint(weight)
    assert guessed.scheme == scheme
    assert guessed.schemes == tuple(scheme.split("/"))


def test_fingerprint_describes_the_distribution_and_copies_no_whole_weight():
    torch.manual_seed(0)
    assert fingerprint(torch.empty(300, 300).normal_(0, 0.02)).describe() == "N(0, 0.02)"
    assert fingerprint(torch.empty(300, 300).uniform_(-0.1, 0.1)).describe() == "U(-0.1, 0.1)"
    assert fingerprint(torch.zeros(4, 4)).describe() == "zeros"
    assert fingerprint(torch.full((4, 4), 0.5)).describe() == "constant 0.5"
    # A weight of 3M elements: statistics in float64 over slices agree with a whole float64 copy.
    big = torch.empty(3000, 1000).normal_(0, 0.05)
    whole = big.double()
    guessed = fingerprint(big)
    assert guessed.std == pytest.approx(float(whole.std(unbiased=False)), rel=1e-9)
    fourth = float(((whole - whole.mean()) ** 4).mean())
    assert guessed.kurtosis == pytest.approx(fourth / float(whole.var(unbiased=False)) ** 2, rel=1e-9)


def test_fingerprint_on_conv_reports_scale_in_fan_in_units():
    conv = nn.Conv2d(16, 32, 3)
    torch.manual_seed(0)
    conv.reset_parameters()
    guessed = fingerprint(conv.weight, conv)
    assert guessed.scheme == "default"
    assert guessed.gain == pytest.approx(1 / math.sqrt(3), rel=0.05)
    he_init_(conv)
    assert str(fingerprint(conv.weight, conv)).startswith("he (normal, gain 1.4")


def test_figures_are_per_sample_second_moments():
    model = _he_mlp(3)
    inputs = _inputs()
    report = audit(model, inputs, print_table=False)
    with torch.no_grad():
        first = model[0](inputs)
        second = model[2](torch.relu(first))
    layer = report.layers[0]
    assert layer.pre_moment == pytest.approx(float(first.pow(2).mean()), rel=1e-5)
    assert layer.post_moment == pytest.approx(float(torch.relu(first).pow(2).mean()), rel=1e-5)
    assert layer.inactive_fraction == pytest.approx(float((first < 0).float().mean()))
    assert layer.dead_units == 0.0
    assert layer.ratio == 1.0
    assert report.layers[1].ratio == pytest.approx(float(torch.relu(second).pow(2).mean()) / layer.post_moment,
                                                   rel=1e-4)
    assert report.layers[2].follower.kind == "output"
    assert (report.layers[2].ratio, report.layers[2].post_moment, report.layers[2].inactive_fraction) == \
        (None, None, None)
    assert 0.9 < layer.input_share <= 1.0  # zero-mean random input: nearly all of it varies


def test_in_place_relu_does_not_change_what_is_measured():
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    in_place = nn.Sequential(nn.Linear(64, 64), nn.ReLU(inplace=True), nn.Linear(64, 10))
    in_place.load_state_dict(plain.state_dict())
    measured = [audit(model, _inputs(), print_table=False).layers[0] for model in (plain, in_place)]
    assert measured[0].pre_moment == measured[1].pre_moment
    assert measured[0].inactive_fraction == measured[1].inactive_fraction > 0.3


class ConvBNReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        x = self.drop(F.relu(self.bn(self.conv(x))))
        return self.head(x.mean((2, 3)))


def test_norms_use_batch_statistics_and_nothing_is_changed():
    torch.manual_seed(0)
    model = ConvBNReLU()
    nn.init.normal_(model.conv.weight, std=0.01)  # BN in eval mode would pass this on almost unchanged
    model.bn.running_mean.fill_(0.25)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    model.train()
    model.drop.eval()
    report = audit(model, torch.randn(8, 3, 6, 6), print_table=False)
    assert report.layers[0].post_moment == pytest.approx(0.5, abs=0.05)  # ReLU of a normalised signal
    assert report.layers[0].inactive_fraction == pytest.approx(0.5, abs=0.05)
    assert all(torch.equal(value, before[name]) for name, value in model.state_dict().items())
    assert model.training and model.bn.training and not model.drop.training
    assert model.bn.track_running_stats


def test_table_is_printed_and_formatted():
    out = io.StringIO()
    report = audit(_he_mlp(3), _inputs(), file=out)
    assert out.getvalue().rstrip("\n") == report.format() == str(report)
    lines = report.format().splitlines()
    assert lines[0].split()[:6] == ["#", "layer", "type", "followed", "by", "init"]
    assert lines[-1] == "no findings"
    assert [layer.follower.op for layer in report.layers] == ["relu", "relu", "output"]


def test_print_table_false_prints_nothing(capsys):
    audit(_he_mlp(3), _inputs(), print_table=False)
    assert capsys.readouterr().out == ""


def test_explosion_names_the_first_layer_past_the_threshold():
    model = _he_mlp(20)
    for module in model:
        if isinstance(module, nn.Linear):
            module.weight.data.mul_(2.0)  # He x2: the second moment grows 4x per layer
    report = audit(model, _inputs(), print_table=False)
    assert report.codes == ["INI301"]
    (finding,) = report.findings
    ratios = [layer.ratio for layer in report.layers if layer.ratio is not None]
    first = next(i for i, ratio in enumerate(ratios) if ratio > 1e4)
    assert finding.layer == report.layers[first].name
    assert finding.message.startswith(f"second moment grows to {ratios[first]:.3g}x that of the first hidden "
                                      "layer (0) (threshold 10000x)")
    assert audit(model, _inputs(), print_table=False, explode_above=1e12).codes == []


def test_collapse_names_the_first_layer_past_the_threshold():
    torch.manual_seed(0)
    model = mlp(10)
    for module in model:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.01)  # 64 * 1e-4 / 2: the moment shrinks ~300x per layer
            nn.init.zeros_(module.bias)
    report = audit(model, _inputs(), print_table=False)
    assert report.codes == ["INI300"]
    assert str(report.findings[0]).startswith("INI300 4: second moment falls to ")
    assert report.findings[0].message.endswith("of that of the first hidden layer (0) (threshold 0.0001)")
    assert audit(model, _inputs(), print_table=False, collapse_below=1e-30).codes == []


def test_default_init_stack_loses_the_input_and_is_reported():
    torch.manual_seed(0)
    report = audit(mlp(20), _inputs(), print_table=False)
    assert report.codes == ["INI003", "INI300"]
    relu_layers = [layer for layer in report.layers if layer.follower.op == "relu"]
    assert [layer.codes for layer in relu_layers if layer.name != "20"] == [("INI003",)] * 18
    collapse = next(finding for finding in report.findings if finding.code == "INI300")
    assert collapse.message.startswith("the output no longer depends on the input: only ")
    assert report.layers[-2].input_share < 1e-6


def test_dead_units_are_reported_at_the_layer_whose_bias_causes_them():
    model = _he_mlp(8)
    nn.init.constant_(model[4].bias, -2.0)
    report = audit(model, _inputs(), print_table=False)
    assert report.codes == ["INI302"]
    (finding,) = report.findings
    assert finding.layer == "4"
    assert finding.message.startswith("relu gets a negative input for 9")
    assert "its bias averages -2 against a spread of " in finding.message
    assert report.layers[2].inactive_fraction > 0.8
    assert all(layer.inactive_fraction < 0.6 for layer in report.layers[3:-1])  # downstream is not blamed
    nn.init.constant_(model[4].bias, -3.0)
    assert [finding.layer for finding in audit(model, _inputs(), print_table=False).findings] == ["4"]
    assert audit(model, _inputs(), print_table=False, dead_above=0.99).codes == []


def test_symmetric_units_are_reported():
    model = _he_mlp(4)
    with torch.no_grad():
        model[2].weight[3] = model[2].weight[0]
        model[2].weight[7] = model[2].weight[0]
    report = audit(model, _inputs(), print_table=False)
    assert [str(finding) for finding in report.findings] == [
        "INI303 2: 3 of 64 units have the same weights as another unit: they compute the same thing and "
        "get the same gradient"]
    assert report.layers[1].duplicate_rows == 3
    assert report.layers[0].duplicate_rows == 0


def test_zero_hidden_layer_and_xavier_stack_get_the_static_codes():
    torch.manual_seed(0)
    model = mlp(6)
    for module in model:
        if isinstance(module, nn.Linear):
            nn.init.xavier_normal_(module.weight)
            nn.init.zeros_(module.bias)
    report = audit(model, _inputs(), print_table=False)
    assert [layer.codes for layer in report.layers] == [("INI002",)] * 5 + [()]
    nn.init.zeros_(model[4].weight)
    report = audit(model, _inputs(), print_table=False)
    assert report.layers[2].fingerprint.scheme == "zero"
    assert report.layers[2].codes == ("INI001", "INI300")
    assert report.findings[3].message == "the signal is exactly zero here (the first hidden layer is 0)"


def test_a_single_xavier_layer_before_relu_is_not_a_stack():
    model = _he_mlp(4)
    nn.init.xavier_normal_(model[0].weight)
    assert audit(model, _inputs(), print_table=False).codes == []


def test_assert_well_initialized():
    torch.manual_seed(0)
    model = mlp(3)
    nn.init.zeros_(model[2].weight)
    with pytest.raises(AssertionError) as raised:
        assert_well_initialized(model, _inputs())
    message = str(raised.value)
    assert message.startswith("initlint audit found 2 problem(s):")
    assert "  INI001 2: zero weight followed by relu: every unit computes the same thing" in message
    assert "  INI300 2: the output no longer depends on the input: only 0 of its second moment varies" in message
    init_model_(model)
    assert assert_well_initialized(model, _inputs()).ok


@pytest.mark.parametrize("inputs, options, message", [
    (torch.randn(1, 64), {}, "batch of at least 2"),
    (_inputs(), {"collapse_below": 2.0}, "need 0 < collapse_below < 1 < explode_above"),
    (_inputs(), {"dead_above": 1.5}, "0 < dead_above < 1"),
])
def test_bad_arguments_are_rejected(inputs, options, message):
    with pytest.raises(ValueError, match=message):
        audit(_he_mlp(3), inputs, print_table=False, **options)


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "moments.png"
    audit(_he_mlp(3), _inputs(), print_table=False, plot=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_constant_hidden_weight_is_ini001_not_symmetric_units():
    model = _he_mlp(4)
    nn.init.constant_(model[0].weight, 0.1)
    report = audit(model, _inputs(), print_table=False)
    assert [(finding.code, finding.layer) for finding in report.findings] == [("INI001", "0")]
    assert report.layers[0].duplicate_rows == 0  # not counted: INI001 already says it


def test_saturated_fraction_for_tanh_and_sigmoid():
    model = _he_mlp(3, activation=nn.Tanh)
    inputs = _inputs()
    healthy = audit(model, inputs, print_table=False).layers[0]
    with torch.no_grad():
        expected = float((torch.tanh(model[0](inputs)).abs() > 0.99).float().mean())
    assert healthy.saturated_fraction == pytest.approx(expected)
    model[0].weight.data.mul_(10)
    saturated = audit(model, inputs, print_table=False).layers[0]
    assert healthy.saturated_fraction < 0.2 < 0.7 < saturated.saturated_fraction  # 5/3 gain: ~11%
    assert saturated.inactive_fraction is None and saturated.dead_units is None
    sigmoid = nn.Sequential(nn.Linear(64, 64), nn.Sigmoid(), nn.Linear(64, 2))
    nn.init.constant_(sigmoid[0].bias, 10.0)
    assert audit(sigmoid, inputs, print_table=False).layers[0].saturated_fraction > 0.9
