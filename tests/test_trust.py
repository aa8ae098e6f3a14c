"""Findings that are true: the causes of false findings on real code, each with positives and near-misses."""
from initlint.engine import Selection, lint_source

HEADER = "import torch.nn as nn\nimport torch.nn.functional as F\n\n"


def findings(source, select=None):
    selection = Selection(select=select) if select else Selection()
    return [(f.code, f.line, f.message) for f in lint_source((HEADER + source).encode(), "t.py", selection).findings]


def test_bias_before_norm_only_where_the_norm_removes_it():
    source = '''
class Gen(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 128 * 7 * 7)
        self.bn0 = nn.BatchNorm2d(128)
        self.conv = nn.Conv2d(3, 8, 3)
        self.bn1 = nn.BatchNorm2d(8)
        self.plain = nn.Sequential(nn.Conv2d(8, 8, 3), nn.MaxPool2d(2), nn.BatchNorm2d(8))
        self.dropped = nn.Sequential(nn.Conv2d(8, 8, 3), nn.Dropout(0.5), nn.BatchNorm2d(8))
        self.shuffled = nn.Sequential(nn.Conv2d(8, 32, 3), nn.PixelShuffle(2), nn.BatchNorm2d(8))
        self.grouped = nn.Sequential(nn.Conv2d(8, 8, 3), nn.GroupNorm(2, 8))
        self.shared = nn.Conv2d(8, 8, 3)
        self.bn2 = nn.BatchNorm2d(8)

    def forward(self, z, x):
        h = self.bn0(self.fc(z).view(-1, 128, 7, 7))
        y = self.bn1(self.conv(x))
        s = self.shared(y)
        return h, self.bn2(s) + s
'''
    assert findings(source) == []  # advice: off by default
    assert [(code, line) for code, line, _ in findings(source, ("INI104",))] == [("INI104", 10), ("INI104", 12)]
    assert findings(source, ("INI104",))[0][2] == ("redundant parameter: the bias of self.conv is removed by "
                                                  "the BatchNorm2d's mean subtraction: build it with bias=False")


def test_a_layer_output_read_twice_has_no_single_follower():
    # torchvision's LastLevelP6P7: p6 is an output level and also goes through relu into p7.
    source = '''
class LastLevelP6P7(nn.Module):
    def __init__(self):
        super().__init__()
        self.p6 = nn.Conv2d(256, 256, 3, 2, 1)
        self.p7 = nn.Conv2d(256, 256, 3, 2, 1)
        for module in [self.p6, self.p7]:
            nn.init.kaiming_uniform_(module.weight, a=1)

    def forward(self, p):
        p6 = self.p6(p[-1])
        p7 = self.p7(F.relu(p6))
        p.extend([p6, p7])
        return p


class Single(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(8, 8, 3)
        self.b = nn.Conv2d(8, 8, 3)
        nn.init.kaiming_uniform_(self.a.weight, a=1)

    def forward(self, x):
        h = self.a(x)
        return self.b(F.relu(h))
'''
    assert [(code, line) for code, line, _ in findings(source)] == [("INI004", 25)]


def test_module_level_code_does_not_switch_off_class_checks():
    source = '''
class Tower(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(8, 8)
        self.l2 = nn.Linear(8, 8)
        self.l3 = nn.Linear(8, 8)
        self.out = nn.Linear(8, 1)

    def forward(self, x):
        return self.out(F.relu(self.l3(F.relu(self.l2(F.relu(self.l1(x)))))))


model = Tower()
nn.init.zeros_(model.out.weight)
'''
    assert [(code, line) for code, line, _ in findings(source)] == [("INI003", 8)]
    assert "3 layers (self.l1, self.l2, self.l3)" in findings(source)[0][2]
    assert "shrinks about 15x over 3 such layers by self.l3" in findings(source)[0][2]


def test_stack_counts_only_layers_that_feed_each_other():
    source = '''
class Norms(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU(),
                                 nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))


class Heads(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.b = nn.Linear(8, 8)

    def forward(self, x):
        return F.relu(self.a(x)), F.relu(self.b(x))
'''
    assert findings(source) == []


def test_appends_under_a_flag_leave_the_follower_unknown():
    # pytorch-cifar100's make_layers: the BatchNorm is appended only when batch_norm is set.
    source = '''
class VGG(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.features = features

    def forward(self, x):
        return self.features(x)


def make_layers(cfg, batch_norm=False):
    layers = []
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(2)]
            continue
        layers += [nn.Conv2d(3, v, 3)]
        if batch_norm:
            layers += [nn.BatchNorm2d(v)]
        layers += [nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def make_layers_bn(cfg):
    layers = []
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(2)]
        else:
            layers += [nn.Conv2d(3, v, 3), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def vgg11():
    return VGG(make_layers([64, "M", 128]))


def vgg11_bn():
    return VGG(make_layers_bn([64, "M", 128]))
'''
    assert [(code, line) for code, line, _ in findings(source, ("INI104",))] == [("INI104", 33)]


def test_nested_builders_of_the_same_name_and_builders_called_twice():
    # PyTorch-GAN: each class defines its own nested ``block``; a builder called twice builds two layers.
    source = '''
class Generator(nn.Module):
    def __init__(self):
        super().__init__()

        def block(in_feat, out_feat):
            return [nn.Linear(in_feat, out_feat), nn.LeakyReLU(0.2)]

        self.model = nn.Sequential(*block(8, 16), *block(16, 16), nn.Linear(16, 4), nn.Tanh())

    def forward(self, z):
        return self.model(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()

        def block(in_filters, out_filters):
            return [nn.Conv2d(in_filters, out_filters, 3), nn.BatchNorm2d(out_filters), nn.LeakyReLU(0.2)]

        self.model = nn.Sequential(*block(3, 16), *block(16, 32))

    def forward(self, x):
        return self.model(x)
'''
    assert [(code, line) for code, line, _ in findings(source, ("INI",))] == [("INI003", 10), ("INI104", 23)]
    assert findings(source)[0][2].startswith("self.model[0] and its copies keep PyTorch's default init")


def test_elif_type_tests_bias_slices_helpers_and_calculate_gain():
    source = '''
from mmcv.cnn import kaiming_init


def init(m):
    if isinstance(m, nn.Linear):
        nn.init.kaiming_normal_(m.weight)
    elif isinstance(m, nn.Conv2d):
        nn.init.constant_(m.weight, 0.5)


class Attn(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.qkv.bias[:dim].fill_(0)
        self.conv = nn.Conv2d(3, 8, 3, bias=False)
        kaiming_init(self.conv)


g = nn.init.calculate_gain("gelu")
'''
    found = findings(source)
    # The elif branch dispatches to Conv2d only; a slice of a missing bias still raises; mmcv's helper
    # tests the bias itself; calculate_gain("gelu") raises wherever it is.
    assert [(code, line) for code, line, _ in found] == [("INI001", 12), ("INI101", 19), ("INI107", 24)]
    assert "every Conv2d weight it meets" in found[0][2]


def test_a_builder_called_twice_copies_its_own_layers_not_the_classes_it_holds():
    # pytorch-cifar's RegNet: _make_layer builds Blocks that hold an SE (one ReLU layer each).
    source = '''
class SE(nn.Module):
    def __init__(self, planes, se_planes):
        super().__init__()
        self.se1 = nn.Conv2d(planes, se_planes, kernel_size=1)
        self.se2 = nn.Conv2d(se_planes, planes, kernel_size=1)

    def forward(self, x):
        return x * self.se2(F.relu(self.se1(x))).sigmoid()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = self._make_layer(8)
        self.layer2 = self._make_layer(16)

    def _make_layer(self, planes):
        return nn.Sequential(SE(planes, 4), SE(planes, 4))

    def forward(self, x):
        return self.layer2(self.layer1(x))
'''
    assert findings(source) == []


def test_joined_branches_feed_the_layer_after_the_join():
    source = '''
import torch


class TwoTower(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 16)
        self.b = nn.Linear(8, 16)
        self.head = nn.Linear(32, 1)
        self.out = nn.Linear(32, 1)

    def forward(self, x, y):
        h = torch.cat([F.relu(self.a(x)), F.relu(self.b(y))], dim=1)
        return self.out(F.relu(self.head(h)))
'''
    found = findings(source)
    assert [(code, line) for code, line, _ in found] == [("INI003", 11), ("INI003", 12)]
    assert found[0][2].startswith("2 layers (self.a, self.head)")
    assert found[1][2].startswith("2 layers (self.b, self.head)")


def test_a_stack_goes_on_where_the_activation_output_also_leaves():
    # Feature extractors return intermediate maps: conv1's ReLU output still feeds conv2.
    source = '''
class Features(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3)
        self.conv2 = nn.Conv2d(8, 8, 3)

    def forward(self, x):
        x1 = F.relu(self.conv1(x))
        x2 = F.relu(self.conv2(x1))
        return x1, x2
'''
    assert [(code, line, msg[:36]) for code, line, msg in findings(source)] == [
        ("INI003", 8, "2 layers (self.conv1, self.conv2) ke")]
