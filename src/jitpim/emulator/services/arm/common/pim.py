"""Helpers shared by the PIM handlers: list filtering with ARM's scope semantics, read authorization, and
finding the eligibility or active assignment a request is about."""

from __future__ import annotations

from datetime import datetime

from ....core.errors import ArmError
from ....core.ids import stable_guid
from ....core.rbac import RoleAssignment, is_same_or_parent_scope
from ..state import ArmState
from .authz import authorize
from .context import Ctx, Scope, guid_of, parse_scope, role_guid_from_id
from .filters import FilterSpec, Term
from .models import AssignmentSchedule, EligibilitySchedule

__all__ = [
    "SCHEDULE_FILTER",
    "caller_ids",
    "find_eligibility",
    "item_matches",
    "live_assignment",
    "not_found",
    "require_read",
    "role_filter_value",
    "self_service",
    "standing_schedule",
    "state_of",
]

_SELF = frozenset({"astarget()", "asrequestor()", "asapprover()", "ascreatedby()"})
SCHEDULE_FILTER = FilterSpec(
    frozenset(
        {
            "atscope()",
            "astarget()",
            "principalid",
            "roledefinitionid",
            "assignedto()",
            "status",
            "roleassignmentscheduleid",
            "roleeligibilityscheduleid",
            "asrequestor()",
            "requestorid",
        }
    ),
    "Supported filters are 'atScope()', 'asTarget()', 'asRequestor()', 'assignedTo('{userId}')', "
    "'principalId eq '{value}'', 'roleDefinitionId eq '{value}'', 'requestorId eq '{value}'' and "
    "'status eq '{value}'', joined with 'and'.",
)


def state_of(ctx: Ctx) -> ArmState:
    return ctx.world.service("arm", ArmState)


def caller_ids(ctx: Ctx) -> set[str]:
    return ctx.world.directory.principal_and_groups(ctx.caller.object_id, ctx.now)


def self_service(terms: list[Term]) -> bool:
    """Lists filtered to the caller's own items need no RBAC read permission."""
    return any(t.name in _SELF for t in terms)


def require_read(ctx: Ctx, terms: list[Term], action: str) -> None:
    if not self_service(terms):
        authorize(ctx.world, ctx.caller, ctx.scope.path, action, ctx.now)


def role_filter_value(value: str) -> str | None:
    return guid_of(value) or role_guid_from_id(value)


def item_matches(
    ctx: Ctx,
    terms: list[Term],
    *,
    scope: Scope,
    principal_id: str,
    role: str,
    status: str,
    requestor_id: str | None = None,
    is_approver: bool = False,
    fields: dict[str, str | None] | None = None,
) -> bool:
    """ARM's list semantics: `atScope()` = at or above the request scope; `as*()` = the caller's own items at
    or below it (everything at the tenant root); otherwise at, above or below."""
    names = {t.name for t in terms}
    here, there = ctx.scope.path, scope.path
    if "atscope()" in names:
        if not is_same_or_parent_scope(there, here):
            return False
    elif names & _SELF:
        if not is_same_or_parent_scope(here, there):
            return False
    elif not (is_same_or_parent_scope(there, here) or is_same_or_parent_scope(here, there)):
        return False
    mine = caller_ids(ctx)
    for term in terms:
        value = (term.value or "").strip()
        if term.name == "astarget()" and principal_id not in mine:
            return False
        if term.name in ("asrequestor()", "ascreatedby()") and requestor_id != ctx.caller.object_id:
            return False
        if term.name == "asapprover()" and not is_approver:
            return False
        if term.name == "assignedto()":
            target = guid_of(value) or value
            if principal_id not in ctx.world.directory.principal_and_groups(target, ctx.now):
                return False
        if term.name == "principalid" and principal_id.lower() != value.lower():
            return False
        if term.name == "requestorid" and (requestor_id or "").lower() != value.lower():
            return False
        if term.name == "roledefinitionid" and role != role_filter_value(value):
            return False
        if term.name == "status" and status.lower() != value.lower():
            return False
        if term.name in ("roleassignmentscheduleid", "roleeligibilityscheduleid"):
            have = (fields or {}).get(term.name) or ""
            if have.rsplit("/", 1)[-1].lower() != value.rsplit("/", 1)[-1].lower():
                return False
    return True


def find_eligibility(
    state: ArmState, principal_ids: set[str], role: str, scope: Scope, linked_id: str | None, now: datetime
) -> EligibilitySchedule | None:
    """An active eligibility of the principal (or one of its groups) for the role at the scope or above.
    `linkedRoleEligibilityScheduleId` may be the full id or the bare GUID; it must then name that eligibility."""
    linked = linked_id.strip().rstrip("/").rsplit("/", 1)[-1].lower() if linked_id else None
    for eligibility in state.eligibilities.values():
        if linked is not None and eligibility.name.lower() != linked:
            continue
        if (
            eligibility.principal_id in principal_ids
            and eligibility.role == role
            and eligibility.active(now)
            and is_same_or_parent_scope(eligibility.scope.path, scope.path)
        ):
            return eligibility
    return None


def live_assignment(
    state: ArmState, principal_id: str, role: str, scope: Scope
) -> tuple[AssignmentSchedule | None, RoleAssignment | None]:
    """The active assignment for exactly (principal, role, scope): a live PIM schedule (possibly not started)
    and/or the core role assignment (PIM-made or standing)."""
    schedule = next(
        (
            s
            for s in state.schedules.values()
            if s.ended is None
            and s.principal_id == principal_id
            and s.role == role
            and s.scope.path.lower() == scope.path.lower()
        ),
        None,
    )
    assignment = next(
        (
            a
            for a in state.world.rbac.assignments.values()
            if a.principal_id == principal_id
            and a.role_definition_id.lower() == role
            and a.scope.lower() == scope.path.lower()
        ),
        None,
    )
    return schedule, assignment


def standing_schedule(ctx: Ctx, assignment: RoleAssignment) -> AssignmentSchedule:
    """The schedule PIM shows for a role assignment it did not create (a permanent `Assigned` one)."""
    return AssignmentSchedule(
        name=stable_guid("standing-schedule", assignment.name.lower()),
        scope=parse_scope(ctx.world, assignment.scope),
        role=assignment.role_definition_id.lower(),
        principal_id=assignment.principal_id,
        principal_type=assignment.principal_type,
        request_name=None,
        assignment_type="Assigned",
        start=assignment.created_on,
        end=assignment.end,
        created_on=assignment.created_on,
        updated_on=assignment.updated_on or assignment.created_on,
        role_assignment_name=assignment.name,
        condition=assignment.condition,
        condition_version=assignment.condition_version,
    )


def not_found(code: str, kind: str, name: str) -> ArmError:
    return ArmError(404, code, f"The {kind} '{name}' could not be found.")
