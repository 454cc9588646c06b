"""jitpim's version, as a literal, so that `jitpim.__version__` needs no `importlib.metadata` (tens of
milliseconds at every start). It equals pyproject.toml's `version` (which the action reads); a test keeps
them equal."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
