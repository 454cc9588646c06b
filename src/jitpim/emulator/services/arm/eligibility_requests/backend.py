"""roleEligibilityScheduleRequests (2020-10-01): admins create, change and remove eligibilities; principals ask
to extend or renew theirs (those wait for an admin: `PendingAdminDecision`). PUT, GET, list, cancel, validate.

Service principals cannot hold eligible assignments (only active ones), as in Azure.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ....core.errors import ArmError
from ....core.ids import new_guid
from ..common.authz import authorization_failed, authorize, permitted
from ..common.context import Ctx, require_scope, require_subscription
from ..common.filters import FilterSpec
from ..common.models import ADMIN_TYPES, PENDING_STATUSES, EligibilitySchedule, ScheduleRequest
from ..common.parse import (
    Parsed,
    admin_rule_failures,
    does_not_exist,
    enablement_failures,
    exists,
    parse_request,
    pending_exists,
    policy_failed,
)
from ..common.pim import item_matches, not_found, require_read, state_of
from ..state import ArmState, initiator_of

__all__ = ["cancel", "get", "matching", "submit", "validate"]

WRITE = "Microsoft.Authorization/roleEligibilityScheduleRequests/write"
READ = "Microsoft.Authorization/roleEligibilityScheduleRequests/read"
CANCEL = "Microsoft.Authorization/roleEligibilityScheduleRequests/cancel/action"
TYPES = ("AdminAssign", "AdminRemove", "AdminUpdate", "AdminExtend", "AdminRenew", "SelfExtend", "SelfRenew")
FILTER = FilterSpec(
    frozenset({"atscope()", "astarget()", "asrequestor()", "principalid", "roledefinitionid", "requestorid", "status"}),
    "Supported filters are 'atScope()', 'asTarget()', 'asRequestor()', 'principalId eq '{value}'', "
    "'roleDefinitionId eq '{value}'', 'requestorId eq '{value}'' and 'status eq '{value}'', joined with 'and'.",
)
_Apply = Callable[[], None]


def _live(state: ArmState, parsed: Parsed, ctx: Ctx) -> EligibilitySchedule | None:
    return next(
        (
            e
            for e in state.eligibilities.values()
            if e.live(ctx.now)
            and e.principal_id == parsed.principal_id
            and e.role == parsed.role
            and e.scope.path.lower() == ctx.scope.path.lower()
        ),
        None,
    )


def _end(parsed: Parsed, start: EligibilitySchedule | None, ctx: Ctx) -> tuple[datetime, datetime | None]:
    begin = parsed.start or (start.start if start else ctx.now)
    if parsed.expiration_type == "AfterDateTime":
        return begin, parsed.end_requested
    return begin, (begin + parsed.window if parsed.window is not None else None)


def _rules(ctx: Ctx, state: ArmState, parsed: Parsed) -> None:
    if parsed.expiration_type == "AfterDuration" and parsed.window is None:
        parsed.expiration_type = "NoExpiration"  # eligibility requests accept AfterDuration with no duration
    failures = admin_rule_failures(
        parsed, state.policies.get(ctx.scope, parsed.role), ctx.caller.has_mfa, "Eligibility"
    )
    if failures:
        raise policy_failed(failures)


def _create(ctx: Ctx, state: ArmState, parsed: Parsed, request: ScheduleRequest) -> _Apply:
    if parsed.principal_type == "ServicePrincipal":
        raise ArmError(
            400,
            "PrincipalTypeNotSupported",
            "Eligible assignments are not supported for principals of type 'ServicePrincipal'; assign "
            "the role as active (roleAssignmentScheduleRequests AdminAssign) instead.",
        )
    _rules(ctx, state, parsed)
    begin, end = _end(parsed, None, ctx)
    name = new_guid()
    request.target_schedule_id = name
    request.status = "Provisioned" if begin <= ctx.now else "Granted"

    def apply() -> None:
        eligibility = EligibilitySchedule(
            name=name,
            scope=ctx.scope,
            role=parsed.role,
            principal_id=parsed.principal_id,
            principal_type=parsed.principal_type,
            start=begin,
            end=end,
            request_name=request.name,
            created_on=ctx.now,
            updated_on=ctx.now,
            condition=parsed.condition,
            condition_version=parsed.condition_version,
        )
        state.eligibilities[name] = eligibility
        request.target_instance_id = eligibility.instance_name
        request.completed_on = ctx.now
        state.audit(
            "Add eligible member to role in PIM completed (timebound)"
            if end is not None
            else "Add eligible member to role in PIM completed (permanent)",
            ctx.scope,
            parsed.role,
            parsed.principal_id,
            initiator_of(ctx.world, ctx.caller),
            ctx.now,
            justification=parsed.justification,
        )

    return apply


def _evaluate(ctx: Ctx, *, validate_only: bool) -> tuple[ScheduleRequest, _Apply]:
    state = state_of(ctx)
    require_subscription(ctx.world, ctx.scope)
    parsed = parse_request(ctx, TYPES)
    if not validate_only and parsed.name in state.eligibility_requests:
        raise ArmError(
            400, "RoleEligibilityRequestExists", f"A role eligibility request with Id: {parsed.name} already exists."
        )
    if parsed.request_type in ADMIN_TYPES:
        authorize(ctx.world, ctx.caller, ctx.scope.path, WRITE, ctx.now)
    elif parsed.principal_id != ctx.caller.object_id:
        raise authorization_failed(ctx.caller, ctx.scope.path, WRITE)
    require_scope(ctx.world, ctx.scope)
    keeps_schedule = parsed.request_type != "AdminRemove"
    request = ScheduleRequest(
        kind="eligibility",
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
        start=(parsed.start or ctx.now) if keeps_schedule else None,
        expiration_type=parsed.expiration_type if keeps_schedule else None,
        duration=parsed.duration if keeps_schedule else None,
        end_requested=parsed.end_requested if keeps_schedule else None,
        window=parsed.window,
        condition=parsed.condition,
        condition_version=parsed.condition_version,
    )
    live = _live(state, parsed, ctx)
    kind = parsed.request_type
    pending = any(
        r.status in PENDING_STATUSES
        and r.principal_id == parsed.principal_id
        and r.role == parsed.role
        and r.scope.path.lower() == ctx.scope.path.lower()
        for r in state.eligibility_requests.values()
    )
    if kind == "AdminAssign":
        if live is not None:
            raise exists()
        if pending:
            raise pending_exists()
        return request, _create(ctx, state, parsed, request)
    if kind == "AdminRenew":
        if live is not None:
            raise exists()
        if not any(
            e.ended
            and e.principal_id == parsed.principal_id
            and e.role == parsed.role
            and e.scope.path.lower() == ctx.scope.path.lower()
            for e in state.eligibilities.values()
        ):
            raise does_not_exist()
        return request, _create(ctx, state, parsed, request)
    if kind in ("SelfExtend", "SelfRenew"):
        if (kind == "SelfExtend") != (live is not None):
            raise does_not_exist() if kind == "SelfExtend" else exists()
        if pending:
            raise pending_exists()
        failures = enablement_failures(
            parsed, state.policies.get(ctx.scope, parsed.role), "Enablement_EndUser_Assignment", ctx.caller.has_mfa
        )
        if failures:
            raise policy_failed(failures)
        request.status = "PendingAdminDecision"
        return request, lambda: None
    if live is None:
        raise does_not_exist()
    target = live
    request.target_schedule_id = target.name
    request.target_instance_id = target.instance_name
    initiator = initiator_of(ctx.world, ctx.caller)
    if kind == "AdminRemove":
        request.status = "Revoked"

        def remove() -> None:
            target.ended = "Revoked"
            target.updated_on = ctx.now
            request.completed_on = ctx.now
            state.audit(
                "Remove eligible member from role in PIM completed",
                ctx.scope,
                parsed.role,
                parsed.principal_id,
                initiator,
                ctx.now,
                justification=parsed.justification,
            )

        return request, remove
    _rules(ctx, state, parsed)
    begin, end = _end(parsed, target, ctx)
    request.status = "Provisioned"

    def update() -> None:
        target.start, target.end = begin, end
        target.updated_on = ctx.now
        target.request_name = request.name
        request.completed_on = ctx.now
        for other in state.eligibility_requests.values():
            if (
                other.status == "PendingAdminDecision"
                and other.request_type == "SelfExtend"
                and other.principal_id == parsed.principal_id
                and other.role == parsed.role
            ):
                other.status = "AdminApproved"

    return request, update


def submit(ctx: Ctx) -> ScheduleRequest:
    """PUT: the request, stored, and what it asks carried out (or left pending an admin's decision)."""
    request, apply = _evaluate(ctx, validate_only=False)
    state_of(ctx).eligibility_requests[request.name] = request
    apply()
    return request


def validate(ctx: Ctx) -> ScheduleRequest:
    """POST .../validate: the request PUT would create, after the same checks; nothing changes."""
    request, _ = _evaluate(ctx, validate_only=True)
    return request


def _find(ctx: Ctx) -> ScheduleRequest:
    require_subscription(ctx.world, ctx.scope)
    request = state_of(ctx).eligibility_requests.get(ctx.names[0].lower())
    if request is None or request.scope.path.lower() != ctx.scope.path.lower():
        raise not_found("RoleEligibilityScheduleRequestNotFound", "role eligibility schedule request", ctx.names[0])
    return request


def get(ctx: Ctx) -> ScheduleRequest:
    """The named request, if the caller may see it (its principal, requestor, or a reader)."""
    request = _find(ctx)
    mine = ctx.world.directory.principal_and_groups(ctx.caller.object_id, ctx.now)
    if not (
        request.principal_id in mine
        or request.requestor_id == ctx.caller.object_id
        or permitted(ctx.world, ctx.caller.object_id, ctx.scope.path, READ, ctx.now)
    ):
        raise authorization_failed(ctx.caller, ctx.scope.path, READ)
    return request


def matching(ctx: Ctx) -> list[ScheduleRequest]:
    """The requests a list returns: its `$filter` applied with ARM's scope semantics."""
    require_subscription(ctx.world, ctx.scope)
    terms = FILTER.check(ctx.filter)
    require_read(ctx, terms, READ)
    require_scope(ctx.world, ctx.scope)
    return [
        r
        for r in state_of(ctx).eligibility_requests.values()
        if item_matches(
            ctx,
            terms,
            scope=r.scope,
            principal_id=r.principal_id,
            role=r.role,
            status=r.status,
            requestor_id=r.requestor_id,
        )
    ]


def cancel(ctx: Ctx) -> None:
    """A pending request canceled; an eligibility it scheduled for later is revoked."""
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
    eligibility = state_of(ctx).eligibilities.get(request.target_schedule_id or "")
    if eligibility is not None and eligibility.start > ctx.now and eligibility.ended is None:
        eligibility.ended = "Revoked"
