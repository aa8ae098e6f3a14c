import io
import math

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402

from initlint.runtime import assert_well_initialized, audit, fingerprint, he_init_, init_model_  # noqa: E402


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 4))


def _inputs():
    return torch.randn(64, 32, generator=torch.Generator().manual_seed(0))


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


def test_fingerprint_on_conv_reports_scale_in_fan_in_units():
    conv = nn.Conv2d(16, 32, 3)
    torch.manual_seed(0)
    conv.reset_parameters()
    guessed = fingerprint(conv.weight, conv)
    assert guessed.scheme == "default"
    assert guessed.gain == pytest.approx(1 / math.sqrt(3), rel=0.05)
    he_init_(conv)
    assert str(fingerprint(conv.weight, conv)).startswith("he (normal, gain 1.4")


def test_table_is_printed_and_formatted():
    out = io.StringIO()
    report = audit(_net(), _inputs(), file=out)
    assert out.getvalue().rstrip("\n") == report.format() == str(report)
    header = report.format().splitlines()[0].split()
    assert header[:3] == ["#", "layer", "type"]
    assert report.format().splitlines()[-1] == "no findings"  # 3 layers: no collapse yet
    assert [layer.follower.op for layer in report.layers] == ["relu", "relu", "output"]
    assert [layer.dead_fraction is None for layer in report.layers] == [False, False, True]


def test_print_table_false_prints_nothing(capsys):
    audit(_net(), _inputs(), print_table=False)
    assert capsys.readouterr().out == ""


def test_assert_well_initialized():
    model = _net()
    nn.init.zeros_(model[2].weight)
    with pytest.raises(AssertionError) as raised:
        assert_well_initialized(model, _inputs())
    message = str(raised.value)
    assert message.startswith("initlint audit found 3 problem(s):")
    assert "INI003 0: PyTorch default init before relu" in message
    assert "INI001 2: zero weight followed by relu" in message
    assert "INI300 <model>:" in message
    init_model_(model)
    assert assert_well_initialized(model, _inputs()).ok


def test_collapse_threshold_is_a_parameter():
    model = _net()
    for layer in (model[0], model[2]):
        nn.init.normal_(layer.weight, std=0.3 / math.sqrt(layer.in_features))
        nn.init.zeros_(layer.bias)
    assert audit(model, _inputs(), print_table=False).codes == ["INI300"]
    assert audit(model, _inputs(), print_table=False, collapse_below=0.01).codes == []


def test_batch_of_one_is_rejected():
    with pytest.raises(ValueError, match="batch of at least 2"):
        audit(_net(), torch.randn(1, 32), print_table=False)


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "std.png"
    audit(_net(), _inputs(), print_table=False, plot=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
