"""roleAssignmentScheduleRequests (2020-10-01): what PUT (every requestType), GET, list, cancel and validate do.

Validation order: body and ids → permission (admin request types need
`Microsoft.Authorization/roleAssignmentScheduleRequests/write`; self types must target the caller) → scope
exists → eligibility (EligibilityRule) → an assignment already there (`RoleAssignmentExists`) → a pending
duplicate (`PendingRoleAssignmentRequest`) → the 5-minute floor (`ActiveDurationTooShort`) → policy rules
(one `RoleAssignmentRequestPolicyValidationFailed` naming them) → approval. `validate` runs the same checks
and answers what PUT would, without changing anything.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from ....core.durations import format_duration
from ....core.errors import ArmError
from ....core.rbac import RoleAssignment
from ..approvals.backend import is_approver
from ..common.authz import authorization_failed, authorize, permitted
from ..common.context import Ctx, require_scope, require_subscription
from ..common.filters import FilterSpec
from ..common.models import ADMIN_TYPES, PENDING_STATUSES, Approval, ScheduleRequest
from ..common.parse import (
    MINIMUM_WINDOW,
    Parsed,
    admin_rule_failures,
    does_not_exist,
    enablement_failures,
    end_user_rule_failures,
    exists,
    parse_request,
    pending_exists,
    policy_failed,
    too_short,
)
from ..common.pim import (
    find_eligibility,
    item_matches,
    live_assignment,
    not_found,
    require_read,
    standing_schedule,
    state_of,
)
from ..state import ArmState, initiator_of

__all__ = ["cancel", "get", "matching", "submit", "validate"]

WRITE = "Microsoft.Authorization/roleAssignmentScheduleRequests/write"
READ = "Microsoft.Authorization/roleAssignmentScheduleRequests/read"
CANCEL = "Microsoft.Authorization/roleAssignmentScheduleRequests/cancel/action"
REQUEST_FILTER = FilterSpec(
    frozenset(
        {
            "atscope()",
            "astarget()",
            "asrequestor()",
            "asapprover()",
            "principalid",
            "roledefinitionid",
            "requestorid",
            "status",
        }
    ),
    "Supported filters are 'atScope()', 'asTarget()', 'asRequestor()', 'asApprover()', "
    "'principalId eq '{value}'', 'roleDefinitionId eq '{value}'', 'requestorId eq '{value}'' and "
    "'status eq '{value}'', joined with 'and'.",
)
_Apply = Callable[[], None]


def _new_request(ctx: Ctx, parsed: Parsed) -> ScheduleRequest:
    carries_schedule = parsed.request_type not in ("AdminRemove", "SelfDeactivate")
    return ScheduleRequest(
        kind="assignment",
        name=parsed.name,
        scope=ctx.scope,
        role=parsed.role,
        principal_id=parsed.principal_id,
        principal_type=parsed.principal_type,
        request_type=parsed.request_type,
        status="Accepted",
        requestor_id=ctx.caller.object_id,
        created_on=ctx.now,
        justification=parsed.justification,
        ticket_info=parsed.ticket_info,
        start=(parsed.start or ctx.now) if carries_schedule else None,
        expiration_type=parsed.expiration_type if carries_schedule else None,
        duration=parsed.duration if carries_schedule else None,
        end_requested=parsed.end_requested if carries_schedule else None,
        window=parsed.window,
        linked_eligibility_id=parsed.linked_eligibility_id,
        condition=parsed.condition,
        condition_version=parsed.condition_version,
    )


def _pending_duplicate(state: ArmState, request: ScheduleRequest) -> bool:
    return any(
        r.status in PENDING_STATUSES
        and r.principal_id == request.principal_id
        and r.role == request.role
        and r.scope.path.lower() == request.scope.path.lower()
        and r.name != request.name
        for r in state.requests.values()
    )


def _carry_out(ctx: Ctx, state: ArmState, request: ScheduleRequest, linked: str | None) -> _Apply:
    """Grant now, or after the configured provisioning delay (the request stays `Accepted` until then)."""
    delay = ctx.world.settings.provisioning_seconds
    if delay > 0:
        request.status = "Accepted"
        request.provision_at = ctx.now + timedelta(seconds=delay)
        request.linked_eligibility_id = linked or request.linked_eligibility_id
        return lambda: None
    start = request.start or ctx.now
    request.status = "Provisioned" if start <= ctx.now else "Granted"
    initiator = initiator_of(ctx.world, ctx.caller)

    def grant() -> None:
        state.grant(request, ctx.now, initiator, linked)

    return grant


def _self_activate(ctx: Ctx, state: ArmState, parsed: Parsed, request: ScheduleRequest) -> _Apply:
    ids = ctx.world.directory.principal_and_groups(parsed.principal_id, ctx.now)
    eligibility = find_eligibility(state, ids, parsed.role, ctx.scope, parsed.linked_eligibility_id, ctx.now)
    failures: list[str] = []
    if eligibility is None:
        failures.append("EligibilityRule")
    else:
        schedule, assignment = live_assignment(state, parsed.principal_id, parsed.role, ctx.scope)
        if schedule is not None or assignment is not None:
            raise exists()
        if _pending_duplicate(state, request):
            raise pending_exists()
        if parsed.window is not None and parsed.window < MINIMUM_WINDOW:
            raise too_short()
    policy = state.policies.get(ctx.scope, parsed.role)
    if parsed.expiration_type is None:
        # No expiration asked for: the activation gets the policy's maximum.
        _, maximum = policy.expiration("Expiration_EndUser_Assignment")
        if maximum is not None:
            parsed.window = request.window = maximum
            parsed.expiration_type = request.expiration_type = "AfterDuration"
            parsed.duration = request.duration = format_duration(maximum)
    failures += end_user_rule_failures(parsed, policy, ctx.caller.has_mfa)
    if failures:
        raise policy_failed(failures)
    assert eligibility is not None
    linked = eligibility.id
    request.linked_eligibility_id = linked
    begin = request.start or ctx.now
    if eligibility.end is not None and request.window is not None and begin + request.window > eligibility.end:
        # An activation never outlives the eligibility it uses.
        request.window = eligibility.end - begin
        if request.end_requested is not None:
            request.end_requested = eligibility.end
    required, approvers, timeout_days = policy.approval()
    if not required:
        return _carry_out(ctx, state, request, linked)
    request.status = "PendingApproval"
    request.approval_name = request.name
    approval = Approval(
        name=request.name,
        request_name=request.name,
        scope=ctx.scope,
        approvers=approvers,
        created_on=ctx.now,
        expires_on=ctx.now + timedelta(days=timeout_days),
    )

    def apply() -> None:
        state.approvals[approval.name] = approval
        state.audit(
            "Add member to role request approval requested (PIM activation)",
            ctx.scope,
            parsed.role,
            parsed.principal_id,
            initiator_of(ctx.world, ctx.caller),
            ctx.now,
            justification=parsed.justification,
        )

    return apply


def _remove(ctx: Ctx, state: ArmState, parsed: Parsed, request: ScheduleRequest, *, activated_only: bool) -> _Apply:
    schedule, assignment = live_assignment(state, parsed.principal_id, parsed.role, ctx.scope)
    if activated_only and (schedule is None or schedule.assignment_type != "Activated"):
        raise does_not_exist()
    initiator = initiator_of(ctx.world, ctx.caller)
    if schedule is not None:
        if schedule.role_assignment_name is not None and ctx.now - schedule.start < MINIMUM_WINDOW:
            raise too_short()
        request.status = "Revoked"
        request.target_schedule_id = schedule.name
        target = schedule
        return lambda: state.end_schedule(target, "Revoked", ctx.now, initiator)
    if assignment is None:
        raise does_not_exist()
    if ctx.now - assignment.created_on < MINIMUM_WINDOW:
        raise too_short()
    request.status = "Revoked"
    standing: RoleAssignment = assignment

    def remove_standing() -> None:
        ctx.world.rbac.assignments.pop(standing.name.lower(), None)
        state.audit(
            "Remove member from role completed (permanent)",
            ctx.scope,
            parsed.role,
            parsed.principal_id,
            initiator,
            ctx.now,
        )

    return remove_standing


def _admin_rules(ctx: Ctx, state: ArmState, parsed: Parsed) -> None:
    if parsed.window is not None and parsed.window < MINIMUM_WINDOW:
        raise too_short()
    failures = admin_rule_failures(parsed, state.policies.get(ctx.scope, parsed.role), ctx.caller.has_mfa, "Assignment")
    if failures:
        raise policy_failed(failures)


def _settle_self_requests(state: ArmState, parsed: Parsed, request_type: str) -> None:
    for other in state.requests.values():
        if (
            other.request_type == request_type
            and other.status == "PendingAdminDecision"
            and other.principal_id == parsed.principal_id
            and other.role == parsed.role
        ):
            other.status = "AdminApproved"


def _update(ctx: Ctx, state: ArmState, parsed: Parsed, request: ScheduleRequest) -> _Apply:
    schedule, assignment = live_assignment(state, parsed.principal_id, parsed.role, ctx.scope)
    if schedule is None and assignment is None:
        raise does_not_exist()
    _admin_rules(ctx, state, parsed)
    request.status = "Provisioned"

    def apply() -> None:
        target = schedule
        if target is None:
            assert assignment is not None
            # A standing assignment comes under PIM's management when an admin first gives it a schedule.
            target = standing_schedule(ctx, assignment)
            assignment.schedule_id = target.name
            state.schedules[target.name] = target
        start = parsed.start if parsed.start is not None and target.role_assignment_name is None else target.start
        target.start = start
        target.end = (
            parsed.end_requested
            if parsed.expiration_type == "AfterDateTime"
            else (start + parsed.window if parsed.window is not None else None)
        )
        target.updated_on = ctx.now
        target.request_name = request.name
        if target.role_assignment_name:
            live = ctx.world.rbac.assignments.get(target.role_assignment_name.lower())
            if live is not None:
                live.end = target.end
                live.updated_on = ctx.now
        request.target_schedule_id = target.name
        request.target_instance_id = target.instance_name
        request.completed_on = ctx.now
        if parsed.request_type == "AdminExtend":
            _settle_self_requests(state, parsed, "SelfExtend")

    return apply


def _renew(ctx: Ctx, state: ArmState, parsed: Parsed, request: ScheduleRequest) -> _Apply:
    schedule, assignment = live_assignment(state, parsed.principal_id, parsed.role, ctx.scope)
    if schedule is not None or assignment is not None:
        raise exists()
    if not any(
        s.ended
        and s.principal_id == parsed.principal_id
        and s.role == parsed.role
        and s.scope.path.lower() == ctx.scope.path.lower()
        for s in state.schedules.values()
    ):
        raise does_not_exist()
    _admin_rules(ctx, state, parsed)
    apply = _carry_out(ctx, state, request, None)

    def renew() -> None:
        apply()
        _settle_self_requests(state, parsed, "SelfRenew")

    return renew


def _self_extend_or_renew(ctx: Ctx, state: ArmState, parsed: Parsed, request: ScheduleRequest) -> _Apply:
    schedule, _ = live_assignment(state, parsed.principal_id, parsed.role, ctx.scope)
    tuple_match = [
        s
        for s in state.schedules.values()
        if s.assignment_type == "Assigned"
        and s.principal_id == parsed.principal_id
        and s.role == parsed.role
        and s.scope.path.lower() == ctx.scope.path.lower()
    ]
    if parsed.request_type == "SelfExtend":
        if schedule is None or schedule.assignment_type != "Assigned" or schedule.end is None:
            raise does_not_exist()
    else:
        if schedule is not None:
            raise exists()
        if not any(s.ended for s in tuple_match):
            raise does_not_exist()
    if _pending_duplicate(state, request):
        raise pending_exists()
    failures = enablement_failures(
        parsed, state.policies.get(ctx.scope, parsed.role), "Enablement_EndUser_Assignment", ctx.caller.has_mfa
    )
    if failures:
        raise policy_failed(failures)
    request.status = "PendingAdminDecision"
    return lambda: None


def _evaluate(ctx: Ctx, *, validate_only: bool) -> tuple[ScheduleRequest, _Apply]:
    state = state_of(ctx)
    require_subscription(ctx.world, ctx.scope)
    parsed = parse_request(ctx)
    if not validate_only and parsed.name in state.requests:
        raise ArmError(
            400, "RoleAssignmentRequestExists", f"A role assignment request with Id: {parsed.name} already exists."
        )
    if parsed.request_type in ADMIN_TYPES:
        authorize(ctx.world, ctx.caller, ctx.scope.path, WRITE, ctx.now)
    elif parsed.principal_id != ctx.caller.object_id:
        raise authorization_failed(ctx.caller, ctx.scope.path, WRITE)
    require_scope(ctx.world, ctx.scope)
    request = _new_request(ctx, parsed)
    kind = parsed.request_type
    if kind == "SelfActivate":
        apply = _self_activate(ctx, state, parsed, request)
    elif kind == "SelfDeactivate":
        apply = _remove(ctx, state, parsed, request, activated_only=True)
    elif kind == "AdminRemove":
        apply = _remove(ctx, state, parsed, request, activated_only=False)
    elif kind == "AdminAssign":
        schedule, assignment = live_assignment(state, parsed.principal_id, parsed.role, ctx.scope)
        if schedule is not None or assignment is not None:
            raise exists()
        if _pending_duplicate(state, request):
            raise pending_exists()
        _admin_rules(ctx, state, parsed)
        apply = _carry_out(ctx, state, request, None)
    elif kind in ("AdminUpdate", "AdminExtend"):
        apply = _update(ctx, state, parsed, request)
    elif kind == "AdminRenew":
        apply = _renew(ctx, state, parsed, request)
    else:
        apply = _self_extend_or_renew(ctx, state, parsed, request)
    return request, apply


def submit(ctx: Ctx) -> ScheduleRequest:
    """PUT: the request, stored, and what it asks carried out (or parked for approval or a later start)."""
    request, apply = _evaluate(ctx, validate_only=False)
    state_of(ctx).requests[request.name] = request
    apply()
    return request


def validate(ctx: Ctx) -> ScheduleRequest:
    """POST .../validate: the request PUT would create, after the same checks; nothing changes."""
    request, _ = _evaluate(ctx, validate_only=True)
    return request


def _visible(ctx: Ctx, request: ScheduleRequest) -> bool:
    state = state_of(ctx)
    mine = ctx.world.directory.principal_and_groups(ctx.caller.object_id, ctx.now)
    approval = state.approvals.get(request.approval_name or "")
    return (
        request.principal_id in mine
        or request.requestor_id == ctx.caller.object_id
        or (approval is not None and is_approver(ctx, approval))
        or permitted(ctx.world, ctx.caller.object_id, ctx.scope.path, READ, ctx.now)
    )


def _find(ctx: Ctx) -> ScheduleRequest:
    require_subscription(ctx.world, ctx.scope)
    request = state_of(ctx).requests.get(ctx.names[0].lower())
    if request is None or request.scope.path.lower() != ctx.scope.path.lower():
        raise not_found("RoleAssignmentScheduleRequestNotFound", "role assignment schedule request", ctx.names[0])
    return request


def get(ctx: Ctx) -> ScheduleRequest:
    """The named request, if the caller may see it (its principal, requestor, approver, or a reader)."""
    request = _find(ctx)
    if not _visible(ctx, request):
        raise authorization_failed(ctx.caller, ctx.scope.path, READ)
    return request


def matching(ctx: Ctx) -> list[ScheduleRequest]:
    """The requests a list returns: its `$filter` applied with ARM's scope semantics."""
    require_subscription(ctx.world, ctx.scope)
    terms = REQUEST_FILTER.check(ctx.filter)
    require_read(ctx, terms, READ)
    require_scope(ctx.world, ctx.scope)
    state = state_of(ctx)
    items = []
    for request in state.requests.values():
        approval = state.approvals.get(request.approval_name or "")
        if item_matches(
            ctx,
            terms,
            scope=request.scope,
            principal_id=request.principal_id,
            role=request.role,
            status=request.status,
            requestor_id=request.requestor_id,
            is_approver=approval is not None and is_approver(ctx, approval),
        ):
            items.append(request)
    return items


def cancel(ctx: Ctx) -> None:
    """A pending request canceled: its approval closed and a window that never started revoked."""
    state = state_of(ctx)
    request = _find(ctx)
    if request.requestor_id != ctx.caller.object_id:
        authorize(ctx.world, ctx.caller, ctx.scope.path, CANCEL, ctx.now)
    if request.status not in PENDING_STATUSES:
        raise ArmError(
            400,
            "RequestCannotBeCancelled",
            f"The request cannot be canceled: its status is '{request.status}'. Only pending requests can be canceled.",
        )
    request.status = "Canceled"
    request.completed_on = ctx.now
    request.provision_at = None
    approval = state.approvals.get(request.approval_name or "")
    if approval is not None and approval.stage_status == "InProgress":
        approval.stage_status = "Completed"
    schedule = state.schedules.get(request.target_schedule_id or "")
    if schedule is not None and schedule.role_assignment_name is None and schedule.ended is None:
        schedule.ended = "Revoked"  # a future (Granted) window that never started
        schedule.updated_on = ctx.now
