"""Routes of the issuer's discovery documents."""

from __future__ import annotations

from starlette.routing import Route

from .handlers import discovery, jwks

__all__ = ["ROUTES"]

ROUTES = [
    Route("/.well-known/openid-configuration", discovery, methods=["GET"]),
    Route("/.well-known/jwks", jwks, methods=["GET"]),
]
