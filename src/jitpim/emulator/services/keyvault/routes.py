"""Routes of the emulated Key Vault secrets data plane, served at the root of each vault's own port."""

from __future__ import annotations

from starlette.routing import BaseRoute

from .deleted_secrets.routes import ROUTES as DELETED_SECRETS
from .secrets.routes import ROUTES as SECRETS

__all__ = ["ROUTES"]

ROUTES: list[BaseRoute] = [*SECRETS, *DELETED_SECRETS]
