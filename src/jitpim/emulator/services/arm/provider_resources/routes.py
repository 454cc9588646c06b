"""The ARM operations of this resource: (classification key, documented path, handlers by method)."""

from __future__ import annotations

from ..common.routing import SUBSCRIPTION, Operation
from . import handlers

__all__ = ["OPERATIONS"]

_RG = f"{SUBSCRIPTION}/resourcegroups/{{resourceGroupName}}"
_VAULT = f"{_RG}/providers/Microsoft.KeyVault/vaults/{{vaultName}}"

OPERATIONS: list[Operation] = [
    ("resource:resourcegroup", _RG, {"PUT": handlers.put_resource_group}),
    ("resource:vault", _VAULT, {"PUT": handlers.put_vault}),
    (
        "resource:vaultsecret",
        f"{_VAULT}/secrets/{{secretName}}",
        {"GET": handlers.get_secret, "PUT": handlers.put_secret},
    ),
    (
        "resource:storageaccount",
        f"{_RG}/providers/Microsoft.Storage/storageAccounts/{{accountName}}",
        {"GET": handlers.get_storage_account, "PUT": handlers.put_storage_account},
    ),
]
