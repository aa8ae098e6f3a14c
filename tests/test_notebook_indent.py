"""Notebook cells indented as a whole: IPython (9.0.2+, textwrap.dedent) runs them without the indentation
all their non-blank lines share, so initlint analyses them so, reports at the cell's own columns, and
puts the indentation back on what --fix and --add-noqa write. Cells IPython rejects stay INI900."""
import json

from conftest import run_cli

IMPORTS = "import torch.nn as nn\n"
MLP = "model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))"


def write_notebook(folder, name, *sources):
    document = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                           "source": source} for source in sources],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (folder / "pyproject.toml").write_text("[tool.initlint]\nmin-signal-change = 1\n")  # a shallow net
    target = folder / name
    target.write_text(json.dumps(document, indent=1) + "\n")
    return target


def located(tmp_path, name, *args):
    result = run_cli("--no-cache", "--output-format", "json", *args, name, cwd=str(tmp_path))
    return [(row["code"], row["cell"], row["location"]["row"], row["location"]["column"],
             row["end_location"]["row"], row["end_location"]["column"], row["message"])
            for row in json.loads(result.stdout)]


def cell_sources(path):
    return [cell["source"] for cell in json.loads(path.read_text())["cells"]]


INDENTED = ["    %matplotlib inline\n", f"    {MLP}\n", "  \n", "    nn.init.xavier_uniform(model[0].weight)"]


def test_an_indented_cell_is_analysed_and_reported_at_the_cells_own_columns(tmp_path):
    write_notebook(tmp_path, "n.ipynb", IMPORTS, INDENTED)
    rows = located(tmp_path, "n.ipynb")
    # "    nn.init.xavier_uniform(model[0].weight)": the call spans columns 5-43 of line 4 (end exclusive: 44)
    assert [row[:6] for row in rows] == [("INI002", 2, 4, 5, 4, 44), ("INI203", 2, 4, 5, 4, 44)], rows
    assert rows[1][6] == "`nn.init.xavier_uniform` is deprecated: use `xavier_uniform_`"
    full = run_cli("--no-cache", "--output-format", "full", "--select", "INI203", "n.ipynb", cwd=str(tmp_path))
    assert "4 |     nn.init.xavier_uniform(model[0].weight)\n  |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n" \
        in full.stdout, full.stdout


def test_fix_puts_the_indentation_back_and_every_other_byte_stays(tmp_path):
    target = write_notebook(tmp_path, "n.ipynb", IMPORTS, INDENTED)
    before = target.read_text()
    result = run_cli("--no-cache", "--fix", "n.ipynb", cwd=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert cell_sources(target)[1] == INDENTED[:3] + [
        '    nn.init.kaiming_uniform_(model[0].weight, nonlinearity="relu")']
    assert target.read_text() == before.replace(
        "    nn.init.xavier_uniform(model[0].weight)",
        '    nn.init.kaiming_uniform_(model[0].weight, nonlinearity=\\"relu\\")')


def test_a_line_a_fix_inserts_gets_the_cells_indentation_tabs_included(tmp_path):
    cell = ("\tif True:\n"
            f"\t    {MLP}\n"
            "\n"
            "\t    nn.init.kaiming_uniform_(model[0].weight, nonlinearity='relu')\n"
            "\tmodel")
    target = write_notebook(tmp_path, "n.ipynb", IMPORTS, cell)
    assert [row[:4] for row in located(tmp_path, "n.ipynb", "--select", "INI103")] == [("INI103", 2, 4, 6)]
    run_cli("--no-cache", "--fix", "--select", "INI103", "n.ipynb", cwd=str(tmp_path))
    assert cell_sources(target)[1] == cell.replace("\n\tmodel", "\n\t    nn.init.zeros_(model[0].bias)\n\tmodel")


def test_a_cell_indented_by_one_space_under_a_comment(tmp_path):
    """The form of the two cells of the unseen corpus (pytorch-deep-learning) that were INI900."""
    cell = f" # Make sure we have a model\n {MLP}\n nn.init.zeros_(model[0].weight)\n model"
    target = write_notebook(tmp_path, "n.ipynb", IMPORTS, cell)
    assert [row[:6] for row in located(tmp_path, "n.ipynb")] == [("INI001", 2, 3, 2, 3, 33)]
    run_cli("--no-cache", "--fix", "n.ipynb", cwd=str(tmp_path))
    assert cell_sources(target)[1] == cell.replace("nn.init.zeros_(model[0].weight)",
                                                   'nn.init.kaiming_normal_(model[0].weight, nonlinearity="relu")')


def test_add_noqa_on_an_indented_cell(tmp_path):
    target = write_notebook(tmp_path, "n.ipynb", IMPORTS, INDENTED)
    before = target.read_text()
    result = run_cli("--no-cache", "--add-noqa", "n.ipynb", cwd=str(tmp_path))
    assert "Added 1 noqa directive" in result.stdout + result.stderr, result.stdout + result.stderr
    assert target.read_text() == before.replace("    nn.init.xavier_uniform(model[0].weight)",
                                                "    nn.init.xavier_uniform(model[0].weight)  # noqa: INI002, INI203")
    assert run_cli("--no-cache", "n.ipynb", cwd=str(tmp_path)).returncode == 0
    again = run_cli("--no-cache", "--add-noqa", "n.ipynb", cwd=str(tmp_path))
    assert "Added 0 noqa directives" in again.stdout + again.stderr


# ---------------------------------------------------------------------- look-alikes: IPython rejects these
def test_an_indented_cell_that_is_really_broken_is_ini900_at_the_cells_column(tmp_path):
    target = write_notebook(tmp_path, "n.ipynb", IMPORTS, "    model = nn.Sequential(\n    x = 1\n",
                            "model = nn.Sequential(\nx = 1\n")
    before = target.read_bytes()
    assert [row[:4] + row[6:] for row in located(tmp_path, "n.ipynb")] == [
        ("INI900", 2, 1, 26, "could not parse: '(' was never closed"),   # 22 + the 4 spaces removed
        ("INI900", 3, 1, 22, "could not parse: '(' was never closed")]
    run_cli("--no-cache", "--fix", "n.ipynb", cwd=str(tmp_path))
    assert target.read_bytes() == before


def test_cells_ipython_9_does_not_dedent_stay_ini900_and_are_never_written(tmp_path):
    zero = "nn.init.zeros_(model[0].weight)"
    cells = [
        f"    {MLP}\n# a note at column 0: no shared indentation (IPython 8 ran this, 9 does not)\n    {zero}\n",
        f"\t{MLP}\n    {zero}\n",                            # a tab and four spaces share nothing
        f"    s = '''\nnot indented\n    '''\n    {MLP}\n    {zero}\n",  # a string's line counts, as in dedent
    ]
    target = write_notebook(tmp_path, "n.ipynb", IMPORTS, *cells)
    before = target.read_bytes()
    rows = located(tmp_path, "n.ipynb")
    assert [(code, cell, message) for code, cell, *_, message in rows] == [
        ("INI900", number, "could not parse: unexpected indent") for number in (2, 3, 4)], rows
    run_cli("--no-cache", "--fix", "n.ipynb", cwd=str(tmp_path))
    run_cli("--no-cache", "--add-noqa", "n.ipynb", cwd=str(tmp_path))
    assert target.read_bytes() == before


def test_a_cell_whose_first_code_line_is_not_indented_is_not_shifted(tmp_path):
    cell = f"   \n{MLP[:22]}\n    {MLP[22:]}\nnn.init.zeros_(model[0].weight)\n"  # blank first line, indented arguments
    write_notebook(tmp_path, "n.ipynb", IMPORTS, cell)
    assert [row[:6] for row in located(tmp_path, "n.ipynb")] == [("INI001", 2, 4, 1, 4, 32)]
