"""The variance rules (INI002-INI005) report by default only where the forward signal's RMS changes by
``min-signal-change`` along the model's path; the effect compounds across blocks; the numbers are what
the code does (checked against torch); init methods that never run are not judged."""
import ast

import pytest
import torch
import torch.nn as nn

from conftest import fixture_path, run_cli
from initlint.engine import Selection, lint_source
from initlint.fix import fixed_source
from initlint.config import Settings
from initlint.rules import Options

EVERY_CHANGE = Options(min_signal_change=1.0)
DEFAULT = Settings().options  # what the command line, flake8 and pre-commit use without configuration


def read(*parts) -> str:
    with open(fixture_path(*parts), encoding="utf-8") as handle:
        return handle.read()


def lint(source: str, options: Options = DEFAULT, select=None):
    selection = Selection(select=select) if select else Selection()
    return lint_source(source.encode(), "models/model.py", selection, options=options, keep_module=True)


def found(source: str, options: Options = DEFAULT):
    return [(f.code, f.line, f.column) for f in lint(source, options).findings]


def messages(source: str, options: Options = DEFAULT):
    return {(f.code, f.line): f.message for f in lint(source, options).findings}


# --- depth: default init, blocks, ConvTranspose ---

def test_default_threshold_keeps_deep_stacks_and_drops_shallow_ones():
    source = read("effect", "depth.py")
    assert found(source) == [("INI003", 10, 13), ("INI003", 45, 22), ("INI003", 125, 13)]
    # Lowering the option reports the shallow ones too: LeNet (36x) and the two-layer discriminator.
    assert found(source, EVERY_CHANGE) == [("INI003", 10, 13), ("INI003", 19, 22), ("INI003", 38, 13),
                                           ("INI003", 45, 22), ("INI003", 125, 13)]
    assert found(source, Options(min_signal_change=30.0)) == [
        ("INI003", 10, 13), ("INI003", 19, 22), ("INI003", 45, 22), ("INI003", 125, 13)]


def test_messages_keep_the_number():
    text = messages(read("effect", "depth.py"), EVERY_CHANGE)
    assert "the signal shrinks about 216x over 6 such layers by self.net[10]" in text[("INI003", 10)]
    assert "the signal shrinks about 36x over 4 such layers by self.fc2" in text[("INI003", 19)]
    assert "about 5.8x over 2 such layers" in text[("INI003", 38)]  # LeakyReLU(0.2): x1.04/6 per layer


def test_unet_blocks_compound_along_the_model_path():
    """DoubleConv's two convs lie on a path of 14 (inc, three Downs, three Ups): 6^7 in RMS."""
    text = messages(read("effect", "depth.py"))[("INI003", 45)]
    assert text.startswith("2 layers (self.conv1, self.conv2) keep PyTorch's default init before relu: "
                           "along the model's path the signal shrinks about 279936x over 14 such layers")


def test_a_norm_in_every_block_ends_the_path():
    source = read("effect", "depth.py")
    assert not [f for f in found(source, EVERY_CHANGE) if 95 <= f[1] <= 118]


def _relu_stack_rms_shrink(layers, x):
    start = x.pow(2).mean()
    with torch.no_grad():
        for layer in layers:
            x = torch.relu(layer(x))
    return (start / x.pow(2).mean()).sqrt().item()


def test_strided_conv_transpose_factor_matches_torch():
    """PyTorch's default init takes fan_in = out_channels x k^2 from a ConvTranspose's weight, while each
    output sums in_channels x k^2 / stride^2 inputs: x in / (3 out stride^2) before ReLU, not x1/6."""
    text = messages(read("effect", "depth.py"))[("INI003", 125)]
    assert "the signal shrinks about 118x over 3 such layers" in text
    torch.manual_seed(0)
    layers = [nn.ConvTranspose2d(512, 512, 4, 2, 1, bias=False) for _ in range(3)]
    measured = _relu_stack_rms_shrink(layers, torch.randn(4, 512, 4, 4))
    assert 0.8 < measured / 118 < 1.3  # zero padding at the borders shrinks it a little more
    # He init as PyTorch computes it (fan_in = out_channels x k^2) gives back sqrt(6) per layer, not the scale
    assert "(He init gives back only about 2.4x per layer here: PyTorch takes a ConvTranspose's fan_in from " \
           "its out_channels); use He (kaiming) init" in text
    for layer in layers:
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    after_fix = _relu_stack_rms_shrink(layers, torch.randn(4, 512, 4, 4))
    assert 0.8 < (measured / after_fix) / 2.45 ** 3 < 1.25 and after_fix > 4
    mixed = messages(read("effect", "depth.py").replace(
        "            nn.ConvTranspose2d(512, 512, 4, 2, 1), nn.ReLU(),\n            nn.ConvTranspose2d(512, 512, 4, 2, 1), "
        "nn.ReLU(),\n            nn.ConvTranspose2d(512, 512, 4, 2, 1), nn.ReLU(),\n",
        "            nn.ConvTranspose2d(512, 512, 4, 2, 1), nn.ReLU(),\n            nn.Conv2d(512, 512, 3, 1, 1), "
        "nn.ReLU(),\n            nn.ConvTranspose2d(512, 512, 4, 2, 1), nn.ReLU(),\n", 1), EVERY_CHANGE)[("INI003", 125)]
    assert "(He init gives back only about 2.4x per ConvTranspose layer: PyTorch takes a ConvTranspose's fan_in " \
           "from its out_channels); use He (kaiming) init" in mixed


def test_he_init_keeps_the_scale_is_said_only_where_it_does():
    text = messages(read("effect", "depth.py"))[("INI003", 10)]
    assert text.endswith("(He init keeps its scale); use He (kaiming) init")


def test_default_init_factor_matches_torch():
    torch.manual_seed(0)
    layers = [nn.Linear(512, 512, bias=False) for _ in range(6)]
    measured = _relu_stack_rms_shrink(layers, torch.randn(4096, 512))
    assert 0.8 < measured / 216 < 1.25


def test_default_biases_note_matches_torch():
    """The default biases keep wide layers' activations near 1/sqrt(5 fan_in): the message says so."""
    text = messages(read("effect", "depth.py"))[("INI003", 10)]
    assert "216x over 6 such layers by self.net[10], though the default biases keep the activations " \
           "themselves within about 49x (He init" in text
    torch.manual_seed(0)
    layers = [nn.Linear(784, 512)] + [nn.Linear(512, 512) for _ in range(5)]
    x = torch.randn(4096, 784)
    start = x.pow(2).mean()
    with torch.no_grad():
        for layer in layers:
            x = torch.relu(layer(x))
    measured = (start / x.pow(2).mean()).sqrt().item()
    assert 0.8 < measured / 49 < 1.25


# --- INI002, INI004, INI005 ---

def test_variance_rules_default_and_lowered():
    source = read("effect", "variance.py")
    assert found(source) == [("INI002", 29, 17), ("INI004", 45, 17), ("INI005", 69, 9), ("INI005", 70, 9),
                             ("INI005", 80, 9)]
    assert found(source, EVERY_CHANGE) == [
        ("INI002", 10, 9), ("INI002", 11, 9), ("INI002", 29, 17), ("INI004", 45, 17), ("INI004", 54, 17),
        ("INI005", 61, 9), ("INI005", 69, 9), ("INI005", 70, 9), ("INI005", 80, 9)]


def test_variance_messages():
    text = messages(read("effect", "variance.py"), EVERY_CHANGE)
    assert "the signal shrinks about 8.1x over 2 such layers by self.fc2 (5.7x per layer: fan_in=8, " \
           "fan_out=256)" in text[("INI002", 10)]
    assert "the signal shrinks about 181x over 15 such layers by self.net[28], though the default biases keep " \
           "the activations themselves within about 38x (1.4x per layer: fan_in=512, fan_out=512)" \
           in text[("INI002", 29)]
    assert "which is followed by selu: the signal shrinks about 133x over 17 such layers" in text[("INI004", 45)]
    assert text[("INI005", 61)].endswith("the signal grows about 2.0x by self.fc (fan_in=4)")
    assert text[("INI005", 69)].endswith("the signal grows about 256x over 2 such layers by self.fc2 "
                                         "(16x per layer: fan_in=512)")
    assert text[("INI005", 80)].endswith("the signal's scale grows with fan_in at every layer")


def test_selu_loop_fix_covers_the_output_layer():
    """The loop also initialises the SELU net's last Linear: the linear gain the fix gives is its own too."""
    result = lint(read("effect", "variance.py"), select=("INI004",))
    new, applied = fixed_source(result.module, result.findings)
    assert len(applied) == 1
    text = new.decode()
    assert text.count('nn.init.kaiming_normal_(m.weight, nonlinearity="linear")') == 1
    assert text.count('nonlinearity="selu"') == 1  # the shallow net, below the threshold, is left alone


def test_selu_loop_without_output_layer_is_not_fixed_when_it_reaches_a_relu_layer():
    source = '''import torch.nn as nn


class Mixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 8), nn.SELU(), nn.Linear(8, 8), nn.SELU(), nn.Linear(8, 8), nn.ReLU(),
                                 nn.Linear(8, 1))
        for m in self.net:
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="selu")
'''
    assert not lint(source, EVERY_CHANGE).findings  # the ReLU layer disagrees: not every judged layer is wrong


# --- the fix for three or more named layers is one loop ---

EXTRAS = '''import torch.nn as nn
import torch.nn.functional as F


class Extras(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv8_1 = nn.Conv2d(1024, 256, 1)
        self.conv8_2 = nn.Conv2d(256, 512, 3, stride=2, padding=1)
        self.conv9_1 = nn.Conv2d(512, 128, 1)
        self.conv9_2 = nn.Conv2d(128, 256, 3, stride=2, padding=1)
        self.conv10_1 = nn.Conv2d(256, 128, 1)
        self.conv10_2 = nn.Conv2d(128, 256, 3)
        self.conv11_1 = nn.Conv2d(256, 128, 1)
        self.conv11_2 = nn.Conv2d(128, 256, 3)

    def forward(self, x):
        x = F.relu(self.conv8_1(x))
        x = F.relu(self.conv8_2(x))
        x = F.relu(self.conv9_1(x))
        x = F.relu(self.conv9_2(x))
        x = F.relu(self.conv10_1(x))
        x = F.relu(self.conv10_2(x))
        x = F.relu(self.conv11_1(x))
        x = F.relu(self.conv11_2(x))
        return x
'''


def test_ssd_extras_fix_is_one_loop():
    result = lint(EXTRAS)
    assert [(f.code, f.line) for f in result.findings] == [("INI003", 8)]
    assert "the signal shrinks about 1296x over 8 such layers by self.conv11_2" in result.findings[0].message
    new, _ = fixed_source(result.module, result.findings)
    expected = EXTRAS.replace('''        self.conv11_2 = nn.Conv2d(128, 256, 3)
''', '''        self.conv11_2 = nn.Conv2d(128, 256, 3)
        for layer in (
            self.conv8_1, self.conv8_2, self.conv9_1, self.conv9_2, self.conv10_1,
            self.conv10_2, self.conv11_1, self.conv11_2,
        ):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
''')
    assert new.decode() == expected
    ast.parse(new.decode())
    again = lint(new.decode())
    assert not again.findings


def test_two_named_layers_keep_one_statement_each():
    source = read("effect", "depth.py")
    result = lint(source, EVERY_CHANGE, select=("INI003",))
    new, _ = fixed_source(result.module, [f for f in result.findings if f.line == 45])
    assert '''        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        nn.init.kaiming_normal_(self.conv1.weight, nonlinearity="relu")
        nn.init.zeros_(self.conv1.bias)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.kaiming_normal_(self.conv2.weight, nonlinearity="relu")
        nn.init.zeros_(self.conv2.bias)
''' in new.decode()


# --- names in messages ---

def test_layers_after_a_star_of_a_loop_built_list_are_named_from_the_end():
    """``nn.Sequential(*conv_blks, nn.Flatten(), nn.Linear(...), ...)`` with ``conv_blks`` appended in a
    loop: the Linear layers' positions from the start are unknown (d2l's VGG: not net[2] and net[5])."""
    text = messages(read("effect", "star_names.py"), EVERY_CHANGE)
    assert text[("INI003", 7)].startswith("3 layers (net[0][0] and its copies, net[-7], net[-4]) keep")
    assert text[("INI003", 35)].startswith("3 layers (self.net[0] and its copies, self.net[-5], self.net[-3]) keep")


def test_a_list_of_literal_length_keeps_its_indices():
    text = messages(read("effect", "star_names.py").replace(
        "        for i in range(3):\n            conv_layers += [nn.Conv2d(8, 8, 3), nn.ReLU()]\n",
        "        conv_layers += [nn.Conv2d(8, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU()]\n"), EVERY_CHANGE)
    assert text[("INI003", 34)].startswith("4 layers (self.net[0], self.net[2], self.net[5], self.net[7]) keep")


def test_a_loop_of_literal_length_counts_its_copies():
    """``for i in range(3): conv_layers += [nn.Conv2d(8, 8, 3), nn.ReLU()]``: three convs and two Linear
    layers in a row (torch: 100x without biases, 23x with them); d2l's ``range(num_convs)``, filled from
    a loop over a tuple, stays counted as two layers with one layer's factor."""
    text = messages(read("effect", "star_names.py"), EVERY_CHANGE)
    assert "the signal shrinks about 88x over 5 such layers by self.net[-3], though the default biases keep " \
           "the activations themselves within about 22x" in text[("INI003", 35)]
    assert "the signal shrinks about 15x over 4 such layers by net[-4] (He" in text[("INI003", 7)]


# --- layers and blocks built in loops of a length the file gives ---

def test_loops_of_known_length_compound():
    source = read("effect", "loops.py")
    assert found(source) == [("INI003", 29, 22), ("INI003", 48, 24), ("INI003", 56, 19), ("INI003", 77, 38),
                             ("INI003", 169, 19), ("INI003", 191, 19)]
    # Lowered: the parallel heads and the loop of unknown length are counted as before (two layers,
    # one layer's factor); the residual, norm and BatchNorm look-alikes stay silent.
    assert found(source, EVERY_CHANGE) == [("INI003", 29, 22), ("INI003", 48, 24), ("INI003", 56, 19),
                                           ("INI003", 77, 38), ("INI003", 148, 37), ("INI003", 162, 24),
                                           ("INI003", 169, 19), ("INI003", 191, 19)]


def test_loop_messages_give_the_copies():
    text = messages(read("effect", "loops.py"), EVERY_CHANGE)
    # cfg["A"] has 8 convs, cfg["D"] 13: the builder makes both, the fewer is what the code supports
    assert text[("INI003", 29)].startswith("conv2d and its copies keep PyTorch's default init before relu: "
                                           "the signal shrinks about 1296x over 8 such layers")
    assert "the signal shrinks about 216x over 6 such layers by self.net[0] and its copies, though the default " \
           "biases keep the activations themselves within about 35x" in text[("INI003", 48)]
    assert text[("INI003", 56)].startswith("self.fc keeps PyTorch's default init before relu: along the model's "
                                           "path the signal shrinks about 1296x over 8 such layers by self.fc")
    assert "the signal shrinks about 529x over 7 such layers" in text[("INI003", 77)]
    assert "the signal shrinks about 2.4x over 2 such layers" in text[("INI003", 148)]
    assert "the signal shrinks about 2.4x over 2 such layers" in text[("INI003", 162)]


def test_loop_copies_match_torch():
    """Six Linear(256, 256)+ReLU copies: 216x without biases, about 35x with PyTorch's default ones."""
    torch.manual_seed(0)
    layers = [nn.Linear(256, 256) for _ in range(6)]
    x = torch.randn(4096, 256)
    with_biases = _relu_stack_rms_shrink(layers, x)
    for layer in layers:
        nn.init.zeros_(layer.bias)
    without = _relu_stack_rms_shrink(layers, x)
    assert 0.8 < without / 216 < 1.25
    assert 0.8 < with_biases / 35 < 1.25


def test_the_copies_are_the_fewest_any_call_in_the_file_asks_for():
    source = read("effect", "loops.py")
    fewer = source + "\nsmall = LoopMLP(depth=2)\ndeep = LoopMLP()\n"
    assert "the signal shrinks about 6.0x over 2 such layers" in messages(fewer, EVERY_CHANGE)[("INI003", 48)]
    assert ("INI003", 48, 24) not in found(fewer)
    for unknown in ("\nnet = LoopMLP(depth=args.depth)\n", "\nMODELS = {'mlp': LoopMLP}\n",
                    "\nnet = LoopMLP(**config)\n"):
        text = messages(source + unknown, EVERY_CHANGE)[("INI003", 48)]
        assert "the signal shrinks about 2.4x over 2 such layers" in text, unknown
    module_constant = source.replace("def __init__(self, depth=6):", "def __init__(self, depth=DEPTH):") \
        .replace("import torch\n", "import torch\nDEPTH = 7\n", 1)
    assert "the signal shrinks about 529x over 7 such layers" in messages(module_constant)[("INI003", 49)]
    subclassed = source + "\nclass Wider(LoopMLP):\n    def __init__(self):\n        super().__init__(depth=1)\n"
    assert "2.4x over 2 such layers" in messages(subclassed, EVERY_CHANGE)[("INI003", 48)]


def test_more_candidate_counts_than_are_followed_leave_the_count_unknown():
    """Past 16 candidate values the fewest copies is not known: one left out could be smaller."""
    source = read("effect", "loops.py")
    # the file's calls are followed from the last: the first one here is the one a cut would drop
    many_calls = source + "\nsmall = LoopMLP(depth=2)\n" + "".join(f"\nnet{i} = LoopMLP(depth=6)" for i in range(16))
    assert "the signal shrinks about 2.4x over 2 such layers" in messages(many_calls, EVERY_CHANGE)[("INI003", 48)]
    sixteen_calls = source + "\nsmall = LoopMLP(depth=2)\n" + "".join(f"\nnet{i} = LoopMLP(depth=6)" for i in range(15))
    assert "the signal shrinks about 6.0x over 2 such layers" in messages(sixteen_calls, EVERY_CHANGE)[("INI003", 48)]
    # range(low, high): 5 x 5 pairs of bounds, the one giving two copies past the 16th
    bounds = source.replace("def __init__(self, depth=6):", "def __init__(self, low=0, high=6):") \
        .replace("for _ in range(depth):", "for _ in range(low, high):")
    pairs = bounds + "\nsmall = LoopMLP(low=4, high=6)\n" + "".join(f"\nnet{i} = LoopMLP(low=0, high=6)" for i in range(4))
    assert "the signal shrinks about 2.4x over 2 such layers" in messages(pairs, EVERY_CHANGE)[("INI003", 48)]
    four_pairs = bounds + "\nsmall = LoopMLP(low=4, high=6)\n" + "".join(f"\nnet{i} = LoopMLP(low=0, high=6)" for i in range(3))
    assert "the signal shrinks about 6.0x over 2 such layers" in messages(four_pairs, EVERY_CHANGE)[("INI003", 48)]


def test_a_parameter_the_function_binds_anew_is_not_read_from_its_callers():
    source = read("effect", "loops.py")
    for binding in ("depth, width = CFG['a']", "[depth, *rest] = CFG['a']", "(depth := read())",
                    "import depth", "from m import depth", "with open(p) as depth: pass",
                    "try:\n            pass\n        except E as depth:\n            pass",
                    "del depth", "for depth in (1, 2): pass"):
        changed = source.replace("        super().__init__()\n        layers = []\n",
                                 f"        super().__init__()\n        {binding}\n        layers = []\n", 1)
        text = messages(changed, EVERY_CHANGE)[("INI003", 49 + binding.count("\n"))]
        assert "the signal shrinks about 2.4x over 2 such layers" in text, binding
    for look_alike in ("width, other = CFG['a']", "self.depth = depth", "with open(p) as f: pass",
                       "widths = [width for width in CFG]"):
        changed = source.replace("        super().__init__()\n        layers = []\n",
                                 f"        super().__init__()\n        {look_alike}\n        layers = []\n", 1)
        text = messages(changed, EVERY_CHANGE)[("INI003", 49)]
        assert "the signal shrinks about 216x over 6 such layers" in text, look_alike


def test_loop_bodies_that_cannot_be_followed_keep_the_old_count():
    source = read("effect", "loops.py")
    for body in ("            layers += [nn.Linear(256, 256), nn.ReLU()]\n            if len(layers) > 4:\n"
                 "                break\n",
                 "            if wide:\n                layers += [nn.Linear(256, 256), nn.ReLU()]\n",
                 "            layers += [nn.Linear(256, 256), nn.LayerNorm(256), nn.ReLU()]\n"):
        changed = source.replace("            layers += [nn.Linear(256, 256), nn.ReLU()]\n", body) \
            .replace("def __init__(self, depth=6):", "def __init__(self, depth=6, wide=True):")
        text = messages(changed, EVERY_CHANGE).get(("INI003", 48), "")
        assert "216x" not in text, body


def test_builders_condition_on_the_loop_value():
    """``v == "M"`` / ``v in ("M", "C")`` / ``isinstance(v, int)`` decide which values build a conv."""
    source = read("effect", "loops.py")
    for test in ('v in ("M", "C")', 'not isinstance(v, int)', '"M" == v'):
        changed = source.replace('        if v == "M":\n            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]\n'
                                 '        else:\n            conv2d',
                                 f'        if {test}:\n            layers += [nn.MaxPool2d(kernel_size=2, stride=2)]\n'
                                 '        else:\n            conv2d', 1)
        assert "1296x over 8 such layers" in messages(changed)[("INI003", 29)], test
    unknown = source.replace('        if v == "M":\n            layers += [nn.MaxPool2d', '        if v == POOL:\n'
                             '            layers += [nn.MaxPool2d', 1)
    assert ("INI003", 29) not in messages(unknown)


def test_blocks_chained_by_a_forward_loop_need_the_loop_to_carry_one_value():
    source = read("effect", "loops.py")
    # ``x = blk(x, mask)``: still a chain; ``y = blk(x)`` or a second use of x is not
    chained = source.replace("            x = blk(x)\n        return self.head(x)",
                             "            x = blk(x, None)\n        return self.head(x)", 1)
    assert "1296x over 8 such layers" in messages(chained)[("INI003", 56)]
    for body in ("            y = blk(x)\n        x = y\n", "            x = blk(x)\n            feats.append(x)\n",
                 "            x = blk(x) * x\n"):
        changed = source.replace("            x = blk(x)\n        return self.head(x)", body + "        return self.head(x)", 1)
        assert ("INI003", 56) not in messages(changed), body
    # A module appended to the list after it is built runs in the loop too (here a norm): not chained
    appended = source.replace("        self.blocks = nn.ModuleList([Block(width) for _ in range(depth)])\n",
                              "        self.blocks = nn.ModuleList([Block(width) for _ in range(depth)])\n"
                              "        self.blocks.append(nn.LayerNorm(width))\n", 1)
    assert ("INI003", 56) not in messages(appended)


def test_appended_and_spliced_block_lists():
    """``self.blocks.append(Block())`` in a loop, and ``nn.Sequential(*[Block() for _ in range(depth)], ...)``:
    the first copy keeps its index (``self.blocks[0]``), later modules are named from the end."""
    source = read("effect", "loops.py")
    text = messages(source)
    assert "along the model's path the signal shrinks about 1296x over 8 such layers by self.fc" in text[("INI003", 169)]
    assert "along the model's path the signal shrinks about 1296x over 8 such layers by self.fc" in text[("INI003", 191)]
    # An init the holder makes through a path initlint cannot follow may reach into its blocks: silent.
    reached = source.replace("        self.blocks = nn.Sequential(*[SplicedBlock(width) for _ in range(depth)], "
                             "nn.Linear(width, 10))\n",
                             "        self.blocks = nn.Sequential(*[SplicedBlock(width) for _ in range(depth)], "
                             "nn.Linear(width, 10))\n        nn.init.kaiming_normal_(self.blocks[0].fc.weight)\n")
    assert ("INI003", 191) not in messages(reached, EVERY_CHANGE)
    assert ("INI003", 169) in messages(reached)


def test_a_spliced_comprehension_after_modules_of_unknown_number_is_named_from_the_end():
    """``nn.Sequential(*[A() for ...], *[B() for ...])``: ``seq[1]`` may be a copy of A, not B's first."""
    source = ("import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self, stem):\n"
              "        super().__init__()\n        self.seq = nn.Sequential(LAYERS)\n"
              "        nn.init.zeros_(self.seq[INDEX].bias)\n")
    bias_free = "*[nn.Linear(8, 8, bias=False) for _ in range(3)]"
    for before, first in (("*[nn.Linear(8, 8) for _ in range(2)], ", 1), ("nn.Linear(8, 8), *stem[1:], ", 2)):
        for index, reported in ((first, False), (0, False), (-1, True)):
            changed = source.replace("LAYERS", before + bias_free).replace("INDEX", str(index))
            assert [(f.code, f.line) for f in lint(changed, EVERY_CHANGE).findings] == \
                ([("INI101", 8)] if reported else []), (before, index)
    first_in_line = source.replace("LAYERS", bias_free + ", nn.Linear(8, 8)")
    assert [(f.code, f.line) for f in lint(first_in_line.replace("INDEX", "0"), EVERY_CHANGE).findings] == \
        [("INI101", 8)]
    assert lint(first_in_line.replace("INDEX", "1"), EVERY_CHANGE).findings == []


def test_two_forward_loops_binding_one_name_keep_their_own_elements():
    """xcodec2's ``for layer in self.prior_net: ...`` then ``for layer in self.layers: ...`` (an
    IndexError before): each loop's calls follow its own list."""
    source = '''import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return F.relu(self.fc(x))


class TwoLoops(nn.Module):
    def __init__(self, width=256):
        super().__init__()
        self.prior = nn.ModuleList([Block(width), Block(width), Block(width)])
        self.layers = nn.ModuleList([Block(width) for _ in range(5)])

    def forward(self, x):
        for layer in self.prior:
            x = layer(x)
        for layer in self.layers:
            x = layer(x)
        return x
'''
    assert messages(source)[("INI003", 8)].startswith(
        "self.fc keeps PyTorch's default init before relu: along the model's path the signal shrinks about "
        "1296x over 8 such layers")


def test_copies_with_no_activation_between_them_are_not_a_relu_stack():
    """Only the last copy meets the ReLU: the copies feed each other directly, so they are not counted
    as six default-init ReLU layers (216x); each stays what it was before (one layer's factor)."""
    appended_after = '''import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        layers = []
        for _ in range(6):
            layers.append(nn.Linear(256, 256))
        layers.append(nn.ReLU())
        layers.append(nn.Linear(256, 10))
        self.net = nn.Sequential(*layers)
'''
    spliced = '''import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(*[nn.Linear(256, 256) for _ in range(6)], nn.ReLU(), nn.Linear(256, 10))
'''
    forward_loop = '''import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(256, 256) for _ in range(6)])
        self.head = nn.Linear(256, 10)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return self.head(F.relu(x))
'''
    for source in (appended_after, spliced, forward_loop):
        found_messages = list(messages(source, EVERY_CHANGE).values())
        assert found_messages and all("2.4x over 2 such layers" in text for text in found_messages), source
    each_followed = appended_after.replace("            layers.append(nn.Linear(256, 256))\n",
                                           "            layers.append(nn.Linear(256, 256))\n"
                                           "            layers.append(nn.ReLU())\n")
    assert "216x over 6 such layers" in messages(each_followed)[("INI003", 9)]


def test_a_thousand_copies_of_a_pass_through_block_are_followed_without_recursion():
    source = """import torch.nn as nn
import torch.nn.functional as F


class Gate(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return F.relu(x)


class Net(nn.Module):
    def __init__(self, width=256):
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.gates = nn.Sequential(*[Gate(width) for _ in range(COPIES)])
        self.fc2 = nn.Linear(width, width)
        self.fc3 = nn.Linear(width, width)

    def forward(self, x):
        x = self.gates(F.relu(self.fc1(x)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)
"""
    for copies in ("3", "1000"):
        text = messages(source.replace("COPIES", copies), EVERY_CHANGE)
        assert sorted(text) == [("INI003", 17), ("INI003", 19)], copies
        assert "along the model's path the signal shrinks about 6.0x over 2 such layers by self.fc2" \
            in text[("INI003", 17)], copies


def test_xavier_in_a_loop_counts_its_copies():
    source = '''import torch.nn as nn


class Deep(nn.Module):
    def __init__(self, depth=16):
        super().__init__()
        layers = []
        for _ in range(depth):
            layers += [nn.Linear(512, 512), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(512, 10))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
'''
    assert [(f.code, f.line) for f in lint(source).findings] == [("INI002", 13)]
    assert "the signal shrinks about 256x over 16 such layers" in lint(source).findings[0].message
    assert not lint(source.replace("depth=16", "depth=8")).findings  # 16x


def test_pretrained_weights_over_a_loop_built_model_stay_silent():
    source = read("effect", "loops_pretrained.py")
    assert found(source, EVERY_CHANGE) == []
    assert "114283x over 13 such layers" in messages(
        source.replace("    model.load_state_dict(torch.load(path))\n", ""))[("INI003", 24)]


# --- init methods that never run ---

def test_init_methods_that_never_run_are_not_judged():
    source = read("effect", "dormant.py")
    assert found(source, EVERY_CHANGE) == []
    turned_on = source.replace("model = FlagOff()", "model = FlagOff(init_weights=True)")
    assert found(turned_on) == [("INI002", 20, 17)]
    positional = source.replace("model = FlagOff()", "model = FlagOff(True)")
    assert found(positional) == [("INI002", 20, 17)]
    called = source + "NeverCalled().reset_weights()\n"
    assert found(called) == [("INI002", 37, 17)]


def test_a_flag_that_is_rebound_may_run():
    source = read("effect", "dormant.py").replace(
        "        if init_weights:\n", "        init_weights = True\n        if init_weights:\n")
    assert found(source) == [("INI002", 21, 17)]


# --- the option ---

def test_option_from_configuration(tmp_path):
    (tmp_path / "model.py").write_text(read("effect", "depth.py"))
    default = run_cli("--no-cache", "model.py", cwd=tmp_path)
    assert default.stdout.count("INI003") == 3
    (tmp_path / "pyproject.toml").write_text("[tool.initlint]\nmin-signal-change = 1\n")
    lowered = run_cli("--no-cache", "model.py", cwd=tmp_path)
    assert lowered.stdout.count("INI003") == 5
    # An explicit select chooses the rule, not the threshold.
    (tmp_path / "pyproject.toml").write_text("[tool.initlint]\n")
    selected = run_cli("--no-cache", "--select", "INI003", "model.py", cwd=tmp_path)
    assert selected.stdout.count("INI003") == 3


@pytest.mark.parametrize("value", ['"high"', "0.5", "true", "inf"])
def test_bad_option_value(tmp_path, value):
    (tmp_path / "model.py").write_text("import torch\n")
    (tmp_path / "pyproject.toml").write_text(f"[tool.initlint]\nmin-signal-change = {value}\n")
    bad = run_cli("--no-cache", "model.py", cwd=tmp_path)
    assert bad.returncode == 2 and "'min-signal-change' must be a number >= 1" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_rule_docs_say_how_they_decide():
    for code in ("INI002", "INI003", "INI004", "INI005"):
        shown = run_cli("rule", code)
        assert shown.returncode == 0
        assert "How it decides" in shown.stdout and "min-signal-change" in shown.stdout


# --- the old fixtures of the four rules: every finding comes back with the option at 1 ---

OLD_EXPECTED = {
    "ini002_xavier_before_relu.py": [("INI002", 13, 9), ("INI002", 14, 9), ("INI002", 15, 9), ("INI002", 33, 17)],
    "ini003_missing_he_init.py": [("INI003", 11, 13), ("INI003", 23, 22), ("INI003", 39, 24), ("INI003", 48, 21)],
    "ini004_kaiming_mismatch.py": [("INI004", 14, 9), ("INI004", 15, 9), ("INI004", 16, 9), ("INI004", 17, 9)],
    "ini005_unscaled_random.py": [("INI005", 11, 9), ("INI005", 12, 9), ("INI005", 27, 17)],
}


@pytest.mark.parametrize("name", sorted(OLD_EXPECTED))
def test_rule_fixtures_by_default_and_with_every_change_reported(name):
    """``Options()`` reports every change; the configured default keeps only the deep cases (none here)."""
    source = read("rules", name).encode()
    every = lint_source(source, f"rules/{name}")
    assert [(f.code, f.line, f.column) for f in every.findings] == OLD_EXPECTED[name]
    default = lint_source(source, f"rules/{name}", options=DEFAULT)
    assert [f.code for f in default.findings] == (["INI005"] if name.startswith("ini005") else [])



def test_default_configuration_is_the_threshold():
    assert DEFAULT.min_signal_change == 100.0 and Options().min_signal_change == 1.0
