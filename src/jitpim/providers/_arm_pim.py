"""ARM PIM pieces of the `azure-role` provider: the role-management policy as a `PolicyView`, schedule request
bodies, status mapping, and reading a request or schedule into a `Grant`.

Policy rules read (2020-10-01 `roleManagementPolicyAssignments?$filter=roleDefinitionId eq '...'`, then the
policy's rules): Expiration_EndUser_Assignment (activation maximum), Enablement_EndUser_Assignment
(Justification, MultiFactorAuthentication, Ticketing), Approval_EndUser_Assignment,
AuthenticationContext_EndUser_Assignment (a step-up sign-in, treated like MFA), and for admin requests
(direct mode's AdminAssign) Expiration_Admin_Assignment and Enablement_Admin_Assignment, which PIM checks
instead of the end-user rules.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import NotEligibleError, ProviderApiError, UsageError
from ..model import Mode, PolicyView, TargetKind, Ticket, iso8601_duration, parse_duration
from ._arm import PIM_API, ArmScope, authz_path, parse_arm_time, with_target
from .base import Grant, GrantStatus, ProviderContext, ResolvedTarget
from .marker import GrantMarker, parse_markers, with_markers

__all__ = [
    "JUSTIFICATION_LIMIT",
    "REQUESTS",
    "grant_from_instance",
    "grant_from_request",
    "grant_status",
    "marked_justification",
    "new_request_name",
    "principal_requests",
    "read_pim_policy",
    "request_body",
    "request_markers",
    "schedule_markers",
    "schedule_window",
]

REQUESTS = "roleAssignmentScheduleRequests"
# What jitpim writes into a request's justification, its marker included (PIM's portal keeps 500 characters).
JUSTIFICATION_LIMIT = 500
# Requests that give or lengthen access: the ones whose justification carries a holder's marker.
_GRANTING = frozenset({"AdminAssign", "SelfActivate", "AdminExtend", "SelfExtend", "AdminRenew", "SelfRenew"})
_NO_ACCESS = frozenset({"Denied", "AdminDenied", "Failed", "Canceled", "Invalid", "TimedOut", "Revoked"})

_PROVISIONING = frozenset(
    {
        "Accepted",
        "PendingEvaluation",
        "PendingProvisioning",
        "ProvisioningStarted",
        "PendingScheduleCreation",
        "ScheduleCreated",
        "PendingExternalProvisioning",
        "AdminApproved",
    }
)
_STATUS = {
    "Provisioned": GrantStatus.ACTIVE,
    "PendingApproval": GrantStatus.PENDING_APPROVAL,
    "PendingApprovalProvisioning": GrantStatus.PENDING_APPROVAL,
    "PendingAdminDecision": GrantStatus.PENDING_APPROVAL,
    "Denied": GrantStatus.DENIED,
    "AdminDenied": GrantStatus.DENIED,
    "Failed": GrantStatus.FAILED,
    "FailedAsResourceIsLocked": GrantStatus.FAILED,
    "Invalid": GrantStatus.FAILED,
    "TimedOut": GrantStatus.FAILED,  # the approval expired: the request is over
    "Canceled": GrantStatus.CANCELED,
    "Revoked": GrantStatus.REVOKED,
    "PendingRevocation": GrantStatus.REVOKED,
}


def new_request_name() -> str:
    return str(uuid.uuid4())


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(value: Any) -> timedelta | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_duration(value)
    except UsageError:
        return None  # months/years: no fixed length, so no limit jitpim can check before asking


# policy ------------------------------------------------------------------------------------------------------------
def _policy_view(rules: list[dict[str, Any]], mode: Mode, source: str) -> PolicyView:
    by_id = {str(r.get("id")): r for r in rules if isinstance(r, dict)}

    def enabled(rule_id: str) -> set[str]:
        return {str(v) for v in (by_id.get(rule_id) or {}).get("enabledRules") or []}

    def maximum(rule_id: str) -> timedelta | None:
        return _duration((by_id.get(rule_id) or {}).get("maximumDuration"))

    self_mode = mode is Mode.SELF
    flags = enabled("Enablement_EndUser_Assignment" if self_mode else "Enablement_Admin_Assignment")
    approval = (by_id.get("Approval_EndUser_Assignment") or {}).get("setting") or {}
    step_up = bool((by_id.get("AuthenticationContext_EndUser_Assignment") or {}).get("isEnabled"))
    approvers = tuple(
        str(a.get("description") or a.get("id"))
        for stage in approval.get("approvalStages") or []
        for a in (stage or {}).get("primaryApprovers") or []
        if isinstance(a, dict)
    )
    admin_expiration = by_id.get("Expiration_Admin_Assignment") or {}
    return PolicyView(
        max_duration=maximum("Expiration_EndUser_Assignment"),
        require_justification="Justification" in flags,
        require_ticket="Ticketing" in flags,
        require_mfa="MultiFactorAuthentication" in flags or (self_mode and step_up),
        require_approval=self_mode and bool(approval.get("isApprovalRequired")),
        approvers=approvers if self_mode else (),
        allow_permanent=not bool(admin_expiration.get("isExpirationRequired", True)),
        max_admin_duration=maximum("Expiration_Admin_Assignment"),
        source=source,
    )


def _policy_assignment(ctx: ProviderContext, scope: ArmScope, role_guid: str) -> dict[str, Any] | None:
    path = authz_path(scope.path, "roleManagementPolicyAssignments")
    full = scope.role_definition_id(role_guid)
    try:
        items = list(ctx.arm.paged(path, {"$filter": f"roleDefinitionId eq '{full}'", "api-version": PIM_API}))
    except ProviderApiError as exc:
        if exc.status != 400:
            raise
        # The 2020-10-01 spec does not declare this $filter; where it is refused, filter here instead.
        items = list(ctx.arm.paged(path, {"api-version": PIM_API}))
    for item in items:
        props = item.get("properties") or {}
        if str(props.get("roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower() == role_guid:
            return item
    return None


def read_pim_policy(ctx: ProviderContext, resolved: ResolvedTarget) -> PolicyView:
    scope = ArmScope.parse(resolved.scope)
    try:
        assignment = _policy_assignment(ctx, scope, resolved.role_id)
        if assignment is None:
            # PIM manages every role at every scope; a missing policy leaves the checks to the API itself.
            return PolicyView(source=f"azure-role: no PIM policy found for {resolved.role_name} at {scope.path}")
        props = assignment.get("properties") or {}
        rules = props.get("effectiveRules") or []
        policy_id = str(props.get("policyId") or "")
        modified = None
        if not rules and policy_id:
            policy = ctx.arm.get(policy_id, params={"api-version": PIM_API}).json or {}
            policy_props = policy.get("properties") or {}
            rules = policy_props.get("effectiveRules") or policy_props.get("rules") or []
            modified = policy_props.get("lastModifiedDateTime")
        modified = modified or ((props.get("policyAssignmentProperties") or {}).get("policy") or {}).get(
            "lastModifiedDateTime"
        )
    except ProviderApiError as exc:
        if exc.status == 403:
            raise NotEligibleError(
                f"cannot read the PIM policy of {resolved.role_name} at {scope.path}: {exc.message}",
                hint="In self mode you need an eligibility for this role here; in direct mode the identity needs "
                "Microsoft.Authorization/roleManagementPolicyAssignments/read at the scope.",
                target=resolved.describe(),
            ) from exc
        raise with_target(exc, resolved.describe()) from exc
    source = policy_id or str(assignment.get("id") or "")
    if modified:
        source += f" (modified {modified})"
    return _policy_view([r for r in rules if isinstance(r, dict)], ctx.mode, source)


# requests ----------------------------------------------------------------------------------------------------------
def request_body(
    resolved: ResolvedTarget,
    request_type: str,
    *,
    justification: str | None = None,
    ticket: Ticket | None = None,
    start: datetime | None = None,
    duration: timedelta | None = None,
    linked_eligibility_id: str | None = None,
) -> dict[str, Any]:
    """A roleAssignmentScheduleRequest body. A schedule is always time-bound (AfterDuration), never
    NoExpiration; `start` is sent only for a window that begins later (PIM starts it now otherwise)."""
    props: dict[str, Any] = {
        "principalId": resolved.principal_id,
        "roleDefinitionId": ArmScope.parse(resolved.scope).role_definition_id(resolved.role_id),
        "requestType": request_type,
    }
    if justification:
        props["justification"] = justification
    if ticket is not None:
        props["ticketInfo"] = {"ticketNumber": ticket.number, "ticketSystem": ticket.system}
    if duration is not None:
        info: dict[str, Any] = {"expiration": {"type": "AfterDuration", "duration": iso8601_duration(duration)}}
        if start is not None:
            info["startDateTime"] = _time(start)
        props["scheduleInfo"] = info
    if linked_eligibility_id:
        props["linkedRoleEligibilityScheduleId"] = linked_eligibility_id
    return {"properties": props}


def grant_status(api_status: str, start: datetime | None, now: datetime) -> GrantStatus:
    if api_status == "Granted":
        return GrantStatus.SCHEDULED if start is not None and start > now else GrantStatus.PROVISIONING
    if api_status in _PROVISIONING:
        return GrantStatus.PROVISIONING
    return _STATUS.get(api_status, GrantStatus.PROVISIONING)


def _window(info: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    start = parse_arm_time(info.get("startDateTime"))
    expiration = info.get("expiration") or {}
    end = parse_arm_time(expiration.get("endDateTime"))
    length = _duration(expiration.get("duration"))
    if end is None and start is not None and length is not None:
        end = start + length
    return start, end


def _tail(value: Any) -> str | None:
    return str(value).rstrip("/").rsplit("/", 1)[-1] if value else None


def grant_from_request(item: dict[str, Any], now: datetime, *, reused: bool = False) -> Grant:
    props = item.get("properties") or {}
    start, end = _window(props.get("scheduleInfo") or {})
    api_status = str(props.get("status") or "")
    return Grant(
        kind=TargetKind.AZURE_ROLE,
        status=grant_status(api_status, start, now),
        request_id=str(item.get("name") or ""),
        resource_id=str(item.get("id") or "") or None,
        start_at=start,
        end_at=end,
        reused=reused,
        api_status=api_status,
        data={
            "request_name": item.get("name"),
            "request_type": props.get("requestType"),
            "schedule_id": _tail(props.get("targetRoleAssignmentScheduleId")),
            "instance_id": _tail(props.get("targetRoleAssignmentScheduleInstanceId")),
            "linked_eligibility_id": props.get("linkedRoleEligibilityScheduleId"),
            "approval_id": props.get("approvalId"),
            "role_definition_id": props.get("roleDefinitionId"),
            "principal_id": props.get("principalId"),
            "scope": props.get("scope"),
        },
    )


def grant_from_instance(item: dict[str, Any]) -> Grant:
    """An active assignment found already in place (someone else's, or a standing one): reused, never released."""
    props = item.get("properties") or {}
    return Grant(
        kind=TargetKind.AZURE_ROLE,
        status=GrantStatus.ACTIVE,
        request_id=None,
        resource_id=str(item.get("id") or "") or None,
        start_at=parse_arm_time(props.get("startDateTime")),
        end_at=parse_arm_time(props.get("endDateTime")),
        reused=True,
        api_status=str(props.get("status") or "Provisioned"),
        data={
            "schedule_id": _tail(props.get("roleAssignmentScheduleId")),
            "instance_id": item.get("name"),
            "origin_role_assignment_id": props.get("originRoleAssignmentId"),
            "assignment_type": props.get("assignmentType"),
            "linked_eligibility_id": props.get("linkedRoleEligibilityScheduleId"),
            "principal_id": props.get("principalId"),
            "scope": props.get("scope"),
        },
    )


def schedule_window(
    ctx: ProviderContext, resolved: ResolvedTarget, schedule_id: str
) -> tuple[datetime | None, datetime | None] | None:
    """(start, end) of a live assignment schedule, or None once it has ended (PIM no longer lists it)."""
    path = authz_path(resolved.scope, "roleAssignmentSchedules", schedule_id)
    try:
        props = (ctx.arm.get(path, params={"api-version": PIM_API}, expected=(200,)).json or {}).get("properties") or {}
    except ProviderApiError as exc:
        if exc.status == 404:
            return None
        raise with_target(exc, resolved.describe()) from exc
    return parse_arm_time(props.get("startDateTime")), parse_arm_time(props.get("endDateTime"))


def marked_justification(justification: str | None, marker: GrantMarker | None) -> str | None:
    """The person's justification followed by the lease's marker (`providers.marker`)."""
    if marker is None:
        return justification
    return with_markers(justification, [marker], limit=JUSTIFICATION_LIMIT)


def _request_schedule(props: dict[str, Any]) -> str:
    return (_tail(props.get("targetRoleAssignmentScheduleId")) or "").lower()


def request_markers(items: list[dict[str, Any]], schedule_id: str) -> list[GrantMarker]:
    """The markers of the granting requests (assign, activate, extend) behind one assignment schedule, oldest
    first, one per lease (a later request of the same lease, e.g. its extension, replaces the earlier)."""
    by_lease: dict[str, GrantMarker] = {}
    rows = sorted(items, key=lambda i: str((i.get("properties") or {}).get("createdOn") or ""))
    for item in rows:
        props = item.get("properties") or {}
        if str(props.get("requestType")) not in _GRANTING or str(props.get("status")) in _NO_ACCESS:
            continue
        if _request_schedule(props) != schedule_id.lower():
            continue
        for marker in parse_markers(props.get("justification")):
            by_lease[marker.lease_id] = marker
    return list(by_lease.values())


def principal_requests(ctx: ProviderContext, scope: str, principal_id: str) -> list[dict[str, Any]]:
    mine = principal_id.lower() == ctx.identity.object_id.lower()
    wanted = "asTarget()" if mine else f"principalId eq '{principal_id}'"
    return list(ctx.arm.paged(authz_path(scope, REQUESTS), {"$filter": wanted, "api-version": PIM_API}))


def schedule_markers(ctx: ProviderContext, resolved: ResolvedTarget, schedule_id: str) -> list[GrantMarker]:
    """The markers at the source on the assignment schedule `schedule_id` ([] when it has none)."""
    try:
        items = principal_requests(ctx, resolved.scope, resolved.principal_id)
    except ProviderApiError as exc:
        raise with_target(exc, resolved.describe()) from exc
    return request_markers(items, schedule_id)
