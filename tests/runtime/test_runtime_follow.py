import weakref

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from initlint.runtime import find_followers  # noqa: E402
from initlint.runtime.follow import FollowMode, _Tag  # noqa: E402


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.branch = nn.Conv2d(8, 8, 3, padding=1)
        self.pre = nn.Linear(8, 16)
        self.mid = nn.Linear(16, 16)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        x = F.relu(x + self.branch(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        x = F.dropout(self.pre(x), 0.1, self.training)
        x = nn.functional.leaky_relu(x, 0.2)
        x = torch.sigmoid(self.mid(x).view(-1, 16))
        return self.head(x)


class Untraceable(Mixed):
    def forward(self, x):
        if x.sum() > -1e9:  # data-dependent branch: torch.fx cannot trace this
            return super().forward(x)
        return x


EXPECTED = {
    "conv": "batch_norm -> relu",
    "branch": "add -> relu",
    "pre": "leaky_relu",
    "mid": "sigmoid",
    "head": "output",
}


def test_fx_finds_followers_through_pass_through_ops():
    followers, strategy = find_followers(Mixed())
    assert strategy == "fx"
    assert {name: str(f) for name, f in followers.items()} == EXPECTED
    assert followers["pre"].gain == pytest.approx((2 / 1.04) ** 0.5)
    assert followers["conv"].activation.op == "relu"
    assert followers["branch"].activation is None  # an add is not an activation
    assert followers["pre"].is_relu_family and not followers["mid"].is_relu_family


def test_runtime_fallback_gives_the_same_answer_and_restores_training_mode():
    model = Untraceable().train()
    followers, strategy = find_followers(model, torch.randn(2, 3, 8, 8))
    assert strategy == "torch_function"
    assert {name: str(f) for name, f in followers.items()} == EXPECTED
    assert model.training and model.bn.training
    assert model.bn.num_batches_tracked.item() == 0  # ran in eval mode


def test_untraceable_without_inputs_is_a_clear_error():
    with pytest.raises(ValueError, match="pass example_inputs"):
        find_followers(Untraceable())


def test_module_activations_are_classified():
    model = nn.Sequential(nn.Linear(4, 4), nn.GELU(), nn.Linear(4, 4), nn.Flatten(), nn.Identity(),
                          nn.PReLU(), nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 4))
    followers, _ = find_followers(model)
    assert {name: str(f) for name, f in followers.items()} == {
        "0": "gelu", "2": "prelu", "6": "layer_norm -> linear", "8": "output"}
    assert followers["6"].then.kind == "layer"


def test_runtime_fallback_follows_parametrized_layers():
    model = Untraceable()
    torch.nn.utils.parametrizations.weight_norm(model.pre)
    followers, strategy = find_followers(model, torch.randn(2, 3, 8, 8))
    assert strategy == "torch_function"
    assert {name: str(f) for name, f in followers.items()} == EXPECTED


def test_tags_do_not_keep_tensors_alive():
    mode = FollowMode({})
    tensor = torch.randn(3)
    mode.tag(tensor, _Tag("layer"))
    assert mode.tag_of(tensor).layer == "layer"
    reference = weakref.ref(tensor)
    del tensor
    assert reference() is None
