"""The project around a file: its own modules, found from imports and read (never run) on demand.

``from .utils import init_weights``, ``from models import Net``, ``import utils`` resolve to files of the
project: relative imports against the importing file's package, absolute ones against the project
root (the nearest folder above with ``pyproject.toml``, ``setup.py``, ``setup.cfg`` or ``.git``) and
the importing file's own folder (scripts run from there). Anything else (an installed library, a
dynamic import) stays unresolved. Parsed modules are kept per process, keyed by path and mtime, so a
run reads each dependency once per worker.
"""
from __future__ import annotations

import ast
import os
from typing import Optional

import libcst as cst

from .names import ImportTable

_ROOT_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", ".git")
_MAX_BYTES = 2_000_000
_MAX_REEXPORT_DEPTH = 3


class Dependency:
    """A module of the project: its top-level classes and functions, and its imports."""

    def __init__(self, path: str, module: cst.Module) -> None:
        self.path = path
        self.module = module
        self.definitions = {statement.name.value: statement for statement in module.body
                            if type(statement) in (cst.ClassDef, cst.FunctionDef)}
        self.imports = ImportTable.from_nodes(
            node for statement in module.body if type(statement) is cst.SimpleStatementLine
            for node in statement.body if type(node) in (cst.Import, cst.ImportFrom))


class Project:
    def __init__(self) -> None:
        self._modules: dict[str, tuple[float, Optional[Dependency]]] = {}
        self._roots: dict[str, str] = {}

    def root_of(self, folder: str) -> str:
        """The project root above ``folder`` (``folder`` itself when there is no marker)."""
        if folder not in self._roots:
            current = folder
            while True:
                if any(os.path.exists(os.path.join(current, marker)) for marker in _ROOT_MARKERS):
                    break
                parent = os.path.dirname(current)
                if parent == current:
                    current = folder
                    break
                current = parent
            self._roots[folder] = current
        return self._roots[folder]

    def module_path(self, importer: str, qualified: str) -> Optional[str]:
        """The file of module ``qualified`` (``.utils``, ``models.layers``) imported from ``importer``."""
        folder = os.path.dirname(os.path.abspath(importer))
        root = self.root_of(folder)
        dots = len(qualified) - len(qualified.lstrip("."))
        parts = [p for p in qualified.lstrip(".").split(".") if p]
        if dots:
            for _ in range(dots - 1):
                folder = os.path.dirname(folder)
            bases = [folder]
        else:
            bases = list(dict.fromkeys([folder, root, os.path.join(root, "src")]))
        for base in bases:
            candidate = os.path.join(base, *parts)
            for path in (candidate + ".py", os.path.join(candidate, "__init__.py")):
                if os.path.isfile(path) and _inside(path, root):
                    return path
        return None

    def load(self, path: str) -> Optional[Dependency]:
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            return None
        cached = self._modules.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        dependency = None
        try:
            with open(path, "rb") as handle:
                source = handle.read(_MAX_BYTES + 1)
            if len(source) <= _MAX_BYTES:
                ast.parse(source)  # Python's own parser vets it first, as for linted files
                dependency = Dependency(path, cst.parse_module(source))
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError, cst.ParserSyntaxError):
            dependency = None
        self._modules[path] = (mtime, dependency)
        return dependency

    def definition(self, importer: str, qualified: str, depth: int = 0):
        """``(dependency, def)`` for an imported name (``.utils.init_weights``), following re-exports in
        a package's ``__init__.py``; None when it is not a class or function of this project."""
        module, _, name = qualified.rpartition(".")
        if not name or depth > _MAX_REEXPORT_DEPTH:
            return None
        if not module.strip("."):  # ``import utils``, ``from . import utils``: a module, not a definition
            return None
        path = self.module_path(importer, module)
        dependency = self.load(path) if path else None
        if dependency is None:
            return None
        if name in dependency.definitions:
            return dependency, dependency.definitions[name]
        reexported = dependency.imports.local_to_qualified.get(name)
        if reexported is not None:
            return self.definition(path, reexported, depth + 1)
        return None

    def module(self, importer: str, qualified: str) -> Optional[Dependency]:
        """The project module bound by ``import utils`` / ``from . import utils``."""
        path = self.module_path(importer, qualified)
        return self.load(path) if path else None


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([os.path.abspath(path), os.path.abspath(root)]) == os.path.abspath(root)


_SHARED = Project()


def project_for(path: Optional[str]) -> Optional[Project]:
    """The process-wide project view, for a file on disk (None for source with no file)."""
    return _SHARED if path and os.path.isfile(path) else None
