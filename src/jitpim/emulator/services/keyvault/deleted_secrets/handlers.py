"""HTTP handlers of the soft-deleted secrets: list, get, purge (permanent) and recover.

azure-keyvault-secrets polls `GET /deletedsecrets/{name}` after a delete (404 = still deleting) and
`GET /secrets/{name}/` after a recover (404 = still recovering); here both transitions are immediate, which
those pollers accept on their first poll.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ....core.http import json_response, no_content
from ..common import authz
from ..common.context import open_call
from ..common.paging import page
from ..secrets.shapes import deleted_bundle, deleted_item, secret_bundle
from . import backend

__all__ = ["get_deleted_secret", "list_deleted_secrets", "purge_deleted_secret", "recover_deleted_secret"]


async def list_deleted_secrets(request: Request) -> Response:
    call = open_call(request, authz.READ_METADATA)
    with call.world.lock:
        recovery = call.recovery
        items = [(key, deleted_item(call.base_url, d, recovery)) for key, d in backend.deleted_by_name(call.vault)]
    return json_response(page(request, items, base_url=call.base_url, api_version=call.api_version))


async def get_deleted_secret(request: Request) -> Response:
    name = request.path_params["name"]
    call = open_call(request, authz.READ_METADATA, secret=name)
    with call.world.lock:
        return json_response(deleted_bundle(call.base_url, backend.deleted_secret(call.vault, name), call.recovery))


async def purge_deleted_secret(request: Request) -> Response:
    """DELETE /deletedsecrets/{name}: gone for good, 204. Refused while the vault has purge protection."""
    name = request.path_params["name"]
    call = open_call(request, authz.PURGE, secret=name)
    with call.world.lock:
        backend.purge(call.vault, name, call.recovery)
    return no_content()


async def recover_deleted_secret(request: Request) -> Response:
    """POST /deletedsecrets/{name}/recover: every version back, as they were; the latest version's bundle."""
    name = request.path_params["name"]
    call = open_call(request, authz.RECOVER, secret=name)
    with call.world.lock:
        secret = backend.recover(call.vault, name)
        return json_response(secret_bundle(call.base_url, secret, secret.latest, call.recovery, with_value=False))
