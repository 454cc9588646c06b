"""Routes of the ID token endpoint."""

from __future__ import annotations

from starlette.routing import Route

from .handlers import id_token

__all__ = ["ROUTES"]

ROUTES = [Route("/idtoken", id_token, methods=["GET"])]
