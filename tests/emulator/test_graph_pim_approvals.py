"""Approvals of directory-role activations (beta `roleAssignmentApprovals`) over real HTTPS: who may decide,
204 / 409, the window starting at approval, denial, and expiry of an undecided request with its audit row.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jitpim.emulator import Emulator
from jitpim.emulator.core.clock import parse_time
from jitpim.testing import EmulatorGraph

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
REQUESTS = "/roleManagement/directory/roleAssignmentScheduleRequests"
APPROVALS = "/roleManagement/directory/roleAssignmentApprovals"


def _request_global_admin(graph: EmulatorGraph) -> dict[str, Any]:
    body = {
        "action": "selfActivate",
        "principalId": graph.oid("alice"),
        "roleDefinitionId": GLOBAL_ADMIN,
        "directoryScopeId": "/",
        "justification": "break glass drill",
        "ticketInfo": {"ticketNumber": "INC-7", "ticketSystem": "ServiceNow"},
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT1H"}},
    }
    response = graph.call("POST", REQUESTS, "alice", body)
    assert response.status_code == 201 and response.json()["status"] == "PendingApproval"
    return dict(response.json())


def _step(graph: EmulatorGraph, approval_id: str) -> str:
    return f"{APPROVALS}/{approval_id}/steps/{approval_id}"


def test_approver_approves_and_the_window_starts_at_approval(graph: EmulatorGraph, fresh_emu: Emulator) -> None:
    req = _request_global_admin(graph)
    waiting = graph.call(
        "GET",
        f"{REQUESTS}/filterByCurrentUser(on='approver')",
        "bob",
        params={"$filter": "status eq 'PendingApproval'"},
    ).json()["value"]
    assert [r["id"] for r in waiting] == [req["id"]]
    approval = graph.call("GET", f"{APPROVALS}/{req['approvalId']}", "bob", version="beta").json()
    assert approval["id"] == req["id"]
    assert approval["steps"][0] | {"id": None} == {
        "id": None,
        "displayName": None,
        "reviewedDateTime": None,
        "reviewResult": "NotReviewed",
        "status": "InProgress",
        "assignedToMe": True,
        "justification": None,
        "reviewedBy": None,
    }

    fresh_emu.advance(600)  # the approver takes ten minutes
    approved_at = fresh_emu.runtime.clock.now()
    decided = graph.call(
        "PATCH",
        _step(graph, req["id"]),
        "bob",
        {"reviewResult": "Approve", "justification": "drill approved"},
        version="beta",
    )
    assert decided.status_code == 204
    assert graph.call("GET", f"{REQUESTS}/{req['id']}", "alice").json()["status"] == "Provisioned"
    step = graph.call("GET", f"{APPROVALS}/{req['id']}/steps", "bob", version="beta").json()["value"][0]
    assert (step["reviewResult"], step["status"]) == ("Approve", "Completed")
    assert step["reviewedBy"]["userPrincipalName"] == "bob@contoso.onmicrosoft.com"

    flt = {"$filter": f"principalId eq '{graph.oid('alice')}'"}
    instance = graph.call(
        "GET", "/roleManagement/directory/roleAssignmentScheduleInstances", "admin-app", params=flt
    ).json()["value"][0]
    start, end = parse_time(instance["startDateTime"]), parse_time(instance["endDateTime"])
    assert abs(start - approved_at) < timedelta(seconds=5) and end - start == timedelta(hours=1)
    assert instance["assignmentType"] == "Activated"

    again = graph.call("PATCH", _step(graph, req["id"]), "bob", {"reviewResult": "Deny"}, version="beta")
    assert again.status_code == 409
    activities = [r["activityDisplayName"] for r in fresh_emu.runtime.world.audit.rows]
    assert activities[-3:] == [
        "Add member to role request approved (PIM activation)",
        "Add member to role",
        "Add member to role completed (PIM activation)",
    ]
    assert activities.count("Add member to role approval requested (PIM activation)") == 1


def test_only_configured_approvers_decide_and_never_the_requestor(graph: EmulatorGraph) -> None:
    req = _request_global_admin(graph)
    own = graph.call("PATCH", _step(graph, req["id"]), "alice", {"reviewResult": "Approve"}, version="beta")
    assert own.status_code == 403
    app = graph.call("GET", f"{APPROVALS}/{req['id']}", "admin-app", version="beta")
    assert app.status_code == 403 and app.json()["error"]["code"] == ""
    assert "PrivilegedAccess.ReadWrite.AzureAD" in app.json()["error"]["message"]
    v1 = graph.call("GET", f"{APPROVALS}/{req['id']}", "bob")
    assert (v1.status_code, v1.json()["error"]["message"]) == (
        400,
        "Resource not found for the segment 'roleAssignmentApprovals'.",
    )
    unknown = graph.call("GET", f"{APPROVALS}/00000000-0000-0000-0000-000000000000", "bob", version="beta")
    assert unknown.status_code == 404


def test_denial_ends_the_request(graph: EmulatorGraph, fresh_emu: Emulator) -> None:
    req = _request_global_admin(graph)
    denied = graph.call(
        "PATCH", _step(graph, req["id"]), "bob", {"reviewResult": "Deny", "justification": "no"}, version="beta"
    )
    assert denied.status_code == 204
    assert graph.call("GET", f"{REQUESTS}/{req['id']}", "alice").json()["status"] == "Denied"
    assert not [a for a in fresh_emu.runtime.world.directory.role_assignments if a.role_definition_id == GLOBAL_ADMIN]
    row = fresh_emu.runtime.world.audit.rows[-1]
    assert row["activityDisplayName"] == "Add member to role request denied (PIM activation)"
    assert row["initiatedBy"]["user"]["id"] == graph.oid("bob")


def test_undecided_requests_expire_after_the_stage_timeout(graph: EmulatorGraph, fresh_emu: Emulator) -> None:
    req = _request_global_admin(graph)
    fresh_emu.advance(86400 + 1)
    assert graph.call("GET", f"{REQUESTS}/{req['id']}", "alice").json()["status"] == "Canceled"
    step = graph.call("GET", f"{APPROVALS}/{req['id']}/steps/{req['id']}", "bob", version="beta").json()
    assert step["status"] == "Expired"
    row = fresh_emu.runtime.world.audit.rows[-1]
    assert row["activityDisplayName"] == "PIM activation request expired" and row["result"] == "failure"
    late = graph.call("PATCH", _step(graph, req["id"]), "bob", {"reviewResult": "Approve"}, version="beta")
    assert late.status_code == 409


def test_default_approvers_are_privileged_role_administrators(graph: EmulatorGraph) -> None:
    """With no approver named, bob (Privileged Role Administrator) may decide."""
    flt = f"scopeId eq '/' and scopeType eq 'DirectoryRole' and roleDefinitionId eq '{GLOBAL_ADMIN}'"
    policy_id = graph.call(
        "GET", "/policies/roleManagementPolicyAssignments", "admin-app", params={"$filter": flt}
    ).json()["value"][0]["policyId"]
    rule = graph.call(
        "GET", f"/policies/roleManagementPolicies/{policy_id}/rules/Approval_EndUser_Assignment", "admin-app"
    ).json()
    rule["setting"]["approvalStages"][0]["primaryApprovers"] = []
    patched = graph.call(
        "PATCH",
        f"/policies/roleManagementPolicies/{policy_id}/rules/Approval_EndUser_Assignment",
        "admin-app",
        {k: v for k, v in rule.items() if k != "@odata.context"},
    )
    assert patched.status_code == 204
    req = _request_global_admin(graph)
    approval = graph.call("GET", f"{APPROVALS}/{req['id']}", "bob", version="beta").json()
    assert approval["steps"][0]["assignedToMe"] is True
    assert (
        graph.call("PATCH", _step(graph, req["id"]), "bob", {"reviewResult": "Approve"}, version="beta").status_code
        == 204
    )
