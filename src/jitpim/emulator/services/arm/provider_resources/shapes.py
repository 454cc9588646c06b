"""Wire shapes of the written resources: a storage account and a vault secret as ARM returns them (a secret's
value never leaves through ARM)."""

from __future__ import annotations

from typing import Any

from ....core.world import ArmResource, World
from ...keyvault.common.models import Secret, Vault

__all__ = ["secret_json", "storage_account_json"]


def storage_account_json(resource: ArmResource) -> dict[str, Any]:
    name = resource.name
    return {
        "id": resource.id,
        "name": name,
        "type": resource.type,
        "location": resource.location,
        "tags": dict(resource.tags),
        "sku": {
            "name": (resource.sku or {}).get("name"),
            "tier": str((resource.sku or {}).get("name", "")).split("_")[0],
        },
        "kind": resource.kind,
        "properties": {
            **resource.properties,
            "provisioningState": "Succeeded",
            "primaryLocation": resource.location,
            "statusOfPrimary": "available",
            "primaryEndpoints": {
                "blob": f"https://{name}.blob.core.windows.net/",
                "queue": f"https://{name}.queue.core.windows.net/",
                "table": f"https://{name}.table.core.windows.net/",
                "file": f"https://{name}.file.core.windows.net/",
            },
        },
    }


def secret_json(world: World, vault_resource: ArmResource, vault: Vault, secret: Secret) -> dict[str, Any]:
    latest = secret.latest
    base = world.vault_url(vault.name).rstrip("/")
    return {
        "id": f"{vault_resource.id}/secrets/{secret.name}",
        "name": secret.name,
        "type": "Microsoft.KeyVault/vaults/secrets",
        "location": vault.location,
        "tags": dict(latest.tags or {}),
        "properties": {
            "contentType": latest.content_type,
            "attributes": {"enabled": latest.enabled, "created": latest.created, "updated": latest.updated},
            "secretUri": f"{base}/secrets/{secret.name}",
            "secretUriWithVersion": f"{base}/secrets/{secret.name}/{latest.version}",
        },
    }
