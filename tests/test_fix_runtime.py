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
    # Every fix is checked, those of shallow nets below the default min-signal-change too.
    (folder / "pyproject.toml").write_text("[tool.initlint]\nmin-signal-change = 1\n")
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


def second_moments(model, batch):
    """Per-sample second moment of each layer's output after its ReLU, the first layer's first."""
    hidden = torch.relu(model.inp(batch))
    moments = [hidden.pow(2).mean(dim=1).mean().item()]
    for layer in model.hidden:
        hidden = torch.relu(layer(hidden))
        moments.append(hidden.pow(2).mean(dim=1).mean().item())
    return moments


def test_comprehension_built_relu_stack_holds_its_signal(models):
    before, after = models
    torch.manual_seed(0)
    batch = torch.randn(512, 64)
    with torch.no_grad():
        moments_before = second_moments(before.ComprehensionMLP(), batch)
        moments_after = second_moments(after.ComprehensionMLP(), batch)
    assert moments_before[-1] / moments_before[0] < 0.01
    assert 0.5 <= moments_after[-1] / moments_after[0] <= 2


def test_constant_loop_init_is_replaced_and_no_hidden_weight_stays_constant(models):
    before, after = models
    torch.manual_seed(0)
    assert torch.count_nonzero(before.ResetZero().enc.weight) == 0
    model = after.ResetZero()
    for layer in (model.enc, model.dec):
        assert torch.unique(layer.weight, dim=0).shape[0] == layer.weight.shape[0]
    assert abs(model.enc.weight.std().item() / math.sqrt(2 / 32) - 1) < 0.15


def test_fixed_models_build_and_a_second_fix_changes_nothing(models, tmp_path):
    _, after = models
    for name in ("BiasFreeCrash", "ZeroHidden", "DeepReLU", "XavierReLU", "ComprehensionMLP", "ResetZero"):
        getattr(after, name)()
    path = tmp_path / "models.py"
    path.write_bytes(open(after.__file__, "rb").read())
    result = run_cli("--fix", "--no-cache", "-q", str(path))
    assert path.read_bytes() == open(after.__file__, "rb").read(), result.stdout + result.stderr
