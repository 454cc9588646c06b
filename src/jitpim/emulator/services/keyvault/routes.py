"""Routes of the emulated Key Vault secrets data plane, served at the root of each vault's own port.

Order matters where paths overlap: `/secrets/restore` before `/secrets/{name}`, and `/secrets/{name}/versions`
and `/secrets/{name}/backup` before `/secrets/{name}/{version}`. `/secrets/{name}/` (empty version) is the
latest version, which is how azure-keyvault-secrets asks for it.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from .backup import backup_secret, restore_secret
from .deleted import get_deleted_secret, list_deleted_secrets, purge_deleted_secret, recover_deleted_secret
from .secrets import delete_secret, get_secret, list_secret_versions, list_secrets, set_secret, update_secret

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
    Route("/deletedsecrets", list_deleted_secrets, methods=["GET"]),
    Route("/deletedsecrets/{name}", get_deleted_secret, methods=["GET"]),
    Route("/deletedsecrets/{name}", purge_deleted_secret, methods=["DELETE"]),
    Route("/deletedsecrets/{name}/recover", recover_deleted_secret, methods=["POST"]),
]
