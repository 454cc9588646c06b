"""PIM for Groups over real HTTPS: activation adds a real (time-bound) group membership, which Key Vault's
RBAC check follows (the group holds Key Vault Secrets Officer on the vault); expiry removes it. Lists need a
`groupId`/`principalId` filter; admin grants by the CI app; approvals of group activations.
"""

from __future__ import annotations

from typing import Any

import requests

from jitpim.emulator import Emulator
from jitpim.testing import EmulatorGraph

BASE = "/identityGovernance/privilegedAccess/group"
REQUESTS = f"{BASE}/assignmentScheduleRequests"
INSTANCES = f"{BASE}/assignmentScheduleInstances"
GROUP = "kv-operators"
VAULT = "kv-payments"


def _read_secret(graph: EmulatorGraph, who: str) -> int:
    token = graph.token(who, scope="https://vault.azure.net/.default")
    url = f"{graph.info['vaults'][VAULT]['url']}/secrets/db-password?api-version=7.5"
    return int(graph.http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code)


def _activate(graph: EmulatorGraph, principal: str = "alice", **extra: Any) -> dict[str, Any]:
    body = {
        "accessId": "member",
        "principalId": graph.oid(principal),
        "groupId": graph.oid(GROUP),
        "action": "selfActivate",
        "justification": "rotate db password",
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT2H"}},
    }
    body.update(extra)
    return body


def _error(response: requests.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


def test_activation_adds_the_membership_that_key_vault_honours_until_expiry(
    graph: EmulatorGraph, fresh_emu: Emulator
) -> None:
    assert _read_secret(graph, "alice") == 403
    response = graph.call("POST", REQUESTS, "alice", _activate(graph))
    assert response.status_code == 201
    req = response.json()
    assert req["status"] == "Provisioned" and req["accessId"] == "member" and req["groupId"] == graph.oid(GROUP)
    assert req["targetScheduleId"] == f"{graph.oid(GROUP)}_member_{req['id']}"
    assert "roleDefinitionId" not in req

    flt = {"$filter": f"groupId eq '{graph.oid(GROUP)}' and principalId eq '{graph.oid('alice')}'"}
    instances = graph.call("GET", INSTANCES, "alice", params=flt).json()["value"]
    mine = [i for i in instances if i["principalId"] == graph.oid("alice")]
    assert len(mine) == 1
    assert mine[0]["id"] == f"{graph.oid(GROUP)}_member_{graph.oid('alice')}"
    assert (mine[0]["assignmentType"], mine[0]["memberType"]) == ("activated", "direct")
    assert mine[0]["assignmentScheduleId"] == req["targetScheduleId"]
    membership = fresh_emu.runtime.world.directory.groups[graph.oid(GROUP)].members[graph.oid("alice")]
    assert membership.source == "pim" and membership.end is not None

    fresh_emu.advance(5)  # RBAC and directory propagation (scenario: 3 s and 1 s)
    assert _read_secret(graph, "alice") == 200

    fresh_emu.advance(2 * 3600)
    assert graph.oid("alice") not in fresh_emu.runtime.world.directory.groups[graph.oid(GROUP)].members
    assert graph.call("GET", INSTANCES, "alice", params=flt).json()["value"] == []
    assert _read_secret(graph, "alice") == 403
    rows = fresh_emu.runtime.world.audit.rows
    assert [r["activityDisplayName"] for r in rows[-2:]] == [
        "Remove member from group",
        "Remove member from group (PIM activation expired)",
    ]
    assert (
        rows[-1]["category"] == "GroupManagement" and rows[-1]["initiatedBy"]["user"]["displayName"] == "Azure AD PIM"
    )


def test_lists_without_group_or_principal_filter_are_empty(graph: EmulatorGraph) -> None:
    eligible = graph.call("GET", f"{BASE}/eligibilitySchedules", "admin-app")
    assert eligible.status_code == 200 and eligible.json()["value"] == []
    filtered = graph.call(
        "GET", f"{BASE}/eligibilitySchedules", "admin-app", params={"$filter": f"principalId eq '{graph.oid('alice')}'"}
    ).json()["value"]
    assert [(e["groupId"], e["accessId"]) for e in filtered] == [(graph.oid(GROUP), "member")]
    mine = graph.call("GET", f"{BASE}/eligibilityScheduleInstances/filterByCurrentUser(on='principal')", "alice")
    assert [e["eligibilityScheduleId"] for e in mine.json()["value"]] == [filtered[0]["id"]]


def test_ci_app_grants_itself_time_bound_membership(graph: EmulatorGraph, fresh_emu: Emulator) -> None:
    body = {
        "accessId": "member",
        "principalId": graph.oid("ci-app"),
        "groupId": graph.oid(GROUP),
        "action": "adminAssign",
        "justification": "pipeline 12",
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT30M"}},
    }
    response = graph.call("POST", REQUESTS, "ci-app", body)
    assert response.status_code == 201 and response.json()["status"] == "Provisioned"
    assert _error(graph.call("POST", REQUESTS, "ci-app", body))[:2] == (400, "RoleAssignmentExists")
    fresh_emu.advance(301)
    removed = graph.call("POST", REQUESTS, "ci-app", {**body, "action": "adminRemove", "scheduleInfo": None})
    assert removed.json()["status"] == "Revoked"
    assert graph.oid("ci-app") not in fresh_emu.runtime.world.directory.groups[graph.oid(GROUP)].members


def test_permanent_membership_is_refused_by_the_default_group_policy(graph: EmulatorGraph) -> None:
    body = {
        "accessId": "member",
        "principalId": graph.oid("ci-app"),
        "groupId": graph.oid(GROUP),
        "action": "adminAssign",
        "justification": "forever",
        "scheduleInfo": {"expiration": {"type": "noExpiration"}},
    }
    assert _error(graph.call("POST", REQUESTS, "ci-app", body)) == (
        400,
        "RoleAssignmentRequestPolicyValidationFailed",
        "The following policy rules failed: ExpirationRule - The policy does not allow permanent assignment",
    )


def test_group_activation_needs_eligibility_and_a_known_group(graph: EmulatorGraph) -> None:
    owner = _activate(graph, accessId="owner")
    assert _error(graph.call("POST", REQUESTS, "alice", owner))[:2] == (
        400,
        "RoleAssignmentRequestPolicyValidationFailed",
    )
    unknown = _activate(graph, groupId="00000000-0000-0000-0000-00000000abcd")
    assert _error(graph.call("POST", REQUESTS, "alice", unknown))[:2] == (400, "GroupNotFound")
    bad_access = _activate(graph, accessId="guest")
    assert _error(graph.call("POST", REQUESTS, "alice", bad_access))[:2] == (400, "BadRequest")


def test_group_approvals_are_decided_through_stages(graph: EmulatorGraph, fresh_emu: Emulator) -> None:
    """A group policy with approval: bob approves through the v1.0 stage; the membership appears."""
    world = fresh_emu.runtime.world
    state = world.services()["graph"]
    policy = state.policies.for_group(graph.oid(GROUP), "member")
    with world.lock:
        setting = policy.rules["Approval_EndUser_Assignment"]["setting"]
        setting["isApprovalRequired"] = True
        setting["approvalStages"][0]["primaryApprovers"] = [
            {"@odata.type": "#microsoft.graph.singleUser", "userId": graph.oid("bob")}
        ]
    req = graph.call("POST", REQUESTS, "alice", _activate(graph)).json()
    assert req["status"] == "PendingApproval"
    pending = graph.call("GET", f"{BASE}/assignmentApprovals/filterByCurrentUser(on='approver')", "bob").json()
    assert [a["id"] for a in pending["value"]] == [req["id"]]
    approval = graph.call("GET", f"{BASE}/assignmentApprovals/{req['id']}", "bob").json()
    assert approval["stages"][0]["assignedToMe"] is True and approval["stages"][0]["status"] == "InProgress"
    beta = graph.call("GET", f"{BASE}/assignmentApprovals/{req['id']}", "bob", version="beta").json()
    assert "steps" in beta
    decided = graph.call(
        "PATCH",
        f"{BASE}/assignmentApprovals/{req['id']}/stages/{req['id']}",
        "bob",
        {"reviewResult": "Approve", "justification": "ok"},
    )
    assert decided.status_code == 204
    assert graph.oid("alice") in world.directory.groups[graph.oid(GROUP)].members
    again = graph.call(
        "PATCH",
        f"{BASE}/assignmentApprovals/{req['id']}/stages/{req['id']}",
        "bob",
        {"reviewResult": "Deny", "justification": "changed my mind"},
    )
    assert again.status_code == 409
    got = graph.call("GET", f"{REQUESTS}/{req['id']}", "alice").json()
    assert got["status"] == "Provisioned"
