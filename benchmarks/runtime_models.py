"""The models of issue 21's speed target, written out so the benchmark needs neither
torchvision (whose PyPI build does not import beside torch 2.13) nor timm nor
transformers.  Full size and the same layer structure, forward data flow and init
recipe as the libraries' versions; pretrained weights play no part in the audit's cost.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def _torchvision_init_(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model


# ------------------------------------------------------------- ResNet-50, ResNet-26-D

class Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int, downsample: nn.Module | None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """torchvision's ResNet-50 (``deep_stem=False``) or timm's ResNet-D stem and
    average-pool shortcut (``deep_stem=True``, resnet26d with depths (2, 2, 2, 2))."""

    def __init__(self, depths=(3, 4, 6, 3), deep_stem=False, classes=1000):
        super().__init__()
        if deep_stem:
            self.conv1 = nn.Sequential(
                nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
                nn.Conv2d(32, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
                nn.Conv2d(32, 64, 3, 1, 1, bias=False))
        else:
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, cin = [], 64
        for index, (width, depth) in enumerate(zip((64, 128, 256, 512), depths)):
            blocks = []
            for block in range(depth):
                stride = 2 if index and not block else 1
                downsample = None
                if block == 0:
                    if deep_stem and stride > 1:
                        downsample = nn.Sequential(nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False),
                                                   nn.Conv2d(cin, width * 4, 1, bias=False), nn.BatchNorm2d(width * 4))
                    else:
                        downsample = nn.Sequential(nn.Conv2d(cin, width * 4, 1, stride, bias=False),
                                                   nn.BatchNorm2d(width * 4))
                blocks.append(Bottleneck(cin, width, stride, downsample))
                cin = width * 4
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)
        _torchvision_init_(self)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet50() -> nn.Module:
    return ResNet((3, 4, 6, 3))


def resnet26d() -> nn.Module:
    return ResNet((2, 2, 2, 2), deep_stem=True)


# ------------------------------------------------------------------- EfficientNet-B0

class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduced: int):
        super().__init__()
        self.conv_reduce = nn.Conv2d(channels, reduced, 1)
        self.act = nn.SiLU(inplace=True)
        self.conv_expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x):
        scale = x.mean((2, 3), keepdim=True)
        return x * self.conv_expand(self.act(self.conv_reduce(scale))).sigmoid()


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        layers = []
        if expand != 1:
            layers += [nn.Conv2d(cin, mid, 1, bias=False), nn.BatchNorm2d(mid), nn.SiLU(inplace=True)]
        layers += [nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False),
                   nn.BatchNorm2d(mid), nn.SiLU(inplace=True), SqueezeExcite(mid, max(1, cin // 4)),
                   nn.Conv2d(mid, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        out = self.block(x)
        return out + x if self.residual else out


def efficientnet_b0(classes: int = 1000) -> nn.Module:
    """torchvision's EfficientNet-B0 layout (without stochastic depth)."""
    config = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
              (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]
    layers = [nn.Conv2d(3, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32), nn.SiLU(inplace=True)]
    for expand, kernel, stride, cin, cout, repeats in config:
        for index in range(repeats):
            layers.append(MBConv(cin if index == 0 else cout, cout, kernel, stride if index == 0 else 1, expand))
    layers += [nn.Conv2d(320, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.SiLU(inplace=True)]
    model = nn.Sequential(nn.Sequential(*layers), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Dropout(0.2), nn.Linear(1280, classes))
    _torchvision_init_(model)
    head = model[-1]
    bound = 1.0 / math.sqrt(head.out_features)
    nn.init.uniform_(head.weight, -bound, bound)
    nn.init.zeros_(head.bias)
    return model


# --------------------------------------------------------------------- NF-ResNet-26

class ScaledStdConv2d(nn.Conv2d):
    """A weight-standardised conv with a learnable per-channel gain, as timm's:
    the weight used is gain * gamma / sqrt(fan_in) * standardise(weight)."""

    def __init__(self, cin, cout, kernel, stride=1, groups=1, gamma=1.0, gain_init=1.0):
        super().__init__(cin, cout, kernel, stride, kernel // 2, groups=groups)
        self.scale = gamma * self.weight[0].numel() ** -0.5
        self.eps = 1e-6
        self.gain = nn.Parameter(torch.full((cout, 1, 1, 1), gain_init))

    def forward(self, x):
        weight = F.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None,
                              weight=(self.gain * self.scale).view(-1), training=True, momentum=0.0,
                              eps=self.eps).reshape_as(self.weight)
        return F.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


_RELU_GAMMA = 1.7139588594436646  # timm's NF gamma for ReLU


class NormFreeBlock(nn.Module):
    def __init__(self, cin, cout, stride, beta, alpha=0.2):
        super().__init__()
        mid = cout // 4
        conv = lambda *a, **k: ScaledStdConv2d(*a, gamma=_RELU_GAMMA, **k)  # noqa: E731
        self.beta, self.alpha = beta, alpha
        self.downsample = None
        if cin != cout or stride != 1:
            self.downsample = nn.Sequential(nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False)
                                            if stride > 1 else nn.Identity(), conv(cin, cout, 1))
        self.act1, self.conv1 = nn.ReLU(), conv(cin, mid, 1)
        self.act2, self.conv2 = nn.ReLU(inplace=True), conv(mid, mid, 3, stride)
        self.act3, self.conv3 = nn.ReLU(), conv(mid, cout, 1, gain_init=0.0)  # zero gain: block starts as identity

    def forward(self, x):
        out = self.act1(x) * self.beta
        shortcut = x if self.downsample is None else self.downsample(out)
        out = self.conv3(self.act3(self.conv2(self.act2(self.conv1(out)))))
        return out * self.alpha + shortcut


def nf_resnet26(classes: int = 1000) -> nn.Module:
    """timm's nf_resnet26: pre-activation NF bottlenecks (2, 2, 2, 2) with weight-standardised
    convs whose last gain starts at zero, variance tracked analytically through alpha/beta."""
    conv = lambda *a, **k: ScaledStdConv2d(*a, gamma=_RELU_GAMMA, **k)  # noqa: E731
    stem = nn.Sequential(conv(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1))
    blocks, cin, expected_var = [], 64, 1.0
    for index, (cout, depth) in enumerate(zip((256, 512, 1024, 2048), (2, 2, 2, 2))):
        for block in range(depth):
            if block == 0:
                expected_var = 1.0  # the shortcut conv resets it
            blocks.append(NormFreeBlock(cin, cout, 2 if index and not block else 1, 1.0 / math.sqrt(expected_var)))
            expected_var += 0.2 ** 2
            cin = cout
    model = nn.Sequential(stem, *blocks, nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, 0.01)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="linear")
            nn.init.zeros_(module.bias)
    return model


# ------------------------------------------------------------------------ tiny BERT

class BertLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, intermediate: int):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))
        self.attn_out, self.attn_norm = nn.Linear(hidden, hidden), nn.LayerNorm(hidden, eps=1e-12)
        self.intermediate, self.output = nn.Linear(hidden, intermediate), nn.Linear(intermediate, hidden)
        self.out_norm, self.dropout = nn.LayerNorm(hidden, eps=1e-12), nn.Dropout(0.1)

    def forward(self, x):
        batch, length, hidden = x.shape

        def split(t):
            return t.view(batch, length, self.heads, hidden // self.heads).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(hidden // self.heads)
        context = (self.dropout(scores.softmax(-1)) @ v).transpose(1, 2).reshape(batch, length, hidden)
        x = self.attn_norm(x + self.dropout(self.attn_out(context)))
        return self.out_norm(x + self.dropout(self.output(F.gelu(self.intermediate(x)))))


class TinyBert(nn.Module):
    """Hugging Face's BertModel layout at bert-tiny's size (2 layers, hidden 128, 2 heads),
    with BERT's N(0, 0.02) init, pooler included."""

    def __init__(self, vocab=30522, hidden=128, layers=2, heads=2, intermediate=512, positions=512):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(positions, hidden)
        self.token_type_embeddings = nn.Embedding(2, hidden)
        self.embed_norm, self.dropout = nn.LayerNorm(hidden, eps=1e-12), nn.Dropout(0.1)
        self.layers = nn.ModuleList(BertLayer(hidden, heads, intermediate) for _ in range(layers))
        self.pooler = nn.Linear(hidden, hidden)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, 0.0, 0.02)
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)

    def forward(self, input_ids):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions) + \
            self.token_type_embeddings(torch.zeros_like(input_ids))
        x = self.dropout(self.embed_norm(x))
        for layer in self.layers:
            x = layer(x)
        return x, torch.tanh(self.pooler(x[:, 0]))


def tiny_bert() -> nn.Module:
    return TinyBert()


MODELS = {
    "resnet50": (resnet50, lambda batch: torch.randn(batch, 3, 224, 224)),
    "efficientnet_b0": (efficientnet_b0, lambda batch: torch.randn(batch, 3, 224, 224)),
    "resnet26d": (resnet26d, lambda batch: torch.randn(batch, 3, 224, 224)),
    "nf_resnet26": (nf_resnet26, lambda batch: torch.randn(batch, 3, 224, 224)),
    "tiny_bert": (tiny_bert, lambda batch: torch.randint(0, 30522, (batch, 128))),
}
