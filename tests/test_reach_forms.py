"""Reach II: helpers applied to models initlint cannot resolve, and the forms people write
(type dispatch, values, names, instances and containers, test files)."""
import re

import pytest

from conftest import fixture_path, run_cli
from initlint.engine import Selection, lint_source
from initlint.fix import fixed_source


def lint(source, name="model.py"):
    """Findings of the default rule set, as (code, line, message)."""
    if isinstance(source, str):
        source = source.encode()
    result = lint_source(source, name, Selection())
    assert result.internal_error is None
    return [(f.code, f.line, f.message) for f in result.findings]


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


def test_type_dispatch_forms():
    found = lint_fixture("type_dispatch.py")
    assert [(code, line) for code, line, _ in found] == [
        ("INI001", 11), ("INI001", 16), ("INI001", 21), ("INI001", 26), ("INI001", 31), ("INI001", 36),
        ("INI001", 42), ("INI001", 47), ("INI001", 52)]
    kinds = [message.split("sets every ")[1].split(" weight")[0] for _, _, message in found]
    assert kinds == ["Linear", "Conv2d/Linear", "Conv2d", "Conv2d", "Conv2d/Linear", EVERY_CONV, EVERY_CONV,
                     EVERY_CONV, "Conv2d/Linear"]


TWO_KINDS = '''import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.fc1 = nn.Linear(8, 8)
        self.fc2 = nn.Linear(8, 2)

    def forward(self, x):
        return self.fc2(self.fc1(self.conv(x).relu().mean((2, 3))).relu())


def init_fn(m):
    if {test}:
        nn.init.zeros_(m.weight)


net = Net()
net.apply(init_fn)
'''


@pytest.mark.parametrize("test", ["type(m) == nn.Linear", "type(m) in (nn.Linear,)", "m.__class__ is nn.Linear",
                                  'm.__class__.__name__ in ("Linear", "Bilinear")'])
def test_exact_type_dispatch_reaches_only_that_class(test):
    found = lint(TWO_KINDS.format(test=test))
    assert found == [("INI001", 17, "every Linear weight reached here is set to zero (Net.fc1, Net.fc2): "
                                    "all units stay identical")]


def test_values_written_out_and_constants_whatever_their_value():
    found = lint_fixture("values.py")
    assert [(code, line) for code, line, _ in found] == [
        ("INI001", 16), ("INI005", 27), ("INI005", 33), ("INI005", 38), ("INI001", 43), ("INI001", 48)]
    messages = [message for _, _, message in found]
    assert messages[0] == ("every Linear weight reached here is set to a constant (self.fc1, self.fc2, self.fc3): "
                           "all units stay identical")
    assert messages[1].startswith("uniform_ with range [0, 1) on every Linear weight this helper meets")
    assert messages[2].startswith("normal_ with std=1 on every Linear weight")
    assert messages[3].startswith("normal_ with std=1 on every Conv2d weight")
    assert messages[4].startswith("this helper sets every Linear weight it meets to a constant")


def test_a_left_out_std_is_still_called_the_default():
    found = lint("import torch.nn as nn\n\ndef f(m):\n    if isinstance(m, nn.Linear):\n"
                 "        nn.init.trunc_normal_(m.weight, 0.02)\n")
    assert found[0][2].startswith("trunc_normal_ with the default std=1 (0.02 is the mean) on every Linear")


def test_a_lambda_handing_the_module_to_a_helper_applies_the_helper():
    source = '''import torch.nn as nn


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x):
        return self.fc2(nn.functional.relu(self.fc1(x)))


def weights_init_constant(m, constant_weight):
    if isinstance(m, nn.Linear):
        nn.init.constant_(m.weight, constant_weight)


model = MLP()
model.apply(lambda m: weights_init_constant(m, 0.5))
'''
    assert lint(source) == [("INI001", 16, "every Linear weight reached here is set to a constant "
                                           "(MLP.fc1, MLP.fc2): all units stay identical")]


STAR = '''from models import *
{extra}
net = Net()
for m in net.modules():
    if isinstance(m, nn.Conv2d):
        torch.nn.init.xavier_uniform(m.weight)
'''


def test_torch_names_next_to_a_star_import_are_torchs():
    found = lint(STAR.format(extra=""))
    assert [(code, line) for code, line, _ in found] == [("INI203", 6)]
    assert found[0][2] == "`torch.nn.init.xavier_uniform` is deprecated: use `xavier_uniform_`"


@pytest.mark.parametrize("extra", ["import mylib as torch\n", "torch = load_backend()\n",
                                   "def torch():\n    pass\n"])
def test_a_name_the_file_binds_itself_is_not_assumed_to_be_torch(extra):
    assert lint(STAR.format(extra=extra)) == []


def test_without_a_star_import_unbound_names_stay_unknown():
    assert lint(STAR.format(extra="").replace("from models import *", "import models")) == []


def test_a_fix_next_to_a_star_import_writes_only_names_the_file_uses():
    source = ("from models import *\nimport torch.optim\n\n\ndef weights_init(m):\n    if isinstance(m, nn.Linear):\n"
              "        nn.init.zeros_(m.weight)\n\n\nclass A:\n    def f(self):\n        return self.init\n")
    result = lint_source(source.encode(), "model.py", Selection(), keep_module=True)
    assert [(f.code, f.line) for f in result.findings] == [("INI001", 7)]
    fixed, _ = fixed_source(result.module, result.findings)
    assert fixed == source.replace("nn.init.zeros_(m.weight)", "nn.init.kaiming_uniform_(m.weight, a=5 ** 0.5)").encode()


def test_slices_of_built_lists():
    found = lint_fixture("slices.py")
    assert [(code, line) for code, line, _ in found] == [("INI003", 9), ("INI002", 22)]
    assert found[0][2].startswith("self.net[0] and its copies keep PyTorch's default init before relu")
    assert found[1][2].startswith("xavier_uniform_ on self.net[0] followed by relu")


def test_tuple_unpacking_binds_each_instance():
    found = lint_fixture("unpacking.py")
    assert found == [("INI001", 26, "every Linear weight reached here is set to zero "
                                    "(Discriminator.fc1, Discriminator.fc2): all units stay identical")]


MODEL = '''import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 2)
        nn.init.xavier_uniform_(self.fc1.weight)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))
'''


def codes_in(tmp_path, name, text):
    # MODEL's one Xavier layer before ReLU (the warning INI002) is below the default min-signal-change.
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n\n[tool.initlint]\nmin-signal-change = 1\n")
    target = tmp_path / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    result = run_cli("--no-cache", "--output-format", "concise", name, cwd=tmp_path)
    return re.findall(r": (INI\d+) ", result.stdout)


@pytest.mark.parametrize("name", ["train_test.py", "test_gan.py"])
def test_a_test_named_script_without_tests_is_checked_like_any_file(tmp_path, name):
    assert codes_in(tmp_path, name, MODEL + "\nnet = Net()\n") == ["INI002"]


@pytest.mark.parametrize("name, tests", [
    ("model_test.py", "\n\ndef test_net():\n    Net()\n"),
    ("test_model.py", "\n\nclass TestNet:\n    pass\n"),
    ("test_model.py", "\nimport unittest\n"),
    ("model_test.py", "\nimport pytest\n"),
    ("tests/helpers.py", ""),  # anything in a tests folder
    ("conftest.py", ""),
])
def test_a_test_file_gets_only_error_rules(tmp_path, name, tests):
    assert codes_in(tmp_path, name, MODEL + tests) == []


def test_an_init_of_one_instance_leaves_the_others_as_they_were():
    found = lint_fixture("instances.py")
    assert found == [
        ("INI001", 15, "every Linear weight reached here is set to a constant (self.fc1, self.fc2, self.fc3): "
                       "all units stay identical"),
        ("INI005", 26, "uniform_ with range [0, 1) on Net.fc1, Net.fc2, Net.fc3: the signal's scale grows "
                       "with fan_in at every layer"),
    ]


def test_an_init_of_the_only_instance_replaces_the_classs_own():
    assert lint_fixture("one_instance.py") == []


def test_names_bound_by_with_and_except_count_as_bound():
    source = ("from models import *\nimport torch.optim\ntry:\n    import apex\nexcept ImportError as nn:\n    pass\n"
              "with open('x') as init:\n    pass\n\n\ndef f(m):\n    if isinstance(m, nn.Linear):\n"
              "        init.zeros_(m.weight)\n")
    assert lint(source) == []
    unbound = source.replace(" as nn", "").replace(" as init", "")
    assert [code for code, _, _ in lint(unbound)] == ["INI001"]


def test_names_that_start_with_self_are_plain_names():
    """``self_attn`` in a builder and ``selfish`` in a method are local names, not paths inside the instance."""
    source = (
        "import torch.nn as nn\n\n\ndef build(d):\n    self_attn = nn.Linear(d, d, bias=False)\n"
        "    nn.init.zeros_(self_attn.bias)\n    return self_attn\n\n\nclass Net(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(4, 4)\n\n"
        "    def make(self):\n        selfish = nn.Linear(4, 4, bias=False)\n        nn.init.zeros_(selfish.bias)\n"
        "        return selfish\n")
    assert [(code, line) for code, line, _ in lint(source)] == [("INI101", 6), ("INI101", 17)]
    assert "bias init on self_attn, built with bias=False" in lint(source)[0][2]
