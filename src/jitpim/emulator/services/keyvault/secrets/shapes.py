"""Wire shapes of the secrets data plane (SecretBundle, SecretItem, DeletedSecretBundle, DeletedSecretItem).

Identifiers are absolute URLs on the vault's own base URL: `{vault}/secrets/{name}/{version}` for a bundle and a
version item, `{vault}/secrets/{name}` for a list item, `{vault}/deletedsecrets/{name}` for a recovery id. Optional
members (`contentType`, `tags`, `nbf`, `exp`) are left out when unset, as the service does.
"""

from __future__ import annotations

from typing import Any

from ..common.models import DeletedSecret, Recovery, Secret, SecretVersion

__all__ = ["deleted_bundle", "deleted_item", "secret_bundle", "secret_item", "version_item"]


def _attributes(version: SecretVersion, recovery: Recovery) -> dict[str, Any]:
    attributes: dict[str, Any] = {"enabled": version.enabled}
    if version.not_before is not None:
        attributes["nbf"] = version.not_before
    if version.expires is not None:
        attributes["exp"] = version.expires
    attributes.update(
        created=version.created,
        updated=version.updated,
        recoverableDays=recovery.days,
        recoveryLevel=recovery.level,
    )
    return attributes


def _common(item_id: str, version: SecretVersion, recovery: Recovery) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if version.content_type is not None:
        body["contentType"] = version.content_type
    body["id"] = item_id
    body["attributes"] = _attributes(version, recovery)
    if version.tags is not None:
        body["tags"] = dict(version.tags)
    return body


def secret_bundle(
    base_url: str, secret: Secret, version: SecretVersion, recovery: Recovery, *, with_value: bool
) -> dict[str, Any]:
    """A SecretBundle; the value only where the operation returns it (set and get, never update or recover)."""
    body = _common(f"{base_url}/secrets/{secret.name}/{version.version}", version, recovery)
    return {"value": version.value, **body} if with_value else body


def secret_item(base_url: str, secret: Secret, recovery: Recovery) -> dict[str, Any]:
    """A `/secrets` list entry: versionless id, the latest version's attributes, no value."""
    return _common(f"{base_url}/secrets/{secret.name}", secret.latest, recovery)


def version_item(base_url: str, secret: Secret, version: SecretVersion, recovery: Recovery) -> dict[str, Any]:
    """A `/secrets/{name}/versions` list entry: versioned id, no value."""
    return _common(f"{base_url}/secrets/{secret.name}/{version.version}", version, recovery)


def _deletion(base_url: str, deleted: DeletedSecret) -> dict[str, Any]:
    return {
        "recoveryId": f"{base_url}/deletedsecrets/{deleted.secret.name}",
        "deletedDate": deleted.deleted_date,
        "scheduledPurgeDate": deleted.scheduled_purge_date,
    }


def deleted_bundle(base_url: str, deleted: DeletedSecret, recovery: Recovery) -> dict[str, Any]:
    secret = deleted.secret
    return {
        **_deletion(base_url, deleted),
        **secret_bundle(base_url, secret, secret.latest, recovery, with_value=False),
    }


def deleted_item(base_url: str, deleted: DeletedSecret, recovery: Recovery) -> dict[str, Any]:
    return {**_deletion(base_url, deleted), **secret_item(base_url, deleted.secret, recovery)}
