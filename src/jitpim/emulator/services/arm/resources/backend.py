"""Minimal resource reads: the subscription, resource groups and Key Vault vaults of the emulated tenant.

A subscription is visible to a principal holding any role assignment in it (or above it); resource groups
and vaults need the matching read action, as ARM authorizes every GET.
"""

from __future__ import annotations

from ....core.errors import ArmError
from ....core.rbac import is_same_or_parent_scope
from ....core.world import ArmResource
from ..common.authz import authorize, permitted
from ..common.context import Ctx, require_scope
from ..common.pim import caller_ids

__all__ = ["resource_group", "resource_groups", "subscription_visible", "vault", "vaults", "visible_subscription"]

_RG_READ = "Microsoft.Resources/subscriptions/resourceGroups/read"
_VAULT_READ = "Microsoft.KeyVault/vaults/read"


def subscription_visible(ctx: Ctx) -> bool:
    sub = ctx.world.subscription_scope
    mine = caller_ids(ctx)
    return any(
        a.principal_id in mine
        and a.effective(ctx.now, ctx.world.rbac.propagation)
        and (is_same_or_parent_scope(a.scope, sub) or is_same_or_parent_scope(sub, a.scope))
        for a in ctx.world.rbac.assignments.values()
    )


def visible_subscription(ctx: Ctx) -> None:
    """The addressed subscription exists and the caller sees it (404 `SubscriptionNotFound` otherwise)."""
    require_scope(ctx.world, ctx.scope)
    if not subscription_visible(ctx):
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{ctx.scope.subscription}' could not be found.")


def resource_groups(ctx: Ctx) -> list[ArmResource]:
    require_scope(ctx.world, ctx.scope)
    return [
        r
        for r in ctx.world.resources.values()
        if r.type == "Microsoft.Resources/resourceGroups"
        and permitted(ctx.world, ctx.caller.object_id, r.id, _RG_READ, ctx.now)
    ]


def _readable(ctx: Ctx, action: str) -> ArmResource:
    authorize(ctx.world, ctx.caller, ctx.scope.path, action, ctx.now)
    require_scope(ctx.world, ctx.scope)
    resource = ctx.world.resource(ctx.scope.path)
    assert resource is not None
    return resource


def resource_group(ctx: Ctx) -> ArmResource:
    return _readable(ctx, _RG_READ)


def vault(ctx: Ctx) -> ArmResource:
    return _readable(ctx, _VAULT_READ)


def vaults(ctx: Ctx) -> list[ArmResource]:
    """Vaults - List By Subscription: the vaults the caller may read (ARM filters a collection by RBAC)."""
    require_scope(ctx.world, ctx.scope)
    return [
        r
        for r in ctx.world.resources.values()
        if r.type == "Microsoft.KeyVault/vaults"
        and permitted(ctx.world, ctx.caller.object_id, r.id, _VAULT_READ, ctx.now)
    ]
