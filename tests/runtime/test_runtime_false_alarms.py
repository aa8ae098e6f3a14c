"""Findings the audit made on stock, correctly initialised library models (timm's
NF-nets and SE-ResNets, ...), rebuilt here in short, with look-alikes that must
still be reported."""
import math

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from initlint.runtime import audit  # noqa: E402

_NF_RELU_GAMMA = 1.7139588594436646  # timm's gamma for ReLU


class StandardisedConv2d(nn.Conv2d):
    """timm's ScaledStdConv2d in short: the weight used is standardised per output
    channel, times gain * gamma / sqrt(fan_in); the stored weight's scale is ignored."""

    def __init__(self, cin, cout, kernel, gain_init=1.0):
        super().__init__(cin, cout, kernel, padding=kernel // 2)
        self.gain = nn.Parameter(torch.full((cout, 1, 1, 1), gain_init))
        self.scale = _NF_RELU_GAMMA * self.weight[0].numel() ** -0.5

    def forward(self, x):
        weight = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None,
                              weight=(self.gain * self.scale).view(-1), training=True, momentum=0.0,
                              eps=1e-6).reshape_as(self.weight)
        return F.conv2d(x, weight, self.bias, self.stride, self.padding)


class SqueezeExcite(nn.Module):
    def __init__(self, channels, reduced):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Conv2d(channels, reduced, 1), nn.ReLU(), nn.Conv2d(reduced, channels, 1)

    def forward(self, x):
        return x * torch.sigmoid(self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True)))))


class NormFreeBlock(nn.Module):
    """Pre-activation NF bottleneck as timm builds it: weights drawn LeCun-scaled
    (kaiming fan_in, gain 1), the last conv's gain zero so the block starts as the
    identity, optionally a squeeze-excite after that conv (nf_seresnet, nfnet_f0)."""

    def __init__(self, channels, mid, squeeze_excite=False):
        super().__init__()
        self.act1, self.conv1 = nn.ReLU(), StandardisedConv2d(channels, mid, 1)
        self.act2, self.conv2 = nn.ReLU(), StandardisedConv2d(mid, mid, 3)
        self.act3, self.conv3 = nn.ReLU(), StandardisedConv2d(mid, channels, 1, gain_init=0.0)
        self.attn = SqueezeExcite(channels, channels // 4) if squeeze_excite else nn.Identity()

    def forward(self, x):
        out = self.conv3(self.act3(self.conv2(self.act2(self.conv1(self.act1(x))))))
        return self.attn(out) * 0.2 + x


def nf_net(blocks=2, channels=32, squeeze_excite=False):
    model = nn.Sequential(StandardisedConv2d(3, channels, 3),
                          *[NormFreeBlock(channels, channels // 2, squeeze_excite) for _ in range(blocks)],
                          nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 10))
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="linear")  # timm's NF init: LeCun-scaled
            nn.init.zeros_(module.bias)
    return model


def lecun_conv_stack(depth=4, channels=32):
    """Plain 3x3 convs, LeCun-scaled, each before a ReLU: the signal really halves at each."""
    layers = []
    for index in range(depth):
        conv = nn.Conv2d(3 if index == 0 else channels, channels, 3, padding=1)
        nn.init.kaiming_normal_(conv.weight, nonlinearity="linear")
        nn.init.zeros_(conv.bias)
        layers += [conv, nn.ReLU()]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * 4, 10))


def images(size, batch=8, seed=0):
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("size", [1, 2, 4, 32])
def test_weight_standardised_convs_on_small_maps_are_not_xavier_stacks(size):
    # timm's nf_resnet26 at 64x64 input: its last stage works on 2x2 maps, where a 3x3 conv
    # reads zero padding for 5 of its 9 taps, so its output shrinks to 4/9 whatever the init;
    # that was taken for the halving a LeCun stack causes (INI002 on conv1 and conv2).
    torch.manual_seed(0)
    report = audit(nf_net(), images(size), print_table=False)
    assert report.findings == []


def test_lecun_stack_on_small_maps_is_still_reported():
    torch.manual_seed(0)
    report = audit(lecun_conv_stack(), images(2), print_table=False)
    assert [(f.code, f.layer) for f in report.findings] == [("INI002", str(i)) for i in (0, 2, 4, 6)]
    conv = next(layer for layer in report.layers if layer.name == "2")
    assert set(conv.fingerprint.schemes) == {"xavier", "lecun"}


def test_padding_share_is_measured_per_layer():
    from initlint.runtime.measure import zero_padding_share

    conv = nn.Conv2d(1, 1, 3, padding=1)
    tiny = torch.ones(1, 1, 2, 2)
    assert zero_padding_share(conv, tiny, conv(tiny)) == pytest.approx(4 / 9)
    same = nn.Conv2d(1, 1, 3, padding="same")
    assert zero_padding_share(same, tiny, same(tiny)) == pytest.approx(4 / 9)
    big = torch.ones(1, 1, 64, 64)
    assert zero_padding_share(conv, big, conv(big)) == pytest.approx((1 - 2 / (3 * 64)) ** 2)
    reflect = nn.Conv2d(1, 1, 3, padding=1, padding_mode="reflect")
    assert zero_padding_share(reflect, tiny, reflect(tiny)) == 1.0


def test_zero_gain_branch_end_before_squeeze_excite_is_not_a_collapse():
    # timm's nfnet_f0 / nf_seresnet26: the zero-gain conv3 feeds the squeeze-excite's fc1,
    # so it counted as a hidden layer whose signal is exactly zero (INI300).
    torch.manual_seed(0)
    report = audit(nf_net(squeeze_excite=True), images(16), print_table=False)
    assert report.findings == []
    conv3 = next(layer for layer in report.layers if layer.name == "1.conv3")
    assert conv3.pre_moment == 0.0 and conv3.follower.kind == "layer"


class SEBottleneck(nn.Module):
    """timm's seresnet50 block with zero_init_last: bn3's gamma is zero, so the
    squeeze-excite after it sees the same (zero) input for every example."""

    def __init__(self, channels, zero_gamma=True):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        self.conv2, self.bn2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        self.se = SqueezeExcite(channels, channels // 4)
        if zero_gamma:
            nn.init.zeros_(self.bn2.weight)

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(self.se(out) + x)


def se_resnet(zero_gamma=True):
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                          SEBottleneck(16, zero_gamma), SEBottleneck(16, zero_gamma),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    return model


def test_squeeze_excite_after_zero_gamma_is_not_a_collapse():
    torch.manual_seed(0)
    report = audit(se_resnet(), images(16), print_table=False)
    assert report.findings == []
    fc1 = next(layer for layer in report.layers if layer.name == "3.se.fc1")
    assert fc1.input_share == 0.0


def test_layer_whose_own_input_share_vanishes_is_still_a_collapse():
    # A default-init ReLU stack whose biases take over: every layer's input still varies a
    # little across the batch, so the layer where the share is lost is reported.
    torch.manual_seed(0)
    layers = []
    for index in range(40):
        layers += [nn.Linear(64, 64), nn.ReLU()]
    report = audit(nn.Sequential(*layers, nn.Linear(64, 10)), torch.randn(16, 64), print_table=False)
    collapse = [f for f in report.findings if f.code == "INI300"]
    assert len(collapse) == 1 and math.isfinite(report.layers[0].pre_moment)


class DarkBlock(nn.Module):
    """timm's darknet53/cspdarknet53 block with zero_init_last: the norm after conv2 has
    a zero gamma, so conv2's signal (norm, then LeakyReLU) is exactly zero on purpose."""

    def __init__(self, channels):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(channels, channels // 2, 1, bias=False), nn.BatchNorm2d(channels // 2)
        self.conv2, self.bn2 = nn.Conv2d(channels // 2, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)
        nn.init.zeros_(self.bn2.weight)

    def forward(self, x):
        out = F.leaky_relu(self.bn1(self.conv1(x)), 0.1)
        return x + F.leaky_relu(self.bn2(self.conv2(out)), 0.1)


def test_zero_gamma_after_a_hidden_layer_is_not_a_collapse():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.LeakyReLU(0.1),
                          DarkBlock(16), DarkBlock(16), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))
    report = audit(model, images(16), print_table=False)
    assert report.findings == []
    conv2 = next(layer for layer in report.layers if layer.name == "3.conv2")
    assert conv2.post_moment == 0.0 and conv2.ratio == 0.0


class ClassAttentionBlock(nn.Module):
    """CaiT's class-attention stage in short: a learned class token (the same for every
    example) attends to the patches; what it takes from them is scaled by a LayerScale
    of 1e-5, so the class token's MLP input barely depends on the input, by design."""

    def __init__(self, dim=32, patch=16, layer_scale=1e-5):
        super().__init__()
        self.embed = nn.Linear(patch, dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.attn = nn.MultiheadAttention(dim, 4, batch_first=True)
        self.gamma1 = nn.Parameter(torch.full((dim,), layer_scale))
        self.norm = nn.LayerNorm(dim)
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.gamma2 = nn.Parameter(torch.full((dim,), layer_scale))
        self.head = nn.Linear(dim, 10)

    def forward(self, patches):
        tokens = F.gelu(self.embed(patches))  # the first hidden layer: the reference
        cls = self.cls_token.expand(patches.shape[0], -1, -1)
        both = torch.cat([cls, tokens], dim=1)
        cls = cls + self.gamma1 * self.attn(cls, both, both, need_weights=False)[0]
        cls = cls + self.gamma2 * self.fc2(F.gelu(self.fc1(self.norm(cls))))
        return self.head(cls[:, 0])


def test_class_token_behind_a_tiny_layer_scale_is_not_a_collapse():
    torch.manual_seed(0)
    model = ClassAttentionBlock()
    report = audit(model, torch.randn(8, 9, 16, generator=torch.Generator().manual_seed(0)), print_table=False)
    assert report.findings == []
    fc1 = next(layer for layer in report.layers if layer.name == "fc1")
    assert fc1.input_share < 1e-6  # measured as lost, but not lost by fc1
    # The same block with a LayerScale of 1 depends on the input: nothing to explain away.
    torch.manual_seed(0)
    plain = audit(ClassAttentionBlock(layer_scale=1.0), torch.randn(8, 9, 16), print_table=False)
    assert next(layer for layer in plain.layers if layer.name == "fc1").input_share > 1e-3


class SqueezedBranch(nn.Module):
    """dm_nfnet_f1's last stage in short: a branch whose output is small but alive (about
    1e-3 of the stem's) feeds a squeeze-excite; the spatial mean of that zero-mean map is
    smaller still by geometry (about 1 / positions), which no init decides."""

    def __init__(self, pool, branch_std=0.03):
        super().__init__()
        self.stem, self.norm = nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32)
        self.branch = nn.Conv2d(32, 64, 1, bias=False)
        nn.init.normal_(self.branch.weight, 0.0, branch_std / math.sqrt(32))
        self.pool = pool
        self.fc1, self.fc2 = nn.Conv2d(64, 16, 1), nn.Conv2d(16, 64, 1)
        for fc in (self.fc1, self.fc2):
            nn.init.kaiming_normal_(fc.weight, nonlinearity="linear")
            nn.init.zeros_(fc.bias)
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        trunk = torch.tanh(self.norm(self.stem(x)))  # zero-mean, as an NF branch is
        out = self.branch(trunk)
        gate = torch.sigmoid(self.fc2(F.relu(self.fc1(self.pool(out)))))
        return self.head((out * gate).mean((2, 3)))


@pytest.mark.parametrize("pool", ["mean", "adaptive"])
def test_squeeze_of_a_small_zero_mean_map_is_not_a_collapse(pool):
    torch.manual_seed(0)
    squeeze = (lambda x: x.mean((2, 3), keepdim=True)) if pool == "mean" else nn.AdaptiveAvgPool2d(1)
    model = SqueezedBranch(squeeze if pool == "adaptive" else _Mean())
    report = audit(model, images(16), print_table=False)
    fc1 = next(layer for layer in report.layers if layer.name == "fc1")
    assert fc1.ratio < 1e-4  # measured as below the threshold ...
    assert report.findings == []  # ... but by the average, not by an init
    branch = next(layer for layer in report.layers if layer.name == "branch")
    assert 1e-4 < branch.ratio < 1e-2


def test_collapse_before_a_squeeze_is_still_reported():
    torch.manual_seed(0)
    model = SqueezedBranch(_Mean(), branch_std=0.001)  # the branch itself falls below 1e-4 of the stem
    report = audit(model, images(16), print_table=False)
    assert [(f.code, f.layer) for f in report.findings] == [("INI300", "branch")]


class _Mean(nn.Module):
    def forward(self, x):
        return x.mean((2, 3), keepdim=True)
