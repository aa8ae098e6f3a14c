"""Output formats: text (concise), full, json, github, sarif."""
from __future__ import annotations

from .formats import FORMATS, render

__all__ = ["FORMATS", "render"]
