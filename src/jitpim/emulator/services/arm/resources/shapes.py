"""Wire shapes of the resource reads: a subscription, a resource group, a Key Vault vault."""

from __future__ import annotations

from typing import Any

from ....core.world import ArmResource, World

__all__ = ["resource_group_json", "subscription_json", "vault_json"]


def subscription_json(w: World) -> dict[str, Any]:
    return {
        "id": w.subscription_scope,
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": w.subscription_id,
        "tenantId": w.tenant_id,
        "displayName": w.subscription_name,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
    }


def resource_group_json(resource: ArmResource) -> dict[str, Any]:
    return {
        "id": resource.id,
        "name": resource.name,
        "type": resource.type,
        "location": resource.location,
        "properties": dict(resource.properties),
        "tags": dict(resource.tags),
    }


def vault_json(w: World, resource: ArmResource) -> dict[str, Any]:
    return {
        "id": resource.id,
        "name": resource.name,
        "type": resource.type,
        "location": resource.location,
        "tags": dict(resource.tags),
        "properties": {
            "sku": {"family": "A", "name": "standard"},
            "tenantId": w.tenant_id,
            "accessPolicies": [],
            "enabledForDeployment": False,
            "enabledForDiskEncryption": False,
            "enabledForTemplateDeployment": False,
            "enableSoftDelete": resource.properties.get("enableSoftDelete", True),
            "softDeleteRetentionInDays": resource.properties.get("softDeleteRetentionInDays", 90),
            "enableRbacAuthorization": resource.properties.get("enableRbacAuthorization", True),
            "vaultUri": w.vault_url(resource.name).rstrip("/") + "/",
            "provisioningState": "Succeeded",
            "publicNetworkAccess": "Enabled",
        },
    }
