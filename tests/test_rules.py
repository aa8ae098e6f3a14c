"""Every rule against its fixture: the exact findings (code, line, column), and nothing else."""
import pytest

from conftest import findings_of, fixture_path

EXPECTED = {
    "rules/ini001_constant_weight.py": [("INI001", 11, 9), ("INI001", 27, 13), ("INI001", 42, 17)],
    "rules/ini002_xavier_before_relu.py": [("INI002", 13, 9), ("INI002", 14, 9), ("INI002", 15, 9),
                                           ("INI002", 33, 17)],
    # One finding per stack, at its first layer.
    "rules/ini003_missing_he_init.py": [("INI003", 11, 13), ("INI003", 23, 22), ("INI003", 39, 24),
                                        ("INI003", 48, 21)],
    "rules/ini004_kaiming_mismatch.py": [("INI004", 14, 9), ("INI004", 15, 9), ("INI004", 16, 9),
                                         ("INI004", 17, 9)],
    "rules/ini005_unscaled_random.py": [("INI005", 11, 9), ("INI005", 12, 9), ("INI005", 27, 17)],
    "rules/ini1xx_bias.py": [("INI101", 12, 9), ("INI101", 14, 9), ("INI101", 30, 17), ("INI102", 41, 9),
                             ("INI103", 49, 9), ("INI104", 56, 35), ("INI104", 57, 19), ("INI105", 74, 9)],
    "rules/ini106_bias_truth_test.py": [("INI106", 17, 12)],
    "rules/ini2xx_placement.py": [("INI201", 13, 9), ("INI201", 14, 9), ("INI202", 21, 9), ("INI203", 35, 9),
                                  ("INI203", 36, 9), ("INI204", 43, 9)],
    "misc/import_styles.py": [("INI001", 12, 9), ("INI002", 13, 9)],
    "misc/not_torch.py": [],
    "misc/dcgan.py": [("INI101", 8, 9)],
    "misc/latin1.py": [("INI102", 10, 9)],
    "misc/crlf.py": [("INI101", 8, 9)],
    "misc/syntax_error.py": [("INI900", 3, 23)],
    # Deliberate zero inits, opaque helpers, parameter loops, conditional BatchNorm, one-line suites.
    "misc/deliberate_and_opaque.py": [("INI104", 100, 22), ("INI202", 124, 9), ("INI101", 138, 18),
                                      ("INI005", 141, 28)],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_findings(name):
    with open(fixture_path(*name.split("/")), "rb") as handle:
        assert findings_of(handle.read(), name) == EXPECTED[name]


def check(source):
    return findings_of(source)


HEADER = "import math\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"


def test_forward_data_flow_through_variables_and_methods():
    source = HEADER + '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.act = nn.ReLU()
        nn.init.zeros_(self.a.weight)
        nn.init.zeros_(self.b.weight)

    def forward(self, x):
        h = self.a(x)
        h = self.act(h)
        return self.b(h).view(-1)
'''
    # a is followed by self.act (ReLU); b's output is the model's output (through a reshape).
    assert check(source) == [("INI001", 13, 9)]


def test_module_list_loop_in_forward():
    source = HEADER + '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(4)])
        for layer in self.layers:
            nn.init.xavier_normal_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        for layer in self.layers:
            x = F.relu(layer(x))
        return x
'''
    assert check(source) == [("INI002", 12, 13)]


def test_residual_add_and_unknown_activation_stay_silent():
    source = HEADER + '''
class Block(nn.Module):
    def __init__(self, act_layer):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.proj = nn.Linear(4, 4)
        self.act = act_layer()
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.proj.weight)

    def forward(self, x):
        x = x + self.proj(x)
        return self.act(self.fc(x))
'''
    assert check(source) == []


def test_isinstance_subclass_and_type_tuple():
    source = HEADER + '''
class MyConv(nn.Conv2d):
    pass


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = MyConv(3, 3, 3, bias=False)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.kaiming_normal_(m.weight)
                nn.init.zeros_(m.bias)
'''
    assert check(source) == []  # a user subclass may define its own bias handling: not "literally" bias=False
    literal = source.replace("MyConv(3, 3, 3, bias=False)", "nn.Conv2d(3, 3, 3, bias=False)")
    assert check(literal) == [("INI101", 18, 17)]


def test_later_init_overrides_earlier():
    source = HEADER + '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        nn.init.xavier_uniform_(self.fc.weight)
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.kaiming_uniform_(self.fc.weight, nonlinearity="relu")
        nn.init.zeros_(self.fc.bias)

    def forward(self, x):
        return F.relu(self.fc(x))
'''
    assert check(source) == []


def test_file_without_torch_is_not_parsed():
    assert check("this is not python at all (\n") == []


def test_with_no_grad_fill_and_indexed_target():
    source = HEADER + '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
        with torch.no_grad():
            self.mlp[0].weight.fill_(0)
            self.mlp[-1].weight.fill_(0)
'''
    assert check(source) == [("INI001", 12, 13)]


def test_xavier_gain_values_are_evaluated():
    source = HEADER + '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        self.c = nn.Linear(4, 4)
        self.d = nn.Linear(4, 4)
        nn.init.xavier_uniform_(self.a.weight, gain=nn.init.calculate_gain("linear"))
        nn.init.xavier_uniform_(self.b.weight, gain=nn.init.calculate_gain("relu"))
        nn.init.xavier_uniform_(self.c.weight, gain=math.sqrt(2.0))
        nn.init.xavier_uniform_(self.d.weight, gain=self.gain)
        for layer in (self.a, self.b, self.c, self.d):
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        return F.relu(self.d(F.relu(self.c(F.relu(self.b(F.relu(self.a(x))))))))
'''
    assert check(source) == [("INI002", 14, 9)]


def test_local_function_passed_to_apply():
    source = HEADER + '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4), nn.ReLU())

        def init(m):
            if type(m) == nn.Linear:
                nn.init.xavier_uniform_(m.weight)
                m.bias.data.fill_(0.01)

        self.apply(init)
'''
    assert check(source) == [("INI002", 14, 17)]


def test_adaln_zero_and_focal_prior_stay_silent():
    source = HEADER + '''
class DiTBlock(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden))

    def forward(self, x, c):
        shift, scale, gate = self.adaLN_modulation(c).chunk(3, dim=1)
        return x + gate * (x * scale + shift)


class DiT(nn.Module):
    def __init__(self, hidden=8, depth=2):
        super().__init__()
        self.blocks = nn.ModuleList([DiTBlock(hidden) for _ in range(depth)])
        self.cls_logits = nn.Conv2d(8, 80, 3, padding=1)
        for block in self.blocks:
            nn.init.constant_(block.adaLN_modulation[-1].weight, 0)
            nn.init.constant_(block.adaLN_modulation[-1].bias, 0)
        nn.init.normal_(self.cls_logits.weight, std=0.01)
        nn.init.constant_(self.cls_logits.bias, -math.log((1 - 0.01) / 0.01))

    def forward(self, x):
        return torch.sigmoid(self.cls_logits(x))
'''
    assert check(source) == []


def test_extra_relu_activations_option():
    from initlint.engine import lint_source
    from initlint.rules import Options
    source = HEADER + '''
from mylib import MyReLU


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.act = MyReLU()
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x):
        return self.act(self.fc(x))
'''
    assert check(source) == []
    found = lint_source(source.encode(), "t.py", options=Options(extra_relu_activations=frozenset({"MyReLU"})))
    assert [(f.code, f.line) for f in found.findings] == [("INI002", 15)]


def test_modules_of_a_submodule_reach_only_its_layers():
    source = HEADER + '''
from torchvision.ops import MLP


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.cpb = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1, bias=False))
        self.mlp = MLP(8, [32, 8], activation_layer=nn.GELU)
        self.head = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
        for m in self.head.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
'''
    # self.mlp is opaque (torchvision's MLP): silent. self.head's first Linear is followed by ReLU.
    assert check(source) == [("INI002", 21, 17)]
