import math

import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from initlint.runtime import InitPolicy, Rule, audit, gain, init_model_, param_seed  # noqa: E402


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity)


class TinyResNet(nn.Module):
    """torchvision-style ResNet: stem, two stages of BasicBlocks, pooled linear head."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = BasicBlock(16, 16)
        self.layer2 = BasicBlock(16, 32, stride=2)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class GPTBlock(nn.Module):
    def __init__(self, dim=64, heads=4):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(dim)
        self.c_attn = nn.Linear(dim, 3 * dim)
        self.c_proj = nn.Linear(dim, dim)
        self.ln_2 = nn.LayerNorm(dim)
        self.c_fc = nn.Linear(dim, 4 * dim)
        self.gelu = nn.GELU(approximate="tanh")
        self.mlp_proj = nn.Linear(4 * dim, dim)

    def forward(self, x):
        batch, length, dim = x.size()
        q, k, v = self.c_attn(self.ln_1(x)).split(dim, dim=2)
        q, k, v = (t.view(batch, length, self.heads, -1).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).contiguous().view(batch, length, dim))
        return x + self.mlp_proj(self.gelu(self.c_fc(self.ln_2(x))))


def _summary(record):
    return {name: (entry.action, entry.follower) for name, entry in record.params.items()}


def test_resnet_record():
    torch.manual_seed(0)
    model = TinyResNet()
    record = init_model_(model)
    assert record.strategy == "fx"
    summary = _summary(record)
    assert summary["conv1.weight"] == ("he", "batch_norm -> relu")
    assert summary["layer1.conv1.weight"] == ("he", "batch_norm -> relu")
    assert summary["layer1.conv2.weight"] == ("lecun", "batch_norm -> add")
    assert summary["layer2.downsample.0.weight"] == ("lecun", "batch_norm -> add")
    assert summary["fc.weight"] == ("lecun", "output")
    assert summary["fc.bias"] == ("zero", "output")
    assert summary["bn1.weight"] == ("untouched", "")
    assert "conv1.bias" not in summary  # bias=False convs: nothing to record, nothing crashes
    assert record["layer2.conv1.weight"].std == pytest.approx(math.sqrt(2 / (16 * 9)))
    assert audit(model, torch.randn(16, 3, 8, 8), print_table=False).findings == []


class CheckedGPTBlock(GPTBlock):
    def forward(self, x):
        if torch.isnan(x).any():  # data-dependent control flow: torch.fx cannot trace this
            raise ValueError("NaN input")
        return super().forward(x)


@pytest.mark.parametrize("block_type, strategy", [(GPTBlock, "fx"), (CheckedGPTBlock, "torch_function")])
def test_gpt_block_either_strategy(block_type, strategy):
    torch.manual_seed(0)
    block = block_type()
    if strategy != "fx":
        with pytest.raises(ValueError, match="pass example_inputs"):
            init_model_(block)
    record = init_model_(block, torch.randn(2, 5, 64))
    assert record.strategy == strategy
    assert _summary(record)["c_fc.weight"] == ("he", "gelu_tanh")
    assert record["c_fc.weight"].gain == pytest.approx(gain("gelu_tanh"))
    assert record["c_fc.weight"].std == pytest.approx(gain("gelu_tanh") / 8)
    assert _summary(record)["c_attn.weight"] == ("lecun", "scaled_dot_product_attention")
    assert _summary(record)["c_proj.weight"] == ("lecun", "add -> layer_norm")
    assert _summary(record)["mlp_proj.weight"] == ("lecun", "add -> output")
    assert _summary(record)["ln_1.weight"] == ("untouched", "")
    assert "c_fc.weight" in record.format()


def test_seeds_come_from_names_not_module_order():
    forward_order = nn.Sequential()
    forward_order.add_module("a", nn.Linear(8, 8))
    forward_order.add_module("b", nn.Linear(8, 8))
    reverse_order = nn.Module()
    reverse_order.b = nn.Linear(8, 8)
    reverse_order.a = nn.Linear(8, 8)
    reverse_order.forward = lambda x: reverse_order.b(reverse_order.a(x))
    init_model_(forward_order, seed=3)
    torch.randn(100)  # global RNG state must not matter either
    init_model_(reverse_order, torch.randn(2, 8), seed=3)
    assert torch.equal(forward_order.a.weight, reverse_order.a.weight)
    assert torch.equal(forward_order.b.weight, reverse_order.b.weight)
    assert not torch.equal(forward_order.a.weight, forward_order.b.weight)
    record = init_model_(forward_order, seed=4)
    assert record["a.weight"].seed == param_seed("a.weight", 4) != param_seed("a.weight", 3)


def test_skip_patterns_and_meta_parameters_are_left_alone():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    loaded = {name: p.clone() for name, p in model.named_parameters()}
    record = init_model_(model, skip=["0.weight", "2.*"])
    assert torch.equal(model[0].weight, loaded["0.weight"])
    assert torch.equal(model[2].weight, loaded["2.weight"])
    assert torch.equal(model[2].bias, loaded["2.bias"])
    assert not torch.equal(model[4].weight, loaded["4.weight"])
    assert [record[name].action for name in ("0.weight", "0.bias", "2.weight", "2.bias", "4.weight")] == \
        ["skipped", "zero", "skipped", "skipped", "lecun"]
    with torch.device("meta"):
        meta_model = nn.Sequential(nn.Linear(8, 8), nn.ReLU())
    meta_record = init_model_(meta_model)
    assert {entry.action for entry in meta_record.params.values()} == {"skipped"}
    assert meta_record["0.weight"].reason == "meta device"


def test_policy_overrides_by_type_name_and_follower():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(16, 16)
            self.end = nn.Linear(16, 16)
            self.head = nn.Linear(16, 3)

        def forward(self, x):
            x = x + self.end(F.silu(self.inner(x)))
            return self.head(x)

    policy = (InitPolicy()
              .add("zero", followed_by="add")
              .add("xavier", name="head", bias=0.01, distribution="uniform")
              .add("he", type=nn.Linear, activation="relu"))
    model = Residual()
    record = init_model_(model, policy=policy)
    assert torch.count_nonzero(model.end.weight).item() == 0
    assert record["end.weight"].action == "zero"
    assert record["head.weight"].action == "xavier"
    assert record["head.weight"].std == pytest.approx(math.sqrt(2 / 19))
    assert record["head.bias"].action == "prior"
    assert model.head.bias.tolist() == pytest.approx([-math.log(99)] * 3)
    assert record["inner.weight"].gain == pytest.approx(math.sqrt(2))  # rule's activation wins over silu
    assert record["inner.weight"].reason == "rule(type=<class 'torch.nn.modules.linear.Linear'>)"
    default = init_model_(Residual())
    assert default["inner.weight"].gain == pytest.approx(gain("silu"))
    assert default["end.weight"].action == "lecun"


def test_policy_keep_and_custom():
    def ones(layer, generator):
        nn.init.ones_(layer.weight)

    model = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4))
    before = model[2].weight.clone()
    record = init_model_(model, policy=InitPolicy([Rule(ones, followed_by="tanh"), Rule("keep", name="2")]))
    assert model[0].weight.tolist() == [[1.0] * 4] * 4
    assert torch.equal(model[2].weight, before)
    assert [entry.action for entry in record.params.values()] == ["custom", "custom", "kept", "kept"]
    with pytest.raises(ValueError, match="init must be one of"):
        Rule("orthogonal")
