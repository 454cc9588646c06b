"""The Key Vault secrets data plane, as much as rotation needs: read the current version, write a new one,
list versions, disable one.

It goes through jitpim's `ApiClient` (the session's `ctx.keyvault(url)`), not azure-keyvault-secrets'
`SecretClient`, for four reasons: it shares the token cache and the retry policy with the rbac provider's
data-plane probe (one credential, one pipeline); Key Vault errors arrive as `ProviderApiError` with the
`innererror` code (`ForbiddenByRbac`, `SecretDisabled`) the rotation decides on; a PUT is never re-sent
blindly (a lost response is resolved by looking for the rotation's tag on the current version, so a retry
cannot create a second version); and it needs no challenge round trip, hence no `verify_challenge_resource`
exception for the emulator. Response bodies, which hold values, are kept out of reprs (`ApiResponse`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote, urlsplit

from ..errors import ProviderApiError, RotationError, UsageError
from ..http import ApiClient
from .values import SecretValue

__all__ = ["KEYVAULT_API_VERSION", "SecretVersion", "VaultSecrets", "check_secret_name", "parse_secret_id"]

KEYVAULT_API_VERSION: Final = "7.5"
_MAX_TAGS: Final = 15  # Key Vault's limit per secret version
# Key Vault's rule for object names: 1-127 letters, digits and dashes.
_SECRET_NAME: Final = re.compile(r"[0-9A-Za-z-]{1,127}", re.ASCII)


def check_secret_name(name: str) -> str:
    """`name` when Key Vault accepts it as a secret name, else `UsageError`: checked before anything is
    granted, not discovered as the vault's 400 after the elevation."""
    if not isinstance(name, str) or not _SECRET_NAME.fullmatch(name):
        shown = repr(name) if len(str(name)) <= 80 else repr(str(name)[:80]) + "..."
        raise UsageError(
            f"{shown} is not a Key Vault secret name",
            hint="A secret name is 1-127 letters, digits and dashes (no spaces, dots or underscores).",
        )
    return name


def parse_secret_id(secret_id: str) -> tuple[str, str, str | None]:
    """(vault URL, name, version or None) from `https://{vault}/secrets/{name}[/{version}]`."""
    parts = urlsplit(secret_id)
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2 or segments[0] != "secrets":
        raise RotationError(f"not a Key Vault secret id: {secret_id!r}")
    return f"{parts.scheme}://{parts.netloc}", segments[1], segments[2] if len(segments) > 2 else None


def _from_unix(value: object) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class SecretVersion:
    """One version of a secret. `value` is set only when the API returned it (get and set)."""

    name: str
    version_id: str
    enabled: bool
    content_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    expires: datetime | None = None
    not_before: datetime | None = None
    created: datetime | None = None
    value: SecretValue | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_bundle(cls, body: Any) -> SecretVersion:
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise RotationError("Key Vault answered without a secret id")
        _, name, version = parse_secret_id(body["id"])
        if version is None:
            raise RotationError("Key Vault answered with a versionless secret id")
        attributes = body.get("attributes") or {}
        value = body.get("value")
        return cls(
            name=name,
            version_id=version,
            enabled=bool(attributes.get("enabled", True)),
            content_type=body.get("contentType"),
            tags={str(k): str(v) for k, v in (body.get("tags") or {}).items()},
            expires=_from_unix(attributes.get("exp")),
            not_before=_from_unix(attributes.get("nbf")),
            created=_from_unix(attributes.get("created")),
            value=SecretValue(value) if isinstance(value, str) else None,
        )

    def describe(self) -> str:
        return f"{self.name}/{self.version_id}"


class VaultSecrets:
    """One vault's secrets through an `ApiClient` whose base URL is the vault (see the module docstring)."""

    def __init__(self, client: ApiClient, *, api_version: str = KEYVAULT_API_VERSION) -> None:
        self.client = client
        self.api_version = api_version

    @property
    def vault_url(self) -> str:
        return self.client.base_url

    def _params(self, **extra: object) -> dict[str, object]:
        return {"api-version": self.api_version, **extra}

    @staticmethod
    def _path(name: str, version: str | None = None) -> str:
        path = f"/secrets/{quote(name, safe='')}"
        return f"{path}/{quote(version, safe='')}" if version is not None else f"{path}/"

    def current(self, name: str) -> SecretVersion | None:
        """The current (latest) version with its value; None when the secret does not exist."""
        try:
            response = self.client.get(self._path(name), params=self._params(), expected=(200,))
        except ProviderApiError as exc:
            if exc.status == 404:
                return None
            raise
        return SecretVersion.from_bundle(response.json)

    def get(self, name: str, version: str) -> SecretVersion:
        response = self.client.get(self._path(name, version), params=self._params(), expected=(200,))
        return SecretVersion.from_bundle(response.json)

    def set(
        self,
        name: str,
        value: SecretValue,
        *,
        content_type: str | None = None,
        tags: dict[str, str] | None = None,
        expires: datetime | None = None,
        not_before: datetime | None = None,
    ) -> SecretVersion:
        """PUT a new version. Never re-sent on a lost response (the caller looks it up by its tags)."""
        if tags is not None and len(tags) > _MAX_TAGS:
            raise RotationError(f"{len(tags)} tags on one secret version; Key Vault allows {_MAX_TAGS}")
        body: dict[str, Any] = {"value": value.reveal()}
        if content_type is not None:
            body["contentType"] = content_type
        attributes: dict[str, Any] = {"enabled": True}
        if expires is not None:
            attributes["exp"] = int(expires.timestamp())
        if not_before is not None:
            attributes["nbf"] = int(not_before.timestamp())
        body["attributes"] = attributes
        if tags is not None:
            body["tags"] = tags
        response = self.client.put(f"/secrets/{quote(name, safe='')}", body, params=self._params(), expected=(200,))
        return SecretVersion.from_bundle(response.json)

    def versions(self, name: str) -> list[SecretVersion]:
        """Every version's properties (no values), oldest first."""
        items = [
            SecretVersion.from_bundle(item)
            for item in self.client.paged(f"/secrets/{quote(name, safe='')}/versions", self._params(maxresults=25))
        ]
        epoch = datetime.fromtimestamp(0, UTC)
        return sorted(items, key=lambda v: (v.created or epoch, v.version_id))

    def disable(self, name: str, version: str) -> SecretVersion:
        """PATCH the version's `enabled` attribute to false (its value can no longer be read)."""
        response = self.client.patch(
            self._path(name, version), {"attributes": {"enabled": False}}, params=self._params(), expected=(200,)
        )
        return SecretVersion.from_bundle(response.json)
