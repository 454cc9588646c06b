"""Routes of the live secrets.

Order matters where paths overlap: `/secrets/restore` before `/secrets/{name}`, and `/secrets/{name}/versions`
and `/secrets/{name}/backup` before `/secrets/{name}/{version}`. `/secrets/{name}/` (empty version) is the
latest version, which is how azure-keyvault-secrets asks for it.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from .handlers import (
    backup_secret,
    delete_secret,
    get_secret,
    list_secret_versions,
    list_secrets,
    restore_secret,
    set_secret,
    update_secret,
)

__all__ = ["ROUTES"]

ROUTES: list[BaseRoute] = [
    Route("/secrets", list_secrets, methods=["GET"]),
    Route("/secrets/restore", restore_secret, methods=["POST"]),
    Route("/secrets/{name}", get_secret, methods=["GET"]),
    Route("/secrets/{name}", set_secret, methods=["PUT"]),
    Route("/secrets/{name}", update_secret, methods=["PATCH"]),
    Route("/secrets/{name}", delete_secret, methods=["DELETE"]),
    Route("/secrets/{name}/", get_secret, methods=["GET"]),
    Route("/secrets/{name}/", update_secret, methods=["PATCH"]),
    Route("/secrets/{name}/versions", list_secret_versions, methods=["GET"]),
    Route("/secrets/{name}/backup", backup_secret, methods=["POST"]),
    Route("/secrets/{name}/{version}", get_secret, methods=["GET"]),
    Route("/secrets/{name}/{version}", update_secret, methods=["PATCH"]),
]
