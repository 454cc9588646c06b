"""What the operations on soft-deleted secrets do to a vault: find, purge (permanent) and recover. Callers hold
the world's lock; nothing here knows about HTTP."""

from __future__ import annotations

from ..common.errors import deleted_secret_not_found, purge_protected
from ..common.models import DeletedSecret, Recovery, Secret, Vault

__all__ = ["deleted_by_name", "deleted_secret", "purge", "recover"]


def deleted_secret(vault: Vault, name: str) -> DeletedSecret:
    deleted = vault.deleted_secret(name)
    if deleted is None:
        raise deleted_secret_not_found(name)
    return deleted


def deleted_by_name(vault: Vault) -> list[tuple[str, DeletedSecret]]:
    """Every soft-deleted secret with its sort key (the lower-cased name), in order."""
    return sorted(vault.deleted.items(), key=lambda item: item[0])


def purge(vault: Vault, name: str, recovery: Recovery) -> None:
    """Gone for good. Refused while the vault has purge protection."""
    deleted = deleted_secret(vault, name)
    if not recovery.purgeable:
        raise purge_protected(deleted.secret.name)
    del vault.deleted[name.lower()]


def recover(vault: Vault, name: str) -> Secret:
    """Every version back, as they were."""
    deleted = deleted_secret(vault, name)
    del vault.deleted[name.lower()]
    vault.secrets[name.lower()] = deleted.secret
    return deleted.secret
