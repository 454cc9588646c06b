"""PIM's own approvals, for a person who approves: the activations PIM itself holds in `PendingApproval`
(Graph directory roles, ARM Azure roles), listed and decided through PIM's native approval APIs, so that
`jitpim approvals` is one place for broker requests and PIM requests alike.

- Graph (directory roles; beta only, v1.0 has no `roleAssignmentApprovals`):
  `GET /beta/roleManagement/directory/roleAssignmentApprovals/filterByCurrentUser(on='approver')` lists what
  waits for the caller; the approval id equals the request id, whose details come from
  `GET /v1.0/roleManagement/directory/roleAssignmentScheduleRequests/{id}?$expand=roleDefinition,principal`;
  a decision is `PATCH .../roleAssignmentApprovals/{id}/steps/{stepId}` `{reviewResult, justification}` -> 204.
- ARM (Azure roles, 2021-01-01-preview): `GET /providers/Microsoft.Authorization/roleAssignmentApprovals
  ?$filter=asApprover()` at the tenant root; the request details from `roleAssignmentScheduleRequests
  ?$filter=asApprover()` (2020-10-01), joined by name; a decision is `PATCH .../roleAssignmentApprovals/{id}
  /stages/{stageId}` `{"properties": {reviewResult, justification}}` -> 200.

PIM enforces who may decide (the policy's approvers, never the requestor) and refuses a second decision (409);
jitpim checks the reason and self-approval first and turns PIM's refusals into errors that say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from ..errors import ApprovalError, LeaseNotFoundError, PolicyDeniedError, ProviderApiError, UsageError
from .base import ProviderContext

__all__ = ["APPROVALS_API", "NativeApproval", "Source", "decide", "find", "pending"]

Source = Literal["pim-graph", "pim-arm"]
APPROVALS_API = "2021-01-01-preview"
_REQUESTS_API = "2020-10-01"
_GRAPH_APPROVALS = "/beta/roleManagement/directory/roleAssignmentApprovals"
_GRAPH_REQUESTS = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests"
_ARM_APPROVALS = "/providers/Microsoft.Authorization/roleAssignmentApprovals"
_ARM_REQUESTS = "/providers/Microsoft.Authorization/roleAssignmentScheduleRequests"
_OPEN = frozenset({"inprogress", "notstarted"})


@dataclass(frozen=True)
class NativeApproval:
    """One PIM approval: the request it holds, and its open stage (step) if any."""

    source: Source
    approval_id: str
    stage_id: str | None
    stage_status: str
    assigned_to_me: bool
    review_result: str | None
    reviewed_by: str | None
    request_status: str | None
    principal_id: str | None
    principal_name: str | None
    requestor_id: str | None
    role: str | None
    scope: str | None
    duration: str | None
    justification: str | None
    ticket: str | None
    created: str | None

    @property
    def state(self) -> str:
        if self.request_status == "PendingApproval" and self.stage_status.lower() in _OPEN:
            return "pending_approval"
        result = (self.review_result or "").lower()
        if result.startswith("approve"):
            return "approved"
        if result.startswith("den"):
            return "denied"
        return str(self.request_status or self.stage_status).lower()

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "request_id": self.approval_id,
            "state": self.state,
            "status": self.request_status,
            "principal": {"id": self.principal_id, "name": self.principal_name},
            "requestor_id": self.requestor_id,
            "target": {
                "kind": "entra-role" if self.source == "pim-graph" else "azure-role",
                "role": self.role,
                "scope": self.scope,
                "duration": self.duration,
            },
            "justification": self.justification,
            "ticket": self.ticket,
            "created": self.created,
            "approval": {
                "stage_id": self.stage_id,
                "status": self.stage_status,
                "assigned_to_me": self.assigned_to_me,
                "review_result": self.review_result,
                "reviewed_by": self.reviewed_by,
            },
        }


# reading ------------------------------------------------------------------------------------------------------
def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _ticket(info: Any) -> str | None:
    info = _dict(info)
    number = info.get("ticketNumber")
    if not number:
        return None
    system = info.get("ticketSystem")
    return f"{system}:{number}" if system else str(number)


def _stage(stages: Any) -> dict[str, Any]:
    """The open stage if there is one (the one a decision goes to), else the last one."""
    items = [s for s in (stages or []) if isinstance(s, dict)]
    for item in items:
        props = _dict(item.get("properties")) or item
        if str(props.get("status") or "").lower() in _OPEN:
            return item
    return items[-1] if items else {}


def _graph_approval(ctx: ProviderContext, approval: dict[str, Any]) -> NativeApproval:
    approval_id = str(approval.get("id") or "")
    step = _stage(approval.get("steps") or approval.get("stages"))
    request: dict[str, Any] = {}
    try:
        request = _dict(
            ctx.graph.get(
                f"{_GRAPH_REQUESTS}/{quote(approval_id, safe='')}",
                params={"$expand": "roleDefinition,principal"},
                expected=(200,),
            ).json
        )
    except ProviderApiError as exc:
        if exc.status not in (403, 404):
            raise
    principal = _dict(request.get("principal"))
    schedule = _dict(request.get("scheduleInfo"))
    expiration = _dict(schedule.get("expiration"))
    reviewer = _dict(step.get("reviewedBy"))
    return NativeApproval(
        source="pim-graph",
        approval_id=approval_id,
        stage_id=str(step["id"]) if step.get("id") else None,
        stage_status=str(step.get("status") or ""),
        assigned_to_me=bool(step.get("assignedToMe")),
        review_result=step.get("reviewResult"),
        reviewed_by=reviewer.get("userPrincipalName") or reviewer.get("displayName") or reviewer.get("id"),
        request_status=request.get("status"),
        principal_id=request.get("principalId"),
        principal_name=principal.get("userPrincipalName") or principal.get("displayName"),
        requestor_id=_dict(_dict(request.get("createdBy")).get("user")).get("id"),
        role=_dict(request.get("roleDefinition")).get("displayName") or request.get("roleDefinitionId"),
        scope=request.get("directoryScopeId"),
        duration=expiration.get("duration") or expiration.get("endDateTime"),
        justification=request.get("justification"),
        ticket=_ticket(request.get("ticketInfo")),
        created=request.get("createdDateTime"),
    )


def _arm_approval(approval: dict[str, Any], request: dict[str, Any]) -> NativeApproval:
    stage = _stage(_dict(approval.get("properties")).get("stages"))
    stage_props = _dict(stage.get("properties"))
    props = _dict(request.get("properties"))
    expanded = _dict(props.get("expandedProperties"))
    principal = _dict(expanded.get("principal"))
    expiration = _dict(_dict(props.get("scheduleInfo")).get("expiration"))
    reviewer = _dict(stage_props.get("reviewedBy"))
    return NativeApproval(
        source="pim-arm",
        approval_id=str(approval.get("name") or ""),
        stage_id=str(stage["name"]) if stage.get("name") else None,
        stage_status=str(stage_props.get("status") or ""),
        assigned_to_me=bool(stage_props.get("assignedToMe")),
        review_result=stage_props.get("reviewResult"),
        reviewed_by=reviewer.get("userPrincipalName") or reviewer.get("principalName") or reviewer.get("principalId"),
        request_status=props.get("status"),
        principal_id=props.get("principalId"),
        principal_name=principal.get("email") or principal.get("displayName"),
        requestor_id=props.get("requestorId"),
        role=_dict(expanded.get("roleDefinition")).get("displayName") or props.get("roleDefinitionId"),
        scope=props.get("scope"),
        duration=expiration.get("duration") or expiration.get("endDateTime"),
        justification=props.get("justification"),
        ticket=_ticket(props.get("ticketInfo")),
        created=props.get("createdOn"),
    )


def _arm_requests(ctx: ProviderContext) -> dict[str, dict[str, Any]]:
    items = ctx.arm.paged(_ARM_REQUESTS, params={"api-version": _REQUESTS_API, "$filter": "asApprover()"})
    return {str(item.get("name") or "").lower(): item for item in items}


def pending(ctx: ProviderContext, sources: tuple[Source, ...] = ("pim-graph", "pim-arm")) -> list[NativeApproval]:
    """What waits for the caller's decision in PIM: open stages assigned to them."""
    found: list[NativeApproval] = []
    if "pim-graph" in sources:
        path = f"{_GRAPH_APPROVALS}/filterByCurrentUser(on='approver')"
        for approval in ctx.graph.paged(path):
            item = _graph_approval(ctx, approval)
            if item.state == "pending_approval" and item.assigned_to_me:
                found.append(item)
    if "pim-arm" in sources:
        approvals = list(
            ctx.arm.paged(_ARM_APPROVALS, params={"api-version": APPROVALS_API, "$filter": "asApprover()"})
        )
        requests = _arm_requests(ctx) if approvals else {}
        for approval in approvals:
            item = _arm_approval(approval, requests.get(str(approval.get("name") or "").lower(), {}))
            if item.state == "pending_approval" and item.assigned_to_me:
                found.append(item)
    return found


def _absent(exc: ProviderApiError) -> bool:
    # 404 for an unknown approval; 400 where the id is not of the API's form (a broker request id, say).
    return exc.status in (400, 404)


def find(ctx: ProviderContext, approval_id: str, sources: tuple[Source, ...]) -> NativeApproval | None:
    """The approval named `approval_id` in the first of `sources` that has it (None when none has)."""
    key = quote(approval_id.strip(), safe="")
    for source in sources:
        try:
            if source == "pim-graph":
                body = _dict(ctx.graph.get(f"{_GRAPH_APPROVALS}/{key}", expected=(200,)).json)
                return _graph_approval(ctx, body)
            body = _dict(ctx.arm.get(f"{_ARM_APPROVALS}/{key}", params={"api-version": APPROVALS_API}).json)
            requests = _arm_requests(ctx)
            request = requests.get(str(body.get("name") or "").lower(), {})
            if not request:
                request = _arm_request_as_party(ctx, str(body.get("name") or ""))
            return _arm_approval(body, request)
        except ProviderApiError as exc:
            if not _absent(exc):
                raise
    return None


def _arm_request_as_party(ctx: ProviderContext, name: str) -> dict[str, Any]:
    """A decided request no longer lists under asApprover(); the requestor finds theirs under asRequestor()."""
    for item in ctx.arm.paged(_ARM_REQUESTS, params={"api-version": _REQUESTS_API, "$filter": "asRequestor()"}):
        if str(item.get("name") or "").lower() == name.lower():
            return item
    return {}


def decide(ctx: ProviderContext, approval: NativeApproval, approve: bool, reason: str) -> NativeApproval:
    """Record Approve or Deny on the approval's open stage; return the approval as PIM then shows it."""
    reason = reason.strip()
    if not reason:
        raise UsageError("a reason is required to decide an approval", hint='Pass --reason "why".')
    me = ctx.identity.object_id.lower()
    if me in {(approval.principal_id or "").lower(), (approval.requestor_id or "").lower()}:
        raise PolicyDeniedError(
            f"{approval.source}: you cannot decide your own request {approval.approval_id}",
            rules=["no-self-approval"],
            hint="Ask another approver named in the role's policy.",
        )
    if approval.state != "pending_approval" or not approval.stage_id:
        raise ApprovalError(
            f"{approval.source}: request {approval.approval_id} is already {approval.state}"
            + (f" (by {approval.reviewed_by})" if approval.reviewed_by else ""),
            hint="A decided approval cannot be decided again; `jitpim approvals show` shows the decision.",
        )
    verdict = "Approve" if approve else "Deny"
    key, stage = quote(approval.approval_id, safe=""), quote(approval.stage_id, safe="")
    try:
        if approval.source == "pim-graph":
            ctx.graph.patch(
                f"{_GRAPH_APPROVALS}/{key}/steps/{stage}",
                {"reviewResult": verdict, "justification": reason},
                expected=(200, 204),
            )
        else:
            ctx.arm.patch(
                f"{_ARM_APPROVALS}/{key}/stages/{stage}",
                {"properties": {"reviewResult": verdict, "justification": reason}},
                params={"api-version": APPROVALS_API},
                expected=(200, 201),
            )
    except ProviderApiError as exc:
        raise _refusal(approval, exc) from None
    after = find(ctx, approval.approval_id, (approval.source,))
    if after is None:
        raise LeaseNotFoundError(f"{approval.source}: approval {approval.approval_id} vanished after the decision")
    return after


def _refusal(approval: NativeApproval, exc: ProviderApiError) -> Exception:
    where = f"{approval.source}: request {approval.approval_id}"
    if exc.status == 409:
        return ApprovalError(
            f"{where}: PIM refused a second decision: {exc.message}",
            hint="Someone already decided it; `jitpim approvals show` shows the decision.",
        )
    if exc.status == 403:
        return PolicyDeniedError(
            f"{where}: PIM says you are not an approver of it: {exc.message}",
            rules=["approver"],
            hint="Only the approvers in the role's policy decide, never the person who asked.",
        )
    if exc.status == 404:
        return LeaseNotFoundError(f"{where}: PIM no longer has it: {exc.message}")
    return exc
