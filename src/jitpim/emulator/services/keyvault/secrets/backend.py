"""What the secrets operations do to a vault: set (a new version), read, update, list, soft delete, back up and
restore. Callers hold the world's lock; nothing here knows about HTTP."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from ..common.errors import bad_parameter, deleted_but_recoverable, secret_disabled, secret_exists, secret_not_found
from ..common.models import DeletedSecret, Recovery, Secret, SecretVersion, Vault, new_version_id, unix, valid_name
from .parse import SecretChanges

__all__ = [
    "backup_secret",
    "delete_secret",
    "live_secret",
    "readable_version",
    "restore_secret",
    "secret_versions",
    "secrets_by_name",
    "set_secret",
    "unseal_backup",
    "update_secret",
]

_MAGIC = b"AzureKeyVaultSecretBackupV1.microsoft.com"


def live_secret(vault: Vault, name: str) -> Secret:
    """The live secret `name`; a soft-deleted one is just as absent to these operations."""
    secret = vault.secret(name)
    if secret is None:
        raise secret_not_found(name)
    return secret


def _version(vault: Vault, name: str, version_id: str) -> tuple[Secret, SecretVersion]:
    secret = live_secret(vault, name)
    version = secret.version(version_id)
    if version is None:
        raise secret_not_found(f"{name}/{version_id}")
    return secret, version


def set_secret(vault: Vault, name: str, value: str, changes: SecretChanges, now: datetime) -> Secret:
    """A new version of `name` (the first one creates the secret); 409 while the name is soft-deleted."""
    deleted = vault.deleted_secret(name)
    if deleted is not None:
        raise deleted_but_recoverable(deleted.secret.name)
    secret = vault.secret(name)
    if secret is None:
        secret = vault.secrets[name.lower()] = Secret(name)
    moment = unix(now)
    secret.add(
        SecretVersion(
            version=new_version_id(),
            value=value,
            content_type=changes.content_type if changes.given("content_type") else None,
            enabled=changes.enabled if changes.given("enabled") else True,
            not_before=changes.not_before if changes.given("not_before") else None,
            expires=changes.expires if changes.given("expires") else None,
            tags=changes.tags if changes.given("tags") else None,
            created=moment,
            updated=moment,
        )
    )
    return secret


def readable_version(vault: Vault, name: str, version_id: str) -> tuple[Secret, SecretVersion]:
    """The version whose value a get returns (the latest for an empty id); 403 `SecretDisabled` when disabled."""
    secret, version = _version(vault, name, version_id)
    if not version.enabled:
        raise secret_disabled()
    return secret, version


def update_secret(
    vault: Vault, name: str, version_id: str, changes: SecretChanges, now: datetime
) -> tuple[Secret, SecretVersion]:
    """Attributes, tags and content type of one version; only what `changes` names."""
    secret, version = _version(vault, name, version_id)
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
    version.updated = unix(now)
    return secret, version


def secrets_by_name(vault: Vault) -> list[tuple[str, Secret]]:
    """Every live secret with its sort key (the lower-cased name), in order."""
    return sorted(vault.secrets.items(), key=lambda item: item[0])


def secret_versions(vault: Vault, name: str) -> tuple[Secret | None, list[SecretVersion]]:
    """The versions of `name`, ordered by version id; a missing (or deleted) secret has none, not an error."""
    secret = vault.secret(name)
    if secret is None:
        return None, []
    return secret, sorted(secret.versions.values(), key=lambda v: v.version)


def delete_secret(vault: Vault, name: str, recovery: Recovery, now: datetime) -> DeletedSecret:
    """Soft delete of every version; recoverable until the scheduled purge date."""
    secret = live_secret(vault, name)
    deleted = DeletedSecret(
        secret=secret,
        deleted_date=unix(now),
        scheduled_purge_date=unix(now + timedelta(days=recovery.days)),
    )
    del vault.secrets[name.lower()]
    vault.deleted[name.lower()] = deleted
    return deleted


# backup and restore ------------------------------------------------------------------------------------------
# The blob is opaque to clients, as the real one is: sealed with this emulator's own key (the service seals its
# blobs so they restore only within the same subscription and geography), base64url-encoded.


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


def backup_secret(vault: Vault, name: str, cipher: Fernet) -> str:
    """The sealed, base64url-encoded blob of every version of `name`."""
    secret = live_secret(vault, name)
    return _b64url(_MAGIC + cipher.encrypt(json.dumps(_pack(secret)).encode()))


def unseal_backup(blob: Any, cipher: Fernet) -> Secret:
    """The secret a backup blob holds; 400 `BadParameter` for anything this emulator did not seal."""
    if not isinstance(blob, str) or not blob:
        raise bad_parameter("The parameter value is not specified.")
    try:
        raw = _unb64url(blob)
        if not raw.startswith(_MAGIC):
            raise InvalidToken
        secret = _unpack(json.loads(cipher.decrypt(raw[len(_MAGIC) :])))
    except (binascii.Error, ValueError, InvalidToken, KeyError, TypeError):
        raise bad_parameter("Cannot decrypt backup blob.") from None
    if not valid_name(secret.name) or not secret.versions:
        raise bad_parameter("Cannot decrypt backup blob.")
    return secret


def restore_secret(vault: Vault, secret: Secret) -> Secret:
    """Recreate `secret` with all its versions; 409 when the name is taken or soft-deleted."""
    key = secret.name.lower()
    if key in vault.deleted:
        raise deleted_but_recoverable(vault.deleted[key].secret.name)
    if key in vault.secrets:
        raise secret_exists(vault.secrets[key].name)
    vault.secrets[key] = secret
    return secret
