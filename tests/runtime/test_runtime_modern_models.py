"""initlint.runtime on the module types today's models are made of (issue 21):
Hugging Face's Conv1D, nn.MultiheadAttention, NF-net gains, lazy norms, legacy
spectral norm, embeddings and tied weights; and the audit's agreement between
static scale findings and the measured signal, and its saturation finding."""
import math

import pytest
import torch
import torch.nn as nn

from initlint.runtime import audit, init_model_, xavier_init_


def _vgg_like(div=8):
    """vgg11's first four stages at 1/8 width: 3x3 conv + in-place ReLU, max-pools."""
    layers, cin = [], 3
    for width in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
        if width == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(cin, width // div, 3, padding=1), nn.ReLU(inplace=True)]
            cin = width // div
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(cin * 4, 10))


def _images(batch=8, size=32):
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))


# ------------------------------------------------------------ scale findings need the measurement

def test_calibrated_plain_stack_has_no_scale_finding_where_the_signal_holds():
    model, images = _vgg_like(), _images()
    init_model_(model, images, calibrate=True)
    report = audit(model, images, print_table=False)
    # The static test alone marks a stack: after LSUV the first convs look Xavier/LeCun-scaled
    # (max-pooling raises the second moment, calibration scales them down to match) ...
    stack = [layer for layer in report.layers[:3] if set(layer.fingerprint.schemes) <= {"xavier", "lecun"}]
    assert len(stack) >= 2 and all(layer.follower.op == "relu" for layer in stack)
    # ... but the signal they hand on does not shrink, so nothing is reported.
    assert [layer.ratio for layer in report.layers[:3]] == pytest.approx([1.0, 1.0, 1.0], rel=0.5)
    assert report.codes == []


def test_xavier_plain_stack_is_still_reported():
    torch.manual_seed(0)
    model = _vgg_like()
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.xavier_normal_(module.weight)
            nn.init.zeros_(module.bias)
    report = audit(model, _images(), print_table=False)
    assert report.codes == ["INI002"]
    # The first conv (3 -> 8) reads as He(fan_out), which Xavier equals at this shape: not marked.
    assert [finding.layer for finding in report.findings] == ["3", "6", "8", "11", "13"]
    assert report.findings[0].message.startswith("xavier-scale weight before relu in a stack of such layers")


# ------------------------------------------------------------------------- saturation (INI304)

def _tanh_mlp(depth=50, width=64, activation=nn.Tanh, std=1.0):
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(width, width), activation()]
    model = nn.Sequential(*layers, nn.Linear(width, 10))
    generator = torch.Generator().manual_seed(0)
    for module in model:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, 0.0, std, generator=generator)
            nn.init.zeros_(module.bias)
    return model


def _vectors(batch=256, width=64):
    return torch.randn(batch, width, generator=torch.Generator().manual_seed(1))


def test_saturated_tanh_mlp_is_reported_at_every_saturated_layer():
    report = audit(_tanh_mlp(), _vectors(), print_table=False)
    assert report.codes == ["INI304"]
    assert [finding.layer for finding in report.findings] == [str(2 * index) for index in range(50)]
    first = report.findings[0].message
    assert first.startswith("tanh is saturated for 7") and "% of this layer's outputs (|tanh| > 0.99" in first
    assert 'xavier_init_(layer, "tanh")' in first
    assert all(layer.saturated_fraction > 0.6 for layer in report.layers[:50])


def test_each_saturated_layer_is_its_own_cause():
    # One finding per saturated layer is one per cause: tanh/sigmoid/hardtanh bound what the
    # next layer gets, so a layer saturates only through its own weights or bias.  Fixing
    # the first layer leaves the others reported; a first layer alone too large is reported alone.
    model = _tanh_mlp(depth=5)
    xavier_init_(model[0], "tanh")
    report = audit(model, _vectors(), print_table=False)
    assert [(finding.code, finding.layer) for finding in report.findings] == [
        ("INI304", layer) for layer in ("2", "4", "6", "8")]
    model = _tanh_mlp(depth=5)
    for index in (2, 4, 6, 8):
        xavier_init_(model[index], "tanh")
    report = audit(model, _vectors(), print_table=False)
    assert [(finding.code, finding.layer) for finding in report.findings] == [("INI304", "0")]


def test_tanh_mlp_after_init_model_is_not_saturated():
    model = _tanh_mlp()
    init_model_(model)
    report = audit(model, _vectors(), print_table=False)
    assert report.codes == []
    assert max(layer.saturated_fraction for layer in report.layers[:50]) < 0.2  # 5/3 gain on unit inputs: ~11%


def test_saturation_threshold_is_an_option():
    model = _tanh_mlp(depth=3, std=0.35)  # pre-activation second moment about 8: ~30% saturated
    fractions = [layer.saturated_fraction for layer in audit(model, _vectors(), print_table=False).layers[:3]]
    assert all(0.2 < fraction < 0.5 for fraction in fractions)
    assert audit(model, _vectors(), print_table=False).codes == []
    assert audit(model, _vectors(), print_table=False, saturated_above=0.2).codes == ["INI304"]
    with pytest.raises(ValueError, match="0 < saturated_above < 1"):
        audit(model, _vectors(), print_table=False, saturated_above=1.5)


def test_hardtanh_and_sigmoid_saturation():
    hard = _tanh_mlp(depth=2, activation=nn.Hardtanh)
    report = audit(hard, _vectors(), print_table=False)
    assert report.codes == ["INI304"]
    assert "hardtanh is saturated for 9" in report.findings[0].message
    assert "(|x| >= 1, where its gradient is 0)" in report.findings[0].message
    in_place = _tanh_mlp(depth=2, activation=lambda: nn.Hardtanh(inplace=True))
    assert audit(in_place, _vectors(), print_table=False).layers[0].saturated_fraction == \
        pytest.approx(report.layers[0].saturated_fraction)
    gate = nn.Sequential(nn.Linear(64, 64), nn.Sigmoid(), nn.Linear(64, 2))
    nn.init.constant_(gate[0].bias, 10.0)
    report = audit(gate, _vectors(), print_table=False)
    assert [(finding.code, finding.layer) for finding in report.findings] == [("INI304", "0")]
    assert "(sigmoid < 0.01 or > 0.99, where its gradient is under 4% of its peak)" in report.findings[0].message
    # ReLU6 lowers to hardtanh(0, 6): a ReLU, not a saturating activation.
    relu6 = _tanh_mlp(depth=2, activation=nn.ReLU6)
    assert audit(relu6, _vectors(), print_table=False).layers[0].saturated_fraction is None


# ----------------------------------------------------------------- Hugging Face's Conv1D (GPT-2)

class Conv1D(nn.Module):
    """The layout of transformers.pytorch_utils.Conv1D, written here: a Linear whose
    weight is stored (in, out), with GPT-2's N(0, 0.02) init."""

    def __init__(self, nf, nx):
        super().__init__()
        self.nf = nf
        self.weight = nn.Parameter(torch.empty(nx, nf))
        self.bias = nn.Parameter(torch.zeros(nf))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x):
        size_out = x.size()[:-1] + (self.nf,)
        return torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(size_out)


class GPT2Block(nn.Module):
    def __init__(self, dim=32, heads=4):
        super().__init__()
        self.heads = heads
        self.ln_1, self.ln_2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.c_attn, self.c_proj = Conv1D(3 * dim, dim), Conv1D(dim, dim)
        self.c_fc, self.mlp_proj = Conv1D(4 * dim, dim), Conv1D(dim, 4 * dim)

    def forward(self, x):
        batch, length, dim = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(dim, dim=2)
        q, k, v = (t.view(batch, length, self.heads, dim // self.heads).transpose(1, 2) for t in (q, k, v))
        attended = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(attended.transpose(1, 2).reshape(batch, length, dim))
        return x + self.mlp_proj(nn.functional.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT2Like(nn.Module):
    def __init__(self, vocab=64, dim=32, depth=2):
        super().__init__()
        self.wte = nn.Embedding(vocab, dim)
        nn.init.normal_(self.wte.weight, std=0.02)
        self.h = nn.Sequential(*(GPT2Block(dim) for _ in range(depth)))
        self.ln_f = nn.LayerNorm(dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, ids):
        return self.lm_head(self.ln_f(self.h(self.wte(ids))))


def _tokens(batch=4, length=8, vocab=64):
    return torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(0))


def test_conv1d_is_initialised_as_a_linear_with_the_transposed_fan():
    torch.manual_seed(0)
    model = GPT2Like()
    record = init_model_(model, _tokens())
    c_attn, c_fc, mlp_proj = (record[f"h.0.{name}.weight"] for name in ("c_attn", "c_fc", "mlp_proj"))
    # fan_in is the stored weight's first dimension (in = 32), not torch's reading (out = 96)
    assert (c_attn.action, c_attn.fan, c_attn.std) == ("lecun", 32.0, pytest.approx(32 ** -0.5))
    assert c_attn.follower == "scaled_dot_product_attention" and c_attn.replaced == "N(0, 0.02)"
    assert (c_fc.action, c_fc.fan, c_fc.follower) == ("he", 32.0, "gelu_tanh")
    assert (mlp_proj.action, mlp_proj.fan) == ("lecun", 128.0)
    assert float(model.h[0].c_fc.weight.std()) == pytest.approx(c_fc.std, rel=0.05)
    assert record["h.0.c_attn.bias"].action == "zero"


def test_conv1d_is_audited():
    torch.manual_seed(0)
    model = GPT2Like()
    report = audit(model, _tokens(), print_table=False)
    names = [layer.name for layer in report.layers]
    assert names[:4] == ["h.0.c_attn", "h.0.c_proj", "h.0.c_fc", "h.0.mlp_proj"] and len(names) == 9
    c_fc = report.layers[2]
    assert (c_fc.layer_type, str(c_fc.follower)) == ("Conv1D", "gelu_tanh")
    assert c_fc.fingerprint.scheme == "custom" and c_fc.fingerprint.gain == pytest.approx(0.02 * 32 ** 0.5, rel=0.1)
    assert report.codes == []
    # A zero Conv1D before its activation is caught like a zero Linear, and its units are its columns.
    nn.init.zeros_(model.h[0].c_fc.weight)
    report = audit(model, _tokens(), print_table=False)
    assert [(finding.code, finding.layer) for finding in report.findings] == \
        [("INI001", "h.0.c_fc"), ("INI300", "h.0.c_fc")]
    with torch.no_grad():
        model.h[0].c_fc.weight.normal_(generator=torch.Generator().manual_seed(0))
        model.h[0].c_fc.weight[:, 1] = model.h[0].c_fc.weight[:, 0]
    report = audit(model, _tokens(), print_table=False)
    symmetric = [finding for finding in report.findings if finding.code == "INI303"]
    assert [finding.layer for finding in symmetric] == ["h.0.c_fc"]
    assert symmetric[0].message.startswith("2 of 128 units have the same weights as another unit")


# ------------------------------------------------------------------------------ MultiheadAttention

class AttentionBlock(nn.Module):
    def __init__(self, dim=32, kdim=None):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, 4, batch_first=True, kdim=kdim, vdim=kdim)
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, dim)

    def forward(self, x, memory=None):
        memory = x if memory is None else memory
        attended, _ = self.attn(x, memory, memory)
        return self.fc(torch.relu(self.norm(x + attended)))


def test_multihead_attention_projections_are_initialised_by_block():
    model = AttentionBlock()
    record = init_model_(model, torch.randn(4, 8, 32))
    in_proj = record["attn.in_proj_weight"]
    assert (in_proj.action, in_proj.fan, in_proj.std) == ("lecun", 32.0, pytest.approx(32 ** -0.5))
    assert in_proj.reason == "followed by multi_head_attention; fan of one projection (q, k or v)"
    assert in_proj.replaced == ""  # torch's own xavier_uniform_ is its default
    blocks = model.attn.in_proj_weight.detach().chunk(3)
    assert all(float(block.std()) == pytest.approx(32 ** -0.5, rel=0.1) for block in blocks)
    assert record["attn.in_proj_bias"].action == "zero"
    out_proj = record["attn.out_proj.weight"]
    assert (out_proj.action, out_proj.follower) == ("lecun", "add -> layer_norm")


def test_multihead_attention_with_other_key_dims():
    model = AttentionBlock(kdim=48)
    record = init_model_(model, (torch.randn(4, 8, 32), torch.randn(4, 5, 48)))
    assert [record[f"attn.{name}_proj_weight"].fan for name in "qkv"] == [32.0, 48.0, 48.0]
    assert float(model.attn.k_proj_weight.std()) == pytest.approx(48 ** -0.5, rel=0.1)


def test_multihead_attention_out_proj_is_calibrated_on_the_attention_output():
    # out_proj never runs as a module (the attention module applies its weight), so it
    # was left as initialised; it is calibrated on the attention module's output now.
    model = AttentionBlock()
    inputs = torch.randn(8, 12, 32, generator=torch.Generator().manual_seed(0))
    record = init_model_(model, inputs, calibrate=True)
    out_proj = record["attn.out_proj.weight"]
    assert out_proj.calibration is not None and out_proj.calibration != pytest.approx(1.0, abs=0.05)
    assert out_proj.reason.endswith(f"LSUV x{out_proj.calibration:.3g}")
    assert record["attn.in_proj_weight"].calibration is None  # parameters of the attention module, not layers
    with torch.no_grad():
        attended, weights = model.attn(inputs, inputs, inputs)
    assert float((attended - model.attn.out_proj.bias).pow(2).mean()) == pytest.approx(1.0, abs=0.02)
    assert weights is not None  # the module's second output is handed on untouched


def test_multihead_attention_projections_are_audited():
    model = AttentionBlock()
    inputs = torch.randn(4, 8, 32, generator=torch.Generator().manual_seed(0))
    report = audit(model, inputs, print_table=False)
    assert [(layer.name, layer.layer_type, str(layer.follower)) for layer in report.layers] == [
        ("attn.in_proj_weight[q]", "InProjection", "multi_head_attention"),
        ("attn.in_proj_weight[k]", "InProjection", "multi_head_attention"),
        ("attn.in_proj_weight[v]", "InProjection", "multi_head_attention"),
        ("attn.out_proj", "NonDynamicallyQuantizableLinear", "add -> layer_norm"),
        ("fc", "Linear", "output")]
    with torch.no_grad():
        query = nn.functional.linear(inputs, *(t.chunk(3)[0] for t in (model.attn.in_proj_weight,
                                                                          model.attn.in_proj_bias)))
        attended, _ = model.attn(inputs, inputs, inputs)
    assert report.layers[0].pre_moment == pytest.approx(float(query.pow(2).mean()), rel=1e-5)
    assert report.layers[3].pre_moment == pytest.approx(float(attended.pow(2).mean()), rel=1e-5)
    assert report.codes == []
    init_model_(model, inputs)
    report = audit(model, inputs, print_table=False)
    assert report.layers[0].fingerprint.scheme in ("lecun", "lecun/xavier", "xavier/lecun")
    separate = AttentionBlock(kdim=48)
    names = [layer.name for layer in audit(separate, (inputs, torch.randn(4, 5, 48)), print_table=False).layers]
    assert names[:3] == ["attn.q_proj_weight", "attn.k_proj_weight", "attn.v_proj_weight"]


# --------------------------------------------------------------------------- NF-net zero gains

class ScaledStdConv2d(nn.Conv2d):
    """timm's weight-standardised conv with a per-channel gain, written here."""

    def __init__(self, cin, cout, kernel, gain_init=1.0):
        super().__init__(cin, cout, kernel, padding=kernel // 2)
        self.scale = 1.7139588594436646 * self.weight[0].numel() ** -0.5
        self.gain = nn.Parameter(torch.full((cout, 1, 1, 1), gain_init))

    def forward(self, x):
        weight = nn.functional.batch_norm(self.weight.reshape(1, self.out_channels, -1), None, None,
                                          weight=(self.gain * self.scale).view(-1), training=True,
                                          momentum=0.0, eps=1e-6).reshape_as(self.weight)
        return nn.functional.conv2d(x, weight, self.bias, self.stride, self.padding)


class NFBlock(nn.Module):
    def __init__(self, channels=16):
        super().__init__()
        self.conv1 = ScaledStdConv2d(channels, channels, 3)
        self.conv2 = ScaledStdConv2d(channels, channels, 3, gain_init=0.0)  # the branch starts as identity

    def forward(self, x):
        return x + 0.2 * self.conv2(torch.relu(self.conv1(torch.relu(x))))


def _nf_net():
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), NFBlock(), NFBlock(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(16, 10))


def test_zero_gain_is_kept_and_its_layer_is_not_calibrated():
    torch.manual_seed(0)
    model, images = _nf_net(), _images(size=16)
    record = init_model_(model, images, calibrate=True)  # raised "second moment 0.0" before
    gain = record["1.conv2.gain"]
    assert gain.action == "kept" and gain.reason.startswith("zero gain: a deliberate zero init")
    assert not bool(model[1].conv2.gain.any())
    assert record["1.conv2.weight"].calibration is None
    assert record["1.conv2.weight"].reason.endswith("not calibrated: its zero gain is deliberate")
    # conv1 standardises its weight: scaling it changes nothing, so LSUV leaves it as initialised
    conv1 = record["1.conv1.weight"]
    assert conv1.calibration is None and conv1.reason.endswith("not calibrated: its output does not scale with its weight")
    assert float(model[1].conv1.weight.std()) == pytest.approx(conv1.std, rel=0.1)
    assert record["0.weight"].calibration is not None and record["5.weight"].calibration is not None
    assert audit(model, images, print_table=False).codes == []
    record = init_model_(model, images, overwrite=True)
    assert record["1.conv2.gain"].action == "constant" and bool((model[1].conv2.gain == 1).all())


# ------------------------------------------------------------------- lazy, legacy, weight_norm

def test_lazy_norm_is_materialised_first():
    model = nn.Sequential(nn.LazyConv2d(8, 3), nn.LazyBatchNorm2d(), nn.ReLU())
    record = init_model_(model, _images(size=8))
    assert record["0.weight"].action == "he" and record["0.weight"].follower == "batch_norm -> relu"
    assert model[1].running_mean.shape == (8,) and not bool(model[1].running_mean.any())  # nothing recorded
    assert int(model[1].num_batches_tracked) == 0
    record = init_model_(nn.Sequential(nn.LazyConv2d(8, 3), nn.LazyBatchNorm2d(), nn.ReLU()), _images(size=8),
                         calibrate=True)
    assert record["0.weight"].calibration is not None


def test_legacy_spectral_norm_initialises_weight_orig():
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    nn.utils.spectral_norm(model[0])
    before = model[0].weight_orig.detach().clone()
    record = init_model_(model, torch.randn(4, 16))  # a bare KeyError: 'weight' before
    assert not torch.equal(model[0].weight_orig, before)
    entry = record["0.weight_orig"]
    assert (entry.action, entry.fan) == ("he", 16.0)
    assert entry.reason == "followed by relu; spectral_norm then divides it by its largest singular value"
    model(torch.randn(4, 16))  # the hook still works


def test_weight_norm_calibration_is_recorded_on_g():
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    nn.utils.parametrizations.weight_norm(model[0])
    record = init_model_(model, torch.randn(64, 16), calibrate=True)
    g = record["0.parametrizations.weight.original0"]
    v = record["0.parametrizations.weight.original1"]
    assert g.calibration is not None and "LSUV x" in g.reason
    assert v.calibration is None and "LSUV" not in v.reason


# ----------------------------------------------------------------------------------- embeddings

class T5Like(nn.Module):
    """T5's shared embedding, N(0, 1), tied to the output head."""

    def __init__(self, vocab=64, dim=32):
        super().__init__()
        self.shared = nn.Embedding(vocab, dim)
        self.hidden = nn.Linear(dim, dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.lm_head.weight = self.shared.weight

    def forward(self, ids):
        return self.lm_head(torch.relu(self.hidden(self.shared(ids))))


def test_embeddings_and_tied_heads_are_kept_unless_overwrite():
    torch.manual_seed(0)
    model = T5Like()
    table = model.shared.weight.detach().clone()
    record = init_model_(model, _tokens())
    assert torch.equal(model.shared.weight, table)
    assert record["shared.weight"].action == record["lm_head.weight"].action == "kept"
    assert record["lm_head.weight"].tied == ("shared.weight",)
    assert record["hidden.weight"].action == "he"
    assert init_model_(model, _tokens(), skip=["shared.*"])["shared.weight"].action == "skipped"
    record = init_model_(model, _tokens(), overwrite=True)
    assert record["shared.weight"].action == "lecun"
    assert float(model.shared.weight.std()) == pytest.approx(32 ** -0.5, rel=0.05)
    # A standalone embedding stays kept even with overwrite: it has no fan-in rule.
    plain = nn.Sequential(nn.Embedding(10, 8), nn.Linear(8, 2))
    assert init_model_(plain, _tokens(vocab=10), overwrite=True)["0.weight"].action == "kept"


def test_torch_transformer_layers_are_followed_inside():
    torch.manual_seed(0)
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64, batch_first=True), 2,
                                    enable_nested_tensor=False)
    model = nn.Sequential(encoder, nn.Linear(32, 5))
    record = init_model_(model, torch.randn(4, 6, 32))
    layer = "0.layers.0."
    assert [(record[layer + name].action, record[layer + name].follower)
            for name in ("self_attn.in_proj_weight", "self_attn.out_proj.weight", "linear1.weight",
                         "linear2.weight")] == [("lecun", "multi_head_attention"), ("lecun", "add -> layer_norm"),
                                                ("he", "relu"), ("lecun", "add -> layer_norm")]
    # Without example inputs, torch.nn's composite layer is read whole: its layers' followers are unknown.
    record = init_model_(model)
    assert record.strategy == "fx" and record[layer + "linear1.weight"].follower == "unknown"
