"""What the caller may ask for through ARM: its PIM eligibilities (azure-role, self mode) and the roles it may
assign to itself (rbac, direct mode).

Both read the caller's own items at the tenant root with `asTarget()`, which needs no read permission and
covers every subscription (what `Get-AzRoleEligibilityScheduleInstance -Scope / -Filter asTarget()` does).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import UsageError
from ..model import Target, TargetKind
from ._arm import PIM_API, ArmScope, authz_path, lookup_role
from .base import ProviderContext

__all__ = ["assignable_roles", "eligibility_for", "eligibility_instances", "eligible_targets"]

_ASSIGN = "Microsoft.Authorization/roleAssignments/write"
_GUIDS = r"\{([^}]*)\}"
# The constrained-delegation forms: which roles, and to whom, a conditioned right to assign allows.
_ROLE_CONDITION = re.compile(
    r"@Request\[Microsoft\.Authorization/roleAssignments:RoleDefinitionId\]\s+ForAnyOfAnyValues:GuidEquals\s*" + _GUIDS,
    re.IGNORECASE,
)
_PRINCIPAL_CONDITION = re.compile(
    r"@Request\[Microsoft\.Authorization/roleAssignments:PrincipalId\]\s+ForAnyOfAnyValues:GuidEquals\s*" + _GUIDS,
    re.IGNORECASE,
)


def _props(item: dict[str, Any]) -> dict[str, Any]:
    props = item.get("properties")
    return props if isinstance(props, dict) else {}


def _role_guid(props: dict[str, Any]) -> str:
    return str(props.get("roleDefinitionId") or "").rstrip("/").rsplit("/", 1)[-1].lower()


def _mine(ctx: ProviderContext, kind: str) -> list[dict[str, Any]]:
    key = f"arm:{kind}:{ctx.identity.object_id}"
    cached = ctx.cache.get(key)
    if isinstance(cached, list):
        return cached
    items = list(ctx.arm.paged(authz_path("/", kind), {"$filter": "asTarget()", "api-version": PIM_API}))
    ctx.cache[key] = items
    return items


def eligibility_instances(ctx: ProviderContext, *, fresh: bool = False) -> list[dict[str, Any]]:
    """The caller's active PIM eligibilities for Azure resources (directly or through its groups)."""
    if fresh:
        ctx.cache.pop(f"arm:roleEligibilityScheduleInstances:{ctx.identity.object_id}", None)
    return _mine(ctx, "roleEligibilityScheduleInstances")


def eligibility_for(ctx: ProviderContext, role_guid: str, scope: str) -> dict[str, Any] | None:
    """The eligibility instance that lets the caller activate `role_guid` at `scope` (there or at a parent
    scope), preferring the closest one."""
    target = ArmScope.parse(scope)
    found = [
        item
        for item in eligibility_instances(ctx)
        if _role_guid(_props(item)) == role_guid.lower()
        and str(_props(item).get("status", "Provisioned")) == "Provisioned"
        and target.same_or_below(str(_props(item).get("scope") or ""))
    ]
    found.sort(key=lambda item: len(str(_props(item).get("scope") or "")), reverse=True)
    return found[0] if found else None


def _target(kind: TargetKind, role: str, scope: str) -> Target | None:
    try:
        return Target.from_flags(kind=kind, role=role, scope=scope)
    except UsageError:
        return None  # a scope jitpim cannot address (the tenant root): not offered


def eligible_targets(ctx: ProviderContext) -> list[Target]:
    """The caller's azure-role eligibilities as targets (role by display name)."""
    out: list[Target] = []
    for item in eligibility_instances(ctx, fresh=True):
        props = _props(item)
        expanded = (props.get("expandedProperties") or {}).get("roleDefinition") or {}
        name = str(expanded.get("displayName") or _role_guid(props))
        target = _target(TargetKind.AZURE_ROLE, name, str(props.get("scope") or ""))
        if target is not None and target not in out:
            out.append(target)
    return out


def assignable_roles(ctx: ProviderContext) -> list[Target]:
    """The rbac targets the caller may grant itself: roles named by the ABAC condition of an assignment that
    gives it `roleAssignments/write` (constrained delegation). An unconditioned right to assign covers every
    role, which is not listed role by role."""
    out: list[Target] = []
    me = ctx.identity.object_id.lower()
    for item in _mine(ctx, "roleAssignmentScheduleInstances"):
        props = _props(item)
        condition = str(props.get("condition") or "")
        scope_text = str(props.get("scope") or "")
        try:
            scope = ArmScope.parse(scope_text)
        except UsageError:
            continue
        if not condition or not lookup_role(ctx, scope, _role_guid(props)).grants(_ASSIGN):
            continue
        principals = {g.strip().lower() for m in _PRINCIPAL_CONDITION.findall(condition) for g in m.split(",")}
        if principals and me not in principals:
            continue
        for match in _ROLE_CONDITION.findall(condition):
            for guid in (g.strip().lower() for g in match.split(",") if g.strip()):
                role = lookup_role(ctx, scope, guid)
                target = _target(TargetKind.RBAC, role.name, scope.path)
                if target is not None and target not in out:
                    out.append(target)
    return out
