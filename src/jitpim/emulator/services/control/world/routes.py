"""Routes of the world: info, reset, scenario, state, audit."""

from __future__ import annotations

from starlette.routing import Route

from .handlers import audit, info, reset, scenario, state

__all__ = ["ROUTES"]

ROUTES = [
    Route("/info", info, methods=["GET"]),
    Route("/reset", reset, methods=["POST"]),
    Route("/scenario", scenario, methods=["POST"]),
    Route("/state", state, methods=["GET"]),
    Route("/audit", audit, methods=["GET"]),
]
