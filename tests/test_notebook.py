"""Jupyter notebook support (issue 8): cells as one module, IPython masking, fixes written back exactly."""
import json
import os
import shutil

import pytest

from conftest import run_cli
from initlint import notebook as nb
from initlint.config import Settings
from initlint.fix import ChangedOnDisk
from initlint.runner import FileReport

HERE = os.path.dirname(os.path.abspath(__file__))
NOTEBOOKS = os.path.join(HERE, "fixtures", "notebooks")


def run(*args, cwd):
    """The CLI with every rule selected: the notebook fixtures lean on INI103 (advice, off by default), and
    on INI002 for a one-layer Xavier net, below the default min-signal-change (a pyproject.toml in cwd)."""
    if not os.path.exists(os.path.join(str(cwd), "pyproject.toml")):
        with open(os.path.join(str(cwd), "pyproject.toml"), "w") as handle:
            handle.write("[tool.initlint]\nmin-signal-change = 1\n")
    return run_cli("--no-cache", "--select", "ALL", *args, cwd=cwd)


def copy(name, folder):
    target = os.path.join(str(folder), name)
    shutil.copyfile(os.path.join(NOTEBOOKS, name), target)
    return target


def read_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def write_notebook(path, cells, metadata=None):
    document = {"cells": [{"cell_type": kind, "metadata": {}, "source": source,
                           **({"execution_count": None, "outputs": []} if kind == "code" else {})}
                          for kind, source in cells],
                "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": 5}
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
    return str(path)


def check(path, mode="check", settings=None):
    settings = settings or Settings(select=("INI",), min_signal_change=1.0)
    return nb.check_notebook(str(path), read_bytes(path), settings, mode, FileReport(str(path)))


def where(report):
    return [(f.code, f.cell, f.line, f.column, f.end_line) for f in report.findings]


INI002_MODEL0 = ("INI002 [*] xavier_uniform_ on model[0] followed by relu: the signal shrinks about 1.7x by "
                 "model[0] (fan_in=4, fan_out=8); use He (kaiming) init")
INI103_MODEL0 = ("INI103 [*] the weight of model[0] is re-initialised but its bias keeps PyTorch's default "
                 "U(-1/sqrt(fan_in), 1/sqrt(fan_in)): zero it")


# ---------------------------------------------------------------------- checking
def test_cross_cell_finding_names_cell_and_line(tmp_path):
    copy("cross_cell.ipynb", tmp_path)
    result = run("cross_cell.ipynb", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == (f"cross_cell.ipynb:cell 5:2:1: {INI002_MODEL0}\n"
                             f"cross_cell.ipynb:cell 5:2:1: {INI103_MODEL0}\n")
    assert result.stderr == "Found 2 findings in 1 of 1 file.\n[*] 2 fixable with --fix.\n"


def test_the_init_cell_alone_is_silent(tmp_path):
    """Without the cells that import nn and build the model, the same line is not a finding."""
    alone = write_notebook(tmp_path / "alone.ipynb",
                           [("code", ["# xavier before a ReLU\n", "nn.init.xavier_uniform_(model[0].weight)"])])
    assert check(alone).findings == []


def test_cells_are_joined_in_order_and_numbered_among_all_cells(tmp_path):
    path = write_notebook(tmp_path / "order.ipynb", [
        ("markdown", ["# title"]),
        ("code", "import torch.nn as nn\n"),
        ("raw", "raw text"),
        ("code", ["net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))\n", "\n",
                  "nn.init.zeros_(net[0].weight)"]),
    ])
    report = check(path)
    assert where(report) == [("INI001", 4, 3, 1, 3)]
    assert report.findings[0].end_column == 30
    assert report.findings[0].path == path
    assert report.findings[0].fix is None  # portable


def test_clean_notebook_has_no_findings(tmp_path):
    copy("clean.ipynb", tmp_path)
    result = run("clean.ipynb", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == "All checks passed (1 file).\n"


def test_magics_do_not_break_parsing_and_positions_are_exact(tmp_path):
    copy("magics.ipynb", tmp_path)
    result = run("magics.ipynb", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == (
        "magics.ipynb:cell 2:4:1: INI002 [*] xavier_normal_ on net[0] followed by relu: the signal shrinks about "
        "1.7x by net[0] (fan_in=4, fan_out=8); use He (kaiming) init\n"
        "magics.ipynb:cell 4:6:5: INI001 [*] hidden layer net[2] weight set to a constant before relu: "
        "its units stay identical\n")
    assert "INI900" not in result.stdout + result.stderr


def test_noqa_in_a_cell(tmp_path):
    path = write_notebook(tmp_path / "noqa.ipynb", [
        ("code", "import torch.nn as nn\nnet = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))\n"),
        ("code", "nn.init.zeros_(net[0].weight)  # noqa: INI001\n"),
    ])
    assert check(path).findings == []


def test_python_syntax_error_in_a_cell_is_ini900_in_that_cell(tmp_path):
    path = write_notebook(tmp_path / "syntax.ipynb", [
        ("code", "import torch\n"),
        ("markdown", "text"),
        ("code", "%matplotlib inline\nx = 1\ndef f(:\n    pass\n"),
    ])
    report = check(path)
    # `def f(:` is line 3 of cell 3 (line 6 of the joined module); the position is the one a .py file gets
    assert [(f.code, f.cell, f.line, f.column) for f in report.findings] == [("INI900", 3, 3, 7)]
    assert report.findings[0].message.startswith("could not parse: ")
    assert "6:" not in report.findings[0].message


def test_parser_positions_in_messages_are_made_relative_to_the_cell():
    notebook = {"cells": [{"cell_type": "code", "source": "import torch\n"},
                          {"cell_type": "code", "source": "x = 1\ny = (\n2)\n"}]}  # a synthetic LibCST error
    layout = nb.build_layout(notebook, b"{}")
    rows = nb.line_map(layout, layout.source)
    finding = nb.Finding("INI900", "could not parse: parser error: error at 4:4: expected one of )", "n.ipynb",
                         4, 5, 4, 5)
    placed = nb.to_cell(finding, rows)
    assert (placed.cell, placed.line, placed.column) == (2, 2, 5)
    assert placed.message == "could not parse: parser error: error at 2:4: expected one of )"


def test_json_output_has_cell(tmp_path):
    copy("cross_cell.ipynb", tmp_path)
    result = run("--output-format", "json", "cross_cell.ipynb", cwd=tmp_path)
    assert result.returncode == 1
    rows = json.loads(result.stdout)
    assert [(r["code"], r["cell"], r["location"], r["end_location"], r["filename"], r["noqa_row"]) for r in rows] == [
        ("INI002", 5, {"column": 1, "row": 2}, {"column": 41, "row": 2}, "cross_cell.ipynb", 2),
        ("INI103", 5, {"column": 1, "row": 2}, {"column": 41, "row": 2}, "cross_cell.ipynb", 2),
    ]


def test_non_python_notebook_is_skipped(tmp_path):
    copy("r_kernel.ipynb", tmp_path)
    result = run("r_kernel.ipynb", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "")


def test_notebook_without_code_cells(tmp_path):
    path = write_notebook(tmp_path / "prose.ipynb", [("markdown", "# torch notes")])
    report = check(path, mode="fix")
    assert (report.findings, report.errors, report.written) == ([], [], False)


# ---------------------------------------------------------------------- invalid notebooks
@pytest.mark.parametrize("name, position, message", [
    ("invalid.ipynb", "6:3", "could not parse notebook: Expecting ',' delimiter"),
    ("nbformat3.ipynb", "1:1", "could not parse notebook: nbformat 3 is not supported (only nbformat 4)"),
])
def test_invalid_notebook_is_ini900_and_left_alone(tmp_path, name, position, message):
    path = copy(name, tmp_path)
    before = read_bytes(path)
    for flags in ((), ("--fix",)):
        result = run(*flags, name, cwd=tmp_path)
        assert result.returncode == 1
        assert result.stdout == f"{name}:{position}: INI900 {message}\n"
        assert read_bytes(path) == before


@pytest.mark.parametrize("document, message", [
    ("[1, 2]", "could not parse notebook: the top level is not a JSON object"),
    ('{"nbformat": 4}', "could not parse notebook: no 'cells' list"),
    ('{"cells": [{"cell_type": "code", "source": 3}]}',
     "could not parse notebook: cell 1 has no valid 'source' (a string or a list of strings)"),
    ('{"cells": ["x"]}', "could not parse notebook: cell 1 is not a cell object with a 'cell_type'"),
])
def test_not_nbformat4_shape(tmp_path, document, message):
    path = tmp_path / "odd.ipynb"
    path.write_text(document)
    report = check(path, mode="fix")
    assert [(f.code, f.message, f.cell) for f in report.findings] == [("INI900", message, None)]
    assert path.read_text() == document


def test_not_utf8(tmp_path):
    path = tmp_path / "latin.ipynb"
    path.write_bytes(b'{"cells": [], "x": "\xe9"}')
    assert [f.message for f in check(path).findings] == ["could not parse notebook: not UTF-8 (invalid continuation byte)"]


# ---------------------------------------------------------------------- fixing
def test_fix_changes_only_the_edited_cell(tmp_path):
    path = copy("cross_cell.ipynb", tmp_path)
    before = read_bytes(path).decode("utf-8")
    result = run("--fix", "cross_cell.ipynb", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout == ""
    assert result.stderr == "Found 2 findings in 1 of 1 file (2 fixed, 0 remaining).\n"
    after = read_bytes(path).decode("utf-8")
    old = '    "nn.init.xavier_uniform_(model[0].weight)"\n'
    new = ('    "nn.init.kaiming_uniform_(model[0].weight, nonlinearity=\\"relu\\")\\n",\n'
           '    "nn.init.zeros_(model[0].bias)"\n')
    assert before.count(old) == 1
    assert after == before.replace(old, new)
    assert "schöne Grüße" in after and "…" in after  # non-ASCII stays unescaped, as in the original


def test_second_fix_changes_nothing(tmp_path):
    path = copy("magics.ipynb", tmp_path)
    first = run("--fix", "magics.ipynb", cwd=tmp_path)
    assert first.returncode == 0
    fixed = read_bytes(path)
    second = run("--fix", "magics.ipynb", cwd=tmp_path)
    assert (second.returncode, second.stdout, second.stderr) == (0, "", "All checks passed (1 file).\n")
    assert read_bytes(path) == fixed


def test_fix_restores_magics_untouched(tmp_path):
    path = copy("magics.ipynb", tmp_path)
    original = json.loads(read_bytes(path))
    assert run("--fix", "magics.ipynb", cwd=tmp_path).returncode == 0
    fixed = json.loads(read_bytes(path))
    sources = [cell["source"] for cell in fixed["cells"]]
    assert sources[0] == original["cells"][0]["source"]
    assert sources[1] == [
        "%%time\n",
        "net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))\n",
        "files = !ls\n",
        'nn.init.kaiming_normal_(net[0].weight, nonlinearity="relu")\n',
        "nn.init.zeros_(net[0].bias)\n",
    ]
    assert sources[2] == original["cells"][2]["source"]
    assert sources[3] == [
        "nn.init?\n",
        "x = (10\n",
        "     % 3)\n",
        "if x:\n",
        "    %time y = 1\n",
        '    nn.init.kaiming_normal_(net[2].weight, nonlinearity="relu")\n',
        "    nn.init.zeros_(net[2].bias)",
    ]
    original["cells"][1]["source"], original["cells"][3]["source"] = sources[1], sources[3]
    assert fixed == original  # outputs, metadata, other cells: as they were


def test_diff_shows_the_notebook_text_and_writes_nothing(tmp_path):
    path = copy("cross_cell.ipynb", tmp_path)
    before = read_bytes(path)
    result = run("--diff", "cross_cell.ipynb", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == (
        "--- a/cross_cell.ipynb\n"
        "+++ b/cross_cell.ipynb\n"
        "@@ -56,7 +56,8 @@\n"
        "    ],\n"
        '    "source": [\n'
        '     "# xavier before a ReLU\\n",\n'
        '-    "nn.init.xavier_uniform_(model[0].weight)"\n'
        '+    "nn.init.kaiming_uniform_(model[0].weight, nonlinearity=\\"relu\\")\\n",\n'
        '+    "nn.init.zeros_(model[0].bias)"\n'
        "    ]\n"
        "   }\n"
        "  ],\n")
    assert read_bytes(path) == before


def test_fix_splices_when_the_formatting_cannot_be_reproduced(tmp_path):
    path = copy("splice.ipynb", tmp_path)
    before = read_bytes(path).decode("utf-8")
    assert nb.detect_style(before, json.loads(before)) is None  # "1.50", key order on one line, ...
    assert run("--fix", "splice.ipynb", cwd=tmp_path).returncode == 0
    after = read_bytes(path).decode("utf-8")
    expected = before.replace(
        r'nn.init.xavier_uniform_(model[0].weight)  # caf\u00e9\n"',
        r'nn.init.kaiming_uniform_(model[0].weight, nonlinearity=\"relu\")  # caf\u00e9\n'
        r'nn.init.zeros_(model[0].bias)\n"').replace(
        '"nn.init.xavier_normal_(head[0].weight)\\n"',
        '"nn.init.kaiming_normal_(head[0].weight, nonlinearity=\\"relu\\")\\n"')
    assert after != before
    assert after == expected  # the string-form source stays a string, \u escapes stay escapes


def test_fix_keeps_crlf_line_ends(tmp_path):
    path = tmp_path / "crlf.ipynb"
    with open(os.path.join(NOTEBOOKS, "cross_cell.ipynb"), "rb") as handle:
        before = handle.read().replace(b"\n", b"\r\n")
    path.write_bytes(before)
    report = check(path, mode="fix")
    assert report.errors == [] and report.written
    after = path.read_bytes()
    assert after == before.replace(
        b'    "nn.init.xavier_uniform_(model[0].weight)"\r\n',
        b'    "nn.init.kaiming_uniform_(model[0].weight, nonlinearity=\\"relu\\")\\n",\r\n'
        b'    "nn.init.zeros_(model[0].bias)"\r\n')


def test_fix_keeps_ascii_escaping_and_bom(tmp_path):
    document = {"cells": [
        {"cell_type": "markdown", "metadata": {}, "source": ["Grüße"]},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": "import torch.nn as nn\nm = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))\n"
                   "nn.init.zeros_(m[0].weight)  # ü"},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
    text = json.dumps(document, indent=2, ensure_ascii=True)
    assert nb.detect_style(text, document) == {"indent": 2, "separators": (",", ": "), "ensure_ascii": True,
                                               "ending": ""}
    path = tmp_path / "ascii.ipynb"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    report = check(path, mode="fix")
    assert report.written and where(report) == []
    after = path.read_bytes()
    assert after.startswith(b"\xef\xbb\xbf") and not after.endswith(b"\n")
    document["cells"][1]["source"] = document["cells"][1]["source"].replace(
        "nn.init.zeros_(m[0].weight)", 'nn.init.kaiming_normal_(m[0].weight, nonlinearity="relu")'
    ) + "\nnn.init.zeros_(m[0].bias)"
    assert after[3:].decode("ascii") == json.dumps(document, indent=2, ensure_ascii=True)


def test_fix_refused_when_it_cannot_be_written_back(tmp_path, monkeypatch):
    path = copy("splice.ipynb", tmp_path)
    before = read_bytes(path)

    def broken(*args):
        raise ValueError("no list-form source to copy the formatting of cell 2 from")
    monkeypatch.setattr(nb, "splice", broken)
    report = check(path, mode="fix")
    assert report.errors == [f"{path}: could not write the fixes back into the notebook "
                             "(no list-form source to copy the formatting of cell 2 from); left as it is"]
    assert not report.written and report.fixed == []
    assert [(f.code, f.cell, f.line) for f in report.findings] == [
        ("INI002", 1, 3), ("INI103", 1, 3), ("INI002", 2, 2)]
    assert read_bytes(path) == before


def test_fix_refused_when_the_file_changed_on_disk(tmp_path, monkeypatch):
    path = copy("cross_cell.ipynb", tmp_path)

    def changed(*args):
        raise ChangedOnDisk(path)
    monkeypatch.setattr("initlint.runner.write_atomically", changed)
    report = check(path, mode="fix")
    assert report.errors == [f"{path}: changed on disk while initlint was fixing it; left as it is"]
    assert (report.written, report.fixed, len(report.findings)) == (False, [], 2)


def test_fixed_findings_are_placed_in_cells(tmp_path):
    path = copy("magics.ipynb", tmp_path)
    report = check(path, mode="diff")
    # the second round zeroes the bias of the layer the first round gave a He init
    assert [(f.code, f.cell, f.line, f.column) for f in report.fixed] == [
        ("INI002", 2, 4, 1), ("INI001", 4, 6, 5), ("INI103", 4, 6, 5)]
    assert report.findings == [] and report.diff and not report.written


# ---------------------------------------------------------------------- folders
def test_folder_run_includes_notebooks_unless_disabled(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    copy("cross_cell.ipynb", project)
    (project / "model.py").write_text("import torch.nn as nn\n"
                                      "net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))\n"
                                      "nn.init.zeros_(net[0].weight)\n")
    model_line = ("project/model.py:3:1: INI001 [*] hidden layer net[0] weight set to zero before relu: "
                  "its units stay identical and dead under ReLU\n")
    result = run("project", cwd=tmp_path)
    assert result.stdout == (f"project/cross_cell.ipynb:cell 5:2:1: {INI002_MODEL0}\n"
                             f"project/cross_cell.ipynb:cell 5:2:1: {INI103_MODEL0}\n" + model_line)
    assert result.stderr == "Found 3 findings in 2 of 2 files.\n[*] 3 fixable with --fix.\n"
    skipped = run("--no-notebooks", "project", cwd=tmp_path)
    assert (skipped.stdout, skipped.stderr) == (
        model_line, "Found 1 finding in 1 of 1 file.\n[*] 1 fixable with --fix.\n")
    (project / "pyproject.toml").write_text("[tool.initlint]\nnotebooks = false\nmin-signal-change = 1\n")
    assert run("project", cwd=tmp_path).stdout == model_line
    named = run("--no-notebooks", "project/cross_cell.ipynb", cwd=tmp_path)  # named files are always checked
    assert named.returncode == 1 and named.stdout.count("cell 5:2:1") == 2


# ---------------------------------------------------------------------- masking
def masked(text):
    cell = nb.CodeCell(1, 0, text)
    if nb.mask_cell(cell, "N", 0) is None:
        return None
    return cell.masked, cell.magics


@pytest.mark.parametrize("text, expected", [
    ("%matplotlib inline\nimport torch\n", "pass  # initlint-magic:N:0\nimport torch\n"),
    ("!pip install torch\n", "pass  # initlint-magic:N:0\n"),
    ("files = !ls\na, b = %sx ls\n", "pass  # initlint-magic:N:0\npass  # initlint-magic:N:1\n"),
    ("?nn.init\nnn.init?\nnn.init??  \n", "pass  # initlint-magic:N:0\npass  # initlint-magic:N:1\n"
                                         "pass  # initlint-magic:N:2\n"),
    ("/print 1\n,f a b\n;f a b\n", "pass  # initlint-magic:N:0\npass  # initlint-magic:N:1\n"
                                    "pass  # initlint-magic:N:2\n"),
    ("!pip install \\\n    torch\nx = 1", "pass  # initlint-magic:N:0\npass  # initlint-magic:N:1\nx = 1\n"),
    ("if x:\n    %time f()\n", "if x:\n    pass  # initlint-magic:N:0\n"),
    ("x = 1\n    %time f()\n", "x = 1\npass  # initlint-magic:N:0\n"),
    ("def f():\n    y = 1\n        !ls\n", "def f():\n    y = 1\n    pass  # initlint-magic:N:0\n"),
    ("%%time\nx = 1\n", "pass  # initlint-magic:N:0\nx = 1\n"),
    ("\n%%capture out\n!ls\n", "\npass  # initlint-magic:N:0\npass  # initlint-magic:N:1\n"),
])
def test_ipython_lines_are_masked(text, expected):
    result, magics = masked(text)
    assert result == expected
    assert result.count("\n") == text.count("\n") + (0 if text.endswith("\n") else 1)
    originals = [old for old, new in zip(text.split("\n"), result.split("\n")) if "initlint-magic" in new]
    assert list(magics.values()) == originals


@pytest.mark.parametrize("text", [
    "x = (10\n     % 3)\n",
    "x = 10 \\\n% 3\n",
    's = """\n!not a shell line\n%not a magic\n"""\n',
    "x = 1  # really?\n",
    'x = "why?"\n',
    "# what?\n",
    "y = a != b\n",
    "z = [\n    !0,\n]\n",
])
def test_python_lines_are_not_masked(text):
    assert masked(text) == (text, {})


@pytest.mark.parametrize("text", ["%%bash\necho hi\n", "\n%%writefile x.py\nimport torch\n", "%%\n"])
def test_other_cell_magics_leave_the_cell_out(text):
    assert masked(text) is None


def test_layout_and_split_round_trip():
    notebook = {"cells": [
        {"cell_type": "code", "source": ["%matplotlib inline\n", "import torch"]},
        {"cell_type": "markdown", "source": "# x"},
        {"cell_type": "code", "source": "%%bash\necho"},
        {"cell_type": "code", "source": []},
        {"cell_type": "code", "source": "x = 1\n"},
    ]}
    layout = nb.build_layout(notebook, b"{}")
    assert [c.number for c in layout.cells] == [1, 4, 5]
    nonce = layout.nonce
    assert layout.source == (f"pass  # initlint-magic:{nonce}:0\nimport torch\n"
                             f"pass  # initlint-cell:{nonce}:1\n"
                             f"pass  # initlint-cell:{nonce}:2\nx = 1\n")
    assert nb.line_map(layout, layout.source)[1:] == [(1, 1, 0), (1, 2, 0), (1, 2, 0), (4, 1, 0), (5, 1, 0)]
    assert nb.split_cells(layout, layout.source) == {}
    changed = layout.source.replace("x = 1\n", "x = 2\ny = 3\n").replace("import torch\n", "import torch\nz\n")
    assert nb.split_cells(layout, changed) == {0: "%matplotlib inline\nimport torch\nz", 4: "x = 2\ny = 3\n"}
    with pytest.raises(ValueError):
        nb.split_cells(layout, layout.source.replace(f"pass  # initlint-cell:{nonce}:1\n", ""))
    with pytest.raises(ValueError):
        nb.split_cells(layout, layout.source.replace(f"pass  # initlint-magic:{nonce}:0\n", ""))


def test_nonce_avoids_text_in_the_file():
    notebook = {"cells": [{"cell_type": "code", "source": "x = 1\n"}]}
    first = nb.build_layout(notebook, b"{}").nonce
    source = ('{"a": "%s"}' % first).encode()
    assert nb.build_layout(notebook, source).nonce not in source.decode()


def test_splice_formats_like_the_array_it_replaces():
    text = '{\n "cells": [\n  {\n   "source": [\n    "a"\n   ],\n   "x": 1.50\n  },\n  {"source": []}\n ]\n}\n'
    result = nb.splice(text, json.loads(text), {0: ["a\n", "b"], 1: ["é"]})
    assert result == ('{\n "cells": [\n  {\n   "source": [\n    "a\\n",\n    "b"\n   ],\n   "x": 1.50\n  },\n'
                      '  {"source": [\n    "é"\n   ]}\n ]\n}\n')
    assert nb.splice(text, json.loads(text), {0: "one string"}).count('"source": "one string"') == 1
    with pytest.raises(ValueError):
        nb.splice('{"cells": [{"source": []}]}', {}, {0: ["x"]})
