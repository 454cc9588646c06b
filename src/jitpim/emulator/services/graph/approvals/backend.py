"""Deciding an approval: who may decide it, and what Approve or Deny does to the request, its schedule and the
audit log."""

from __future__ import annotations

from datetime import datetime

from ....core.clock import format_time
from ....core.tokens import Caller
from ..audit.backend import initiator_for, record_pim
from ..pim.authz import is_directory_admin
from ..pim.backend import create_schedule
from ..pim.models import Approval
from ..pim.store import GraphState, standing_assignment

__all__ = ["can_decide", "decide"]


def can_decide(state: GraphState, approval: Approval, object_id: str, now: datetime) -> bool:
    req = state.requests.get(approval.id)
    oid = object_id.lower()
    if req is None or oid in (req.target.principal_id.lower(), req.created_by.object_id.lower()):
        return False  # nobody approves their own request
    if approval.approvers is None:
        return is_directory_admin(state.world, object_id, now)
    return oid in approval.approvers


def decide(
    state: GraphState, approval: Approval, caller: Caller, approve: bool, justification: str | None, now: datetime
) -> None:
    req = state.requests[approval.id]
    approval.status = "Completed"
    approval.review_result = "Approve" if approve else "Deny"
    approval.reviewed_by = caller.object_id
    approval.reviewed_at = now
    approval.justification = justification
    who = initiator_for(state.world, caller)
    if not approve:
        req.status = "Denied"
        req.completed = now
        record_pim(
            state.world,
            when=now,
            text="Add member to role request denied (PIM activation)",
            target=req.target,
            initiator=who,
            request=req,
            operation="Update",
            reason=justification or "",
        )
        return
    record_pim(
        state.world,
        when=now,
        text="Add member to role request approved (PIM activation)",
        target=req.target,
        initiator=who,
        request=req,
        operation="Update",
        reason=justification or "",
    )
    # The activation window starts at approval, not at the request.
    assert req.start is not None
    span = req.end - req.start if req.end is not None else None
    start = max(now, req.start)
    end = start + span if span is not None else None
    eligibility = state.schedules.get(req.activated_using or "")
    if (
        eligibility is None
        or not eligibility.active_at(now)
        or state.live_schedules("assignment", req.target, now)
        or standing_assignment(state.world, req.target, now)
    ):
        req.status = "Failed"  # the eligibility went away, or the role was granted meanwhile
        req.completed = now
        return
    if eligibility.end is not None and end is not None and end > eligibility.end:
        end = eligibility.end
    req.start, req.end = start, end
    if req.schedule_info is not None:
        req.schedule_info["startDateTime"] = format_time(start)
    create_schedule(state, req, None, now)
