"""Routes of the emulated graph service (being built)."""

from __future__ import annotations

from starlette.routing import BaseRoute

ROUTES: list[BaseRoute] = []
PREFIX = "/graph"
