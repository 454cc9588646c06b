"""jitpim's version, as a literal: read by the build (pyproject `[tool.hatch.version]`) and by
`jitpim.__version__` without importing `importlib.metadata` (tens of milliseconds at every start)."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
