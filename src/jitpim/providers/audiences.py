"""Which token audiences a lease's work needs: what the child of `jitpim exec` may get tokens for.

The child is served tokens of jitpim's own identity (see `jitpim.auth.token_server`). A token for an API
carries every right that identity holds there, including the right to grant access that direct mode relies
on, so the child gets tokens only for the APIs its lease is about:

    entra-role                  Microsoft Graph
    rbac, azure-role            the data planes the role's dataActions name (Key Vault, Storage), when it
                                has any; Azure Resource Manager when the role has management actions only
    pim-group                   what the group holds: Graph when it holds directory roles, and for each
                                Azure role assigned to it (in the subscriptions the identity can read) the
                                audiences that role gives, as above; where its role assignments cannot be
                                read, the data planes (Key Vault, Storage), never ARM

A data role such as Key Vault Secrets Officer also lists management reads, but its purpose is the data plane:
handing out an ARM token for it would hand out the identity's ARM rights (role assignment writes included).
A job that needs more names it explicitly (`--child-audience arm|graph|keyvault|storage|URL`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..cloud import CloudProfile
from ..errors import ProviderApiError, UsageError
from ..model import TargetKind
from ._arm import RBAC_API, ArmScope, authz_path, lookup_role, visible_subscriptions
from .base import ProviderContext, ResolvedTarget

__all__ = ["ARM_LEGACY_RESOURCE", "Audience", "audience_by_name", "lease_audiences"]

# The Azure CLI and older SDKs ask ARM tokens for this resource; ARM accepts both audiences.
ARM_LEGACY_RESOURCE = "https://management.core.windows.net/"
# Azure Storage's resource is the same in every cloud.
_STORAGE_RESOURCE = "https://storage.azure.com"
_NAMES = ("arm", "graph", "keyvault", "storage")


@dataclass(frozen=True)
class Audience:
    """A resource the child may get tokens for, and why."""

    resource: str
    reason: str


def _resource(scope: str) -> str:
    return scope[: -len("/.default")] if scope.endswith("/.default") else scope


def _arm(cloud: CloudProfile, reason: str) -> list[Audience]:
    resources = [_resource(cloud.arm_scope)]
    if cloud.name in ("public", "emulator"):
        resources.append(ARM_LEGACY_RESOURCE)
    return [Audience(r, reason) for r in resources]


def audience_by_name(cloud: CloudProfile, name: str) -> list[Audience]:
    """The audiences a `--child-audience` value names: arm, graph, keyvault, storage or an https URL."""
    key = name.strip().lower()
    reason = f"--child-audience {name.strip()}"
    if key == "arm":
        return _arm(cloud, reason)
    if key == "graph":
        return [Audience(_resource(cloud.graph_scope), reason)]
    if key == "keyvault":
        return [Audience(_resource(cloud.keyvault_scope), reason)]
    if key == "storage":
        return [Audience(_STORAGE_RESOURCE, reason)]
    if key.startswith("https://") and len(key) > len("https://"):
        return [Audience(_resource(name.strip()), reason)]
    raise UsageError(
        f"--child-audience {name.strip()!r} is not an audience",
        hint=f"Use one of {', '.join(_NAMES)}, or the resource's https URL (e.g. https://servicebus.azure.net).",
    )


def _data_plane(cloud: CloudProfile, data_actions: Iterable[str], why: str) -> list[Audience]:
    found: list[Audience] = []
    namespaces = {action.split("/", 1)[0].lower() for action in data_actions}
    if "microsoft.keyvault" in namespaces:
        found.append(Audience(_resource(cloud.keyvault_scope), f"{why} (Key Vault data actions)"))
    if "microsoft.storage" in namespaces:
        found.append(Audience(_STORAGE_RESOURCE, f"{why} (Storage data actions)"))
    return found


def _role_audiences(ctx: ProviderContext, scope: ArmScope, role_id: str, why: str) -> list[Audience]:
    role = lookup_role(ctx, scope, role_id)
    if role.data_actions:
        return _data_plane(ctx.cloud, role.data_actions, why)
    return _arm(ctx.cloud, f"{why} (management actions)")


def _group_audiences(ctx: ProviderContext, resolved: ResolvedTarget) -> list[Audience]:
    """What membership of the group gives: its directory roles (Graph) and its Azure roles. A list the
    identity may not read contributes the data planes only (their tokens carry no right to grant access)."""
    group = resolved.scope
    why = resolved.describe()
    found: list[Audience] = []
    try:
        directory_roles = ctx.graph.paged(
            "/v1.0/roleManagement/directory/roleAssignments", {"$filter": f"principalId eq '{group}'"}
        )
        if next(iter(directory_roles), None) is not None:
            found.append(Audience(_resource(ctx.cloud.graph_scope), f"{why} (the group holds directory roles)"))
        subscriptions = visible_subscriptions(ctx)
    except ProviderApiError:
        subscriptions = []
    unreadable = not subscriptions
    for subscription in subscriptions:
        try:
            assignments = list(
                ctx.arm.paged(
                    authz_path(subscription, "roleAssignments"),
                    {"$filter": f"principalId eq '{group}'", "api-version": RBAC_API},
                )
            )
        except ProviderApiError:
            unreadable = True
            continue
        for item in assignments:
            props = item.get("properties") or {}
            scope, role_id = str(props.get("scope") or ""), str(props.get("roleDefinitionId") or "")
            if scope and role_id:
                role_scope = ArmScope.parse(scope)
                found.extend(_role_audiences(ctx, role_scope, role_id, f"{why}: its role at {role_scope.describe()}"))
    if unreadable:
        # The group's Azure roles cannot all be read (the identity needs roleAssignments/read at the subscription):
        # serve the data planes, whose tokens carry no right to grant access, but not ARM.
        found.extend(
            _data_plane(
                ctx.cloud,
                ("Microsoft.KeyVault/", "Microsoft.Storage/"),
                f"{why} (its Azure roles cannot be read: data planes only)",
            )
        )
    return found


def lease_audiences(resolved: ResolvedTarget, ctx: ProviderContext) -> list[Audience]:
    """The audiences the work under `resolved` needs (see the module docstring). May be empty: a data role
    of a service not listed there gives the child nothing until it is named with --child-audience."""
    why = resolved.describe()
    if resolved.kind is TargetKind.ENTRA_ROLE:
        return [Audience(_resource(ctx.cloud.graph_scope), why)]
    if resolved.kind is TargetKind.PIM_GROUP:
        return _group_audiences(ctx, resolved)
    return _role_audiences(ctx, ArmScope.parse(resolved.scope), resolved.role_id, why)
