"""roleAssignmentApprovals (2021-01-01-preview), what each operation does: approvers list their work, read an
approval and its stage, and record a decision (PUT or PATCH on `.../stages/{stageId}`; the legacy `steps`
segment is an alias).

Approvers are the policy's primary approvers (users, or members of approver groups); when the policy names
none, principals allowed to write role assignments at the scope decide. Nobody approves their own request.
Approving starts the activation window at the moment of approval.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ....core.errors import ArmError
from ....core.rbac import is_same_or_parent_scope
from ..common.authz import authorization_failed, permitted
from ..common.context import Ctx, require_subscription
from ..common.filters import FilterSpec
from ..common.models import Approval
from ..common.pim import live_assignment, not_found, state_of
from ..state import initiator_of

__all__ = ["find", "is_approver", "matching", "review", "stage"]

_DEFAULT_APPROVER_ACTION = "Microsoft.Authorization/roleAssignments/write"
_REVIEW_ACTION = "Microsoft.Authorization/roleAssignmentApprovals/stages/write"
APPROVAL_FILTER = FilterSpec(
    frozenset({"asapprover()", "ascreatedby()", "astarget()"}),
    "Supported filters are 'asApprover()', 'asCreatedBy()' and 'asTarget()'.",
)


def is_approver(ctx: Ctx, approval: Approval) -> bool:
    request = state_of(ctx).requests.get(approval.request_name)
    me = ctx.caller.object_id
    if request is None or me in (request.principal_id, request.requestor_id):
        return False
    if approval.approvers:
        mine = ctx.world.directory.principal_and_groups(me, ctx.now)
        return any(str(a.get("id", "")).lower() in mine for a in approval.approvers)
    return permitted(ctx.world, me, approval.scope.path, _DEFAULT_APPROVER_ACTION, ctx.now)


def _related(ctx: Ctx, approval: Approval) -> bool:
    request = state_of(ctx).requests.get(approval.request_name)
    me = ctx.caller.object_id
    return is_approver(ctx, approval) or (request is not None and me in (request.principal_id, request.requestor_id))


def find(ctx: Ctx) -> Approval:
    """The named approval, if the caller is its approver, principal or requestor (404 otherwise, as ARM hides it)."""
    require_subscription(ctx.world, ctx.scope)
    approval = state_of(ctx).approvals.get(ctx.names[0].lower())
    if approval is None or not _related(ctx, approval):
        raise not_found("RoleAssignmentApprovalNotFound", "role assignment approval", ctx.names[0])
    return approval


def matching(ctx: Ctx) -> list[tuple[Approval, bool]]:
    """The approvals a list returns (default `asApprover()`), each with whether the caller is its approver."""
    require_subscription(ctx.world, ctx.scope)
    terms = APPROVAL_FILTER.check(ctx.filter) or APPROVAL_FILTER.check("asApprover()")
    names = {t.name for t in terms}
    state = state_of(ctx)
    items: list[tuple[Approval, bool]] = []
    for approval in state.approvals.values():
        request = state.requests.get(approval.request_name)
        if request is None:
            continue
        if not is_same_or_parent_scope(ctx.scope.path, approval.scope.path):
            continue
        mine = is_approver(ctx, approval)
        if "asapprover()" in names and not mine:
            continue
        if "ascreatedby()" in names and request.requestor_id != ctx.caller.object_id:
            continue
        if "astarget()" in names and request.principal_id != ctx.caller.object_id:
            continue
        items.append((approval, mine))
    return items


def stage(ctx: Ctx) -> Approval:
    """The approval whose (single) stage the path names."""
    approval = find(ctx)
    if ctx.names[2].lower() != approval.stage_name:
        raise not_found("RoleAssignmentApprovalStageNotFound", "role assignment approval stage", ctx.names[2])
    return approval


def review(ctx: Ctx) -> Approval:
    """Record Approve or Deny. The body is the stage properties, bare (as the SDK sends it) or wrapped in
    `properties` (as the REST sample shows it). Approving grants (or schedules the grant); denying ends the
    request."""
    approval = stage(ctx)
    state = state_of(ctx)
    if not is_approver(ctx, approval):
        raise authorization_failed(ctx.caller, approval.scope.path, _REVIEW_ACTION)
    wrapped = ctx.body.get("properties")
    props: dict[str, Any] = wrapped if isinstance(wrapped, dict) else ctx.body
    raw = str(props.get("reviewResult") or "")
    result = next((r for r in ("Approve", "Deny") if r.lower() == raw.lower()), None)
    if result is None:
        raise ArmError(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be processed: 'reviewResult' must be 'Approve' or 'Deny'.",
        )
    justification = str(props.get("justification") or "").strip()
    request = state.requests[approval.request_name]
    policy = state.policies.get(request.scope, request.role)
    stages = (policy.rule("Approval_EndUser_Assignment").get("setting") or {}).get("approvalStages") or [{}]
    if stages[0].get("isApproverJustificationRequired") and not justification:
        raise ArmError(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be processed: "
            "a justification is required to review this approval stage.",
        )
    if approval.stage_status != "InProgress" or request.status != "PendingApproval":
        raise ArmError(
            409,
            "Conflict",
            f"The approval stage has already been completed ({approval.stage_status}, "
            f"{approval.review_result}); it can no longer be reviewed.",
        )
    approval.stage_status = "Completed"
    approval.review_result = result
    approval.reviewed_by = ctx.caller.object_id
    approval.reviewed_on = ctx.now
    approval.justification = justification
    initiator = initiator_of(ctx.world, ctx.caller)
    if result == "Deny":
        request.status = "Denied"
        request.completed_on = ctx.now
        state.audit(
            "Add member to role request denied (PIM activation)",
            request.scope,
            request.role,
            request.principal_id,
            initiator,
            ctx.now,
            justification=justification,
        )
    else:
        state.audit(
            "Add member to role request approved (PIM activation)",
            request.scope,
            request.role,
            request.principal_id,
            initiator,
            ctx.now,
            justification=justification,
        )
        schedule, assignment = live_assignment(state, request.principal_id, request.role, request.scope)
        if schedule is not None or assignment is not None:
            request.status = "Failed"  # activated some other way meanwhile: nothing left to grant
            request.completed_on = ctx.now
        elif ctx.world.settings.provisioning_seconds > 0:
            request.status = "Accepted"
            request.provision_at = ctx.now + timedelta(seconds=ctx.world.settings.provisioning_seconds)
        else:
            state.grant(request, ctx.now, initiator, request.linked_eligibility_id)
    return approval
