import math

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402

from initlint.runtime import (  # noqa: E402
    he_init_, lecun_init_, prior_bias_, xavier_init_, zero_bias_, zero_init_,
)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_he_sets_std_and_zeroes_bias():
    layer = nn.Linear(1000, 400)
    assert he_init_(layer, generator=_gen()) is layer
    assert layer.weight.std().item() == pytest.approx(math.sqrt(2 / 1000), rel=0.02)
    assert torch.count_nonzero(layer.bias).item() == 0


def test_he_with_leaky_slope_and_fan_out():
    layer = nn.Conv2d(16, 64, 3)
    he_init_(layer, nn.LeakyReLU(0.2), mode="fan_out", generator=_gen())
    assert layer.weight.std().item() == pytest.approx(math.sqrt(2 / 1.04 / (64 * 9)), rel=0.03)


def test_xavier_uniform_and_lecun_normal():
    layer = nn.Linear(300, 100)
    xavier_init_(layer, "tanh", generator=_gen())
    bound = 5 / 3 * math.sqrt(6 / 400)
    assert layer.weight.abs().max().item() <= bound
    assert layer.weight.abs().max().item() > 0.99 * bound
    lecun_init_(layer, generator=_gen())
    assert layer.weight.std().item() == pytest.approx(1 / math.sqrt(300), rel=0.02)
    assert layer.weight.abs().max().item() > 3.5 / math.sqrt(300)  # normal tails, not uniform


def test_truncated_normal_has_exact_std_and_cut_tails():
    weight = torch.empty(500, 400)
    he_init_(weight, "linear", distribution="truncated_normal", generator=_gen())
    std = 1 / math.sqrt(400)
    assert weight.std().item() == pytest.approx(std, rel=0.01)
    assert weight.abs().max().item() <= 2 * std / 0.8796256610342398 + 1e-9


def test_generator_makes_it_reproducible_and_leaves_global_rng_alone():
    layers = [nn.Linear(8, 8) for _ in range(3)]  # construction itself uses the global RNG
    state = torch.random.get_rng_state()
    first = he_init_(layers[0], generator=_gen(5)).weight
    again = he_init_(layers[1], generator=_gen(5)).weight
    other = he_init_(layers[2], generator=_gen(6)).weight
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert torch.equal(state, torch.random.get_rng_state())


def test_none_and_bias_free_layers_are_fine():
    for helper in (he_init_, xavier_init_, lecun_init_, zero_bias_, zero_init_):
        assert helper(None) is None
    assert prior_bias_(None, 0.01) is None
    layer = nn.Conv2d(3, 8, 3, bias=False)
    for helper in (he_init_, xavier_init_, lecun_init_, zero_bias_, zero_init_):
        assert helper(layer) is layer
    assert prior_bias_(layer, 0.01) is layer
    assert layer.bias is None


def test_prior_bias_is_the_focal_loss_prior():
    head = prior_bias_(nn.Linear(4, 3), 0.01)
    assert head.bias.tolist() == pytest.approx([-math.log(99)] * 3)
    assert torch.sigmoid(head.bias).tolist() == pytest.approx([0.01] * 3)
    with pytest.raises(ValueError, match=r"prob must be in \(0, 1\)"):
        prior_bias_(head, 1.0)


def test_zero_init_and_zero_bias():
    layer = nn.Linear(4, 4)
    zero_bias_(layer)
    assert torch.count_nonzero(layer.bias).item() == 0
    assert torch.count_nonzero(layer.weight).item() == 16
    zero_init_(layer)
    assert torch.count_nonzero(layer.weight).item() == 0


def test_meta_device_is_left_alone_and_module_without_weight_rejected():
    with torch.device("meta"):
        layer = nn.Linear(4, 4)
    assert he_init_(layer, generator=_gen()) is layer
    assert layer.weight.is_meta
    with pytest.raises(TypeError, match="ReLU has no weight"):
        he_init_(nn.ReLU())
    with pytest.raises(ValueError, match="distribution must be one of"):
        he_init_(nn.Linear(2, 2), distribution="cauchy")
