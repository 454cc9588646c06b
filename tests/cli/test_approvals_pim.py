"""`jitpim approvals` on PIM's own approvals: bob, signed in as himself (self mode), lists alice's directory
role activation (Graph) and her Azure role activation (ARM) that PIM holds for his approval, approves one and
denies the other; PIM's state shows the decisions. Self-approval, a missing reason and a second decision are
refused with clear errors and change nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from click.testing import CliRunner, Result

from jitpim.auth import AZURE_CLI_CLIENT_ID
from jitpim.cli import cli
from jitpim.emulator import Emulator
from jitpim.testing import EmulatorGraph, principal_oid, principal_token, resource_group_id

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
GRAPH_REQUESTS = "/roleManagement/directory/roleAssignmentScheduleRequests"


def _person_env(info: dict[str, Any], who: str) -> dict[str, str]:
    person = info["principals"][who]
    return {
        "JITPIM_CLOUD": "emulator",
        "JITPIM_EMULATOR_URL": info["authority"],
        "JITPIM_CA_BUNDLE": info["ca_cert"],
        "AZURE_TENANT_ID": info["tenant_id"],
        "AZURE_CLIENT_ID": AZURE_CLI_CLIENT_ID,
        "AZURE_USERNAME": person["user_principal_name"],
        "AZURE_PASSWORD": person["password"],
        "JITPIM_MODE": "self",
    }


def _run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.fixture(name="http")
def _http(fresh_emu: Emulator) -> Any:
    session = requests.Session()
    session.verify = fresh_emu.info["ca_cert"]
    yield session
    session.close()


def _alice_asks_for_global_admin(graph: EmulatorGraph) -> str:
    body = {
        "action": "selfActivate",
        "principalId": graph.oid("alice"),
        "roleDefinitionId": GLOBAL_ADMIN,
        "directoryScopeId": "/",
        "justification": "INC-77: tenant-wide outage",
        "ticketInfo": {"ticketNumber": "77", "ticketSystem": "INC"},
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT1H"}},
    }
    response = graph.call("POST", GRAPH_REQUESTS, "alice", body)
    assert response.status_code == 201 and response.json()["status"] == "PendingApproval", response.text
    return str(response.json()["id"])


def _arm_request_url(info: dict[str, Any], name: str) -> str:
    group = resource_group_id(info)
    return f"{info['arm']}{group}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/{name}"


def _alice_asks_for_contributor(http: Any, info: dict[str, Any]) -> str:
    name = str(uuid.uuid4())
    role = f"/subscriptions/{info['subscription_id']}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}"
    body = {
        "properties": {
            "principalId": principal_oid(info, "alice"),
            "roleDefinitionId": role,
            "requestType": "SelfActivate",
            "justification": "CHG-12 payments deploy",
            "scheduleInfo": {"expiration": {"type": "AfterDuration", "duration": "PT1H"}},
        }
    }
    token = principal_token(info, "alice", f"{info['arm']}/.default")
    response = http.put(
        _arm_request_url(info, name),
        params={"api-version": "2020-10-01"},
        headers={"Authorization": f"Bearer {token}"},
        json=body,
    )
    assert response.status_code == 201 and response.json()["properties"]["status"] == "PendingApproval", response.text
    return name


def _arm_status(http: Any, info: dict[str, Any], name: str) -> str:
    token = principal_token(info, "alice", f"{info['arm']}/.default")
    response = http.get(
        _arm_request_url(info, name), params={"api-version": "2020-10-01"}, headers={"Authorization": f"Bearer {token}"}
    )
    return str(response.json()["properties"]["status"])


def test_bob_lists_and_decides_pim_approvals_in_graph_and_arm(fresh_emu: Emulator, http: Any) -> None:
    info = fresh_emu.info
    graph = EmulatorGraph(http, info)
    directory_id = _alice_asks_for_global_admin(graph)
    arm_name = _alice_asks_for_contributor(http, info)
    bob = _person_env(info, "bob")

    listed = _run(bob, "approvals", "list", "-o", "json")
    assert listed.exit_code == 0, listed.output
    by_id = {item["request_id"]: item for item in json.loads(listed.output)["value"]}
    assert set(by_id) == {directory_id, arm_name}
    assert by_id[directory_id]["source"] == "pim-graph"
    assert by_id[directory_id]["target"]["role"] == "Global Administrator"
    assert by_id[directory_id]["principal"]["name"] == "alice@contoso.onmicrosoft.com"
    assert by_id[directory_id]["ticket"] == "INC:77"
    assert by_id[arm_name]["source"] == "pim-arm"
    assert by_id[arm_name]["target"]["role"] == "Contributor"
    assert by_id[arm_name]["target"]["scope"] == resource_group_id(info)
    assert all(item["state"] == "pending_approval" for item in by_id.values())

    text = _run(bob, "approvals", "list")
    assert "[pim-graph]" in text.output and "[pim-arm]" in text.output

    # alice cannot approve her own request; PIM keeps it pending
    own = _run(_person_env(info, "alice"), "approvals", "approve", directory_id, "--reason", "me")
    assert own.exit_code == 73, own.output
    assert "your own request" in own.output
    # a blank reason is refused before anything is sent
    blank = _run(bob, "approvals", "approve", directory_id, "--reason", "  ")
    assert blank.exit_code == 64, blank.output

    approved = _run(bob, "approvals", "approve", directory_id, "--reason", "INC-77 confirmed", "-o", "json")
    assert approved.exit_code == 0, approved.output
    assert json.loads(approved.output)["state"] == "approved"
    request = graph.call("GET", f"{GRAPH_REQUESTS}/{directory_id}", "alice").json()
    assert request["status"] == "Provisioned"
    step = graph.call(
        "GET", f"/roleManagement/directory/roleAssignmentApprovals/{directory_id}", "alice", version="beta"
    ).json()["steps"][0]
    assert step["reviewResult"] == "Approve" and step["justification"] == "INC-77 confirmed"

    denied = _run(bob, "approvals", "deny", f"pim-arm:{arm_name}", "--reason", "no change ticket")
    assert denied.exit_code == 0, denied.output
    assert _arm_status(http, info, arm_name) == "Denied"

    # a second decision: refused, and the first one stands
    again = _run(bob, "approvals", "approve", f"pim-arm:{arm_name}", "--reason", "changed my mind")
    assert again.exit_code == 75, again.output
    assert "already denied" in again.output
    assert _arm_status(http, info, arm_name) == "Denied"

    shown = _run(bob, "approvals", "show", directory_id, "-o", "json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["approval"]["review_result"] == "Approve"
    assert json.loads(_run(bob, "approvals", "list", "-o", "json").output)["value"] == []


def test_pim_refuses_a_decision_that_raced_ahead(fresh_emu: Emulator, http: Any) -> None:
    """Two approvers at once: the one who comes second gets PIM's 409, surfaced as 'already decided'."""
    from jitpim.providers import pim_approvals

    info = fresh_emu.info
    graph = EmulatorGraph(http, info)
    directory_id = _alice_asks_for_global_admin(graph)
    bob = _person_env(info, "bob")
    shown = _run(bob, "approvals", "show", directory_id, "-o", "json")
    assert shown.exit_code == 0, shown.output
    # Decided behind this approver's back, straight through Graph.
    step = f"/roleManagement/directory/roleAssignmentApprovals/{directory_id}/steps/{directory_id}"
    answer = graph.call("PATCH", step, "bob", {"reviewResult": "Deny", "justification": "first"}, version="beta")
    assert answer.status_code == 204
    stale = pim_approvals.NativeApproval(
        **{**_native_fields(shown.output), "stage_status": "InProgress"}  # what this approver saw before
    )
    from jitpim.errors import ApprovalError
    from jitpim.model import Mode
    from jitpim.testing import emulator_provider_context

    clients: list[Any] = []
    ctx = emulator_provider_context(fresh_emu, "bob", Mode.SELF, clients=clients)
    try:
        with pytest.raises(ApprovalError, match="refused a second decision"):
            pim_approvals.decide(ctx, stale, True, "second")
    finally:
        for client in clients:
            client.close()
    assert graph.call("GET", f"{GRAPH_REQUESTS}/{directory_id}", "alice").json()["status"] == "Denied"


def _native_fields(output: str) -> dict[str, Any]:
    data = json.loads(output)
    return {
        "source": data["source"],
        "approval_id": data["request_id"],
        "stage_id": data["approval"]["stage_id"],
        "stage_status": data["approval"]["status"],
        "assigned_to_me": data["approval"]["assigned_to_me"],
        "review_result": data["approval"]["review_result"],
        "reviewed_by": data["approval"]["reviewed_by"],
        "request_status": data["status"],
        "principal_id": data["principal"]["id"],
        "principal_name": data["principal"]["name"],
        "requestor_id": data["requestor_id"],
        "role": data["target"]["role"],
        "scope": data["target"]["scope"],
        "duration": data["target"]["duration"],
        "justification": data["justification"],
        "ticket": data["ticket"],
        "created": data["created"],
    }


def test_without_a_broker_or_a_persons_sign_in_it_says_what_to_do(fresh_emu: Emulator) -> None:
    result = _run({"JITPIM_CLOUD": "emulator"}, "approvals", "list")
    assert result.exit_code == 64
    assert "JITPIM_MODE=self" in result.output
