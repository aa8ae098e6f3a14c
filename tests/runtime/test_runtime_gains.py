import math

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from initlint.runtime import gain, numeric_gain  # noqa: E402


def _monte_carlo_gain(fn, samples=2_000_000):
    z = torch.randn(samples, generator=torch.Generator().manual_seed(1234), dtype=torch.float64)
    return 1.0 / math.sqrt(float(fn(z).pow(2).mean()))


@pytest.mark.parametrize("name, expected", [
    ("relu", math.sqrt(2.0)),
    ("ReLU", math.sqrt(2.0)),
    ("relu6", math.sqrt(2.0)),
    ("tanh", 5.0 / 3.0),
    ("sigmoid", 1.0),
    ("selu", 0.75),
    ("linear", 1.0),
    ("leaky_relu", math.sqrt(2.0 / (1 + 0.01**2))),
])
def test_named_gains_match_torch(name, expected):
    assert gain(name) == pytest.approx(expected, rel=1e-12)


def test_leaky_slope_and_modules_classes_callables_agree():
    assert gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2.0 / 1.04), rel=1e-12)
    assert gain(nn.LeakyReLU(0.2)) == pytest.approx(math.sqrt(2.0 / 1.04), rel=1e-12)
    assert gain(nn.PReLU()) == pytest.approx(math.sqrt(2.0 / (1 + 0.25**2)), rel=1e-6)
    assert gain(nn.RReLU()) == pytest.approx(math.sqrt(2.0 / (1 + ((1 / 8 + 1 / 3) / 2) ** 2)), rel=1e-12)
    assert gain(nn.ReLU) == gain(nn.ReLU()) == gain(F.relu) == gain(torch.relu) == gain("relu")
    assert gain(torch.tanh) == 5.0 / 3.0
    assert gain(None) == 1.0
    assert gain(1.7) == 1.7


@pytest.mark.parametrize("name, fn", [
    ("gelu", F.gelu),
    ("gelu_tanh", lambda z: F.gelu(z, approximate="tanh")),
    ("silu", F.silu),
    ("swish", F.silu),
    ("mish", F.mish),
    ("elu", F.elu),
])
def test_numeric_gains_agree_with_monte_carlo(name, fn):
    # 2e6 samples: the Monte-Carlo gain has ~0.1% relative error.
    assert gain(name) == pytest.approx(_monte_carlo_gain(fn), rel=5e-3)


def test_numeric_gains_exact_values_and_quadrature_recovers_relu():
    assert gain("gelu") == pytest.approx(1.53353, abs=1e-5)
    assert gain("silu") == pytest.approx(1.67653, abs=1e-5)
    assert gain("mish") == pytest.approx(1.48685, abs=1e-5)
    assert gain(nn.GELU()) == gain("gelu")
    assert gain(nn.GELU(approximate="tanh")) == gain("gelu_tanh") != gain("gelu")
    assert numeric_gain(torch.relu) == pytest.approx(math.sqrt(2.0), rel=1e-6)
    assert numeric_gain(lambda z: z) == pytest.approx(1.0, rel=1e-9)


def test_user_callable_is_integrated_not_guessed_by_name():
    def relu(z):  # named like ReLU but doubles its input
        return 2 * z
    assert gain(relu) == pytest.approx(0.5, rel=1e-9)


def test_unknown_and_degenerate_activations_raise():
    with pytest.raises(ValueError, match="unknown activation 'swoosh'"):
        gain("swoosh")
    with pytest.raises(ValueError, match="gain is undefined"):
        numeric_gain(lambda z: z * 0)
    with pytest.raises(TypeError):
        gain(object())
