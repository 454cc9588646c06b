"""Microsoft Graph, mounted under `/graph` (so `{graph}/v1.0/...` and `{graph}/beta/...`)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from .directory_routes import ROUTES as DIRECTORY_ROUTES
from .pim_routes import ROUTES as PIM_ROUTES

__all__ = ["PREFIX", "ROUTES"]

PREFIX = "/graph"
ROUTES: list[BaseRoute] = [*PIM_ROUTES, *DIRECTORY_ROUTES]
