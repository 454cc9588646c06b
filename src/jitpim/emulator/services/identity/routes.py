"""Entra ID token issuer, at the root of the emulator's base URL (the authority): discovery, then the token
endpoint."""

from __future__ import annotations

from starlette.routing import BaseRoute

from .discovery.routes import ROUTES as DISCOVERY
from .tokens.routes import ROUTES as TOKENS

__all__ = ["ROUTES"]

ROUTES: list[BaseRoute] = [*DISCOVERY, *TOKENS]
