"""Creating and cancelling schedule requests: every action, for directory roles and groups, at both levels.

Validation runs in the order PIM answers: permission (403) -> principal and role/group exist (400
`SubjectNotFound` / `RoleNotFound`) -> eligibility (`EligibilityRule`) -> nothing equivalent exists
(`RoleAssignmentExists`) -> nothing pending (`PendingRoleAssignmentRequest`) -> the 5-minute floor
(`ActiveDurationTooShort`) -> policy rules (`RoleAssignmentRequestPolicyValidationFailed` naming every failed
rule) -> authentication context (`RoleAssignmentRequestAcrsValidationFailed`). A successful request is
always 201; the outcome is in `status`. `isValidationOnly` runs all of it and changes nothing.

Decision on an open question (graph-pim.md section 12.1): service principals cannot use the self actions
(selfActivate, selfDeactivate, selfExtend, selfRenew): an app-only token gets 403
`UnauthorizedAccessException`. CI identities get time-bound access with `adminAssign` instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ....core.errors import GraphError
from ....core.ids import new_guid
from ....core.tokens import Caller
from ..audit.backend import initiator_for, record_pim
from ..policies.backend import Policy, expiration_limits
from .authz import is_directory_admin, is_group_manager, pim_error, request_permissions, require_scope, unauthorized
from .lifecycle import complete_texts, end_schedule, materialise, remove_standing, set_end
from .models import CANCELLABLE, Approval, Creator, Kind, Level, Schedule, ScheduleRequest
from .parse import Draft, parse_request
from .rules import (
    MIN_DURATION,
    RuleCheck,
    acrs_error,
    approval_timeout,
    approver_ids,
    policy_error,
    policy_failures,
    requires_approval,
)
from .store import GraphState, standing_assignment

__all__ = ["cancel", "create_schedule", "schedule_id_for", "submit"]

_REMOVALS = ("adminRemove", "selfDeactivate")
_ELIGIBILITY_ACTIONS = (
    "adminAssign",
    "adminRemove",
    "adminUpdate",
    "adminExtend",
    "adminRenew",
    "selfExtend",
    "selfRenew",
)


def _exists() -> GraphError:
    return GraphError(400, "RoleAssignmentExists", "The Role assignment already exists.")


def _missing() -> GraphError:
    return GraphError(400, "RoleAssignmentDoesNotExist", "The Role assignment does not exist.")


def _too_short() -> GraphError:
    # The typo is the service's own.
    return GraphError(
        400, "ActiveDurationTooShort", "The Active duration is too short. Miniumum Required is 5 minutes."
    )


def _pending() -> GraphError:
    return GraphError(
        400,
        "PendingRoleAssignmentRequest",
        "There already exists a pending role assignment request for this principal and role.",
    )


def _authorize(state: GraphState, caller: Caller, draft: Draft, level: Level, now: datetime) -> None:
    target = draft.target
    accepted, named = request_permissions(target.kind, level, write=True, removal=draft.action in _REMOVALS)
    require_scope(caller, accepted, named)
    if draft.action.startswith("self"):
        if caller.is_app or caller.object_id.lower() != target.principal_id.lower():
            raise unauthorized()
        return
    if caller.is_app:
        return
    world = state.world
    if target.kind == "directory":
        allowed = is_directory_admin(world, caller.object_id, now)
    else:
        allowed = is_group_manager(world, caller.object_id, target.resource_id, target.scope, now)
    if not allowed:
        raise unauthorized()


def _policy(state: GraphState, draft: Draft) -> Policy:
    target = draft.target
    world = state.world
    if world.directory.principal_kind(target.principal_id) is None:
        raise GraphError(400, "SubjectNotFound", "The subject is not found.")
    if target.kind == "directory":
        policy = state.policies.for_role(target.resource_id)
        if policy is None:
            raise GraphError(400, "RoleNotFound", "The role is not found.")
        return policy
    policy = state.policies.for_group(target.resource_id, target.scope)
    if policy is None:
        raise GraphError(400, "GroupNotFound", "The group is not found.")
    return policy


def _rules(policy: Policy, draft: Draft, level: Level, caller: Caller, start: datetime, end: datetime | None) -> None:
    check = RuleCheck(
        draft.target.kind, level, draft.action, caller, draft.justification, draft.ticket_number, start, end
    )
    failures = policy_failures(policy, check)
    if failures:
        raise policy_error(draft.target.kind, failures)
    acrs = acrs_error(policy, caller, draft.action)
    if acrs is not None:
        raise acrs


def _new_request(draft: Draft, level: Level, caller: Caller, now: datetime, state: GraphState) -> ScheduleRequest:
    sp = state.world.directory.service_principals.get(caller.object_id)
    return ScheduleRequest(
        id=new_guid(),
        level=level,
        target=draft.target,
        action=draft.action,
        status="Failed",
        created=now,
        created_by=Creator(caller.object_id, caller.is_app, caller.app_id, sp.display_name if sp else None),
        justification=draft.justification,
        ticket_info=draft.ticket_info,
        is_validation_only=draft.is_validation_only,
        custom_data=draft.custom_data,
        app_scope_id=draft.app_scope_id,
        correlation_id=new_guid(),
        had_mfa=caller.has_mfa,
    )


def schedule_id_for(req: ScheduleRequest) -> str:
    """Directory schedules take the request's id; group schedules `{groupId}_{accessId}_{requestId}`."""
    if req.target.kind == "directory":
        return req.id
    return f"{req.target.resource_id}_{req.target.scope}_{req.id}"


def create_schedule(state: GraphState, req: ScheduleRequest, caller: Caller | None, now: datetime) -> Schedule:
    """Create the schedule a granted request asks for; materialise it when its start has come."""
    assert req.start is not None
    info = req.schedule_info or {}
    expiration = info.get("expiration") or {}
    schedule = Schedule(
        id=schedule_id_for(req),
        level=req.level,
        target=req.target,
        start=req.start,
        end=req.end,
        expiration_type=str(expiration.get("type") or ("afterDateTime" if req.end else "noExpiration")),
        duration=expiration.get("duration"),
        created=now,
        created_using=req.id,
        modified=now,
        assignment_type="Activated" if req.action == "selfActivate" else "Assigned",
        activated_using=req.activated_using,
        request_id=req.id,
    )
    state.schedules[schedule.id] = schedule
    req.target_schedule_id = schedule.id
    initiator = initiator_for(state.world, caller)
    if req.start <= now:
        req.status = "Provisioned"
        req.completed = now
        materialise(state, schedule, now)
        record_pim(
            state.world, when=now, text=complete_texts(req)[1], target=req.target, initiator=initiator, request=req
        )
    else:
        req.status = "Granted"
        req.completed = req.start
    return schedule


def _live(state: GraphState, level: Level, draft: Draft, now: datetime) -> list[Schedule]:
    return state.live_schedules(level, draft.target, now)


def submit(
    state: GraphState, caller: Caller, kind: Kind, level: Level, body: dict[str, Any], now: datetime
) -> ScheduleRequest:
    draft = parse_request(state.world, kind, body)
    if level == "eligibility" and draft.action not in _ELIGIBILITY_ACTIONS:
        raise GraphError(
            400, "BadRequest", f"The action '{draft.action}' is not supported for eligibility schedule requests."
        )
    _authorize(state, caller, draft, level, now)
    policy = _policy(state, draft)
    req = _new_request(draft, level, caller, now, state)
    if draft.action in ("adminAssign", "adminRenew", "selfActivate"):
        _grant(state, policy, draft, req, caller, now)
    elif draft.action in _REMOVALS:
        _remove(state, draft, req, caller, now)
    elif draft.action in ("adminUpdate", "adminExtend"):
        _update(state, policy, draft, req, caller, now)
    else:
        _self_update(state, policy, draft, req, caller, now)
    return req


def _store(state: GraphState, req: ScheduleRequest, caller: Caller, now: datetime) -> None:
    state.requests[req.id] = req
    record_pim(
        state.world,
        when=now,
        text=complete_texts(req)[0],
        target=req.target,
        initiator=initiator_for(state.world, caller),
        request=req,
    )


def _grant(
    state: GraphState, policy: Policy, draft: Draft, req: ScheduleRequest, caller: Caller, now: datetime
) -> None:
    level = req.level
    default_duration = None
    if draft.action == "selfActivate":
        default_duration = expiration_limits(policy, "Expiration_EndUser_Assignment")[1]
    start, end, exp_type, duration = draft.window(now, default_duration=default_duration)
    if draft.action == "selfActivate":
        eligibility = state.eligibility_for(draft.target, now)
        if eligibility is None:
            raise policy_error(draft.target.kind, [("EligibilityRule", "No valid eligibility was found")])
        req.activated_using = eligibility.id
        if eligibility.end is not None and (end is None or end > eligibility.end):
            end = eligibility.end  # an activation never outlives the eligibility it uses
    if _live(state, level, draft, now) or (
        level == "assignment" and standing_assignment(state.world, draft.target, now)
    ):
        raise _exists()
    if draft.action == "adminRenew" and not state.ended_schedules(level, draft.target):
        raise _missing()
    if state.pending_requests(level, draft.target):
        raise _pending()
    if end is not None and end - start < MIN_DURATION:
        raise _too_short()
    _rules(policy, draft, level, caller, start, end)
    req.start, req.end = start, end
    req.schedule_info = draft.schedule_info(start, end, exp_type, duration)
    if draft.action == "selfActivate" and requires_approval(policy, draft.action):
        req.status = "PendingApprovalProvisioning" if start > now else "PendingApproval"
        req.approval_id = req.id
        req.target_schedule_id = schedule_id_for(req)
        if draft.is_validation_only:
            return
        approvers = approver_ids(state.world, policy, now)
        state.approvals[req.id] = Approval(
            req.id, draft.target.kind, frozenset(approvers) if approvers else None, now + approval_timeout(policy)
        )
        _store(state, req, caller, now)
        record_pim(
            state.world,
            when=now,
            text="Add member to role approval requested (PIM activation)",
            target=req.target,
            initiator=initiator_for(state.world, caller),
            request=req,
            extra={"IsActivationRequireApproval": "True"},
        )
        return
    if draft.is_validation_only:
        req.status = "Granted" if start > now else "Provisioned"
        req.target_schedule_id = schedule_id_for(req)
        return
    _store(state, req, caller, now)
    create_schedule(state, req, caller, now)


def _remove(state: GraphState, draft: Draft, req: ScheduleRequest, caller: Caller, now: datetime) -> None:
    level = req.level
    live = _live(state, level, draft, now)
    if draft.action == "selfDeactivate":
        live = [s for s in live if s.assignment_type == "Activated"]
    standing = standing_assignment(state.world, draft.target, now) if level == "assignment" else None
    if draft.action == "selfDeactivate":
        standing = None
    if not live and standing is None:
        raise _missing()
    if level == "assignment":
        for schedule in live:
            if schedule.state == "active" and now - schedule.start < MIN_DURATION:
                if not draft.is_validation_only:
                    record_pim(
                        state.world,
                        when=now,
                        text="Process role removal request",
                        target=draft.target,
                        initiator=initiator_for(state.world, caller),
                        request=req,
                        operation="Delete",
                        result="failure",
                        reason="ActiveDurationTooShort",
                    )
                raise _too_short()
    req.status = "Revoked"
    req.completed = now
    req.start = min((s.start for s in live), default=None)
    req.end = max((s.end for s in live if s.end is not None), default=None)
    if draft.is_validation_only:
        return
    _store(state, req, caller, now)
    for schedule in live:
        end_schedule(state, schedule, "revoked" if schedule.state == "active" else "canceled", now)
    if standing is not None:
        remove_standing(state, req, now)
    record_pim(
        state.world,
        when=now,
        text=complete_texts(req)[1],
        target=req.target,
        initiator=initiator_for(state.world, caller),
        request=req,
        operation="Delete",
    )


def _update(
    state: GraphState, policy: Policy, draft: Draft, req: ScheduleRequest, caller: Caller, now: datetime
) -> None:
    level = req.level
    live = _live(state, level, draft, now)
    standing = standing_assignment(state.world, draft.target, now) if level == "assignment" else None
    if not live and standing is None:
        raise _missing()
    current = live[0] if live else None
    start, end, exp_type, duration = draft.window(now, default_start=current.start if current else now)
    if end is not None and end - start < MIN_DURATION:
        raise _too_short()
    if [r for r in state.pending_requests(level, draft.target) if r.status != "PendingAdminDecision"]:
        raise _pending()
    _rules(policy, draft, level, caller, start, end)
    req.start, req.end = start, end
    req.schedule_info = draft.schedule_info(start, end, exp_type, duration)
    req.status = "Provisioned"
    req.completed = now
    if draft.is_validation_only:
        req.target_schedule_id = current.id if current else schedule_id_for(req)
        return
    _store(state, req, caller, now)
    for pending in state.pending_requests(level, draft.target):
        pending.status = "Provisioned"  # the administrator's extend/renew settles the user's own request
        pending.completed = now
    if current is None:
        # Updating a standing assignment turns it into a PIM schedule with the new window.
        remove_standing(state, req, now)
        create_schedule(state, req, caller, now)
        return
    req.target_schedule_id = current.id
    if current.state == "scheduled":
        current.start = start
    set_end(state, current, end, now)
    current.expiration_type, current.duration = exp_type, duration
    record_pim(
        state.world,
        when=now,
        text=complete_texts(req)[1],
        target=req.target,
        initiator=initiator_for(state.world, caller),
        request=req,
        operation="Update",
    )


def _self_update(
    state: GraphState, policy: Policy, draft: Draft, req: ScheduleRequest, caller: Caller, now: datetime
) -> None:
    """selfExtend / selfRenew of an admin-assigned time-bound assignment: waits for an administrator
    (`PendingAdminDecision`), who settles it with adminExtend / adminRenew."""
    level = req.level
    if draft.action == "selfExtend":
        found = [s for s in _live(state, level, draft, now) if s.end is not None and s.assignment_type == "Assigned"]
    else:
        found = [] if _live(state, level, draft, now) else state.ended_schedules(level, draft.target)
    if not found:
        raise _missing()
    if state.pending_requests(level, draft.target):
        raise _pending()
    start, end, exp_type, duration = draft.window(
        now, default_start=found[-1].start if draft.action == "selfExtend" else None
    )
    _rules(policy, draft, level, caller, start, end)
    req.start, req.end = start, end
    req.schedule_info = draft.schedule_info(start, end, exp_type, duration)
    req.status = "PendingAdminDecision"
    req.target_schedule_id = found[-1].id
    if draft.is_validation_only:
        return
    _store(state, req, caller, now)


def cancel(state: GraphState, caller: Caller, kind: Kind, level: Level, request_id: str, now: datetime) -> None:
    """Cancel a pending or granted request (204); anything else answers 400."""
    req = state.requests.get(request_id)
    if req is None or req.target.kind != kind or req.level != level:
        raise GraphError(404, "ResourceNotFound", f"The request '{request_id}' does not exist.")
    accepted, named = request_permissions(kind, level, write=True)
    require_scope(caller, accepted, named)
    own = caller.object_id.lower() in (req.created_by.object_id.lower(), req.target.principal_id.lower())
    if not own and not caller.is_app:
        world = state.world
        target = req.target
        admin = (
            is_directory_admin(world, caller.object_id, now)
            if kind == "directory"
            else is_group_manager(world, caller.object_id, target.resource_id, target.scope, now)
        )
        if not admin:
            raise unauthorized()
    if req.status not in CANCELLABLE:
        raise pim_error(
            400, "RequestCannotBeCancelled", f"The request cannot be cancelled because its status is {req.status}."
        )
    if req.status == "Granted":
        schedule = state.schedules.get(req.target_schedule_id or "")
        if schedule is not None and schedule.state == "scheduled":
            end_schedule(state, schedule, "canceled", now)
    approval = state.approvals.get(req.id)
    if approval is not None and not approval.decided:
        approval.status = "Completed"
    req.status = "Canceled"
    req.completed = now
    record_pim(
        state.world,
        when=now,
        text=complete_texts(req)[2],
        target=req.target,
        initiator=initiator_for(state.world, caller),
        request=req,
        operation="Update",
    )
