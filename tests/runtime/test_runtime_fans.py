import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402

from initlint.runtime import fan, lecun_init_  # noqa: E402


def test_linear_fans():
    layer = nn.Linear(30, 20)
    assert fan(layer) == 30
    assert fan(layer.weight, layer, "fan_out") == 20
    assert fan(layer, mode="fan_avg") == 25


def test_grouped_and_depthwise_conv_fan_out_divides_by_groups():
    depthwise = nn.Conv2d(32, 32, 3, groups=32)
    assert fan(depthwise) == 9            # 1 input channel x 3x3
    assert fan(depthwise, mode="fan_out") == 9
    grouped = nn.Conv2d(16, 32, 3, groups=4)
    assert fan(grouped) == 4 * 9
    assert fan(grouped, mode="fan_out") == 8 * 9
    # torch's helper ignores groups for fan_out
    assert nn.init._calculate_fan_in_and_fan_out(grouped.weight)[1] == 32 * 9


def test_strided_conv_fan_out_and_transposed_conv_swap():
    strided = nn.Conv2d(8, 16, 4, stride=2)
    assert fan(strided) == 8 * 16
    assert fan(strided, mode="fan_out") == 16 * 16 / 4
    up = nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1)
    assert fan(up) == 64 * 16 / 4         # each output pixel sees 2x2 taps of 64 channels
    assert fan(up, mode="fan_out") == 32 * 16
    assert nn.init._calculate_fan_in_and_fan_out(up.weight)[0] == 32 * 16  # torch: swapped
    grouped_up = nn.ConvTranspose1d(12, 6, 3, groups=3)
    assert fan(grouped_up) == 4 * 3
    assert fan(grouped_up, mode="fan_out") == 2 * 3


def test_weight_alone_assumes_plain_layout():
    assert fan(torch.empty(16, 8, 3, 3)) == 72
    assert fan(torch.empty(16, 8, 3, 3), mode="fan_out") == 144


def test_bad_inputs():
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fan(torch.empty(5))
    with pytest.raises(ValueError, match="mode must be one of"):
        fan(nn.Linear(2, 2), mode="fan_sideways")


def test_lecun_on_transposed_conv_preserves_variance_because_of_the_fan():
    up = nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1, bias=False)
    lecun_init_(up, generator=torch.Generator().manual_seed(0))
    x = torch.randn(16, 64, 8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        interior = up(x)[:, :, 2:-2, 2:-2]
    # With torch's fan (32*16) the variance would be 0.25 instead of 1.
    assert interior.var().item() == pytest.approx(1.0, rel=0.1)
