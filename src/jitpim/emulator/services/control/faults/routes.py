"""Routes of the fault rules."""

from __future__ import annotations

from starlette.routing import Route

from .handlers import faults

__all__ = ["ROUTES"]

ROUTES = [Route("/faults", faults, methods=["GET", "POST", "DELETE"])]
