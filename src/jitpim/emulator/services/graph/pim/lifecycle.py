"""How schedules take effect and end: materialising an active assignment as a core directory role assignment
or group membership (what authorization, `wids`, ARM and Key Vault follow), removing it, and the clock's
work at each tick (scheduled starts, expiries, approvals that timed out), each with its audit rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ....core.audit import SYSTEM
from ....core.directory import DirectoryRoleAssignment, Membership
from ..audit.backend import record_core, record_pim
from .models import Schedule, ScheduleRequest
from .store import GraphState

__all__ = [
    "complete_texts",
    "end_schedule",
    "materialise",
    "on_tick",
    "remove_standing",
    "set_end",
]


def complete_texts(req: ScheduleRequest) -> tuple[str, str, str]:
    """(requested, completed, canceled) activity texts of a request, in role terms."""
    span = "timebound" if req.end is not None else "permanent"
    eligible = req.level == "eligibility"
    member = "eligible member" if eligible else "member"
    table = {
        "selfActivate": (
            "Add member to role requested (PIM activation)",
            "Add member to role completed (PIM activation)",
            "Add member to role canceled (PIM activation)",
        ),
        "selfDeactivate": (
            "Remove member from role requested (PIM deactivate)",
            "Remove member from role completed (PIM deactivate)",
            "Remove member from role canceled (PIM deactivate)",
        ),
        "adminAssign": (
            f"Add {member} to role in PIM requested ({span})",
            f"Add {member} to role in PIM completed ({span})",
            f"Add {member} to role in PIM canceled ({span})",
        ),
        "adminRemove": (
            f"Remove {member} from role in PIM requested ({span})",
            f"Remove {member} from role in PIM completed ({span})",
            f"Remove {member} from role in PIM canceled ({span})",
        ),
        "adminRenew": (
            f"Add {member} to role in PIM requested (renew)",
            f"Add {member} to role in PIM completed (renew)",
            f"Add {member} to role in PIM canceled (renew)",
        ),
    }
    if req.action in table:
        return table[req.action]
    noun = "eligible member" if eligible else "member"
    verb = {"adminUpdate": "update", "adminExtend": "extend", "selfExtend": "extend", "selfRenew": "renew"}.get(
        req.action, "update"
    )
    return (
        f"Update {noun} in PIM requested ({verb})",
        f"Update {noun} in PIM completed ({verb})",
        f"Update {noun} in PIM canceled ({verb})",
    )


def materialise(state: GraphState, schedule: Schedule, when: datetime) -> None:
    """Make an active assignment take effect in the directory (eligibilities only change state)."""
    schedule.state = "active"
    if schedule.level != "assignment":
        return
    world = state.world
    target = schedule.target
    # Provisioning lag: the directory object appears a little after PIM accepted the request.
    start = max(schedule.start, when) + timedelta(seconds=world.settings.provisioning_seconds)
    if target.kind == "directory":
        world.directory.role_assignments.append(
            DirectoryRoleAssignment(
                principal_id=target.principal_id,
                role_definition_id=target.resource_id,
                directory_scope_id=target.scope,
                start=start,
                end=schedule.end,
                source="pim",
                schedule_id=schedule.id,
                assignment_type=schedule.assignment_type,
                eligibility_schedule_id=schedule.activated_using,
            )
        )
    else:
        group = world.directory.groups[target.resource_id]
        table = group.owners if target.scope == "owner" else group.members
        table[target.principal_id] = Membership(start, schedule.end, "pim", schedule.id)
    record_core(world, when=when, target=target, add=True, correlation_id=_correlation(state, schedule))


def _dematerialise(state: GraphState, schedule: Schedule, when: datetime) -> None:
    world = state.world
    target = schedule.target
    removed = False
    if target.kind == "directory":
        before = len(world.directory.role_assignments)
        world.directory.role_assignments[:] = [
            a for a in world.directory.role_assignments if a.schedule_id != schedule.id
        ]
        removed = len(world.directory.role_assignments) != before
    else:
        group = world.directory.groups.get(target.resource_id)
        if group is not None:
            table = group.owners if target.scope == "owner" else group.members
            current = table.get(target.principal_id)
            if current is not None and current.schedule_id == schedule.id:
                del table[target.principal_id]
                removed = True
    if removed:
        record_core(world, when=when, target=target, add=False, correlation_id=_correlation(state, schedule))


def _correlation(state: GraphState, schedule: Schedule) -> str | None:
    req = state.requests.get(schedule.request_id or "")
    return req.correlation_id if req else None


def end_schedule(state: GraphState, schedule: Schedule, reason: str, when: datetime) -> None:
    if schedule.state == "active" and schedule.level == "assignment":
        _dematerialise(state, schedule, when)
    schedule.state = "ended"
    schedule.ended_reason = reason
    schedule.ended_at = when
    schedule.modified = when


def set_end(state: GraphState, schedule: Schedule, end: datetime | None, when: datetime) -> None:
    """Move a schedule's end (extend/update) and the end of what it materialised."""
    schedule.end = end
    schedule.modified = when
    target = schedule.target
    if schedule.level != "assignment" or schedule.state != "active":
        return
    if target.kind == "directory":
        for a in state.world.directory.role_assignments:
            if a.schedule_id == schedule.id:
                a.end = end
    else:
        group = state.world.directory.groups.get(target.resource_id)
        table = (group.owners if target.scope == "owner" else group.members) if group else {}
        membership = table.get(target.principal_id)
        if membership is not None and membership.schedule_id == schedule.id:
            membership.end = end


def remove_standing(state: GraphState, request: ScheduleRequest, when: datetime) -> bool:
    """adminRemove of a non-PIM assignment/membership: PIM removes it from the directory as well."""
    world = state.world
    target = request.target
    removed = False
    if target.kind == "directory":
        keep = []
        for a in world.directory.role_assignments:
            if (
                a.source == "standing"
                and a.principal_id.lower() == target.principal_id.lower()
                and a.role_definition_id.lower() == target.resource_id.lower()
                and a.directory_scope_id == target.scope
            ):
                removed = True
            else:
                keep.append(a)
        world.directory.role_assignments[:] = keep
    else:
        group = world.directory.groups.get(target.resource_id)
        table = (group.owners if target.scope == "owner" else group.members) if group else {}
        current = table.get(target.principal_id)
        if current is not None and current.source == "standing":
            del table[target.principal_id]
            removed = True
    if removed:
        record_core(world, when=when, target=target, add=False, correlation_id=request.correlation_id)
    return removed


# the clock ------------------------------------------------------------------------------------------------
def on_tick(state: GraphState, now: datetime) -> None:
    """Everything due by `now`, in time order: scheduled starts, then expiries, then approval timeouts."""
    for schedule in sorted(state.schedules.values(), key=lambda s: s.start):
        if schedule.state == "scheduled" and schedule.start <= now:
            _start(state, schedule)
    due = [s for s in state.schedules.values() if s.state != "ended" and s.end is not None and s.end <= now]
    for schedule in sorted(due, key=lambda s: s.end or now):
        _expire(state, schedule)
    for approval in list(state.approvals.values()):
        if approval.status == "InProgress" and approval.deadline <= now:
            _approval_timed_out(state, approval.id, approval.deadline)


def _start(state: GraphState, schedule: Schedule) -> None:
    req = state.requests.get(schedule.request_id or "")
    materialise(state, schedule, schedule.start)
    if req is not None and req.status == "Granted":
        req.status = "Provisioned"
        record_pim(
            state.world,
            when=schedule.start,
            text=complete_texts(req)[1],
            target=req.target,
            initiator=SYSTEM,
            request=req,
            operation="Add",
        )


def _expire(state: GraphState, schedule: Schedule) -> None:
    when = schedule.end or schedule.start
    req = state.requests.get(schedule.request_id or "")
    end_schedule(state, schedule, "expired", when)
    if schedule.level == "eligibility":
        text = "Remove eligible member from role in PIM completed (timebound)"
    elif schedule.assignment_type == "Activated":
        text = "Remove member from role (PIM activation expired)"
    else:
        text = "Remove member from role in PIM completed (timebound)"
    record_pim(
        state.world,
        when=when,
        text=text,
        target=schedule.target,
        initiator=SYSTEM,
        request=req,
        operation="Delete",
        reason="",
        extra={"ActionType": "Expire"},
    )


def _approval_timed_out(state: GraphState, approval_id: str, when: datetime) -> None:
    approval = state.approvals[approval_id]
    approval.status = "Expired"
    req = state.requests.get(approval_id)
    if req is None:
        return
    # Graph's documented request statuses have no "TimedOut"; Canceled is the terminal one clients know.
    req.status = "Canceled"
    req.completed = when
    record_pim(
        state.world,
        when=when,
        text="PIM activation request expired",
        target=req.target,
        initiator=SYSTEM,
        request=req,
        operation="Update",
        result="failure",
        reason="RequestExpired",
    )
