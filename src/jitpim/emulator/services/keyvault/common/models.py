"""What a vault holds: secrets, their versions, and soft-deleted secrets awaiting purge or recovery.

Key Vault treats object names case-insensitively (`Test2` collides with a deleted `test2`), so every table is keyed
by the lower-cased name while the object keeps the spelling it was created with. Times are Unix seconds, the unit
the data plane speaks.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "MAX_VALUE_LENGTH",
    "DeletedSecret",
    "Recovery",
    "Secret",
    "SecretVersion",
    "Vault",
    "new_version_id",
    "unix",
    "valid_name",
]

# Object names: 1-127 characters of 0-9, a-z, A-Z and '-' (the spec's pattern plus the documented length).
_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
# The service refuses larger values ("Secret is beyond the maximum permitted length of 25600 characters.").
MAX_VALUE_LENGTH = 25600


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name))


def new_version_id() -> str:
    """A version identifier as the service mints them: 32 lower-case hex digits."""
    return uuid.uuid4().hex


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


@dataclass(frozen=True)
class Recovery:
    """The vault's soft-delete settings as they surface in every secret's attributes."""

    days: int = 90
    purgeable: bool = True

    @property
    def level(self) -> str:
        # 90 days is the standard retention; a shorter one is "Customized". Purge protection drops "+Purgeable".
        base = "Recoverable" if self.days >= 90 else "CustomizedRecoverable"
        return f"{base}+Purgeable" if self.purgeable else base

    @classmethod
    def from_vault_properties(cls, properties: dict[str, Any]) -> Recovery:
        days = int(properties.get("softDeleteRetentionInDays") or 90)
        return cls(days=days, purgeable=not bool(properties.get("enablePurgeProtection")))


@dataclass
class SecretVersion:
    version: str
    value: str = field(repr=False)
    content_type: str | None
    enabled: bool
    not_before: int | None
    expires: int | None
    tags: dict[str, str] | None
    created: int
    updated: int


@dataclass
class Secret:
    name: str
    # Insertion order is creation order, so the last entry is the current ("latest") version.
    versions: dict[str, SecretVersion] = field(default_factory=dict)

    @property
    def latest(self) -> SecretVersion:
        return next(reversed(self.versions.values()))

    def add(self, version: SecretVersion) -> None:
        self.versions[version.version] = version

    def version(self, version_id: str) -> SecretVersion | None:
        """The named version, or the latest when `version_id` is empty (what `/secrets/{name}/` asks for)."""
        if not version_id:
            return self.latest
        return self.versions.get(version_id.lower())


@dataclass
class DeletedSecret:
    secret: Secret
    deleted_date: int
    scheduled_purge_date: int


@dataclass
class Vault:
    name: str
    resource_id: str
    location: str
    secrets: dict[str, Secret] = field(default_factory=dict)  # by lower-cased name
    deleted: dict[str, DeletedSecret] = field(default_factory=dict)  # by lower-cased name

    def secret(self, name: str) -> Secret | None:
        return self.secrets.get(name.lower())

    def deleted_secret(self, name: str) -> DeletedSecret | None:
        return self.deleted.get(name.lower())
