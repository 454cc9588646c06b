"""`/auditLogs/directoryAudits` over real HTTPS: the PIM + Core Directory rows of an activation, a
deactivation and a cancel, `$filter` (eq, ge, le, startswith, and, targetResources/any), `$orderby`, `$top`
paging, GET by id, and who may read the log.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from jitpim.emulator import Emulator
from jitpim.emulator.core.clock import format_time
from jitpim.testing import EmulatorGraph

APP_ADMIN = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
REQUESTS = "/roleManagement/directory/roleAssignmentScheduleRequests"
AUDITS = "/auditLogs/directoryAudits"


def _audits(graph: EmulatorGraph, **params: str) -> list[dict[str, Any]]:
    response = graph.call("GET", AUDITS, "admin-app", params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


def _activate(graph: EmulatorGraph) -> dict[str, Any]:
    body = {
        "action": "selfActivate",
        "principalId": graph.oid("alice"),
        "roleDefinitionId": APP_ADMIN,
        "directoryScopeId": "/",
        "justification": "incident 99",
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT1H"}},
    }
    response = graph.call("POST", REQUESTS, "alice", body)
    assert response.status_code == 201
    return dict(response.json())


def test_activation_writes_the_pim_and_core_directory_rows(graph: EmulatorGraph) -> None:
    req = _activate(graph)
    rows = _audits(graph, **{"$orderby": "activityDateTime asc"})
    assert [(r["loggedByService"], r["activityDisplayName"]) for r in rows] == [
        ("PIM", "Add member to role requested (PIM activation)"),
        ("Core Directory", "Add member to role"),
        ("PIM", "Add member to role completed (PIM activation)"),
    ]
    completed = rows[2]
    assert completed["id"].startswith("PIM_") and rows[1]["id"].startswith("Directory_")
    assert completed["category"] == "RoleManagement" and completed["result"] == "success"
    assert completed["resultReason"] == "incident 99"
    assert completed["initiatedBy"]["user"]["userPrincipalName"] == "alice@contoso.onmicrosoft.com"
    details = {d["key"]: d["value"] for d in completed["additionalDetails"]}
    assert details["RoleAssignmentRequestId"] == req["id"] and details["Justification"] == "incident 99"
    assert details["IsAuthenticatedWithMfa"] == "True"
    targets = {t["type"]: t for t in completed["targetResources"]}
    assert targets["Role"]["displayName"] == "Application Administrator"
    assert targets["User"]["id"] == graph.oid("alice")
    assert rows[1]["initiatedBy"]["app"]["displayName"] == "MS-PIM"
    assert rows[1]["operationType"] == "Assign" and rows[0]["correlationId"] == rows[2]["correlationId"]


def test_deactivation_and_cancel_are_audited(graph: EmulatorGraph, fresh_emu: Emulator) -> None:
    _activate(graph)
    fresh_emu.advance(400)
    deactivate = {
        "action": "selfDeactivate",
        "principalId": graph.oid("alice"),
        "roleDefinitionId": APP_ADMIN,
        "directoryScopeId": "/",
    }
    assert graph.call("POST", REQUESTS, "alice", deactivate).json()["status"] == "Revoked"
    later = format_time(fresh_emu.runtime.clock.now() + timedelta(hours=1))
    granted = graph.call(
        "POST",
        REQUESTS,
        "ci-app",
        {
            "action": "adminAssign",
            "principalId": graph.oid("ci-app"),
            "roleDefinitionId": APP_ADMIN,
            "directoryScopeId": "/",
            "justification": "later",
            "scheduleInfo": {"startDateTime": later, "expiration": {"type": "afterDuration", "duration": "PT1H"}},
        },
    ).json()
    assert granted["status"] == "Granted"
    assert graph.call("POST", f"{REQUESTS}/{granted['id']}/cancel", "ci-app").status_code == 204
    names = [r["activityDisplayName"] for r in _audits(graph, **{"$orderby": "activityDateTime asc"})]
    assert names[3:6] == [
        "Remove member from role requested (PIM deactivate)",
        "Remove member from role",
        "Remove member from role completed (PIM deactivate)",
    ]
    assert names[-1] == "Add member to role in PIM canceled (timebound)"


def test_filters_order_and_paging(graph: EmulatorGraph, fresh_emu: Emulator) -> None:
    start = format_time(fresh_emu.runtime.clock.now())
    _activate(graph)
    completed = _audits(
        graph,
        **{
            "$filter": "loggedByService eq 'PIM' and activityDisplayName eq "
            "'Add member to role completed (PIM activation)' and "
            f"activityDateTime ge {start}"
        },
    )
    assert len(completed) == 1
    assert _audits(graph, **{"$filter": f"activityDateTime le {start}"}) == []
    prefixed = _audits(graph, **{"$filter": "startswith(activityDisplayName,'Add member to role')"})
    assert len(prefixed) == 3
    by_target = _audits(
        graph,
        **{"$filter": f"targetResources/any(t:t/id eq '{graph.oid('alice')}') and loggedByService eq 'Core Directory'"},
    )
    assert [r["activityDisplayName"] for r in by_target] == ["Add member to role"]
    newest = _audits(graph)
    assert newest[0]["activityDisplayName"] == "Add member to role completed (PIM activation)"

    headers = {"Authorization": f"Bearer {graph.token('admin-app')}"}
    url, seen = f"{graph.info['graph']}/v1.0{AUDITS}?$top=2", []
    while url:
        page = graph.http.get(url, headers=headers).json()
        seen.extend(r["id"] for r in page["value"])
        url = page.get("@odata.nextLink")
    assert seen == [r["id"] for r in newest]

    one = graph.call("GET", f"{AUDITS}/{newest[0]['id']}", "admin-app").json()
    assert one["id"] == newest[0]["id"] and one["@odata.context"].endswith("#auditLogs/directoryAudits/$entity")
    assert graph.call("GET", f"{AUDITS}/PIM_nope", "admin-app").status_code == 404
    assert graph.call("GET", AUDITS, "admin-app", params={"$orderby": "category"}).status_code == 400


def test_reading_the_log_needs_audit_permission(graph: EmulatorGraph) -> None:
    assert graph.call("GET", AUDITS, "ci-app").status_code == 403
    denied = graph.call("GET", AUDITS, "alice")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "Authorization_RequestDenied"
