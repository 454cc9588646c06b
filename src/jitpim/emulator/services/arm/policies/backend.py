"""What the operations of roleManagementPolicies (list, GET, PATCH) and roleManagementPolicyAssignments (list with
`$filter=roleDefinitionId eq '...'`, GET) at a scope.

Reading needs `Microsoft.Authorization/roleManagementPolicies/read` (or `.../roleManagementPolicyAssignments/
read`), except that a principal eligible for a role may read that role's policy (what an activation dialog
shows); changing one needs `Microsoft.Authorization/roleManagementPolicies/write`.
"""

from __future__ import annotations

from ....core.errors import ArmError
from ....core.rbac import is_same_or_parent_scope
from ..common.authz import authorization_failed, authorize, permitted
from ..common.context import Ctx, require_scope, require_subscription
from ..common.filters import FilterSpec
from ..common.pim import caller_ids, not_found, role_filter_value, state_of
from .models import RolePolicy, merge_rules

__all__ = ["assignment", "assignments", "patch", "policies", "policy"]

_READ = "Microsoft.Authorization/roleManagementPolicies/read"
_WRITE = "Microsoft.Authorization/roleManagementPolicies/write"
_ASSIGNMENT_READ = "Microsoft.Authorization/roleManagementPolicyAssignments/read"
_ASSIGNMENT_FILTER = FilterSpec(
    frozenset({"roledefinitionid"}), "Supported filters are 'roleDefinitionId eq '{value}''."
)


def _eligible_roles(ctx: Ctx) -> set[str]:
    mine = caller_ids(ctx)
    return {
        e.role
        for e in state_of(ctx).eligibilities.values()
        if e.principal_id in mine and e.live(ctx.now) and is_same_or_parent_scope(e.scope.path, ctx.scope.path)
    }


def _readable(ctx: Ctx, action: str) -> tuple[bool, set[str]]:
    """(may read every policy here, roles whose policy the caller may read as an eligible principal)."""
    return permitted(ctx.world, ctx.caller.object_id, ctx.scope.path, action, ctx.now), _eligible_roles(ctx)


def _policies(ctx: Ctx, action: str) -> list[RolePolicy]:
    require_subscription(ctx.world, ctx.scope)
    everything, roles = _readable(ctx, action)
    if not everything and not roles:
        raise authorization_failed(ctx.caller, ctx.scope.path, action)
    require_scope(ctx.world, ctx.scope)
    return [p for p in state_of(ctx).policies.at(ctx.scope) if everything or p.role in roles]


def policies(ctx: Ctx) -> list[RolePolicy]:
    return _policies(ctx, _READ)


def _policy(ctx: Ctx) -> RolePolicy:
    require_subscription(ctx.world, ctx.scope)
    require_scope(ctx.world, ctx.scope)
    policy = state_of(ctx).policies.by_name(ctx.scope, ctx.names[0])
    if policy is None:
        raise not_found("RoleManagementPolicyNotFound", "role management policy", ctx.names[0])
    return policy


def policy(ctx: Ctx) -> RolePolicy:
    policy = _policy(ctx)
    everything, roles = _readable(ctx, _READ)
    if not everything and policy.role not in roles:
        raise authorization_failed(ctx.caller, ctx.scope.path, _READ)
    return policy


def patch(ctx: Ctx) -> RolePolicy:
    """The policy with the sent rules merged in (each by id)."""
    require_subscription(ctx.world, ctx.scope)
    authorize(ctx.world, ctx.caller, ctx.scope.path, _WRITE, ctx.now)
    policy = _policy(ctx)
    props = ctx.body.get("properties")
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidPolicy", "The policy is invalid. The body needs a 'properties' object.")
    if "rules" in props:
        policy.rules = merge_rules(policy.rules, props["rules"])
    policy.last_modified_by = ctx.caller.object_id
    policy.last_modified = ctx.now
    return policy


def assignments(ctx: Ctx) -> list[RolePolicy]:
    """The policies whose assignments a list returns (one assignment per policy)."""
    terms = _ASSIGNMENT_FILTER.check(ctx.filter)
    wanted = {role_filter_value(t.value or "") for t in terms}
    return [p for p in _policies(ctx, _ASSIGNMENT_READ) if not wanted or p.role in wanted]


def assignment(ctx: Ctx) -> RolePolicy:
    """The policy of the named policy assignment (`{policyName}_{roleDefinitionId}`)."""
    require_subscription(ctx.world, ctx.scope)
    require_scope(ctx.world, ctx.scope)
    policy_name, _, role = ctx.names[0].lower().partition("_")
    policy = state_of(ctx).policies.by_name(ctx.scope, policy_name)
    if policy is None or policy.role != role:
        raise not_found("RoleManagementPolicyAssignmentNotFound", "role management policy assignment", ctx.names[0])
    everything, roles = _readable(ctx, _ASSIGNMENT_READ)
    if not everything and policy.role not in roles:
        raise authorization_failed(ctx.caller, ctx.scope.path, _ASSIGNMENT_READ)
    return policy
