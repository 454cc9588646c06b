"""Routes of the emulated clock."""

from __future__ import annotations

from starlette.routing import Route

from .handlers import advance, clock

__all__ = ["ROUTES"]

ROUTES = [
    Route("/clock", clock, methods=["GET"]),
    Route("/clock/advance", advance, methods=["POST"]),
]
