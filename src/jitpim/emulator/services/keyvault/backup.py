"""Backup and restore of a whole secret (every version, with its attributes and tags).

The blob is opaque to clients, as the real one is: sealed with this emulator's own key (the service seals its blobs
so they restore only within the same subscription and geography). It travels base64url-encoded in `value`.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.fernet import InvalidToken
from starlette.requests import Request
from starlette.responses import Response

from ...core.http import json_response
from . import authz
from .context import open_call
from .errors import bad_parameter, deleted_but_recoverable, secret_exists, secret_not_found
from .models import Secret, SecretVersion, valid_name
from .shapes import secret_bundle

__all__ = ["backup_secret", "restore_secret"]

_MAGIC = b"AzureKeyVaultSecretBackupV1.microsoft.com"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _pack(secret: Secret) -> dict[str, Any]:
    return {
        "name": secret.name,
        "versions": [
            {
                "version": v.version,
                "value": v.value,
                "contentType": v.content_type,
                "enabled": v.enabled,
                "nbf": v.not_before,
                "exp": v.expires,
                "tags": v.tags,
                "created": v.created,
                "updated": v.updated,
            }
            for v in secret.versions.values()
        ],
    }


def _unpack(data: dict[str, Any]) -> Secret:
    secret = Secret(str(data["name"]))
    for v in data["versions"]:
        secret.add(
            SecretVersion(
                version=v["version"],
                value=v["value"],
                content_type=v["contentType"],
                enabled=v["enabled"],
                not_before=v["nbf"],
                expires=v["exp"],
                tags=v["tags"],
                created=v["created"],
                updated=v["updated"],
            )
        )
    return secret


async def backup_secret(request: Request) -> Response:
    """POST /secrets/{name}/backup: `{"value": <base64url blob>}`."""
    name = request.path_params["name"]
    call = open_call(request, authz.BACKUP, secret=name)
    with call.world.lock:
        secret = call.vault.secret(name)
        if secret is None:
            raise secret_not_found(name)
        sealed = call.state.backup_cipher.encrypt(json.dumps(_pack(secret)).encode())
    return json_response({"value": _b64url(_MAGIC + sealed)})


async def restore_secret(request: Request) -> Response:
    """POST /secrets/restore: recreates the secret with all its versions; 409 when the name is taken or deleted."""
    call = open_call(request, authz.RESTORE)
    body = await call.body()
    blob = body.get("value")
    if not isinstance(blob, str) or not blob:
        raise bad_parameter("The parameter value is not specified.")
    try:
        raw = _unb64url(blob)
        if not raw.startswith(_MAGIC):
            raise InvalidToken
        secret = _unpack(json.loads(call.state.backup_cipher.decrypt(raw[len(_MAGIC) :])))
    except (binascii.Error, ValueError, InvalidToken, KeyError, TypeError):
        raise bad_parameter("Cannot decrypt backup blob.") from None
    if not valid_name(secret.name) or not secret.versions:
        raise bad_parameter("Cannot decrypt backup blob.")
    with call.world.lock:
        key = secret.name.lower()
        if key in call.vault.deleted:
            raise deleted_but_recoverable(call.vault.deleted[key].secret.name)
        if key in call.vault.secrets:
            raise secret_exists(call.vault.secrets[key].name)
        call.vault.secrets[key] = secret
        return json_response(secret_bundle(call.base_url, secret, secret.latest, call.recovery, with_value=False))
