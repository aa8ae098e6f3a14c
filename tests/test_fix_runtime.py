"""Instantiate fixture models before and after `initlint --fix` and check what the fixes promise."""
import importlib.util
import math
import shutil

import pytest

from conftest import fixture_path, run_cli

torch = pytest.importorskip("torch")


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fixed")
    fixed_path = folder / "models.py"
    shutil.copy(fixture_path("runtime", "models.py"), fixed_path)
    result = run_cli("--fix", "--no-cache", "-q", str(fixed_path))
    assert result.returncode == 0, result.stdout + result.stderr
    return load(fixture_path("runtime", "models.py"), "models_before"), load(str(fixed_path), "models_after")


def test_bias_free_crash_is_gone(models):
    before, after = models
    with pytest.raises(AttributeError):
        before.BiasFreeCrash()
    after.BiasFreeCrash()(torch.randn(2, 3, 8, 8))


def test_zeroed_hidden_layer_becomes_random(models):
    before, after = models
    torch.manual_seed(0)
    assert torch.count_nonzero(before.ZeroHidden().fc1.weight) == 0
    weight = after.ZeroHidden().fc1.weight
    assert torch.unique(weight, dim=0).shape[0] == weight.shape[0]  # no two units alike
    assert abs(weight.std().item() / math.sqrt(2 / 64) - 1) < 0.1


def spread_at_last_hidden(model, batch):
    """Std across the batch of each unit after the last ReLU, averaged over units."""
    hidden = batch
    for layer in list(model.net)[:-1]:
        hidden = layer(hidden)
    return hidden.std(dim=0).mean().item()


def test_deep_relu_activations_no_longer_vanish(models):
    before, after = models
    torch.manual_seed(0)
    batch = torch.randn(256, 256)
    with torch.no_grad():
        first_before = torch.relu(before.DeepReLU().net[0](batch)).std(dim=0).mean().item()
        last_before = spread_at_last_hidden(before.DeepReLU(), batch)
        last_after = spread_at_last_hidden(after.DeepReLU(), batch)
    # Default init shrinks the variance about 6x per layer: 10 layers leave almost nothing.
    assert last_before < 1e-3 * first_before
    assert last_after > 0.1


def test_relu_followed_weights_get_he_scale(models):
    _, after = models
    torch.manual_seed(0)
    deep = after.DeepReLU()
    for index in range(0, 20, 2):
        weight = deep.net[index].weight
        assert abs(weight.std().item() / math.sqrt(2 / weight.shape[1]) - 1) < 0.1
    xavier = after.XavierReLU().fc1.weight
    assert abs(xavier.std().item() / math.sqrt(2 / 512) - 1) < 0.1
