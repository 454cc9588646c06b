"""Approvals of activation requests that an approval rule parked in `PendingApproval`.

Directory roles: beta only, `/beta/roleManagement/directory/roleAssignmentApprovals/{id}` with `steps`
(v1.0 answers 400 "Resource not found for the segment 'roleAssignmentApprovals'."). Groups:
`/identityGovernance/privilegedAccess/group/assignmentApprovals/{id}` with `stages` (v1.0) or `steps`
(beta). The approval id, and its single stage's id, equal the request id. Deciding is delegated-only:
PATCH a stage/step `{"reviewResult": "Approve"|"Deny", "justification": ...}` -> 204; 409 once decided.
Only the policy's approvers decide (the Privileged Role / Global Administrators when it names none), and
never the requestor. Approval starts the activation window; a denial ends the request as `Denied`; an
approval nobody decides within the stage timeout expires (see `pim/lifecycle.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ....core.auth import authenticate
from ....core.clock import format_time
from ....core.errors import GraphError
from ....core.http import json_body, json_response, no_content, world
from ....core.tokens import Caller
from ..common.odata import collection, entity
from ..pim.authz import is_directory_admin
from ..pim.models import Approval, Kind
from ..pim.store import GraphState
from .backend import can_decide, decide

__all__ = ["DIRECTORY", "GROUP", "get_approval", "list_steps", "not_in_v1", "step"]

DIRECTORY = "/roleManagement/directory/roleAssignmentApprovals"
GROUP = "/identityGovernance/privilegedAccess/group/assignmentApprovals"
_FBCU = re.compile(r"^filterByCurrentUser\(on='?([A-Za-z]+)'?\)$", re.IGNORECASE)


# HTTP ------------------------------------------------------------------------------------------------------
def _version(request: Request) -> str:
    return request.url.path.removeprefix("/graph/").split("/", 1)[0]


def _step_json(state: GraphState, approval: Approval, caller: Caller, now: datetime) -> dict[str, Any]:
    reviewer = None
    if approval.reviewed_by:
        directory = state.world.directory
        user = directory.users.get(approval.reviewed_by)
        reviewer = {
            "id": approval.reviewed_by,
            "displayName": directory.display_name(approval.reviewed_by),
            "userPrincipalName": user.user_principal_name if user else None,
            "mail": user.mail if user else None,
        }
    return {
        "id": approval.id,
        "displayName": None,
        "reviewedDateTime": format_time(approval.reviewed_at),
        "reviewResult": approval.review_result,
        "status": approval.status,
        "assignedToMe": not approval.decided and can_decide(state, approval, caller.object_id, now),
        "justification": approval.justification,
        "reviewedBy": reviewer,
    }


def _approval_json(state: GraphState, approval: Approval, caller: Caller, now: datetime, noun: str) -> dict[str, Any]:
    return {"id": approval.id, noun: [_step_json(state, approval, caller, now)]}


def _authorize(caller: Caller, kind: Kind, write: bool) -> None:
    """Delegated only. Directory approvals have been observed to want the PrivilegedAccess.*.AzureAD scopes."""
    if kind == "directory":
        accepted = [
            "PrivilegedAccess.ReadWrite.AzureAD",
            "RoleAssignmentSchedule.ReadWrite.Directory",
            "RoleManagement.ReadWrite.Directory",
        ]
        if not write:
            accepted.append("PrivilegedAccess.Read.AzureAD")
        named = "PrivilegedAccess.ReadWrite.AzureAD,PrivilegedAccess.Read.AzureAD"
    else:
        accepted = ["PrivilegedAssignmentSchedule.ReadWrite.AzureADGroup", "PrivilegedAccess.ReadWrite.AzureADGroup"]
        if not write:
            accepted += ["PrivilegedAssignmentSchedule.Read.AzureADGroup", "PrivilegedAccess.Read.AzureADGroup"]
        named = ",".join(accepted)
    if caller.is_app or not caller.has_permission(*accepted):
        raise GraphError(
            403,
            "",
            f"Valid permissions not present. User needs one of the following permissions for this action : {named}",
        )


def _find(state: GraphState, kind: Kind, approval_id: str, caller: Caller, now: datetime) -> Approval:
    approval = state.approvals.get(approval_id)
    if approval is None or approval.kind != kind:
        raise GraphError(404, "ResourceNotFound", f"The approval '{approval_id}' does not exist.")
    req = state.requests.get(approval.id)
    me = caller.object_id.lower()
    involved = req is not None and me in (req.target.principal_id.lower(), req.created_by.object_id.lower())
    if not (
        involved
        or can_decide(state, approval, caller.object_id, now)
        or is_directory_admin(state.world, caller.object_id, now)
        or approval.reviewed_by == caller.object_id
    ):
        raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
    return approval


def get_approval(kind: Kind) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        w = world(request)
        caller = authenticate(request, w, "graph")
        key = request.path_params["key"]
        _authorize(caller, kind, write=False)
        noun = "steps" if kind == "directory" or _version(request) == "beta" else "stages"
        context = request.url.path.split("/", 3)[3].rsplit("/", 1)[0]
        with w.lock:
            now = w.clock.now()
            state = w.service("graph", GraphState)
            match = _FBCU.match(key)
            if match:
                if match.group(1).lower() != "approver":
                    raise GraphError(
                        400, "BadRequest", f"Requested value '{match.group(1)}' was not found for parameter 'on'."
                    )
                mine = [
                    _approval_json(state, a, caller, now, noun)
                    for a in state.approvals.values()
                    if a.kind == kind and not a.decided and can_decide(state, a, caller.object_id, now)
                ]
                return json_response(collection(request, mine, "Collection(approval)"))
            approval = _find(state, kind, key, caller, now)
            return json_response(entity(request, _approval_json(state, approval, caller, now, noun), context))

    return handler


def list_steps(kind: Kind, noun: str) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        w = world(request)
        caller = authenticate(request, w, "graph")
        _authorize(caller, kind, write=False)
        with w.lock:
            now = w.clock.now()
            state = w.service("graph", GraphState)
            approval = _find(state, kind, request.path_params["key"], caller, now)
            context = request.url.path.split("/", 3)[3].replace(approval.id, f"('{approval.id}')")
            return json_response(collection(request, [_step_json(state, approval, caller, now)], context))

    return handler


def step(kind: Kind) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        w = world(request)
        caller = authenticate(request, w, "graph")
        write = request.method == "PATCH"
        _authorize(caller, kind, write=write)
        body = await json_body(request, GraphError) if write else {}
        with w.lock:
            now = w.clock.now()
            state = w.service("graph", GraphState)
            approval = _find(state, kind, request.path_params["key"], caller, now)
            if request.path_params["step"].lower() != approval.id.lower():
                raise GraphError(
                    404, "ResourceNotFound", f"The approval step '{request.path_params['step']}' does not exist."
                )
            if not write:
                context = request.url.path.split("/", 3)[3].rsplit("/", 1)[0]
                return json_response(entity(request, _step_json(state, approval, caller, now), context))
            result = str(body.get("reviewResult") or "")
            if result.lower() not in ("approve", "deny", "approved", "denied"):
                raise GraphError(400, "BadRequest", "The reviewResult must be 'Approve' or 'Deny'.")
            if approval.decided:
                raise GraphError(409, "Conflict", "The approval stage has already been completed.")
            if not can_decide(state, approval, caller.object_id, now):
                raise GraphError(403, "Authorization_RequestDenied", "The caller is not an approver of this request.")
            justification = body.get("justification")
            decide(
                state,
                approval,
                caller,
                result.lower().startswith("approve"),
                str(justification) if justification is not None else None,
                now,
            )
        return no_content()

    return handler


async def not_in_v1(request: Request) -> Response:
    raise GraphError(400, "BadRequest", "Resource not found for the segment 'roleAssignmentApprovals'.")
