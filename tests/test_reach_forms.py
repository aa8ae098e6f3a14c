"""Reach II: helpers applied to models initlint cannot resolve, and the forms people write
(type dispatch, values, names, instances and containers, test files)."""
import pytest

from conftest import fixture_path
from initlint.engine import Selection, lint_source


def lint(source, name="model.py"):
    """Findings of the default rule set, as (code, line, message)."""
    if isinstance(source, str):
        source = source.encode()
    return [(f.code, f.line, f.message) for f in lint_source(source, name, Selection()).findings]


def lint_fixture(name):
    with open(fixture_path("reach_forms", name), "rb") as handle:
        return lint(handle.read(), name)


EVERY_CONV = "Conv1d/Conv2d/Conv3d/ConvTranspose1d/ConvTranspose2d/ConvTranspose3d"


def test_helpers_applied_to_unresolved_models_get_the_checks_that_hold_for_any_model():
    found = lint_fixture("unresolved_receivers.py")
    assert [(code, line) for code, line, _ in found] == [
        ("INI102", 18),  # pix2pix's nested init_func, applied to init_weights' parameter
        ("INI102", 25), ("INI001", 26),  # nested f applied to init_bias' parameter
        ("INI001", 32), ("INI106", 33),  # w_zero, applied by init_net and to a torch.load'ed model
        ("INI005", 39),  # w_normal, applied by init_net
        ("INI203", 44), ("INI204", 45),  # w_old, applied to get_model(args)'s model
        ("INI107", 50),  # w_bad_args
        ("INI001", 76),  # init_params(net) loops over net.modules(), called with get_model's model
    ]
    messages = dict(((code, line), message) for code, line, message in found)
    assert messages[("INI102", 18)].startswith(f"xavier_normal_ on the bias of every {EVERY_CONV}/Linear: ")
    assert messages[("INI001", 26)] == ("this helper sets every Linear weight it meets to zero: in a network "
                                        "with two such layers the hidden one's units stay identical")
    assert messages[("INI005", 39)].startswith("normal_ with the default std=1 on every Conv2d/Linear weight "
                                               "this helper meets")


KNOWN_MODEL = '''import torch.nn as nn
from torch.nn import init


class G(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc2(self.fc1(x).relu())


def init_weights(net, init_type):
    def init_func(m):
        if isinstance(m, nn.Linear):
            init.xavier_uniform_(m.weight)
            init.zeros_(m.bias)
    net.apply(init_func)

'''


@pytest.mark.parametrize("call", ['netG = G()\ninit_weights(netG, "normal")\n',
                                  'def main():\n    netG = G()\n    init_weights(netG, "normal")\n'])
def test_a_helper_called_with_a_known_model_is_followed_through(call):
    # Model-dependent rules need the model: Xavier before the ReLU that follows G.fc1.
    found = lint(KNOWN_MODEL + call)
    assert [(code, line) for code, line, _ in found] == [("INI002", 18)]
    assert "G.fc1" in found[0][2] and "relu" in found[0][2]


def test_a_helper_applied_to_an_unresolved_model_keeps_model_dependent_rules_silent():
    assert lint(KNOWN_MODEL + "model = get_model()\ninit_weights(model, 'normal')\n") == []
