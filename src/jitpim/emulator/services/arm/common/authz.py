"""ARM's authorization check for control-plane actions, including ABAC conditions on role assignments.

A caller may perform an action at a scope when an effective role assignment (propagated, not ended) of the
caller or of a group it belongs to, at that scope or above, has a role whose actions allow it, and whose
condition (if any) holds for the request. Key Vault's data-plane check lives in the core (`Rbac.allowed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ....core.errors import ArmError
from ....core.rbac import RoleAssignment
from ....core.tokens import Caller
from ....core.world import World
from .conditions import ConditionContext, condition_satisfied

__all__ = [
    "Decision",
    "assignment_attributes",
    "authorization_failed",
    "authorize",
    "decide",
    "effective_assignments",
    "effective_permissions",
    "permitted",
]

_RA = "microsoft.authorization/roleassignments:"


def assignment_attributes(role_guid: str, principal_id: str, principal_type: str | None) -> dict[str, list[str]]:
    """The `Microsoft.Authorization/roleAssignments:*` attributes a condition can test."""
    attrs = {_RA + "roledefinitionid": [role_guid], _RA + "principalid": [principal_id]}
    if principal_type:
        attrs[_RA + "principaltype"] = [principal_type]
    return attrs


def effective_assignments(world: World, principal_id: str, scope: str, now: datetime) -> list[RoleAssignment]:
    """Assignments of the principal (or its groups) that apply at `scope` now."""
    ids = world.directory.principal_and_groups(principal_id, now)
    return [a for a in world.rbac.assignments_covering(scope, ids) if a.effective(now, world.rbac.propagation)]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # True when some assignment would have granted the action but its condition did not hold.
    condition_failed: bool = False


def decide(
    world: World,
    principal_id: str,
    scope: str,
    action: str,
    now: datetime,
    *,
    request: dict[str, list[str]] | None = None,
    resource: dict[str, list[str]] | None = None,
    ignore_conditions: bool = False,
) -> Decision:
    condition_failed = False
    for assignment in effective_assignments(world, principal_id, scope, now):
        definition = world.rbac.definitions.get(assignment.role_definition_id.lower())
        if definition is None or not definition.permits(action, data=False):
            continue
        if assignment.condition and not ignore_conditions:
            context = ConditionContext(action, request or {}, resource or {})
            if not condition_satisfied(assignment.condition, context):
                condition_failed = True
                continue
        return Decision(True)
    return Decision(False, condition_failed)


def permitted(world: World, principal_id: str, scope: str, action: str, now: datetime) -> bool:
    return decide(world, principal_id, scope, action, now).allowed


def _client_name(caller: Caller) -> str:
    if caller.is_app:
        return caller.app_id or caller.object_id
    return str(caller.claims.get("upn") or caller.claims.get("unique_name") or caller.object_id)


def authorization_failed(caller: Caller, scope: str, action: str, *, condition: bool = False) -> ArmError:
    what = (
        "does not have authorization or an ABAC condition not fulfilled"
        if condition
        else ("does not have authorization")
    )
    return ArmError(
        403,
        "AuthorizationFailed",
        f"The client '{_client_name(caller)}' with object id '{caller.object_id}' {what} to perform action "
        f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh "
        "your credentials.",
        headers={"x-ms-failure-cause": "gateway"},
    )


def authorize(
    world: World,
    caller: Caller,
    scope: str,
    action: str,
    now: datetime,
    *,
    request: dict[str, list[str]] | None = None,
    resource: dict[str, list[str]] | None = None,
    ignore_conditions: bool = False,
) -> None:
    """Raise ARM's 403 AuthorizationFailed unless the caller may perform `action` at `scope`."""
    decision = decide(
        world,
        caller.object_id,
        scope,
        action,
        now,
        request=request,
        resource=resource,
        ignore_conditions=ignore_conditions,
    )
    if not decision.allowed:
        raise authorization_failed(caller, scope, action, condition=decision.condition_failed)


def effective_permissions(world: World, principal_id: str, scope: str, now: datetime) -> list[dict[str, Any]]:
    """The `permissions` read: one entry per effective role assignment at or above the scope."""
    out: list[dict[str, Any]] = []
    for assignment in effective_assignments(world, principal_id, scope, now):
        definition = world.rbac.definitions.get(assignment.role_definition_id.lower())
        if definition is None:
            continue
        entry: dict[str, Any] = {
            "actions": list(definition.actions),
            "notActions": list(definition.not_actions),
            "dataActions": list(definition.data_actions),
            "notDataActions": list(definition.not_data_actions),
        }
        if assignment.condition:
            entry["condition"] = assignment.condition
            entry["conditionVersion"] = assignment.condition_version or "2.0"
        out.append(entry)
    return out
