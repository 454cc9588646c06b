"""Minimal resource reads: the subscription, resource groups and Key Vault vaults of the emulated tenant.

A subscription is visible to a principal holding any role assignment in it (or above it); resource groups
and vaults need the matching read action, as ARM authorizes every GET.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ...core.errors import ArmError
from ...core.http import json_response
from ...core.rbac import is_same_or_parent_scope
from ...core.world import ArmResource
from .api import Ctx, list_response, require_scope
from .authz import authorize, permitted
from .pim_common import caller_ids

__all__ = [
    "get_resource_group",
    "get_subscription",
    "get_vault",
    "list_resource_groups",
    "list_subscriptions",
    "list_vaults",
]

_RG_READ = "Microsoft.Resources/subscriptions/resourceGroups/read"
_VAULT_READ = "Microsoft.KeyVault/vaults/read"


def _subscription_visible(ctx: Ctx) -> bool:
    sub = ctx.world.subscription_scope
    mine = caller_ids(ctx)
    return any(
        a.principal_id in mine
        and a.effective(ctx.now, ctx.world.rbac.propagation)
        and (is_same_or_parent_scope(a.scope, sub) or is_same_or_parent_scope(sub, a.scope))
        for a in ctx.world.rbac.assignments.values()
    )


def _subscription(ctx: Ctx) -> dict[str, Any]:
    w = ctx.world
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


def list_subscriptions(ctx: Ctx) -> Response:
    return json_response(
        {
            "count": {"type": "Total", "value": 1 if _subscription_visible(ctx) else 0},
            "value": [_subscription(ctx)] if _subscription_visible(ctx) else [],
        }
    )


def get_subscription(ctx: Ctx) -> Response:
    require_scope(ctx.world, ctx.scope)
    if not _subscription_visible(ctx):
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{ctx.scope.subscription}' could not be found.")
    return json_response(_subscription(ctx))


def _group(resource: ArmResource) -> dict[str, Any]:
    return {
        "id": resource.id,
        "name": resource.name,
        "type": resource.type,
        "location": resource.location,
        "properties": dict(resource.properties),
        "tags": {},
    }


def list_resource_groups(ctx: Ctx) -> Response:
    require_scope(ctx.world, ctx.scope)
    groups = [
        r
        for r in ctx.world.resources.values()
        if r.type == "Microsoft.Resources/resourceGroups"
        and permitted(ctx.world, ctx.caller.object_id, r.id, _RG_READ, ctx.now)
    ]
    return list_response([_group(r) for r in groups])


def get_resource_group(ctx: Ctx) -> Response:
    authorize(ctx.world, ctx.caller, ctx.scope.path, _RG_READ, ctx.now)
    require_scope(ctx.world, ctx.scope)
    resource = ctx.world.resource(ctx.scope.path)
    assert resource is not None
    return json_response(_group(resource))


def _vault(ctx: Ctx, resource: ArmResource) -> dict[str, Any]:
    return {
        "id": resource.id,
        "name": resource.name,
        "type": resource.type,
        "location": resource.location,
        "tags": {},
        "properties": {
            "sku": {"family": "A", "name": "standard"},
            "tenantId": ctx.world.tenant_id,
            "accessPolicies": [],
            "enabledForDeployment": False,
            "enabledForDiskEncryption": False,
            "enabledForTemplateDeployment": False,
            "enableSoftDelete": resource.properties.get("enableSoftDelete", True),
            "softDeleteRetentionInDays": resource.properties.get("softDeleteRetentionInDays", 90),
            "enableRbacAuthorization": resource.properties.get("enableRbacAuthorization", True),
            "vaultUri": ctx.world.vault_url(resource.name).rstrip("/") + "/",
            "provisioningState": "Succeeded",
            "publicNetworkAccess": "Enabled",
        },
    }


def get_vault(ctx: Ctx) -> Response:
    authorize(ctx.world, ctx.caller, ctx.scope.path, _VAULT_READ, ctx.now)
    require_scope(ctx.world, ctx.scope)
    resource = ctx.world.resource(ctx.scope.path)
    assert resource is not None
    return json_response(_vault(ctx, resource))


def list_vaults(ctx: Ctx) -> Response:
    """Vaults - List By Subscription: the vaults the caller may read (ARM filters a collection by RBAC)."""
    require_scope(ctx.world, ctx.scope)
    vaults = [
        r
        for r in ctx.world.resources.values()
        if r.type == "Microsoft.KeyVault/vaults"
        and permitted(ctx.world, ctx.caller.object_id, r.id, _VAULT_READ, ctx.now)
    ]
    return list_response([_vault(ctx, r) for r in vaults])
