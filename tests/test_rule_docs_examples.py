"""Docs that cannot lie: each rule's "## Example" block gives that rule's finding, its "## Use instead"
block gives none (Fixit's habit).

Each section must hold a fenced ``python`` block; the first one is linted as ``initlint --select CODE``
lints a file named ``model.py``: only that rule (advice rules included), with the default settings
otherwise (so a rule that reports only a large effect must show one). How a block becomes a module:

- A block with a top-level ``class`` is a whole module; the four imports shown below go above it (docs leave
  them out), and the rest is linted as written.
- Any other block is code inside a model class. Its leading ``import`` lines (``from mmcv.cnn import
  normal_init``) go to the top of the module; the rest is placed in::

      import math
      import torch
      import torch.nn as nn
      import torch.nn.functional as F


      class Net(nn.Module):

  A block that starts with ``def`` holds whole methods and goes into the class body as written. Otherwise
  the lines before a line that is only ``...`` are the body of ``__init__(self)`` (after
  ``super().__init__()``), and the lines after it the body of ``forward(self, x)`` (``return x`` is added
  when the block does not end with a ``return``); a block without ``...`` is ``__init__``'s body alone.

So that a "Use instead" block cannot pass by leaving the code out, it must define every layer
(``self.name = ...``) its Example defines. The examples of the rules that weigh a stack's depth (INI002,
INI003, INI004) show a 16-layer one (built in a loop of literal length), deep enough to be reported by default.
"""
from __future__ import annotations

import re
import textwrap

import libcst as cst
import pytest

from initlint.config import Settings
from initlint.engine import lint_source
from initlint.rules import ALL_RULES

IMPORTS = "import math\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
PRELUDE = IMPORTS + "\n\nclass Net(nn.Module):\n"
FORWARD_SPLIT = "..."


def python_block(docs: str, section: str) -> str:
    """The first fenced python block of ``## section`` (up to the next ``## `` heading)."""
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", docs, re.S | re.M)
    assert match, f"no '## {section}' section"
    block = re.search(r"^```python\n(.*?)^```", match.group(1), re.S | re.M)
    assert block, f"'## {section}' has no ```python block"
    return block.group(1)


def is_complete_module(block: str) -> bool:
    try:
        module = cst.parse_module(block)
    except cst.ParserSyntaxError:  # statements of a method body may not parse at module level (return)
        return False
    return any(isinstance(statement, cst.ClassDef) for statement in module.body)


def leading_imports(lines: list) -> int:
    """How many of the first lines are imports (blank lines between them included)."""
    count = 0
    for number, line in enumerate(lines, 1):
        if line.startswith(("import ", "from ")):
            count = number
        elif line.strip():
            break
    return count


def _indented(body: str, depth: int) -> str:
    return textwrap.indent(body, "    " * depth, lambda line: line.strip() != "")


def as_module(block: str) -> str:
    """The module a docs block stands for (see the module docstring)."""
    if is_complete_module(block):
        return IMPORTS + block
    lines = block.splitlines(keepends=True)
    imports = leading_imports(lines)
    prelude = PRELUDE.replace("\n\n\nclass", "\n" + "".join(lines[:imports]).strip("\n") + "\n\n\nclass") \
        if imports else PRELUDE
    lines = lines[imports:]
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and lines[0].startswith("def "):
        return prelude + _indented("".join(lines), 1)
    split = next((i for i, line in enumerate(lines) if line.strip() == FORWARD_SPLIT), None)
    init_body = "".join(lines if split is None else lines[:split])
    module = prelude + "    def __init__(self):\n        super().__init__()\n" + _indented(init_body, 2)
    if split is not None:
        forward_body = "".join(lines[split + 1:])
        if not forward_body.rstrip().splitlines()[-1].lstrip().startswith("return"):
            forward_body = forward_body.rstrip("\n") + "\nreturn x\n"
        module += "\n    def forward(self, x):\n" + _indented(forward_body, 2)
    return module


def codes_found(module: str, code: str) -> list:
    settings = Settings(select=(code,))
    result = lint_source(module.encode(), "model.py", settings.selection, settings.options)
    assert result.error is None, f"does not parse: {result.error}\n{module}"
    assert result.internal_error is None, result.internal_error
    return [(f.code, f.line, f.message) for f in result.findings]


def defined_layers(module: str) -> set:
    return set(re.findall(r"^\s*self\.(\w+)\s*=", module, re.M))


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.code)
def test_example_gives_the_finding(rule):
    module = as_module(python_block(rule.docs, "Example"))
    found = codes_found(module, rule.code)
    assert [code for code, _, _ in found if code == rule.code], \
        f"{rule.code}'s Example gives no {rule.code} finding:\n{module}\nfound: {found}"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.code)
def test_use_instead_gives_none(rule):
    example = as_module(python_block(rule.docs, "Example"))
    module = as_module(python_block(rule.docs, "Use instead"))
    assert defined_layers(example) <= defined_layers(module), \
        f"{rule.code}'s Use instead leaves out layers its Example defines:\n{module}"
    found = codes_found(module, rule.code)
    assert [f for f in found if f[0] == rule.code] == [], \
        f"{rule.code}'s Use instead still gives {rule.code}:\n{module}\nfound: {found}"


# ---------------------------------------------------------------------- the convention itself
def test_a_fragment_is_split_into_init_and_forward():
    module = as_module("self.fc = nn.Linear(4, 4)\n...\nx = F.relu(self.fc(x))\n")
    assert module == PRELUDE + (
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.fc = nn.Linear(4, 4)\n"
        "\n"
        "    def forward(self, x):\n"
        "        x = F.relu(self.fc(x))\n"
        "        return x\n")


def test_methods_go_into_the_class_and_whole_modules_get_the_imports():
    method = "def forward(self, x):\n    return x\n"
    assert as_module(method) == PRELUDE + "    def forward(self, x):\n        return x\n"
    complete = "class Head(nn.Module):\n    pass\n"
    assert as_module(complete) == IMPORTS + complete
    assert not is_complete_module("self.fc = nn.Linear(2, 2)\n")
    assert not is_complete_module("return self.fc(x)\n")


def test_leading_imports_go_to_the_top():
    module = as_module("from mmcv.cnn import normal_init\n\nnormal_init(self.fc, std=0.01)\n")
    assert module == PRELUDE.replace("F\n", "F\nfrom mmcv.cnn import normal_init\n") + (
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        normal_init(self.fc, std=0.01)\n")


def test_a_missing_python_block_is_reported():
    with pytest.raises(AssertionError, match="has no ```python block"):
        python_block("## Example\nprose only\n\n## Use instead\n```python\nx\n```\n", "Example")
