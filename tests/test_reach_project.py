"""Issue 18 §3: code initlint could not follow is "may be initialised elsewhere", never "keeps the default";
an absence claim (INI003, INI103) looks at the rest of the run first."""
import os
import shutil

import pytest

from conftest import fixture_path, run_cli
from initlint.engine import Selection, lint_source


def lines_of(result, code="INI003", file="models.py"):
    return sorted(int(line.split(":")[1]) for line in result.stdout.splitlines()
                  if f" {code} " in line and line.split(":")[0].endswith(file))


def concise(*args, cwd=None):
    return run_cli("--output-format", "concise", *args, cwd=cwd)


def test_layers_handed_to_a_class_of_another_module_may_be_initialised_by_it():
    path = fixture_path("reach_project", "handed", "vision", "vgg_ssd.py")
    with open(path, "rb") as handle:
        found = lint_source(handle.read(), path, Selection()).findings
    # create_vgg_ssd's layers go to SSD, whose init_from_base_net applies an init: silent; the torch
    # Sequential run_plain builds and runs keeps PyTorch's default init.
    assert [(f.code, f.line) for f in found] == [("INI003", 16)]


def test_layers_handed_to_a_project_class_that_initialises_nothing_keep_the_default():
    path = fixture_path("reach_project", "handed", "vision", "plain_ssd.py")
    with open(path, "rb") as handle:
        found = lint_source(handle.read(), path, Selection()).findings
    assert [(f.code, f.line) for f in found] == [("INI003", 7)]


UNET = """import torch.nn as nn
import torch.nn.functional as F


class UNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3)
        self.conv2 = nn.Conv2d(64, 64, 3)
        self.conv3 = nn.Conv2d(64, 2, 1)
        self.setup()

    @staticmethod
    def glorot(m):
        if isinstance(m, nn.Conv2d):
            nn.init.xavier_normal_(m.weight)
            nn.init.constant_(m.bias, 0)

    def setup(self):
        for i, m in enumerate(self.modules()):
            self.glorot(m)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        return self.conv3(x)
"""


@pytest.mark.parametrize("route", [
    {},                                                                    # staticmethod, called in a loop
    {"weight_init": "glorot"},
    {"@staticmethod": "@classmethod", "def glorot(m)": "def glorot(cls, m)"},   # classmethod
    {"        self.setup()\n": "        self.initializer = self.glorot\n        for m in self.modules():\n"
                                "            self.initializer(m)\n"},   # a callable attribute
    {"        self.setup()\n": "", "self.glorot(m)": "UNet.glorot(m)", "return self.conv3(x)\n":
        "return self.conv3(x)\n\n\nnet = UNet()\nnet.setup()\n"},      # the method called by a script
])
def test_a_method_staticmethod_classmethod_or_callable_attribute_is_an_init_route(route):
    source = UNET
    for old, new in route.items():
        source = source.replace(old, new)
    codes = [f.code for f in lint_source(source.encode(), "unet.py", Selection(select=("ALL",))).findings]
    assert "INI003" not in codes and "INI103" not in codes, source


def test_the_same_model_with_no_init_route_keeps_the_default():
    source = UNET.replace("        self.setup()\n", "").replace("self.glorot(m)", "print(m)")
    source = source.replace("nn.init.xavier_normal_(m.weight)", "pass").replace("nn.init.constant_(m.bias, 0)", "")
    found = lint_source(source.encode(), "unet.py", Selection()).findings
    assert [(f.code, f.line) for f in found] == [("INI003", 8)]


def test_a_file_of_the_run_that_initialises_a_model_voids_the_claims_about_it():
    folder = fixture_path("reach_project", "elsewhere")
    alone = concise("--no-cache", os.path.join(folder, "nets"), cwd=folder)
    # Checked alone, every model of nets/ keeps the default init.
    assert lines_of(alone) == [7, 16, 34, 43, 52, 61] and "fpn.py:7:" in alone.stdout \
        and "retina.py:10:" in alone.stdout, alone.stdout + alone.stderr
    whole = concise("--no-cache", ".", cwd=folder)
    # Net (apply), Block (built by Outer, whose modules() are looped), Crnn (named_parameters loop),
    # Loaded (weights loaded before training), RetinaNet and the FPN it builds in another file (modules()
    # loop in get_state_dict.py) are initialised elsewhere; Plain (only built and evaluated, or loaded by
    # an inference script that does not train) and Resumed (loaded only when asked) keep their findings.
    assert whole.stdout.splitlines() == [line for line in alone.stdout.splitlines()
                                         if "models.py:34:" in line or "models.py:61:" in line], whole.stdout
    assert whole.returncode == 1


def test_fix_and_diff_leave_models_initialised_elsewhere_alone(tmp_path):
    shutil.copytree(fixture_path("reach_project", "elsewhere"), tmp_path / "p")
    project = tmp_path / "p"
    diff = run_cli("--diff", ".", cwd=str(project))
    changed = [line for line in diff.stdout.splitlines() if line.startswith("+++")]
    assert changed == ["+++ b/nets/models.py"], diff.stdout
    assert diff.stdout.count("@@ -") == 2  # Plain and Resumed only
    before = {path: path.read_bytes() for path in project.rglob("*.py")}
    fixed = run_cli("--fix", ".", cwd=str(project))
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    after = {path: path.read_bytes() for path in project.rglob("*.py")}
    assert [path.name for path in before if before[path] != after[path]] == ["models.py"]
    text = (project / "nets" / "models.py").read_text()
    assert text.count("kaiming_normal_(self.body[0].weight") == 2


def test_the_cache_judges_claims_again_when_another_file_changes(tmp_path):
    shutil.copytree(fixture_path("reach_project", "elsewhere"), tmp_path / "p")
    project = tmp_path / "p"
    cache = str(tmp_path / "cache")
    first = concise("--cache-dir", cache, ".", cwd=str(project))
    assert lines_of(first) == [34, 61], first.stdout
    evaluate = project / "evaluate.py"
    evaluate.write_text(evaluate.read_text().replace("model.eval()\n", "model.load_state_dict(torch.load('p'))\n"))
    second = concise("--cache-dir", cache, ".", cwd=str(project))
    assert lines_of(second) == [61], second.stdout  # Plain's weights are now loaded by evaluate.py
    evaluate.write_text(evaluate.read_text().replace("model.load_state_dict(torch.load('p'))\n", "model.eval()\n"))
    third = concise("--cache-dir", cache, "-j", "2", ".", cwd=str(project))
    assert lines_of(third) == [34, 61], third.stdout


BUILDER = """import torch.nn as nn


def make_mlp(width):
    return nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 2))
"""


def test_layers_of_a_builder_no_code_here_calls_go_to_callers_elsewhere():
    assert lint_source(BUILDER.encode(), "blocks.py", Selection()).findings == []


def test_a_builder_called_here_keeps_the_default():
    found = lint_source((BUILDER + "\n\nmlp = make_mlp(4)\n").encode(), "blocks.py", Selection()).findings
    assert [(f.code, f.line) for f in found] == [("INI003", 5)]
    assert "(mlp[0], mlp[2])" in found[0].message


def test_a_notebook_of_the_run_that_initialises_a_model_voids_the_claims_about_it(tmp_path):
    import json
    shutil.copytree(fixture_path("reach_project", "elsewhere"), tmp_path / "p")
    cells = ["import torch\nfrom nets import Plain\n",
             "model = Plain()\nfor m in model.modules():\n    if isinstance(m, torch.nn.Linear):\n"
             "        torch.nn.init.kaiming_normal_(m.weight)\n"]
    (tmp_path / "p" / "course.ipynb").write_text(json.dumps({
        "cells": [{"cell_type": "code", "metadata": {}, "source": source, "execution_count": None, "outputs": []}
                  for source in cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    result = concise("--no-cache", ".", cwd=str(tmp_path / "p"))
    assert lines_of(result) == [61], result.stdout  # Plain is initialised in the notebook; Resumed is not
