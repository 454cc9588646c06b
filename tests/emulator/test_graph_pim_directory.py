"""Graph PIM for Entra roles over real HTTPS with raw `requests`: admin grants, activation, deactivation,
every action, validation order and error bodies, `isValidationOnly`, `filterByCurrentUser`, cancel, expiry.
"""

from __future__ import annotations

from typing import Any

import requests

from jitpim.emulator import Emulator
from jitpim.testing import EmulatorGraph

APP_ADMIN = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
REQUESTS = "/roleManagement/directory/roleAssignmentScheduleRequests"
INSTANCES = "/roleManagement/directory/roleAssignmentScheduleInstances"
ELIGIBILITY_REQUESTS = "/roleManagement/directory/roleEligibilityScheduleRequests"


def _activation(graph: EmulatorGraph, role: str = APP_ADMIN, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": "selfActivate",
        "principalId": graph.oid("alice"),
        "roleDefinitionId": role,
        "directoryScopeId": "/",
        "justification": "investigate incident 42",
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT1H"}},
    }
    body.update(extra)
    return body


def _admin_assign(
    graph: EmulatorGraph, principal: str = "ci-app", role: str = USER_ADMIN, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "action": "adminAssign",
        "principalId": graph.oid(principal),
        "roleDefinitionId": role,
        "directoryScopeId": "/",
        "justification": "pipeline run 7",
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT1H"}},
    }
    body.update(extra)
    return body


def _error(response: requests.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    assert set(error["innerError"]) >= {"date", "request-id", "client-request-id"}
    return response.status_code, error["code"], error["message"]


def _wids(graph: EmulatorGraph, who: str) -> list[str]:
    import jwt

    return list(jwt.decode(graph.token(who), options={"verify_signature": False}).get("wids", []))


def test_admin_assign_materialises_an_assignment_when_an_app_grants_with_expiration(
    graph: EmulatorGraph, fresh_emu: Emulator
) -> None:
    """adminAssign by the CI app -> 201 Provisioned, an instance, a core role assignment, then expiry."""
    response = graph.call("POST", REQUESTS, "ci-app", _admin_assign(graph))
    assert response.status_code == 201
    req = response.json()
    assert req["status"] == "Provisioned" and req["action"] == "adminAssign"
    assert req["targetScheduleId"] == req["id"] and req["approvalId"] is None
    assert req["createdBy"]["application"]["id"] == graph.info["principals"]["ci-app"]["client_id"]
    assert req["scheduleInfo"]["expiration"] == {"type": "afterDuration", "endDateTime": None, "duration": "PT1H"}
    assert req["@odata.context"].endswith("#roleManagement/directory/roleAssignmentScheduleRequests/$entity")

    instances = graph.call(
        "GET", INSTANCES, "ci-app", params={"$filter": f"principalId eq '{graph.oid('ci-app')}'"}
    ).json()["value"]
    assert len(instances) == 1
    instance = instances[0]
    assert instance["roleDefinitionId"] == USER_ADMIN and instance["assignmentType"] == "Assigned"
    assert instance["roleAssignmentScheduleId"] == req["id"] and instance["endDateTime"] is not None
    assert instance["id"] == instance["roleAssignmentOriginId"] and instance["id"].endswith("-1")
    world = fresh_emu.runtime.world
    assert [a.source for a in world.directory.role_assignments if a.principal_id == graph.oid("ci-app")] == ["pim"]

    fresh_emu.advance(3600)
    after = graph.call("GET", INSTANCES, "ci-app", params={"$filter": f"principalId eq '{graph.oid('ci-app')}'"})
    assert after.json()["value"] == []
    assert not [a for a in world.directory.role_assignments if a.principal_id == graph.oid("ci-app")]


def test_self_activate_needs_justification_when_the_default_policy_applies(
    graph: EmulatorGraph, fresh_emu: Emulator
) -> None:
    """Application Administrator: the scenario's default policy requires a justification."""
    body = _activation(graph)
    del body["justification"]
    status, code, message = _error(graph.call("POST", REQUESTS, "alice", body))
    assert (status, code) == (400, "RoleAssignmentRequestPolicyValidationFailed")
    assert message == 'The following policy rules failed: ["JustificationRule"]'

    granted = graph.call("POST", REQUESTS, "alice", _activation(graph))
    assert granted.status_code == 201 and granted.json()["status"] == "Provisioned"
    assert granted.json()["createdBy"]["user"]["id"] == graph.oid("alice")
    fresh_emu.advance(2)  # the directory's propagation delay (scenario: 1 s)
    assert APP_ADMIN in _wids(graph, "alice")  # a new token carries the activated role


def test_self_activate_fails_with_expiration_rule_when_longer_than_the_maximum(graph: EmulatorGraph) -> None:
    body = _activation(graph, scheduleInfo={"expiration": {"type": "AfterDuration", "duration": "PT9H"}})
    del body["justification"]
    status, code, message = _error(graph.call("POST", REQUESTS, "alice", body))
    assert (status, code) == (400, "RoleAssignmentRequestPolicyValidationFailed")
    assert message == 'The following policy rules failed: ["ExpirationRule","JustificationRule"]'


def test_global_admin_activation_waits_for_approval_when_mfa_and_ticket_are_given(graph: EmulatorGraph) -> None:
    """Global Administrator: MFA, ticket and bob's approval; the request parks in PendingApproval."""
    no_mfa = graph.call("POST", REQUESTS, "alice", _activation(graph, GLOBAL_ADMIN), mfa=False)
    assert _error(no_mfa)[2] == 'The following policy rules failed: ["TicketingRule","MfaRule"]'
    ticket = {"ticketNumber": "CHG-42", "ticketSystem": "ServiceNow"}
    response = graph.call("POST", REQUESTS, "alice", _activation(graph, GLOBAL_ADMIN, ticketInfo=ticket))
    assert response.status_code == 201
    req = response.json()
    assert req["status"] == "PendingApproval" and req["approvalId"] == req["id"] == req["targetScheduleId"]
    assert req["ticketInfo"] == ticket
    assert GLOBAL_ADMIN not in _wids(graph, "alice")


def test_self_activate_is_refused_with_eligibility_rule_when_not_eligible(graph: EmulatorGraph) -> None:
    status, code, message = _error(graph.call("POST", REQUESTS, "alice", _activation(graph, USER_ADMIN)))
    assert (status, code, message) == (
        400,
        "RoleAssignmentRequestPolicyValidationFailed",
        'The following policy rules failed: ["EligibilityRule"]',
    )


def test_validation_order_reports_existence_before_rules(graph: EmulatorGraph) -> None:
    """SubjectNotFound / RoleNotFound come before any rule; a missing scope is a 403 before anything."""
    unknown = _admin_assign(graph, justification=None)
    unknown["principalId"] = "00000000-0000-0000-0000-000000000001"
    assert _error(graph.call("POST", REQUESTS, "ci-app", unknown))[:2] == (400, "SubjectNotFound")
    azure_role = _admin_assign(graph, role="b86a8fe4-44ce-4948-aee5-eccb2c155cd7")
    assert _error(graph.call("POST", REQUESTS, "ci-app", azure_role))[:2] == (400, "RoleNotFound")
    status, code, message = _error(graph.call("POST", REQUESTS, "payments-api", _admin_assign(graph)))
    assert (status, code) == (403, "UnknownError")
    assert '"errorCode":"PermissionScopeNotGranted"' in message
    assert "RoleAssignmentSchedule.ReadWrite.Directory,RoleManagement.ReadWrite.Directory" in message


def test_admin_actions_need_a_privileged_role_when_a_user_calls(graph: EmulatorGraph) -> None:
    """alice has the scope but no Privileged Role Administrator role; bob has it."""
    status, code, message = _error(graph.call("POST", REQUESTS, "alice", _admin_assign(graph, "alice")))
    assert (status, code) == (403, "UnknownError") and "UnauthorizedAccessException" in message
    assert graph.call("POST", REQUESTS, "bob", _admin_assign(graph, "alice")).json()["status"] == "Provisioned"


def test_service_principals_cannot_self_activate(graph: EmulatorGraph) -> None:
    body = _activation(graph, principalId=graph.oid("ci-app"))
    status, code, message = _error(graph.call("POST", REQUESTS, "ci-app", body))
    assert (status, code) == (403, "UnknownError") and "Attempted to perform an unauthorized operation." in message


def test_duplicates_answer_exists_and_pending(graph: EmulatorGraph) -> None:
    assert graph.call("POST", REQUESTS, "ci-app", _admin_assign(graph)).status_code == 201
    assert _error(graph.call("POST", REQUESTS, "ci-app", _admin_assign(graph))) == (
        400,
        "RoleAssignmentExists",
        "The Role assignment already exists.",
    )
    ticket = {"ticketNumber": "CHG-1", "ticketSystem": "ServiceNow"}
    assert graph.call("POST", REQUESTS, "alice", _activation(graph, GLOBAL_ADMIN, ticketInfo=ticket)).status_code == 201
    again = graph.call("POST", REQUESTS, "alice", _activation(graph, GLOBAL_ADMIN, ticketInfo=ticket))
    assert _error(again)[:2] == (400, "PendingRoleAssignmentRequest")


def test_validation_only_changes_nothing(graph: EmulatorGraph, fresh_emu: Emulator) -> None:
    before = len(fresh_emu.runtime.world.audit.rows)
    response = graph.call("POST", REQUESTS, "alice", _activation(graph, isValidationOnly=True))
    assert response.status_code == 201
    assert response.json()["isValidationOnly"] is True and response.json()["status"] == "Provisioned"
    listed = graph.call("GET", f"{REQUESTS}/filterByCurrentUser(on='principal')", "alice").json()["value"]
    assert listed == []
    assert APP_ADMIN not in _wids(graph, "alice")
    assert len(fresh_emu.runtime.world.audit.rows) == before
    # Validation still runs: a missing justification is reported without committing anything.
    body = _activation(graph, isValidationOnly=True)
    del body["justification"]
    assert _error(graph.call("POST", REQUESTS, "alice", body))[:2] == (
        400,
        "RoleAssignmentRequestPolicyValidationFailed",
    )


def test_self_deactivate_is_refused_within_five_minutes_then_revokes(graph: EmulatorGraph, fresh_emu: Emulator) -> None:
    assert graph.call("POST", REQUESTS, "alice", _activation(graph)).status_code == 201
    deactivate = {
        "action": "SelfDeactivate",
        "principalId": graph.oid("alice"),
        "roleDefinitionId": APP_ADMIN,
        "directoryScopeId": "/",
    }
    assert _error(graph.call("POST", REQUESTS, "alice", deactivate)) == (
        400,
        "ActiveDurationTooShort",
        "The Active duration is too short. Miniumum Required is 5 minutes.",
    )
    fresh_emu.advance(301)
    revoked = graph.call("POST", REQUESTS, "alice", deactivate)
    assert revoked.status_code == 201
    assert revoked.json()["status"] == "Revoked" and revoked.json()["action"] == "selfDeactivate"
    assert revoked.json()["targetScheduleId"] is None and revoked.json()["scheduleInfo"] is None
    assert APP_ADMIN not in _wids(graph, "alice")
    assert _error(graph.call("POST", REQUESTS, "alice", deactivate))[:2] == (400, "RoleAssignmentDoesNotExist")
    # Re-activation is allowed right away.
    assert graph.call("POST", REQUESTS, "alice", _activation(graph)).json()["status"] == "Provisioned"


def test_durations_under_five_minutes_are_too_short(graph: EmulatorGraph) -> None:
    body = _admin_assign(graph, scheduleInfo={"expiration": {"type": "afterDuration", "duration": "PT4M"}})
    assert _error(graph.call("POST", REQUESTS, "ci-app", body))[:2] == (400, "ActiveDurationTooShort")


def test_admin_remove_revokes_a_standing_assignment(graph: EmulatorGraph, fresh_emu: Emulator) -> None:
    """bob's standing Privileged Role Administrator role is listed as an instance and can be removed."""
    pra = "e8611ab8-c189-46e8-94e1-60213ab1f814"
    flt = {"$filter": f"principalId eq '{graph.oid('bob')}'"}
    standing = graph.call("GET", INSTANCES, "ci-app", params=flt).json()["value"]
    assert [(i["roleDefinitionId"], i["startDateTime"], i["endDateTime"]) for i in standing] == [(pra, None, None)]
    remove = {
        "action": "adminRemove",
        "principalId": graph.oid("bob"),
        "roleDefinitionId": pra,
        "directoryScopeId": "/",
    }
    response = graph.call("POST", REQUESTS, "admin-app", remove)
    assert response.status_code == 201 and response.json()["status"] == "Revoked"
    assert graph.call("GET", INSTANCES, "ci-app", params=flt).json()["value"] == []


def test_future_start_is_granted_then_provisioned_when_the_clock_reaches_it(
    graph: EmulatorGraph, fresh_emu: Emulator
) -> None:
    now = fresh_emu.runtime.clock.now()
    start = (now.replace(microsecond=0) + __import__("datetime").timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    body = _admin_assign(
        graph, scheduleInfo={"startDateTime": start, "expiration": {"type": "afterDuration", "duration": "PT1H"}}
    )
    req = graph.call("POST", REQUESTS, "ci-app", body).json()
    assert req["status"] == "Granted"
    flt = {"$filter": f"principalId eq '{graph.oid('ci-app')}'"}
    assert graph.call("GET", INSTANCES, "ci-app", params=flt).json()["value"] == []
    schedules = graph.call("GET", "/roleManagement/directory/roleAssignmentSchedules", "ci-app", params=flt).json()
    assert [s["id"] for s in schedules["value"]] == [req["id"]]
    fresh_emu.advance(3601)
    assert len(graph.call("GET", INSTANCES, "ci-app", params=flt).json()["value"]) == 1
    got = graph.call("GET", f"{REQUESTS}/{req['id']}", "ci-app").json()
    assert got["status"] == "Provisioned"


def test_cancel_answers_204_for_granted_and_400_for_provisioned(graph: EmulatorGraph) -> None:
    provisioned = graph.call("POST", REQUESTS, "ci-app", _admin_assign(graph)).json()
    status, code, message = _error(graph.call("POST", f"{REQUESTS}/{provisioned['id']}/cancel", "ci-app"))
    assert (status, code) == (400, "UnknownError") and "RequestCannotBeCancelled" in message
    ticket = {"ticketNumber": "CHG-9", "ticketSystem": "ServiceNow"}
    pending = graph.call("POST", REQUESTS, "alice", _activation(graph, GLOBAL_ADMIN, ticketInfo=ticket)).json()
    canceled = graph.call("POST", f"{REQUESTS}/{pending['id']}/cancel", "alice")
    assert canceled.status_code == 204 and canceled.content == b""
    assert graph.call("GET", f"{REQUESTS}/{pending['id']}", "alice").json()["status"] == "Canceled"
    missing = graph.call("POST", f"{REQUESTS}/00000000-0000-0000-0000-000000000000/cancel", "ci-app")
    assert missing.status_code == 404


def test_filter_by_current_user_scopes_to_the_caller(graph: EmulatorGraph) -> None:
    eligible = graph.call(
        "GET", "/roleManagement/directory/roleEligibilitySchedules/filterByCurrentUser(on='principal')", "alice"
    ).json()
    assert {e["roleDefinitionId"] for e in eligible["value"]} == {APP_ADMIN, GLOBAL_ADMIN}
    assert eligible["@odata.context"].endswith("#Collection(unifiedRoleEligibilitySchedule)")
    instances = graph.call(
        "GET", "/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')", "alice"
    ).json()["value"]
    assert all(i["id"].endswith("-1-e") for i in instances) and len(instances) == 2
    graph.call("POST", REQUESTS, "alice", _activation(graph))
    graph.call("POST", REQUESTS, "ci-app", _admin_assign(graph, "alice", USER_ADMIN))
    by_principal = graph.call("GET", f"{REQUESTS}/filterByCurrentUser(on='principal')", "alice").json()["value"]
    by_creator = graph.call("GET", f"{REQUESTS}/filterByCurrentUser(on='createdBy')", "alice").json()["value"]
    assert len(by_principal) == 2 and [r["action"] for r in by_creator] == ["selfActivate"]
    bad = graph.call(
        "GET", "/roleManagement/directory/roleAssignmentSchedules/filterByCurrentUser(on='approver')", "alice"
    )
    assert _error(bad)[:2] == (400, "BadRequest")
    # Without a reader role, alice may not list everyone's requests.
    assert _error(graph.call("GET", REQUESTS, "alice"))[:2] == (403, "UnknownError")


def test_lists_page_with_top_and_next_link(graph: EmulatorGraph, http: requests.Session) -> None:
    pages, url = [], f"{graph.info['graph']}/v1.0{INSTANCES}?$top=1"
    headers = {"Authorization": f"Bearer {graph.token('ci-app')}"}
    while url:
        body = http.get(url, headers=headers).json()
        pages.append(body["value"])
        url = body.get("@odata.nextLink")
    assert len(pages) == 2 and all(len(p) == 1 for p in pages)  # the two standing PRA assignments


def test_every_admin_action_on_assignments(graph: EmulatorGraph, fresh_emu: Emulator) -> None:
    """adminUpdate, adminExtend, selfExtend (PendingAdminDecision), adminRemove, adminRenew."""
    alice = graph.oid("alice")
    base = {"principalId": alice, "roleDefinitionId": USER_ADMIN, "directoryScopeId": "/", "justification": "j"}
    first = graph.call(
        "POST",
        REQUESTS,
        "bob",
        {
            **base,
            "action": "adminAssign",
            "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT2H"}},
        },
    ).json()
    extend = graph.call(
        "POST",
        REQUESTS,
        "alice",
        {**base, "action": "selfExtend", "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT4H"}}},
    )
    assert extend.json()["status"] == "PendingAdminDecision"
    admin_extend = graph.call(
        "POST",
        REQUESTS,
        "bob",
        {
            **base,
            "action": "adminExtend",
            "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT4H"}},
        },
    ).json()
    assert admin_extend["status"] == "Provisioned" and admin_extend["targetScheduleId"] == first["id"]
    assert graph.call("GET", f"{REQUESTS}/{extend.json()['id']}", "alice").json()["status"] == "Provisioned"
    update = graph.call(
        "POST",
        REQUESTS,
        "bob",
        {
            **base,
            "action": "adminUpdate",
            "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT3H"}},
        },
    ).json()
    assert update["status"] == "Provisioned"
    fresh_emu.advance(3 * 3600 + 1)
    renew = graph.call(
        "POST",
        REQUESTS,
        "bob",
        {**base, "action": "adminRenew", "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT1H"}}},
    ).json()
    assert renew["status"] == "Provisioned"
    fresh_emu.advance(301)
    removed = graph.call("POST", REQUESTS, "bob", {**base, "action": "adminRemove"}).json()
    assert removed["status"] == "Revoked"


def test_eligibility_requests_add_and_remove_eligibility(graph: EmulatorGraph) -> None:
    body = {
        "action": "adminAssign",
        "principalId": graph.oid("alice"),
        "roleDefinitionId": USER_ADMIN,
        "directoryScopeId": "/",
        "justification": "on-call rota",
        "scheduleInfo": {"expiration": {"type": "afterDateTime", "endDateTime": "2099-01-01T00:00:00Z"}},
    }
    too_long = graph.call("POST", ELIGIBILITY_REQUESTS, "admin-app", body)  # longer than P365D
    assert _error(too_long)[2] == 'The following policy rules failed: ["ExpirationRule"]'
    body["scheduleInfo"] = {"expiration": {"type": "afterDuration", "duration": "P180D"}}
    created = graph.call("POST", ELIGIBILITY_REQUESTS, "admin-app", body)
    assert created.status_code == 201 and created.json()["status"] == "Provisioned"
    assert graph.call("POST", REQUESTS, "alice", _activation(graph, USER_ADMIN)).json()["status"] == "Provisioned"
    listed = graph.call("GET", ELIGIBILITY_REQUESTS, "admin-app").json()["value"]
    assert [r["id"] for r in listed] == [created.json()["id"]]
    removed = graph.call("POST", ELIGIBILITY_REQUESTS, "admin-app", {**body, "action": "adminRemove"})
    assert removed.json()["status"] == "Revoked"
    assert _error(graph.call("POST", ELIGIBILITY_REQUESTS, "admin-app", {**body, "action": "selfActivate"}))[:2] == (
        400,
        "BadRequest",
    )


def test_expand_role_definition_and_principal(graph: EmulatorGraph) -> None:
    graph.call("POST", REQUESTS, "alice", _activation(graph))
    rows = graph.call(
        "GET",
        f"{REQUESTS}/filterByCurrentUser(on='principal')",
        "alice",
        params={"$expand": "roleDefinition,principal"},
    ).json()["value"]
    assert rows[0]["roleDefinition"]["displayName"] == "Application Administrator"
    assert rows[0]["principal"]["userPrincipalName"] == "alice@contoso.onmicrosoft.com"
