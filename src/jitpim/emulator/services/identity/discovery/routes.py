"""Routes of Entra ID discovery."""

from __future__ import annotations

from starlette.routing import Route

from .handlers import instance_discovery, jwks, openid_configuration

__all__ = ["ROUTES"]

ROUTES = [
    Route("/common/discovery/instance", instance_discovery, methods=["GET"]),
    Route("/{tenant}/v2.0/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
    Route("/{tenant}/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
    Route("/{tenant}/discovery/v2.0/keys", jwks, methods=["GET"]),
    Route("/{tenant}/discovery/keys", jwks, methods=["GET"]),
]
