"""Operations on soft-deleted secrets: list, get, purge (permanent) and recover.

azure-keyvault-secrets polls `GET /deletedsecrets/{name}` after a delete (404 = still deleting) and
`GET /secrets/{name}/` after a recover (404 = still recovering); here both transitions are immediate, which
those pollers accept on their first poll.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...core.http import json_response, no_content
from . import authz
from .context import VaultCall, open_call
from .errors import deleted_secret_not_found, purge_protected
from .models import DeletedSecret
from .paging import page
from .shapes import deleted_bundle, deleted_item, secret_bundle

__all__ = ["get_deleted_secret", "list_deleted_secrets", "purge_deleted_secret", "recover_deleted_secret"]


def _deleted(call: VaultCall, name: str) -> DeletedSecret:
    deleted = call.vault.deleted_secret(name)
    if deleted is None:
        raise deleted_secret_not_found(name)
    return deleted


async def list_deleted_secrets(request: Request) -> Response:
    call = open_call(request, authz.READ_METADATA)
    with call.world.lock:
        recovery = call.recovery
        items: list[tuple[str, dict[str, Any]]] = sorted(
            ((key, deleted_item(call.base_url, d, recovery)) for key, d in call.vault.deleted.items()),
            key=lambda item: item[0],
        )
    return json_response(page(request, items, base_url=call.base_url, api_version=call.api_version))


async def get_deleted_secret(request: Request) -> Response:
    name = request.path_params["name"]
    call = open_call(request, authz.READ_METADATA, secret=name)
    with call.world.lock:
        return json_response(deleted_bundle(call.base_url, _deleted(call, name), call.recovery))


async def purge_deleted_secret(request: Request) -> Response:
    """DELETE /deletedsecrets/{name}: gone for good, 204. Refused while the vault has purge protection."""
    name = request.path_params["name"]
    call = open_call(request, authz.PURGE, secret=name)
    with call.world.lock:
        deleted = _deleted(call, name)
        if not call.recovery.purgeable:
            raise purge_protected(deleted.secret.name)
        del call.vault.deleted[name.lower()]
    return no_content()


async def recover_deleted_secret(request: Request) -> Response:
    """POST /deletedsecrets/{name}/recover: every version back, as they were; the latest version's bundle."""
    name = request.path_params["name"]
    call = open_call(request, authz.RECOVER, secret=name)
    with call.world.lock:
        deleted = _deleted(call, name)
        del call.vault.deleted[name.lower()]
        secret = deleted.secret
        call.vault.secrets[name.lower()] = secret
        return json_response(secret_bundle(call.base_url, secret, secret.latest, call.recovery, with_value=False))
