"""A module-building function (a builder) called several times: each call is its own layers along the
model's path, sized by that call's literal arguments, and no path passes a layer twice. The numbers are
the per-layer factors' product (for the NiN fixture, checked against torch 2.13: see its header)."""
from conftest import fixture_path
from initlint.config import Settings
from initlint.engine import Selection, lint_source
from initlint.fix import fixed_source
from initlint.rules import Options

EVERY_CHANGE = Options(min_signal_change=1.0)
DEFAULT = Settings().options


def read(name: str) -> str:
    with open(fixture_path("effect", name), encoding="utf-8") as handle:
        return handle.read()


def lint(source: str, options: Options = DEFAULT):
    return lint_source(source.encode(), "models/model.py", Selection(), options=options, keep_module=True)


def findings(source: str, options: Options = DEFAULT):
    return [(f.code, f.line, f.message) for f in lint(source, options).findings]


def test_builder_called_twice_is_two_layers_not_a_cycle():
    source = read("builder_called_twice.py")
    assert findings(source) == []
    assert findings(source, EVERY_CHANGE) == [(
        "INI002", 26, "xavier_uniform_ on self.b1[0] and its copies followed by relu: the signal shrinks about "
        "4.8x over 2 such layers by self.b2[0]; use He (kaiming) init")]


def test_nin_counts_each_call_with_its_sizes():
    """12 layers (4 calls x 3); 483x from the literal sizes of each call (1->96 11x11, 96->256 5x5, ...)."""
    result = lint(read("builder_nin.py"))
    assert [(f.code, f.line, f.column) for f in result.findings] == [("INI002", 38, 9)]
    assert result.findings[0].message == (
        "xavier_uniform_ on self.n1[0] and its copies, self.n1[2] and its copies, self.n1[4] and its copies "
        "followed by relu: the signal shrinks about 483x over 12 such layers by self.n4[4], though the default "
        "biases keep the activations themselves within about 6.3x; use He (kaiming) init")
    new, applied = fixed_source(result.module, result.findings)
    assert len(applied) == 1
    assert new.decode() == read("builder_nin.py").replace(
        "        torch.nn.init.xavier_uniform_(m.weight)\n", '        nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")\n')


NIN_SEQUENTIAL = '''\
import torch.nn as nn


def nin_block(cin, cout, k, s, p):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, s, p), nn.ReLU(),
        nn.Conv2d(cout, cout, kernel_size=1), nn.ReLU(),
        nn.Conv2d(cout, cout, kernel_size=1), nn.ReLU())


net = nn.Sequential(
    nin_block(1, 96, 11, 4, 0), nn.MaxPool2d(3, 2), nin_block(96, 256, 5, 1, 2), nn.MaxPool2d(3, 2),
    nin_block(256, 384, 3, 1, 1), nn.MaxPool2d(3, 2), nin_block(384, 10, 3, 1, 1), nn.AdaptiveMaxPool2d(1))
for layer in net.modules():
    if isinstance(layer, nn.Conv2d):
        nn.init.xavier_uniform_(layer.weight)
'''


def test_calls_inside_one_sequential_are_separate_layers_too():
    assert findings(NIN_SEQUENTIAL) == [(
        "INI002", 16, "xavier_uniform_ on net[0][0] and its copies, net[0][2] and its copies, net[0][4] and its "
        "copies followed by relu: the signal shrinks about 483x over 12 such layers by net[6][4], though the "
        "default biases keep the activations themselves within about 6.3x; use He (kaiming) init")]


ONCE = '''\
import torch.nn as nn


def conv_stack(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(),
        nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(),
        nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = conv_stack(3, 64)
        self.fc = nn.Linear(64, 10)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))
'''


def test_builder_called_once_keeps_its_three_layers_sized_by_the_call():
    """3->64 with a 3x3 kernel: 27 / (27 + 576) = 4.7x in RMS, then 1.4x twice."""
    assert findings(ONCE) == []
    assert findings(ONCE, EVERY_CHANGE) == [(
        "INI002", 18, "xavier_uniform_ on self.features[0], self.features[2], self.features[4] followed by relu: "
        "the signal shrinks about 9.5x over 3 such layers by self.features[4]; use He (kaiming) init")]


DEFAULT_INIT = '''\
import torch.nn as nn


def conv_relu(cin, cout, k=3):
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=1), nn.ReLU())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = conv_relu(3, 64)
        self.c2 = conv_relu(64, 128)
        self.c3 = conv_relu(128, 256)
        self.c4 = conv_relu(256, 256)
        self.fc = nn.Linear(256, 10)

    def forward(self, x):
        x = self.c2(self.c1(x))
        x = self.c4(self.c3(x))
        return self.fc(x.mean((2, 3)))
'''


def test_default_init_builder_counts_its_calls_not_a_cycle():
    """4 default-init convs before ReLU: 6^2 = 36x, under 100x (it was 1e+59x over 304 layers)."""
    assert findings(DEFAULT_INIT) == []
    assert findings(DEFAULT_INIT, EVERY_CHANGE) == [(
        "INI003", 5, "self.c1[0] and its copies keep PyTorch's default init before relu: along the model's path "
        "the signal shrinks about 36x over 4 such layers by self.c4[0] (He init keeps its scale); "
        "use He (kaiming) init")]


BATCHNORM = '''\
import torch.nn as nn


def conv_bn(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.Sequential(conv_bn(3, 64), conv_bn(64, 64), conv_bn(64, 64), conv_bn(64, 64),
                                    conv_bn(64, 64), conv_bn(64, 64), conv_bn(64, 64), conv_bn(64, 64))
        self.fc = nn.Linear(64, 10)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)

    def forward(self, x):
        return self.fc(self.blocks(x).mean((2, 3)))
'''


def test_builder_blocks_with_batchnorm_stay_silent():
    assert findings(BATCHNORM, EVERY_CHANGE) == []
    assert findings(BATCHNORM.replace("                nn.init.xavier_uniform_(m.weight)\n", "                pass\n"),
                    EVERY_CHANGE) == []


RESIDUAL = '''\
import torch.nn as nn


def branch(width):
    return nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(width, width, 3, padding=1), nn.ReLU())


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 64, 3, padding=1)
        self.r1 = branch(64)
        self.r2 = branch(64)
        self.r3 = branch(64)
        self.r4 = branch(64)
        self.r5 = branch(64)
        self.fc = nn.Linear(64, 10)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)

    def forward(self, x):
        x = self.stem(x)
        x = x + self.r1(x)
        x = x + self.r2(x)
        x = x + self.r3(x)
        x = x + self.r4(x)
        x = x + self.r5(x)
        return self.fc(x.mean((2, 3)))
'''


def test_residual_branches_from_one_builder_are_each_two_layers():
    """The add ends each branch's path: 2 square Xavier convs (1.4x each), never the 10 of all calls."""
    assert findings(RESIDUAL) == []
    assert findings(RESIDUAL, EVERY_CHANGE) == [(
        "INI002", 21, "xavier_uniform_ on self.r1[0] and its copies, self.r1[2] and its copies followed by relu: "
        "the signal shrinks about 2.0x over 2 such layers by self.r1[2] and its copies "
        "(1.4x per layer: fan_in=576, fan_out=576); use He (kaiming) init")]


APPLIED_TWICE = '''\
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(64, 64, 3, padding=1)
        self.fc = nn.Linear(64, 10)
        nn.init.xavier_uniform_(self.conv.weight)

    def forward(self, x):
        x = F.relu(self.conv(x))
        x = F.relu(self.conv(x))
        return self.fc(x.mean((2, 3)))
'''


def test_a_module_applied_twice_is_counted_once_not_walked_round():
    """The conv feeds itself: the path stops where it would pass it again (it was 8e+22x over 152)."""
    assert findings(APPLIED_TWICE, EVERY_CHANGE) == [(
        "INI002", 10, "xavier_uniform_ on self.conv followed by relu: the signal shrinks about 1.4x by self.conv "
        "(fan_in=576, fan_out=576); use He (kaiming) init")]


REBOUND = '''\
import torch.nn as nn


def stage(cin, cout, n):
    layers = []
    for _ in range(n):
        layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]
        cin = cout
    return nn.Sequential(*layers)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.s1 = stage(3, 64, 2)
        self.s2 = stage(64, 128, 2)
        self.fc = nn.Linear(128, 10)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)

    def forward(self, x):
        return self.fc(self.s2(self.s1(x)).mean((2, 3)))
'''


def test_a_parameter_the_builder_rebinds_gives_no_size():
    """``cin = cout`` in the loop: the call's 3 is the first conv's only; the width-free x1/2 is used."""
    assert findings(REBOUND, EVERY_CHANGE) == [(
        "INI002", 20, "xavier_uniform_ on self.s1[0] and its copies followed by relu: the signal shrinks about "
        "4.0x over 4 such layers by self.s2[0] and its copies; use He (kaiming) init")]  # n=2 at both calls


def test_an_init_by_the_path_of_a_later_call_reaches_the_builders_layer():
    """``self.b2[0]`` names the builder's layer: rules judge it (INI001 on a zeroed hidden conv)."""
    source = read("builder_called_twice.py").replace(
        "net.apply(init_weights)\n", "net.apply(init_weights)\nnn.init.zeros_(net.b2[0].weight)\n")
    assert [(code, line) for code, line, _ in findings(source)] == [("INI001", 31)]


def test_keywords_and_defaults_size_each_call():
    source = read("builder_called_twice.py").replace(
        "def conv_block(cin, cout):\n    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU())",
        "def conv_block(cin, cout, k=3):\n    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=1), nn.ReLU())",
    ).replace("conv_block(3, 32)", "conv_block(cout=32, cin=3)")
    assert "k=3" in source and "cin=3" in source
    assert findings(source, EVERY_CHANGE) == [(
        "INI002", 26, "xavier_uniform_ on self.b1[0] and its copies followed by relu: the signal shrinks about "
        "4.8x over 2 such layers by self.b2[0]; use He (kaiming) init")]
    # A kernel size the first call does not give literally: its conv is judged width-free (x1/2), 2.0x in all.
    unsized = source.replace("conv_block(cout=32, cin=3)", "conv_block(cout=32, cin=3, k=size)")
    assert findings(unsized, EVERY_CHANGE)[0][2].split(": ")[1] == \
        "the signal shrinks about 2.0x over 2 such layers by self.b2[0]; use He (kaiming) init"


def test_nin_with_default_init_is_a_stack_of_twelve():
    """Without the init, every conv keeps PyTorch's default: 6^6 = 46656x over the 12 layers (torch: the
    output's input-carrying part 3e-5 from unit-scale input, activations 0.15). The shared layers used to
    feed one another in a cycle, so no stack had a first layer and nothing was reported."""
    source = read("builder_nin.py")
    source = source[:source.index("def init_weights")] + "net = Net()\n"
    assert findings(source) == [(
        "INI003", 11, "3 layers (self.n1[0] and its copies, self.n1[2] and its copies, self.n1[4] and its copies) "
        "keep PyTorch's default init before relu: along the model's path the signal shrinks about 46656x over 12 "
        "such layers by self.n4[4], though the default biases keep the activations themselves within about 7.2x "
        "(He init keeps its scale); use He (kaiming) init")]


BUILDER_FIRST_CALLED_IN_ANOTHER = '''\
import torch.nn as nn


def conv_relu(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU())


def stem(width):
    return conv_relu(3, width)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = stem(64)
        self.body = conv_relu(64, 512)
        self.fc = nn.Linear(512, 10)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)

    def forward(self, x):
        return self.fc(self.body(self.stem(x)).mean((2, 3)))
'''


def test_a_builder_called_again_directly_is_sized_by_that_call_alone():
    """``conv_relu`` first called inside ``stem``, then ``conv_relu(64, 512)``: the copy is 64->512 (3x in
    RMS), not 3->width from stem's call; with 3->64 (4.7x): 14x, as with two direct calls."""
    expected = [("INI002", 20, "xavier_uniform_ on self.stem[0] and its copies followed by relu: the signal "
                 "shrinks about 14x over 2 such layers by self.body[0]; use He (kaiming) init")]
    assert findings(BUILDER_FIRST_CALLED_IN_ANOTHER, EVERY_CHANGE) == expected
    direct = BUILDER_FIRST_CALLED_IN_ANOTHER.replace("self.stem = stem(64)", "self.stem = conv_relu(3, 64)")
    assert findings(direct, EVERY_CHANGE) == expected
