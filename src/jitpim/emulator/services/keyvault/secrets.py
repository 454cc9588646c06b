"""Operations on live secrets: set (a new version), get, update, list, list versions, and soft delete."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...core.http import json_response
from . import authz
from .bodies import read_changes, read_value
from .context import VaultCall, open_call
from .errors import deleted_but_recoverable, secret_disabled, secret_not_found
from .models import DeletedSecret, Secret, SecretVersion, new_version_id, unix
from .paging import page
from .shapes import deleted_bundle, secret_bundle, secret_item, version_item

__all__ = ["delete_secret", "get_secret", "list_secret_versions", "list_secrets", "set_secret", "update_secret"]


def _live(call: VaultCall, name: str) -> Secret:
    """The live secret `name`; a soft-deleted one is just as absent to these operations."""
    secret = call.vault.secret(name)
    if secret is None:
        raise secret_not_found(name)
    return secret


def _version(call: VaultCall, name: str, version_id: str) -> tuple[Secret, SecretVersion]:
    secret = _live(call, name)
    version = secret.version(version_id)
    if version is None:
        raise secret_not_found(f"{name}/{version_id}")
    return secret, version


async def set_secret(request: Request) -> Response:
    """PUT /secrets/{name}: a new version (the first one creates the secret). 409 while the name is soft-deleted."""
    name = request.path_params["name"]
    call = open_call(request, authz.SET_SECRET, secret=name)
    body = await call.body()
    value = read_value(body)
    changes = read_changes(body)
    with call.world.lock:
        vault = call.vault
        deleted = vault.deleted_secret(name)
        if deleted is not None:
            raise deleted_but_recoverable(deleted.secret.name)
        secret = vault.secret(name)
        if secret is None:
            secret = vault.secrets[name.lower()] = Secret(name)
        now = unix(call.world.clock.now())
        version = SecretVersion(
            version=new_version_id(),
            value=value,
            content_type=changes.content_type if changes.given("content_type") else None,
            enabled=changes.enabled if changes.given("enabled") else True,
            not_before=changes.not_before if changes.given("not_before") else None,
            expires=changes.expires if changes.given("expires") else None,
            tags=changes.tags if changes.given("tags") else None,
            created=now,
            updated=now,
        )
        secret.add(version)
        return json_response(secret_bundle(call.base_url, secret, version, call.recovery, with_value=True))


async def get_secret(request: Request) -> Response:
    """GET /secrets/{name}[/[{version}]]: the value; 403 `SecretDisabled` for a disabled version."""
    name = request.path_params["name"]
    call = open_call(request, authz.GET_SECRET, secret=name)
    with call.world.lock:
        secret, version = _version(call, name, request.path_params.get("version", ""))
        if not version.enabled:
            raise secret_disabled()
        return json_response(secret_bundle(call.base_url, secret, version, call.recovery, with_value=True))


async def update_secret(request: Request) -> Response:
    """PATCH /secrets/{name}/[{version}]: attributes, tags and content type of one version; no value returned."""
    name = request.path_params["name"]
    call = open_call(request, authz.UPDATE, secret=name)
    changes = read_changes(await call.body())
    with call.world.lock:
        secret, version = _version(call, name, request.path_params.get("version", ""))
        if changes.given("content_type"):
            version.content_type = changes.content_type
        if changes.given("enabled"):
            version.enabled = changes.enabled
        if changes.given("not_before"):
            version.not_before = changes.not_before
        if changes.given("expires"):
            version.expires = changes.expires
        if changes.given("tags"):
            version.tags = changes.tags
        version.updated = unix(call.world.clock.now())
        return json_response(secret_bundle(call.base_url, secret, version, call.recovery, with_value=False))


async def list_secrets(request: Request) -> Response:
    """GET /secrets: every live secret (its latest version's attributes, no values), by name."""
    call = open_call(request, authz.READ_METADATA)
    with call.world.lock:
        recovery = call.recovery
        items = sorted(
            ((key, secret_item(call.base_url, s, recovery)) for key, s in call.vault.secrets.items()),
            key=lambda item: item[0],
        )
    return json_response(page(request, items, base_url=call.base_url, api_version=call.api_version))


async def list_secret_versions(request: Request) -> Response:
    """GET /secrets/{name}/versions: every version (ordered by version id, as the service lists them)."""
    name = request.path_params["name"]
    call = open_call(request, authz.READ_METADATA, secret=name)
    with call.world.lock:
        recovery = call.recovery
        # Versions of a secret that does not exist (or is deleted) list as empty, not as an error.
        items: list[tuple[str, dict[str, Any]]] = []
        secret = call.vault.secret(name)
        if secret is not None:
            items = sorted(
                ((v.version, version_item(call.base_url, secret, v, recovery)) for v in secret.versions.values()),
                key=lambda item: item[0],
            )
    return json_response(page(request, items, base_url=call.base_url, api_version=call.api_version))


async def delete_secret(request: Request) -> Response:
    """DELETE /secrets/{name}: soft delete of every version; recoverable until the scheduled purge date."""
    name = request.path_params["name"]
    call = open_call(request, authz.DELETE, secret=name)
    with call.world.lock:
        secret = _live(call, name)
        recovery = call.recovery
        now = call.world.clock.now()
        deleted = DeletedSecret(
            secret=secret,
            deleted_date=unix(now),
            scheduled_purge_date=unix(now + timedelta(days=recovery.days)),
        )
        del call.vault.secrets[name.lower()]
        call.vault.deleted[name.lower()] = deleted
        return json_response(deleted_bundle(call.base_url, deleted, recovery))
