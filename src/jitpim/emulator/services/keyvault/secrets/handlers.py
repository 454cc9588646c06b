"""HTTP handlers of the live secrets: each authenticates and authorizes (`open_call`), reads the request, runs the
backend under the world's lock, and answers the wire shape."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ....core.http import json_response
from ..common import authz
from ..common.context import open_call
from ..common.paging import page
from . import backend
from .parse import read_changes, read_value
from .shapes import deleted_bundle, secret_bundle, secret_item, version_item

__all__ = [
    "backup_secret",
    "delete_secret",
    "get_secret",
    "list_secret_versions",
    "list_secrets",
    "restore_secret",
    "set_secret",
    "update_secret",
]


async def set_secret(request: Request) -> Response:
    """PUT /secrets/{name}: a new version (the first one creates the secret). 409 while the name is soft-deleted."""
    name = request.path_params["name"]
    call = open_call(request, authz.SET_SECRET, secret=name)
    body = await call.body()
    value = read_value(body)
    changes = read_changes(body)
    with call.world.lock:
        secret = backend.set_secret(call.vault, name, value, changes, call.world.clock.now())
        return json_response(secret_bundle(call.base_url, secret, secret.latest, call.recovery, with_value=True))


async def get_secret(request: Request) -> Response:
    """GET /secrets/{name}[/[{version}]]: the value; 403 `SecretDisabled` for a disabled version."""
    name = request.path_params["name"]
    call = open_call(request, authz.GET_SECRET, secret=name)
    with call.world.lock:
        secret, version = backend.readable_version(call.vault, name, request.path_params.get("version", ""))
        return json_response(secret_bundle(call.base_url, secret, version, call.recovery, with_value=True))


async def update_secret(request: Request) -> Response:
    """PATCH /secrets/{name}/[{version}]: attributes, tags and content type of one version; no value returned."""
    name = request.path_params["name"]
    call = open_call(request, authz.UPDATE, secret=name)
    changes = read_changes(await call.body())
    with call.world.lock:
        secret, version = backend.update_secret(
            call.vault, name, request.path_params.get("version", ""), changes, call.world.clock.now()
        )
        return json_response(secret_bundle(call.base_url, secret, version, call.recovery, with_value=False))


async def list_secrets(request: Request) -> Response:
    """GET /secrets: every live secret (its latest version's attributes, no values), by name."""
    call = open_call(request, authz.READ_METADATA)
    with call.world.lock:
        recovery = call.recovery
        items = [(key, secret_item(call.base_url, s, recovery)) for key, s in backend.secrets_by_name(call.vault)]
    return json_response(page(request, items, base_url=call.base_url, api_version=call.api_version))


async def list_secret_versions(request: Request) -> Response:
    """GET /secrets/{name}/versions: every version (ordered by version id, as the service lists them)."""
    name = request.path_params["name"]
    call = open_call(request, authz.READ_METADATA, secret=name)
    with call.world.lock:
        recovery = call.recovery
        secret, versions = backend.secret_versions(call.vault, name)
        items = (
            [] if secret is None else [(v.version, version_item(call.base_url, secret, v, recovery)) for v in versions]
        )
    return json_response(page(request, items, base_url=call.base_url, api_version=call.api_version))


async def delete_secret(request: Request) -> Response:
    """DELETE /secrets/{name}: soft delete of every version; recoverable until the scheduled purge date."""
    name = request.path_params["name"]
    call = open_call(request, authz.DELETE, secret=name)
    with call.world.lock:
        recovery = call.recovery
        deleted = backend.delete_secret(call.vault, name, recovery, call.world.clock.now())
        return json_response(deleted_bundle(call.base_url, deleted, recovery))


async def backup_secret(request: Request) -> Response:
    """POST /secrets/{name}/backup: `{"value": <base64url blob>}`."""
    name = request.path_params["name"]
    call = open_call(request, authz.BACKUP, secret=name)
    with call.world.lock:
        blob = backend.backup_secret(call.vault, name, call.state.backup_cipher)
    return json_response({"value": blob})


async def restore_secret(request: Request) -> Response:
    """POST /secrets/restore: recreates the secret with all its versions; 409 when the name is taken or deleted."""
    call = open_call(request, authz.RESTORE)
    body = await call.body()
    secret = backend.unseal_backup(body.get("value"), call.state.backup_cipher)
    with call.world.lock:
        backend.restore_secret(call.vault, secret)
        return json_response(secret_bundle(call.base_url, secret, secret.latest, call.recovery, with_value=False))
