"""RBAC on the data plane: every secrets operation needs its data action on the vault (or the secret) scope.

The data actions are the ones the Key Vault RBAC guide and ABAC reference list for secrets; the built-in roles
(Key Vault Secrets Officer `secrets/*`, Secrets User `getSecret` + `readMetadata`, Reader `readMetadata`,
Administrator `vaults/*`) grant them through `world.rbac`. A caller is allowed when an effective assignment of
the caller or of a group it is an effective member of covers the scope; the propagation delay is applied there.
"""

from __future__ import annotations

from typing import Final

from ....core.tokens import Caller
from ....core.world import World
from .errors import forbidden_by_rbac
from .models import Vault

__all__ = [
    "BACKUP",
    "DELETE",
    "GET_SECRET",
    "PURGE",
    "READ_METADATA",
    "RECOVER",
    "RESTORE",
    "SET_SECRET",
    "UPDATE",
    "authorize",
    "secret_scope",
]

_PREFIX = "Microsoft.KeyVault/vaults/secrets/"
GET_SECRET: Final = _PREFIX + "getSecret/action"  # read a value
SET_SECRET: Final = _PREFIX + "setSecret/action"  # write a new version
READ_METADATA: Final = _PREFIX + "readMetadata/action"  # list secrets and versions, read deleted secrets
UPDATE: Final = _PREFIX + "update/action"  # change attributes, tags, content type
DELETE: Final = _PREFIX + "delete"  # soft delete
RECOVER: Final = _PREFIX + "recover/action"
PURGE: Final = _PREFIX + "purge/action"
BACKUP: Final = _PREFIX + "backup/action"
RESTORE: Final = _PREFIX + "restore/action"


def secret_scope(vault: Vault, name: str | None) -> str:
    """The resource a decision is made on: the secret (role assignments may target one secret) or the vault."""
    return f"{vault.resource_id}/secrets/{name}" if name else vault.resource_id


def authorize(world: World, caller: Caller, vault: Vault, action: str, name: str | None = None) -> None:
    """Raise the real 403 `ForbiddenByRbac` unless an effective role assignment grants `action`. Hold the lock."""
    now = world.clock.now()
    scope = secret_scope(vault, name)
    principals = world.directory.principal_and_groups(caller.object_id, now)
    if world.rbac.allowed(principals, scope, action, data=True, now=now):
        return
    raise forbidden_by_rbac(
        app_id=caller.app_id,
        object_id=caller.object_id,
        issuer=str(caller.claims.get("iss", world.authority_issuer)),
        action=action,
        resource=scope,
        vault=vault.name,
        location=vault.location,
    )
