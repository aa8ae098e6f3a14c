"""Issue 18 §5: a notebook with one cell that does not parse (a template cell) is still analysed: INI900
for that cell, the others as the notebook without it, positions and --fix right for them."""
import json
import shutil

from conftest import fixture_path, run_cli

NOTEBOOK = fixture_path("reach_project", "template_cell.ipynb")


def concise_lines(result):
    return [line for line in result.stdout.splitlines() if ": INI" in line]


def test_the_unparsable_cell_gets_ini900_and_the_others_are_analysed():
    result = run_cli("--no-cache", "--output-format", "concise", "template_cell.ipynb",
                     cwd=fixture_path("reach_project"))
    assert concise_lines(result) == [
        "template_cell.ipynb:cell 4:2:13: INI900 could not parse: invalid syntax",
        "template_cell.ipynb:cell 5:4:9: INI002 [*] xavier_uniform_ on Net.body[0], Net.body[2] followed by relu: "
        "the signal shrinks about 2.4x over 2 such layers by Net.body[2]; use He (kaiming) init",
        "template_cell.ipynb:cell 5:4:9: INI203 [*] `nn.init.xavier_uniform` is deprecated: use `xavier_uniform_`",
        "template_cell.ipynb:cell 6:3:1: INI203 [*] `nn.init.normal` is deprecated: use `normal_`",
    ], result.stdout + result.stderr
    assert result.returncode == 1


def test_fix_rewrites_the_other_cells_and_leaves_the_broken_one_byte_for_byte(tmp_path):
    target = tmp_path / "template_cell.ipynb"
    shutil.copyfile(NOTEBOOK, target)
    (tmp_path / "pyproject.toml").write_text("[tool.initlint]\nmin-signal-change = 1\n")  # shallow nets
    before = target.read_text()
    result = run_cli("--no-cache", "--fix", "--output-format", "concise", str(target), cwd=str(tmp_path))
    assert concise_lines(result) == ["template_cell.ipynb:cell 4:2:13: INI900 could not parse: invalid syntax"], \
        result.stdout + result.stderr
    after = target.read_text()
    old, new = json.loads(before), json.loads(after)
    changed = [i for i, (a, b) in enumerate(zip(old["cells"], new["cells"])) if a != b]
    assert changed == [4, 5]  # cells 5 and 6; the template cell 4 is left as it was
    assert new["cells"][3] == old["cells"][3]
    assert new["cells"][4]["source"] == ("net = Net()\nfor m in net.modules():\n    if isinstance(m, nn.Linear):\n"
                                         '        nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")\n'
                                         "        nn.init.zeros_(m.bias)\n")
    assert new["cells"][5]["source"][-1] == "nn.init.normal_(net.body[4].weight, std=0.01)"
    # Every other byte of the file is as it was.
    expected = before.replace("nn.init.xavier_uniform(m.weight)",
                              'nn.init.kaiming_uniform_(m.weight, nonlinearity=\\"relu\\")')
    expected = expected.replace('"nn.init.normal(net.body', '"nn.init.normal_(net.body')
    assert after == expected


def test_ipython_and_cell_magics_are_not_broken_cells(tmp_path):
    document = {"cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["%%bash\n", "for f in *; do echo $f; done"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["!pip install torch\n", "import torch.nn as nn\n", "files = !ls\n", "nn.Linear?"]},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": ["model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))\n",
                    "nn.init.zeros_(model[0].weight)"]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "pyproject.toml").write_text("[tool.initlint]\nmin-signal-change = 1\n")  # shallow nets
    (tmp_path / "magics.ipynb").write_text(json.dumps(document))
    result = run_cli("--no-cache", "--output-format", "concise", "magics.ipynb", cwd=str(tmp_path))
    assert [line.split(" ", 2)[:2] for line in concise_lines(result)] == [["magics.ipynb:cell", "3:2:1:"]], \
        result.stdout + result.stderr
    assert "INI900" not in result.stdout


def test_every_broken_cell_is_reported_and_a_notebook_of_broken_cells_is_never_written(tmp_path):
    document = {"cells": [
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "import torch.nn as nn\nmodel = nn.Sequential(\n"},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "def f(:\n    nn.init.xavier_uniform(model[0].weight)\n"},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "pyproject.toml").write_text("[tool.initlint]\nmin-signal-change = 1\n")  # shallow nets
    target = tmp_path / "broken.ipynb"
    target.write_text(json.dumps(document))
    before = target.read_bytes()
    result = run_cli("--no-cache", "--fix", "--output-format", "concise", "broken.ipynb", cwd=str(tmp_path))
    lines = concise_lines(result)
    assert [line.split(": INI900")[0] for line in lines] == ["broken.ipynb:cell 1:2:22",
                                                             "broken.ipynb:cell 2:1:7"], lines
    assert target.read_bytes() == before
    assert result.returncode == 1
