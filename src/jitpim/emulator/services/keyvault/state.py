"""State of the emulated Key Vault data plane: one `Vault` per scenario vault, seeded with its secrets.

Values live in memory only and never leave through `dump` (the control plane's state view), which shows names,
version ids, enabled flags and dates. Soft-deleted secrets are purged automatically once their scheduled purge
date passes on the emulated clock, as the service does at the end of the retention period.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cryptography.fernet import Fernet

from ...core.clock import parse_time
from ...core.scenario import ScenarioError
from ...core.world import World
from .common.models import MAX_VALUE_LENGTH, Recovery, Secret, SecretVersion, Vault, new_version_id, unix, valid_name

__all__ = ["KeyVaultState", "attach"]


class KeyVaultState:
    def __init__(self, world: World) -> None:
        self._world = world
        self.vaults: dict[str, Vault] = {}
        # Backups are sealed with a key only this emulator instance knows, so a blob is as opaque as the real one
        # and cannot be restored into another world (the service restores only within the same geography).
        self.backup_cipher = Fernet(Fernet.generate_key())

    def vault(self, name: str) -> Vault | None:
        return self.vaults.get(name)

    def recovery(self, vault: Vault) -> Recovery:
        """Soft-delete settings read from the vault's ARM resource, so a change through ARM shows up here."""
        resource = self._world.resource(vault.resource_id)
        return Recovery.from_vault_properties(resource.properties if resource else {})

    # expiry --------------------------------------------------------------------------------------------------
    def purge_expired(self, now: datetime) -> None:
        moment = unix(now)
        for vault in self.vaults.values():
            for key in [k for k, d in vault.deleted.items() if d.scheduled_purge_date <= moment]:
                del vault.deleted[key]

    # control plane -------------------------------------------------------------------------------------------
    def dump(self, now: datetime) -> dict[str, Any]:
        vaults: dict[str, Any] = {}
        for vault in self.vaults.values():
            vaults[vault.name] = {
                "resource_id": vault.resource_id,
                "secrets": {s.name: _versions(s) for s in vault.secrets.values()},
                "deleted": {
                    d.secret.name: {
                        "deleted_date": d.deleted_date,
                        "scheduled_purge_date": d.scheduled_purge_date,
                        **_versions(d.secret),
                    }
                    for d in vault.deleted.values()
                },
            }
        return {"vaults": vaults}


def _versions(secret: Secret) -> dict[str, Any]:
    return {
        "latest": secret.latest.version,
        "versions": [
            {"version": v.version, "enabled": v.enabled, "created": v.created, "updated": v.updated}
            for v in secret.versions.values()
        ],
    }


def _unix_seconds(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ScenarioError(f"scenario: {where} must be a date-time or Unix seconds, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, datetime):  # YAML reads unquoted timestamps as datetimes
        return unix(value if value.tzinfo else value.replace(tzinfo=UTC))
    try:
        return unix(parse_time(str(value)))
    except ValueError:
        raise ScenarioError(f"scenario: {where} must be an ISO-8601 date-time or Unix seconds, not {value!r}") from None


def _seed_secret(entry: Any, vault: str, now: int) -> Secret:
    if not isinstance(entry, dict) or "name" not in entry or "value" not in entry:
        raise ScenarioError(f"scenario: each secret of vault {vault} needs 'name' and 'value'")
    name = str(entry["name"])
    where = f"secret {name} of vault {vault}"
    if not valid_name(name):
        raise ScenarioError(f"scenario: {where}: names are 1-127 characters of 0-9, a-z, A-Z and '-'")
    value = entry["value"]
    if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
        raise ScenarioError(f"scenario: {where}: 'value' must be a string of at most {MAX_VALUE_LENGTH} characters")
    tags = entry.get("tags")
    if tags is not None and not isinstance(tags, dict):
        raise ScenarioError(f"scenario: {where}: 'tags' must be a mapping of strings")
    secret = Secret(name)
    secret.add(
        SecretVersion(
            version=new_version_id(),
            value=value,
            content_type=entry.get("content_type"),
            enabled=bool(entry.get("enabled", True)),
            not_before=_unix_seconds(entry.get("not_before"), f"{where}: 'not_before'"),
            expires=_unix_seconds(entry.get("expires"), f"{where}: 'expires'"),
            tags={str(k): str(v) for k, v in tags.items()} if tags is not None else None,
            created=now,
            updated=now,
        )
    )
    return secret


def attach(world: World) -> None:
    state = KeyVaultState(world)
    now = unix(world.clock.now())
    for entry in world.scenario.get("vaults") or []:
        name = entry["name"]
        group = entry["resource_group"]
        resource_id = f"{world.subscription_scope}/resourceGroups/{group}/providers/Microsoft.KeyVault/vaults/{name}"
        resource = world.resource(resource_id)
        location = (resource.location if resource else None) or entry.get("location") or "westeurope"
        vault = Vault(name=name, resource_id=resource_id, location=location)
        for raw in entry.get("secrets") or []:
            secret = _seed_secret(raw, name, now)
            if secret.name.lower() in vault.secrets:
                raise ScenarioError(f"scenario: vault {name} declares secret {secret.name} twice")
            vault.secrets[secret.name.lower()] = secret
        state.vaults[name] = vault
    world.attach("keyvault", state)
    world.on_tick(state.purge_expired)
