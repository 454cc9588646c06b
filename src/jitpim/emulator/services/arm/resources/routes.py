"""The ARM operations of this resource: (classification key, documented path, handlers by method)."""

from __future__ import annotations

from ..common.routing import SUBSCRIPTION, Operation
from . import handlers

__all__ = ["OPERATIONS"]

_SUB = SUBSCRIPTION

OPERATIONS: list[Operation] = [
    ("resource:subscriptions", "/subscriptions", {"GET": handlers.list_subscriptions}),
    ("resource:subscription", _SUB, {"GET": handlers.get_subscription}),
    ("resource:resourcegroups", f"{_SUB}/resourcegroups", {"GET": handlers.list_resource_groups}),
    ("resource:resourcegroup", f"{_SUB}/resourcegroups/{{resourceGroupName}}", {"GET": handlers.get_resource_group}),
    ("resource:vaults", f"{_SUB}/providers/Microsoft.KeyVault/vaults", {"GET": handlers.list_vaults}),
    (
        "resource:vault",
        f"{_SUB}/resourceGroups/{{resourceGroupName}}/providers/Microsoft.KeyVault/vaults/{{vaultName}}",
        {"GET": handlers.get_vault},
    ),
]
