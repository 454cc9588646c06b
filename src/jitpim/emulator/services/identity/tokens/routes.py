"""Routes of the Entra ID token endpoint."""

from __future__ import annotations

from starlette.routing import Route

from .handlers import token

__all__ = ["ROUTES"]

ROUTES = [
    Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
    Route("/{tenant}/oauth2/token", token, methods=["POST"]),
]
