"""Routes of the soft-deleted secrets."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from .handlers import get_deleted_secret, list_deleted_secrets, purge_deleted_secret, recover_deleted_secret

__all__ = ["ROUTES"]

ROUTES: list[BaseRoute] = [
    Route("/deletedsecrets", list_deleted_secrets, methods=["GET"]),
    Route("/deletedsecrets/{name}", get_deleted_secret, methods=["GET"]),
    Route("/deletedsecrets/{name}", purge_deleted_secret, methods=["DELETE"]),
    Route("/deletedsecrets/{name}/recover", recover_deleted_secret, methods=["POST"]),
]
