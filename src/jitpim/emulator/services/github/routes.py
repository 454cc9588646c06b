"""GitHub Actions OIDC issuer, mounted under `/github`: the job's ID token endpoint, then discovery and JWKS."""

from __future__ import annotations

from starlette.routing import BaseRoute

from .discovery.routes import ROUTES as DISCOVERY
from .id_tokens.routes import ROUTES as ID_TOKENS

__all__ = ["PREFIX", "ROUTES"]

PREFIX = "/github"

ROUTES: list[BaseRoute] = [*ID_TOKENS, *DISCOVERY]
