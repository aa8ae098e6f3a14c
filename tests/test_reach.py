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
                                   "the activations shrink about 6x by self.fc2; use He (kaiming) init")]


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
