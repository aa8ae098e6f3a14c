"""init_model_ on real module types: parametrizations, lazy modules, wrappers, FSDP2."""
import subprocess
import sys
import textwrap
import warnings

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
from torch.nn.utils import parametrizations, parametrize  # noqa: E402

from initlint.runtime import audit, init_model_  # noqa: E402


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))


def test_weight_norm_initialises_the_real_parameters():
    model = _net()
    parametrizations.weight_norm(model[2])
    g, v = model[2].parametrizations.weight.original0, model[2].parametrizations.weight.original1
    g_before, v_before = g.detach().clone(), v.detach().clone()
    record = init_model_(model)
    assert not torch.equal(g, g_before) and not torch.equal(v, v_before)
    effective = model[2].weight.detach()
    assert torch.allclose(effective, v.detach(), atol=1e-6)  # g = |v|: the weight is exactly v
    assert float(effective.std()) == pytest.approx((2 / 64) ** 0.5, rel=0.05)
    for name in ("2.parametrizations.weight.original0", "2.parametrizations.weight.original1"):
        assert record[name].action == "he"
        assert record[name].reason == "followed by relu; weight_norm: g = |v|"
    assert audit(model, torch.randn(16, 32), print_table=False).findings == []


def test_weight_norm_calibrates_through_g():
    model = _net()
    parametrizations.weight_norm(model[2])
    inputs = torch.randn(64, 32, generator=torch.Generator().manual_seed(0))
    init_model_(model, inputs, calibrate=True)
    with torch.no_grad():
        moment = float(model[2](model[1](model[0](inputs))).pow(2).mean())
    assert moment == pytest.approx(1.0, abs=0.03)


def test_deprecated_weight_norm_hook():
    model = _net()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        nn.utils.weight_norm(model[2])
    v_before = model[2].weight_v.detach().clone()
    record = init_model_(model, torch.randn(4, 32))
    assert not torch.equal(model[2].weight_v, v_before)
    assert record["2.weight_v"].action == record["2.weight_g"].action == "he"
    model(torch.randn(4, 32))  # the hook recomputes weight from g and v
    assert float(model[2].weight.detach().std()) == pytest.approx((2 / 64) ** 0.5, rel=0.05)


def test_spectral_norm_initialises_the_original():
    model = _net()
    parametrizations.spectral_norm(model[2])
    before = model[2].parametrizations.weight.original.detach().clone()
    record = init_model_(model)
    assert not torch.equal(model[2].parametrizations.weight.original, before)
    assert record["2.parametrizations.weight.original"].reason == \
        "followed by relu; spectral_norm then divides it by its largest singular value"


class Symmetric(nn.Module):
    def forward(self, weight):
        return weight.triu() + weight.triu(1).transpose(0, 1)


def test_other_parametrizations_are_refused_with_a_way_out():
    model = _net()
    parametrize.register_parametrization(model[2], "weight", Symmetric())
    with pytest.raises(ValueError) as raised:
        init_model_(model)
    assert str(raised.value) == (
        "2.weight is computed by a parametrization (Symmetric); init_model_ knows how to initialise "
        "weight_norm and spectral_norm only: pass skip=['2.*'] and initialise it yourself")
    record = init_model_(model, skip=["2.*"])
    assert record["2.parametrizations.weight.original"].action == "skipped"
    assert record["0.weight"].action == "he"


def test_lazy_modules_need_a_forward_or_example_inputs():
    model = nn.Sequential(nn.LazyLinear(16), nn.ReLU(), nn.LazyLinear(2))
    with pytest.raises(ValueError) as raised:
        init_model_(model)
    assert str(raised.value) == (
        "0.weight, 0.bias, 2.weight, 2.bias not materialised yet (lazy modules such as LazyLinear): run one "
        "forward pass first, or pass example_inputs and init_model_ will run it")
    record = init_model_(model, torch.randn(4, 8))
    assert model[0].weight.shape == (16, 8)
    assert [record[name].action for name in ("0.weight", "0.bias", "2.weight")] == ["he", "zero", "lecun"]


def test_wrappers_give_the_bare_models_result_and_names():
    bare, in_data_parallel, compiled = _net(), _net(), _net()
    bare_record = init_model_(bare, seed=5)
    wrapped_record = init_model_(nn.DataParallel(in_data_parallel), seed=5)
    compiled_record = init_model_(torch.compile(compiled), seed=5)
    for model in (in_data_parallel, compiled):
        assert all(torch.equal(a, b) for a, b in zip(bare.state_dict().values(), model.state_dict().values()))
    assert list(wrapped_record.params) == list(compiled_record.params) == list(bare_record.params)
    assert wrapped_record["0.weight"].seed == bare_record["0.weight"].seed


def test_compiled_submodule_names_lose_orig_mod():
    model = _net()
    model[2] = torch.compile(model[2])
    record = init_model_(model, torch.randn(4, 32))
    assert "2.weight" in record.params and not any("_orig_mod" in name for name in record.params)
    bare = _net()
    init_model_(bare, torch.randn(4, 32))
    assert torch.equal(model[2]._orig_mod.weight, bare[2].weight)


def test_fsdp2_sharded_model_is_a_clear_error(tmp_path):
    script = textwrap.dedent(f"""
        import torch.distributed as dist, torch.nn as nn
        from torch.distributed.fsdp import fully_shard
        from initlint.runtime import init_model_
        dist.init_process_group("gloo", init_method="file://{tmp_path / 'store'}", rank=0, world_size=1)
        model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
        fully_shard(model)
        try:
            init_model_(model)
        except ValueError as error:
            print(error)
        dist.destroy_process_group()
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.stdout == ("0.weight is a sharded DTensor: call init_model_ on the model before "
                           "fully_shard()/FSDP2 (each rank then draws the same, name-seeded values and keeps its "
                           "shard)\n"), done.stderr
