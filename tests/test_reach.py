"""Reach: module-level scripts, helpers applied to models, statement order, notebooks across cells."""
import json

import pytest

from conftest import fixture_path, run_cli
from initlint.engine import Selection, lint_source

EXPECTED = {
    # Script-level inits of an instance's layers; an init before the instance exists reaches nothing;
    # the output layer's zero init stays silent; one script init does not switch off the class's checks.
    "script.py": [("INI001", 33, 1), ("INI001", 34, 1)],
    # DCGAN's weights_init applied to an instance is fine; a zero init applied to the critic is not.
    "dcgan_script.py": [("INI001", 47, 9)],
    # A helper reaches only the models it is applied to; unapplied helpers are checked on their own.
    "helpers.py": [("INI001", 11, 9), ("INI001", 36, 9), ("INI102", 42, 9), ("INI001", 63, 13)],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reach_fixture(name):
    with open(fixture_path("reach", name), "rb") as handle:
        found = lint_source(handle.read(), name, Selection()).findings
    assert [(f.code, f.line, f.column) for f in found] == EXPECTED[name]


def messages(source):
    """Findings of the default rule set."""
    return [(f.code, f.line, f.message) for f in lint_source(source.encode(), "t.py", Selection()).findings]


HEADER = "import torch.nn as nn\nimport torch.nn.functional as F\n\n"
NET = HEADER + '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 16)
        self.fc3 = nn.Linear(16, 2)

    def forward(self, x):
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))
'''


def test_script_init_names_the_class_layer():
    found = messages(NET + "\nnet = Net()\nnn.init.zeros_(net.fc1.weight)\n")
    assert found == [("INI001", 16, "hidden layer Net.fc1 weight set to zero before relu: its units stay "
                                    "identical and dead under ReLU")]


def test_script_init_of_an_unknown_model_does_not_silence_the_class():
    # ``model`` comes from code initlint cannot see: it may be anything, but Net's stack is still a stack.
    found = messages(NET + "\nmodel = build()\nnn.init.kaiming_normal_(model.encoder.weight)\n")
    assert [(code, line) for code, line, _ in found] == [("INI003", 8)]


def test_script_init_of_the_same_path_on_an_unknown_model_may_reach_the_class():
    found = messages(NET + "\nmodel = build()\nnn.init.kaiming_normal_(model.fc1.weight)\n")
    assert found == []


def test_stack_message_counts_the_layers_and_their_effect():
    found = messages(NET)
    assert found == [("INI003", 8, "2 layers (self.fc1, self.fc2) keep PyTorch's default init before relu: "
                                   "the signal shrinks about 6.0x over 2 such layers by self.fc2 (He init keeps its scale); "
                                   "use He (kaiming) init")]


def test_two_separate_mlps_are_not_one_stack():
    source = HEADER + '''
class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(8, 16)
        self.mu = nn.Linear(16, 4)
        self.dec = nn.Linear(4, 16)
        self.out = nn.Linear(16, 8)

    def forward(self, x):
        z = self.mu(F.relu(self.enc(x)))
        return self.out(F.relu(self.dec(z)))


def test_a():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))


def test_b():
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 1))
'''
    assert messages(source) == []


def test_bindings_follow_statement_order():
    source = HEADER + '''
def test_demo():
    demo = nn.Conv2d(3, 64, 3)
    nn.init.zeros_(demo.bias)
    demo = nn.Linear(4, 4, bias=False)
    nn.init.zeros_(demo.bias)
'''
    assert [(code, line) for code, line, _ in messages(source)] == [("INI101", 9)]


def test_helper_called_on_an_instance_reaches_its_class_only():
    source = NET + '''

class Other(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 4)
        self.b = nn.Linear(4, 4)
        nn.init.zeros_(self.a.weight)

    def forward(self, x):
        return self.b(F.relu(self.a(x)))


def init_weights(model):
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")


def main():
    net = Net()
    init_weights(net)
'''
    # Net is initialised by the helper (no INI003); Other's zero init is not overridden by it.
    assert [(code, line) for code, line, _ in messages(source)] == [("INI001", 21)]


def test_notebook_class_in_one_cell_initialised_in_another(tmp_path):
    cells = [HEADER, NET.replace(HEADER, ""), "net = Net()\n", "nn.init.zeros_(net.fc2.weight)\n"]
    notebook = {"cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                           "source": cell.splitlines(keepends=True)} for cell in cells],
                "metadata": {"language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook))
    result = run_cli("--no-cache", "--output-format", "concise", str(path))
    assert "nb.ipynb:cell 4:1:1: INI001" in result.stdout, result.stdout + result.stderr
    assert "Net.fc2" in result.stdout


def test_framework_idioms():
    """Lightning modules are analysed like nn.Module; vendored mmcv helpers handed tensors do nothing;
    timm's trunc_normal_ has std=1 by default; ``**dd`` of known keys leaves ``bias=`` readable; timm's
    named_apply reaches the module it is given; loaded weights replace the init; fvcore's fills."""
    with open(fixture_path("frameworks", "frameworks.py"), "rb") as handle:
        found = lint_source(handle.read(), "frameworks.py", Selection()).findings
    assert [(f.code, f.line, f.column) for f in found] == [
        ("INI003", 14, 19), ("INI204", 33, 17), ("INI204", 34, 9), ("INI005", 35, 9), ("INI101", 60, 9),
        ("INI204", 90, 9)]


def test_weights_loaded_before_training_replace_the_init_but_a_best_checkpoint_does_not():
    loaded = NET + '''
model = Net()
model.load_state_dict(torch.load("pretrained.pt"))
train(model)
'''
    trained_then_loaded = NET + '''
model = Net()
optimizer = torch.optim.Adam(model.parameters())
train(model, optimizer)
model.load_state_dict(torch.load("best.pt"))
'''
    conditional = NET + '''
model = Net()
if resume:
    model.load_state_dict(torch.load("last.pt"))
'''
    assert messages("import torch\n" + loaded) == []
    assert [code for code, _, _ in messages("import torch\n" + trained_then_loaded)] == ["INI003"]
    assert [code for code, _, _ in messages("import torch\n" + conditional)] == ["INI003"]


def test_builder_functions_and_layers_handed_to_a_constructor():
    source = HEADER + '''
class VGG(nn.Module):
    def __init__(self, features, num_classes=10):
        super().__init__()
        self.features = features
        self.classifier = nn.Linear(512, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def make_layers(cfg, batch_norm=False):
    layers = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers += [nn.MaxPool2d(2)]
        else:
            layers += [nn.Conv2d(in_channels, v, 3, padding=1), nn.ReLU(inplace=True)]
            in_channels = v
    return nn.Sequential(*layers)


def vgg11():
    return VGG(make_layers([64, "M", 128, "M"]))


def create_mlp(n_in, n_out, hidden=64):
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, n_out))


class Agent(nn.Module):
    def __init__(self):
        super().__init__()
        self.q = create_mlp(8, 1)

    def forward(self, x):
        return self.q(x)
'''
    found = messages(source)
    assert [(code, line) for code, line, _ in found] == [("INI002", 12), ("INI003", 35)]
    assert found[0][2] == ("xavier_uniform_ on the Conv2d layers of self.features followed by relu: "
                           "the signal shrinks about 2.0x over 2 such layers by the Conv2d layers of "
                           "self.features; use He (kaiming) init")
    assert found[1][2].startswith("2 layers (self.q[0], self.q[2]) keep PyTorch's default init")


def test_names_after_insert_and_unknown_star_and_unnamed_layers():
    source = HEADER + '''
def xavier(conv):
    for layer in conv.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.xavier_uniform_(layer.weight)


class Extractor(nn.Module):
    def __init__(self, backbone):
        super().__init__()
        extra = nn.ModuleList([nn.Sequential(nn.Conv2d(8, 8, 1), nn.ReLU())])
        fc = nn.Sequential(nn.Conv2d(8, 8, 3), nn.ReLU())
        xavier(fc)
        extra.insert(0, nn.Sequential(*backbone[4:-1], fc))
        self.extra = extra
'''
    found = messages(source)
    assert len(found) == 1 and found[0][2].startswith("xavier_uniform_ on Extractor.extra[0][-1][0] followed by relu")


def test_reading_a_shape_does_not_consume_the_value():
    source = HEADER + '''
class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 5)
        self.fc1 = nn.Linear(6 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 10)

    def forward(self, x):
        out = F.relu(self.conv(x))
        out = out.view(out.size(0), -1)
        out = F.relu(self.fc1(out))
        return self.fc2(out)
'''
    found = messages(source)
    assert [msg[:40] for _, _, msg in found] == ["2 layers (self.conv, self.fc1) keep PyTo"]


def test_an_unnamed_layer_is_named_by_its_line():
    source = HEADER + '''
class Net(nn.Module):
    def forward(self, x):
        return nn.Sequential(nn.Conv2d(3, 8, 3),
                             nn.BatchNorm2d(8))(x)
'''
    found = lint_source(source.encode(), "t.py", Selection(select=("INI104",))).findings
    assert [f.message for f in found] == ["redundant parameter: the bias of the Conv2d built at line 7 is "
                                          "removed by the BatchNorm2d's mean subtraction: build it with bias=False"]


def test_openmmlab_init_cfg_is_read_as_the_inits_it_stands_for():
    with open(fixture_path("frameworks", "openmmlab.py"), "rb") as handle:
        found = lint_source(handle.read(), "openmmlab.py", Selection()).findings
    # A constant on a conv stack is INI001 at the dict; std=0.01 with a prior bias on the head is
    # fine; Xavier (uniform) before ReLU is INI002. Neither gets a fix: there is no call to rewrite.
    assert [(f.code, f.line, f.column) for f in found] == [("INI001", 6, 33), ("INI002", 28, 34)]
    assert all(f.fix is None for f in found)


def test_openmmlab_and_fvcore_module_helpers_are_the_inits_they_make():
    with open(fixture_path("frameworks", "module_helpers.py"), "rb") as handle:
        found = lint_source(handle.read(), "module_helpers.py", Selection()).findings
    # c2_xavier_fill is kaiming_uniform_(a=1): gain 1 before ReLU; normal_init's default std is 1;
    # xavier_init(distribution="uniform") before ReLU. normal_init(std=0.01) on the head and
    # kaiming_init (relu, fan_out) on the output layer are fine.
    assert [(f.code, f.line) for f in found] == [("INI004", 14), ("INI005", 32), ("INI002", 33)]
    assert found[0].message.endswith("(what `c2_xavier_fill` does)")
    assert all(f.fix is None for f in found)


def test_hugging_face_initialization_module_is_torch_nn_init():
    source = """import torch.nn as nn
from ... import initialization as init


def _init_weights(module):
    if isinstance(module, nn.Linear):
        init.normal_(module.weight, std=0.02)
        init.xavier_uniform_(module.bias)
"""
    found = lint_source(source.encode(), "modeling_x.py", Selection()).findings
    assert [(f.code, f.line) for f in found] == [("INI102", 8)]
