"""Resolve what a name means through the file's own imports (no LibCST scope metadata).

``import torch.nn as nn`` maps ``nn`` to ``torch.nn``; ``from torch.nn.init import zeros_ as z`` maps
``z`` to ``torch.nn.init.zeros_``. A dotted expression resolves by its head: ``nn.init.zeros_`` ->
``torch.nn.init.zeros_``. Names that were never imported resolve to None, so a user's own ``init``
module or ``import flax.linen as nn`` never looks like torch.
"""
from __future__ import annotations

from typing import Optional

import libcst as cst

from .syntax import dotted


class ImportTable:
    def __init__(self) -> None:
        self.local_to_qualified: dict[str, str] = {}

    @classmethod
    def from_nodes(cls, nodes) -> "ImportTable":
        table = cls()
        for node in nodes:
            if isinstance(node, cst.Import):
                table._add_import(node)
            else:
                table._add_import_from(node)
        return table

    def _add_import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.local_to_qualified[alias.asname.name.value] = full
            else:
                # ``import torch.nn`` binds ``torch``; ``torch.nn`` then resolves through it.
                head = full.split(".")[0]
                self.local_to_qualified[head] = head

    def _add_import_from(self, node: cst.ImportFrom) -> None:
        if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
            return
        module = dotted(node.module)
        if module is None:
            return
        for alias in node.names:
            name = dotted(alias.name)
            if name is None:
                continue
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self.local_to_qualified[local] = f"{module}.{name}"

    def resolve(self, expr: cst.BaseExpression) -> Optional[str]:
        """The qualified name of a Name/Attribute chain, or None if its head was not imported."""
        name = dotted(expr)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        qualified = self.local_to_qualified.get(head)
        if qualified is None:
            return None
        return f"{qualified}.{rest}" if rest else qualified

    def local_names_for(self, qualified: str) -> list[str]:
        """Local names bound exactly to ``qualified`` (for writing new code that uses it)."""
        return sorted(local for local, target in self.local_to_qualified.items()
                      if target == qualified)


def torch_name(qualified: Optional[str]) -> Optional[str]:
    """Normalise torch's public aliases: ``torch.nn.modules.conv.Conv2d`` -> ``torch.nn.Conv2d``."""
    if qualified is None or not qualified.startswith("torch."):
        return qualified
    for prefix in ("torch.nn.modules.linear.", "torch.nn.modules.conv.", "torch.nn.modules.activation.",
                   "torch.nn.modules.batchnorm.", "torch.nn.modules.normalization.",
                   "torch.nn.modules.instancenorm.", "torch.nn.modules.dropout.",
                   "torch.nn.modules.pooling.", "torch.nn.modules.container.",
                   "torch.nn.modules.flatten.", "torch.nn.modules.module.", "torch.nn.modules."):
        if qualified.startswith(prefix):
            return "torch.nn." + qualified[len(prefix):]
    return qualified
