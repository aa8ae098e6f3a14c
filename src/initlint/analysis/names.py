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
        self.star_imported = False  # ``from x import *``: names the file uses but never binds come from x

    @classmethod
    def from_nodes(cls, nodes) -> "ImportTable":
        table = cls()
        for node in nodes:
            if type(node) is cst.Import:
                table._add_import(node)
            else:
                table._add_import_from(node)
        return table

    def _add_import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted(alias.name)
            if full is None:
                continue
            if alias.asname is not None and type(alias.asname.name) is cst.Name:
                self.local_to_qualified[alias.asname.name.value] = full
            else:
                # ``import torch.nn`` binds ``torch``; ``torch.nn`` then resolves through it.
                head = full.split(".")[0]
                self.local_to_qualified[head] = head

    def _add_import_from(self, node: cst.ImportFrom) -> None:
        if type(node.names) is cst.ImportStar:
            self.star_imported = True
            return
        # A relative import keeps its dots (``from .utils import f`` -> ``.utils.f``): nobody's ``torch``,
        # but the project index resolves it, and a vendored copy of mmcv is still recognised by its
        # package names (see ``vendored``).
        module = "." * len(node.relative) + (dotted(node.module) or "" if node.module is not None else "")
        if not module or (node.module is not None and dotted(node.module) is None):
            return
        for alias in node.names:
            name = dotted(alias.name)
            if name is None:
                continue
            local = name
            if alias.asname is not None and type(alias.asname.name) is cst.Name:
                local = alias.asname.name.value
            self.local_to_qualified[local] = module + name if module.endswith(".") else f"{module}.{name}"

    def assume_torch_names(self, unbound_heads: set) -> None:
        """Next to a ``from models import *``, the usual torch aliases that the file uses but never binds
        itself (a script that gets ``torch`` and ``nn`` from its models module) are torch's.
        ``unbound_heads``: the names the file uses as a dotted path's head (``nn`` in ``nn.init.zeros_``)
        and never binds."""
        if not self.star_imported:
            return
        for local, qualified in _USUAL_TORCH_ALIASES.items():
            if local in unbound_heads:
                self.local_to_qualified.setdefault(local, qualified)

    def add_missing(self, other: "ImportTable") -> None:
        """Take ``other``'s names that this table does not bind (code pulled in from another file)."""
        for local, qualified in other.local_to_qualified.items():
            self.local_to_qualified.setdefault(local, qualified)

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


_USUAL_TORCH_ALIASES = {"torch": "torch", "nn": "torch.nn", "init": "torch.nn.init", "F": "torch.nn.functional"}

# mmcv's drop-in layer wrappers (empty-tensor safe) are torch layers with torch's default init.
_WRAPPED_LAYERS = frozenset({"Linear", "Conv2d", "Conv3d", "ConvTranspose2d", "ConvTranspose3d"})


def vendored(qualified: Optional[str], package: str) -> Optional[str]:
    """``qualified`` from ``package`` on, also where a project vendors it under its own prefix
    (``annotator.uniformer.mmcv.cnn.constant_init`` -> ``mmcv.cnn.constant_init``), else None."""
    if qualified is None:
        return None
    parts = qualified.lstrip(".").split(".")
    if package in parts[:-1]:
        return ".".join(parts[parts.index(package):])
    return None


def torch_name(qualified: Optional[str]) -> Optional[str]:
    """Normalise torch's public aliases: ``torch.nn.modules.conv.Conv2d`` -> ``torch.nn.Conv2d``;
    mmcv's layer wrappers (``mmcv.cnn.Conv2d``) are the torch layers."""
    if qualified is None:
        return None
    module, _, name = qualified.rpartition(".")
    if module.rpartition(".")[2] == "initialization" and (module.startswith(".") or module.startswith("transformers.")):
        # Hugging Face's ``initialization`` module wraps each torch.nn.init function under its name.
        return f"torch.nn.init.{name}"
    if not qualified.startswith("torch."):
        mmcv = vendored(qualified, "mmcv")
        name = qualified.rsplit(".", 1)[-1]
        if mmcv is not None and name in _WRAPPED_LAYERS and mmcv.split(".")[1:2] in (["cnn"], ["ops"]):
            return "torch.nn." + name
        return qualified
    for prefix in ("torch.nn.modules.linear.", "torch.nn.modules.conv.", "torch.nn.modules.activation.",
                   "torch.nn.modules.batchnorm.", "torch.nn.modules.normalization.",
                   "torch.nn.modules.instancenorm.", "torch.nn.modules.dropout.",
                   "torch.nn.modules.pooling.", "torch.nn.modules.container.",
                   "torch.nn.modules.flatten.", "torch.nn.modules.module.", "torch.nn.modules."):
        if qualified.startswith(prefix):
            return "torch.nn." + qualified[len(prefix):]
    return qualified
