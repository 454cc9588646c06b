"""roleAssignmentSchedules, roleAssignmentScheduleInstances, roleEligibilitySchedules and
roleEligibilityScheduleInstances (2020-10-01): what GET by name and list with `$filter` find.

Active assignments are read from the role assignments themselves, so every role assignment shows up as an
instance (PIM-made ones as `Activated`/`Assigned` with their window, standing ones as permanent `Assigned`),
as PIM does for a subscription it manages. A schedule whose window has not started yet (`Granted`) is listed
as a schedule but has no instance.
"""

from __future__ import annotations

from ....core.rbac import RoleAssignment
from ..common.authz import authorization_failed, permitted
from ..common.context import Ctx, require_scope, require_subscription
from ..common.filters import Term
from ..common.models import AssignmentSchedule, EligibilitySchedule
from ..common.pim import SCHEDULE_FILTER, caller_ids, item_matches, not_found, require_read, standing_schedule, state_of

__all__ = [
    "assignment_instance",
    "assignment_instances",
    "assignment_schedule",
    "assignment_schedules",
    "eligibility_instance",
    "eligibility_instances",
    "eligibility_schedule",
    "eligibility_schedules",
]

_A_SCHEDULES = "Microsoft.Authorization/roleAssignmentSchedules/read"
_A_INSTANCES = "Microsoft.Authorization/roleAssignmentScheduleInstances/read"
_E_SCHEDULES = "Microsoft.Authorization/roleEligibilitySchedules/read"
_E_INSTANCES = "Microsoft.Authorization/roleEligibilityScheduleInstances/read"


def _assignments(ctx: Ctx) -> list[tuple[AssignmentSchedule, RoleAssignment | None]]:
    """Every live assignment schedule with its role assignment (None until its window starts)."""
    state = state_of(ctx)
    assignments = ctx.world.rbac.assignments
    out: list[tuple[AssignmentSchedule, RoleAssignment | None]] = []
    for schedule in state.schedules.values():
        if schedule.live(ctx.now):
            ra = assignments.get(schedule.role_assignment_name.lower()) if schedule.role_assignment_name else None
            out.append((schedule, ra))
    for ra in assignments.values():
        if not (ra.schedule_id and ra.schedule_id in state.schedules):
            out.append((standing_schedule(ctx, ra), ra))
    return out


def _running(ctx: Ctx, ra: RoleAssignment | None) -> bool:
    return ra is not None and ra.created_on <= ctx.now and (ra.end is None or ctx.now < ra.end)


def _visible(ctx: Ctx, principal_id: str, action: str) -> None:
    if principal_id not in caller_ids(ctx) and not permitted(
        ctx.world, ctx.caller.object_id, ctx.scope.path, action, ctx.now
    ):
        raise authorization_failed(ctx.caller, ctx.scope.path, action)


def _start_list(ctx: Ctx, action: str) -> list[Term]:
    require_subscription(ctx.world, ctx.scope)
    terms = SCHEDULE_FILTER.check(ctx.filter)
    require_read(ctx, terms, action)
    require_scope(ctx.world, ctx.scope)
    return terms


def assignment_schedules(ctx: Ctx) -> list[AssignmentSchedule]:
    terms = _start_list(ctx, _A_SCHEDULES)
    return [
        s
        for s, _ in _assignments(ctx)
        if item_matches(ctx, terms, scope=s.scope, principal_id=s.principal_id, role=s.role, status=s.status(ctx.now))
    ]


def assignment_instances(ctx: Ctx) -> list[tuple[AssignmentSchedule, RoleAssignment | None]]:
    """Running instances, each with the role assignment that realises it."""
    terms = _start_list(ctx, _A_INSTANCES)
    return [
        (s, ra)
        for s, ra in _assignments(ctx)
        if _running(ctx, ra)
        and item_matches(
            ctx,
            terms,
            scope=s.scope,
            principal_id=s.principal_id,
            role=s.role,
            status=s.status(ctx.now),
            fields={"roleassignmentscheduleid": s.name},
        )
    ]


def _same_scope(ctx: Ctx, schedule: AssignmentSchedule | EligibilitySchedule) -> bool:
    return schedule.scope.path.lower() == ctx.scope.path.lower()


def assignment_schedule(ctx: Ctx) -> AssignmentSchedule:
    require_subscription(ctx.world, ctx.scope)
    name = ctx.names[0].lower()
    for schedule, _ in _assignments(ctx):
        if schedule.name == name and _same_scope(ctx, schedule):
            _visible(ctx, schedule.principal_id, _A_SCHEDULES)
            return schedule
    raise not_found("RoleAssignmentScheduleNotFound", "role assignment schedule", ctx.names[0])


def assignment_instance(ctx: Ctx) -> tuple[AssignmentSchedule, RoleAssignment | None]:
    require_subscription(ctx.world, ctx.scope)
    name = ctx.names[0].lower()
    for schedule, ra in _assignments(ctx):
        if schedule.instance_name == name and _same_scope(ctx, schedule) and _running(ctx, ra):
            _visible(ctx, schedule.principal_id, _A_INSTANCES)
            return schedule, ra
    raise not_found("RoleAssignmentScheduleInstanceNotFound", "role assignment schedule instance", ctx.names[0])


def eligibility_schedules(ctx: Ctx) -> list[EligibilitySchedule]:
    terms = _start_list(ctx, _E_SCHEDULES)
    return [
        e
        for e in state_of(ctx).eligibilities.values()
        if e.live(ctx.now)
        and item_matches(ctx, terms, scope=e.scope, principal_id=e.principal_id, role=e.role, status=e.status(ctx.now))
    ]


def eligibility_instances(ctx: Ctx) -> list[EligibilitySchedule]:
    terms = _start_list(ctx, _E_INSTANCES)
    return [
        e
        for e in state_of(ctx).eligibilities.values()
        if e.active(ctx.now)
        and item_matches(
            ctx,
            terms,
            scope=e.scope,
            principal_id=e.principal_id,
            role=e.role,
            status=e.status(ctx.now),
            fields={"roleeligibilityscheduleid": e.name},
        )
    ]


def eligibility_schedule(ctx: Ctx) -> EligibilitySchedule:
    require_subscription(ctx.world, ctx.scope)
    eligibility = state_of(ctx).eligibilities.get(ctx.names[0].lower())
    if eligibility is None or not eligibility.live(ctx.now) or not _same_scope(ctx, eligibility):
        raise not_found("RoleEligibilityScheduleNotFound", "role eligibility schedule", ctx.names[0])
    _visible(ctx, eligibility.principal_id, _E_SCHEDULES)
    return eligibility


def eligibility_instance(ctx: Ctx) -> EligibilitySchedule:
    require_subscription(ctx.world, ctx.scope)
    name = ctx.names[0].lower()
    for eligibility in state_of(ctx).eligibilities.values():
        if eligibility.instance_name == name and eligibility.active(ctx.now) and _same_scope(ctx, eligibility):
            _visible(ctx, eligibility.principal_id, _E_INSTANCES)
            return eligibility
    raise not_found("RoleEligibilityScheduleInstanceNotFound", "role eligibility schedule instance", ctx.names[0])
