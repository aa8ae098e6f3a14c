"""Healthy models, built the way their libraries build them, pass the audit as
constructed and after init_model_; what init_model_ keeps and records on them."""
import pytest

torch = pytest.importorskip("torch")
import torch.nn as nn  # noqa: E402

from initlint.runtime import audit, init_model_  # noqa: E402
from runtime_zoo import GPT, VGG, MobileNet, ResNet, image_batch, token_batch  # noqa: E402

MODELS = {
    "resnet": (ResNet, lambda: image_batch(32, batch=8)),
    "resnet_zero_init_residual": (lambda: ResNet(zero_init_residual=True), lambda: image_batch(32, batch=8)),
    "mobilenet": (MobileNet, lambda: image_batch(32, batch=8)),
    "vgg": (VGG, lambda: image_batch(32, batch=8)),
    "gpt2": (GPT, token_batch),
}


@pytest.mark.parametrize("model_name", MODELS)
def test_healthy_model_passes_as_constructed_and_after_init_model(model_name):
    build, inputs = MODELS[model_name]
    torch.manual_seed(0)
    model = build()
    batch = inputs()
    report = audit(model, batch, print_table=False)
    assert report.findings == []
    assert len(report.layers) == sum(isinstance(m, (nn.Linear, nn.Conv2d)) for m in model.modules())
    init_model_(model, batch)
    assert audit(model, batch, print_table=False).findings == []
    init_model_(model, batch, calibrate=True)
    assert audit(model, batch, print_table=False).findings == []


def test_resnet_zero_gamma_is_kept_unless_overwrite():
    torch.manual_seed(0)
    model = ResNet(zero_init_residual=True)
    record = init_model_(model)
    assert record["layers.0.bn2.weight"].action == "kept"
    assert record["layers.0.bn2.weight"].reason == \
        "zero norm scale: a deliberate zero init (overwrite=True sets it to 1)"
    assert torch.count_nonzero(model.layers[0].bn2.weight).item() == 0
    assert record["layers.0.bn1.weight"].action == "untouched"
    record = init_model_(model, overwrite=True)
    assert record["layers.0.bn2.weight"].action == "constant"
    assert model.layers[0].bn2.weight.tolist() == [1.0] * 16


def test_resnet_records_what_it_replaced():
    torch.manual_seed(0)
    model = ResNet()
    record = init_model_(model)
    assert record["conv1.weight"].replaced.startswith("N(0, 0.0")  # torchvision's Kaiming fan_out
    assert record["fc.weight"].replaced == ""                       # PyTorch's default: nothing to say
    assert record["fc.weight"].action == "lecun"
    assert "replaced N(0, 0.0" in record.format()


def test_gpt_tied_head_stays_tied_and_is_recorded_under_both_names():
    torch.manual_seed(0)
    model = GPT()
    before = model.transformer.wte.weight.detach().clone()
    record = init_model_(model, token_batch())
    assert model.lm_head.weight is model.transformer.wte.weight
    head, embedding = record["lm_head.weight"], record["transformer.wte.weight"]
    assert head.tied == ("transformer.wte.weight",) and embedding.tied == ("lm_head.weight",)
    # The table is the embedding's: its scale is the model's design, so it is kept (issue 21).
    assert (head.action, head.std, embedding.action) == ("kept", None, "kept")
    assert head.reason == ("the embedding transformer.wte's table: an embedding's scale is the model's design "
                           "(overwrite=True gives it this layer's init)")
    assert torch.equal(model.transformer.wte.weight, before)
    assert record["transformer.wpe.weight"].action == "kept"
    assert record["transformer.wpe.weight"].reason == "embedding: its scale is the model's design"
    assert list(record.params)[0] == "transformer.wte.weight" and list(record.params)[-1] == "lm_head.weight"
    # GPT-2's depth-scaled residual projections are replaced, and the record says what they were.
    # 0.02 / sqrt(2 * 2 layers), as sampled
    assert record["transformer.h.0.attn.c_proj.weight"].replaced == "N(0, 0.0099)"
    assert "tied to lm_head.weight" in record.format()
    # overwrite=True: the head's init, once, under both names.
    record = init_model_(model, token_batch(), overwrite=True)
    head, embedding = record["lm_head.weight"], record["transformer.wte.weight"]
    assert (head.action, head.std, head.seed) == (embedding.action, embedding.std, embedding.seed) == \
        ("lecun", pytest.approx(64 ** -0.5), head.seed)
    assert head.replaced == "N(0, 0.02)"
    assert float(model.transformer.wte.weight.detach().std()) == pytest.approx(64 ** -0.5, rel=0.02)
    assert model.lm_head.weight is model.transformer.wte.weight


class LoRALinear(nn.Module):
    def __init__(self, dim=32, rank=4):
        super().__init__()
        self.base = nn.Linear(dim, dim)
        self.lora_A = nn.Linear(dim, rank, bias=False)
        self.lora_B = nn.Linear(rank, dim, bias=False)
        nn.init.zeros_(self.lora_B.weight)

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x))


class ZeroHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), LoRALinear(), nn.ReLU())
        self.hidden_zero = nn.Linear(32, 32)
        self.head = nn.Linear(32, 3)
        nn.init.zeros_(self.hidden_zero.weight)  # noqa: INI001 - the bug init_model_ must fix
        nn.init.zeros_(self.head.weight)
        nn.init.constant_(self.head.bias, 0.5)

    def forward(self, x):
        return self.head(torch.relu(self.hidden_zero(self.body(x))))


def test_deliberate_zeros_are_kept_and_a_zero_hidden_layer_is_not():
    model = ZeroHead()
    record = init_model_(model)
    for name in ("head.weight", "head.bias", "body.2.lora_B.weight"):
        assert record[name].action == "kept", name
    assert record["head.weight"].reason == \
        "zero weight before output: a deliberate zero init (overwrite=True replaces it)"
    assert record["body.2.lora_B.weight"].reason.startswith("zero weight before add: ")
    assert torch.count_nonzero(model.head.weight).item() == 0
    assert model.head.bias.tolist() == [0.5] * 3
    assert torch.count_nonzero(model.body[2].lora_B.weight).item() == 0
    assert record["hidden_zero.weight"].action == "he"            # the bug init_model_ exists to fix
    assert record["hidden_zero.weight"].replaced == "zeros"
    assert torch.count_nonzero(model.hidden_zero.weight).item() == 32 * 32
    assert audit(model, torch.randn(8, 16), print_table=False).findings == []

    record = init_model_(model, overwrite=True)
    assert record["head.weight"].action == "lecun" and record["head.weight"].replaced == "zeros"
    assert torch.count_nonzero(model.head.weight).item() == 3 * 32


def test_a_user_rule_beats_keeping_a_zero_head():
    from initlint.runtime import InitPolicy
    model = ZeroHead()
    record = init_model_(model, policy=InitPolicy().add("xavier", name="head"))
    assert record["head.weight"].action == "xavier"
