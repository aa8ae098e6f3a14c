"""Small models built the way their libraries build them (torchvision, timm, nanoGPT),
with those libraries' own init, for the run-time tests.  Widths are small so the
tests stay fast; the structure and the init recipe are what matters."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def torchvision_init_(model, linear_std=None):
    """torchvision's recipe: Kaiming normal (fan_out, relu) convs, unit/zero norms,
    Linear N(0, linear_std) when given (VGG, MobileNet), else left at PyTorch's default (ResNet)."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear) and linear_std is not None:
            nn.init.normal_(module.weight, 0, linear_std)
            nn.init.zeros_(module.bias)
    return model


def full_width_init_(classifier, full_fan_ins, std=0.01):
    """torchvision's N(0, 0.01) classifier init, scaled so that std * sqrt(fan_in) is what
    it is in the full-width model (fan-ins ``full_fan_ins``): at our small widths a raw
    0.01 would shrink the signal far more than it does in the real model."""
    linears = [module for module in classifier if isinstance(module, nn.Linear)]
    for linear, full_fan_in in zip(linears, full_fan_ins):
        nn.init.normal_(linear.weight, 0.0, std * math.sqrt(full_fan_in / linear.in_features))


# ----------------------------------------------------------------------- ResNet

class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """torchvision's ResNet layout: stem, max-pool, BasicBlock stages, global pool, Linear."""

    def __init__(self, widths=(16, 32, 64), blocks=2, classes=10, zero_init_residual=False):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, cin = [], widths[0]
        for index, width in enumerate(widths):
            for block in range(blocks):
                stages.append(BasicBlock(cin, width, 2 if index and not block else 1))
                cin = width
        self.layers = nn.Sequential(*stages)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)
        torchvision_init_(self)
        if zero_init_residual:
            for block in self.layers:
                nn.init.zeros_(block.bn2.weight)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layers(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


# -------------------------------------------------------------------- MobileNet

class SqueezeExcitation(nn.Module):
    def __init__(self, channels, squeezed):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeezed, 1)
        self.fc2 = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x):
        scale = F.adaptive_avg_pool2d(x, 1)
        scale = F.hardsigmoid(self.fc2(F.relu(self.fc1(scale))))
        return x * scale


def conv_bn_act(cin, cout, kernel, stride=1, groups=1, act=nn.Hardswish):
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act(inplace=True))
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, expanded, cout, stride, act):
        super().__init__()
        self.use_residual = stride == 1 and cin == cout
        self.block = nn.Sequential(
            conv_bn_act(cin, expanded, 1, act=act),
            conv_bn_act(expanded, expanded, 3, stride, groups=expanded, act=act),  # depthwise
            SqueezeExcitation(expanded, max(8, expanded // 4)),
            conv_bn_act(expanded, cout, 1, act=None),
        )

    def forward(self, x):
        out = self.block(x)
        return out + x if self.use_residual else out


class MobileNet(nn.Module):
    """MobileNetV3-small-like: depthwise convs, squeeze-excitation, hardswish, global pool."""

    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn_act(3, 16, 3, 2),
            InvertedResidual(16, 64, 24, 2, nn.ReLU),
            InvertedResidual(24, 72, 24, 1, nn.ReLU),
            InvertedResidual(24, 96, 40, 2, nn.Hardswish),
            InvertedResidual(40, 120, 40, 1, nn.Hardswish),
            conv_bn_act(40, 240, 1),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(240, 256), nn.Hardswish(inplace=True), nn.Dropout(0.2),
                                        nn.Linear(256, classes))
        torchvision_init_(self, linear_std=0.01)
        full_width_init_(self.classifier, (576, 1024))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# -------------------------------------------------------------------------- VGG

class VGG(nn.Module):
    """vgg11's layout at a small width: 3x3 conv + in-place ReLU, max-pools, 3 Linear classifier."""

    def __init__(self, widths=(16, "M", 32, "M", 64, 64, "M", 128, 128, "M", 128, 128, "M"), classes=10):
        super().__init__()
        layers, cin = [], 3
        for width in widths:
            if width == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(cin, width, 3, padding=1), nn.ReLU(inplace=True)]
                cin = width
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(2)
        self.classifier = nn.Sequential(
            nn.Linear(cin * 4, 256), nn.ReLU(True), nn.Dropout(),
            nn.Linear(256, 256), nn.ReLU(True), nn.Dropout(),
            nn.Linear(256, classes))
        torchvision_init_(self, linear_std=0.01)
        full_width_init_(self.classifier, (25088, 4096, 4096))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


# ------------------------------------------------------------------------ GPT-2

class CausalSelfAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.c_attn = nn.Linear(dim, 3 * dim)
        self.c_proj = nn.Linear(dim, dim)

    def forward(self, x):
        batch, length, dim = x.size()
        q, k, v = self.c_attn(x).split(dim, dim=2)
        q, k, v = (t.view(batch, length, self.heads, dim // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(batch, length, dim))


class MLP(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.c_fc = nn.Linear(dim, 4 * dim)
        self.gelu = nn.GELU(approximate="tanh")
        self.c_proj = nn.Linear(4 * dim, dim)

    def forward(self, x):
        return self.c_proj(self.gelu(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads)
        self.ln_2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """nanoGPT's GPT-2: tied head, N(0, 0.02) init, residual projections 0.02 / sqrt(2 n_layer)."""

    def __init__(self, vocab=128, context=16, dim=64, heads=4, layers=2):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(vocab, dim),
            wpe=nn.Embedding(context, dim),
            h=nn.ModuleList([Block(dim, heads) for _ in range(layers)]),
            ln_f=nn.LayerNorm(dim),
        ))
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, 0.0, 0.02)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)
        for name, param in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(param, 0.0, 0.02 / math.sqrt(2 * layers))

    def forward(self, idx):
        positions = torch.arange(idx.size(1), device=idx.device)
        x = self.transformer.wte(idx) + self.transformer.wpe(positions)
        for block in self.transformer.h:
            x = block(x)
        return self.lm_head(self.transformer.ln_f(x))


# ------------------------------------------------------------------------- MLPs

def mlp(depth, width=64, activation=nn.ReLU, inputs=64, outputs=10):
    """depth Linear layers, an activation after all but the last."""
    layers, cin = [], inputs
    for _ in range(depth - 1):
        layers += [nn.Linear(cin, width), activation()]
        cin = width
    layers.append(nn.Linear(cin, outputs))
    return nn.Sequential(*layers)


def image_batch(size=32, batch=16, seed=0):
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(seed))


def token_batch(batch=8, length=16, vocab=128, seed=0):
    return torch.randint(vocab, (batch, length), generator=torch.Generator().manual_seed(seed))
