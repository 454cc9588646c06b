"""Role-management policies over real HTTPS: the required scope filter, the 17 rules with their real ids and
types, policy assignments with `$expand=policy($expand=rules)`, and rule PATCHes that change what later
requests are validated against.
"""

from __future__ import annotations

from typing import Any

from jitpim.emulator import Emulator
from jitpim.testing import EmulatorGraph

APP_ADMIN = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
POLICIES = "/policies/roleManagementPolicies"
ASSIGNMENTS = "/policies/roleManagementPolicyAssignments"
REQUESTS = "/roleManagement/directory/roleAssignmentScheduleRequests"
RULE_IDS = {
    "Expiration_Admin_Eligibility",
    "Enablement_Admin_Eligibility",
    "Notification_Admin_Admin_Eligibility",
    "Notification_Requestor_Admin_Eligibility",
    "Notification_Approver_Admin_Eligibility",
    "Expiration_Admin_Assignment",
    "Enablement_Admin_Assignment",
    "Notification_Admin_Admin_Assignment",
    "Notification_Requestor_Admin_Assignment",
    "Notification_Approver_Admin_Assignment",
    "Expiration_EndUser_Assignment",
    "Enablement_EndUser_Assignment",
    "Approval_EndUser_Assignment",
    "AuthenticationContext_EndUser_Assignment",
    "Notification_Admin_EndUser_Assignment",
    "Notification_Requestor_EndUser_Assignment",
    "Notification_Approver_EndUser_Assignment",
}


def _policy_of(graph: EmulatorGraph, role: str) -> dict[str, Any]:
    flt = f"scopeId eq '/' and scopeType eq 'DirectoryRole' and roleDefinitionId eq '{role}'"
    rows = graph.call("GET", ASSIGNMENTS, "ci-app", params={"$filter": flt, "$expand": "policy($expand=rules)"})
    assert rows.status_code == 200
    values = rows.json()["value"]
    assert len(values) == 1
    return dict(values[0]["policy"])


def _rule(policy: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in policy["rules"] if r["id"] == rule_id)


def test_policy_lists_require_the_scope_filter(graph: EmulatorGraph) -> None:
    missing = graph.call("GET", POLICIES, "ci-app")
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "UnknownError"
    assert '"errorCode":"MissingProvider"' in missing.json()["error"]["message"]


def test_directory_policies_carry_the_seventeen_rules(graph: EmulatorGraph, fresh_emu: Emulator) -> None:
    listed = graph.call(
        "GET",
        POLICIES,
        "ci-app",
        params={"$filter": "scopeId eq '/' and scopeType eq 'DirectoryRole'", "$expand": "rules"},
    ).json()
    roles = fresh_emu.runtime.world.directory.role_definitions
    assert len(listed["value"]) == len(roles)
    policy = listed["value"][0]
    assert policy["id"].startswith(f"DirectoryRole_{graph.info['tenant_id']}_")
    assert {r["id"] for r in policy["rules"]} == RULE_IDS
    expiration = _rule(policy, "Expiration_EndUser_Assignment")
    assert expiration["@odata.type"] == "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule"
    assert expiration["target"] == {
        "caller": "EndUser",
        "operations": ["all"],
        "level": "Assignment",
        "inheritableSettings": [],
        "enforcedSettings": [],
    }
    one = graph.call("GET", f"{POLICIES}/{policy['id']}/rules/Approval_EndUser_Assignment", "ci-app").json()
    assert one["@odata.type"] == "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule"
    assert one["setting"]["approvalMode"] == "SingleStage"


def test_scenario_settings_become_rules(graph: EmulatorGraph) -> None:
    policy = _policy_of(graph, GLOBAL_ADMIN)
    assert _rule(policy, "Expiration_EndUser_Assignment")["maximumDuration"] == "PT2H"
    assert set(_rule(policy, "Enablement_EndUser_Assignment")["enabledRules"]) == {
        "Justification",
        "Ticketing",
        "MultiFactorAuthentication",
    }
    setting = _rule(policy, "Approval_EndUser_Assignment")["setting"]
    assert setting["isApprovalRequired"] is True
    assert setting["approvalStages"][0]["primaryApprovers"] == [
        {"@odata.type": "#microsoft.graph.singleUser", "userId": graph.oid("bob"), "description": "Bob Approver"}
    ]
    assert _rule(policy, "Expiration_Admin_Assignment")["isExpirationRequired"] is True


def test_patching_a_rule_changes_later_validation(graph: EmulatorGraph, fresh_emu: Emulator) -> None:
    policy = _policy_of(graph, APP_ADMIN)
    path = f"{POLICIES}/{policy['id']}/rules/Expiration_EndUser_Assignment"
    patch = {
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
        "id": "Expiration_EndUser_Assignment",
        "isExpirationRequired": True,
        "maximumDuration": "PT1H",
        "target": {"caller": "EndUser", "operations": ["All"], "level": "Assignment"},
    }
    response = graph.call("PATCH", path, "admin-app", patch)
    assert response.status_code == 204 and response.content == b""
    activation = {
        "action": "selfActivate",
        "principalId": graph.oid("alice"),
        "roleDefinitionId": APP_ADMIN,
        "directoryScopeId": "/",
        "justification": "j",
        "scheduleInfo": {"expiration": {"type": "afterDuration", "duration": "PT2H"}},
    }
    refused = graph.call("POST", REQUESTS, "alice", activation)
    assert refused.json()["error"]["message"] == 'The following policy rules failed: ["ExpirationRule"]'

    enablement = {
        "@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
        "id": "Enablement_EndUser_Assignment",
        "enabledRules": [],
    }
    assert (
        graph.call(
            "PATCH", f"{POLICIES}/{policy['id']}/rules/Enablement_EndUser_Assignment", "admin-app", enablement
        ).status_code
        == 204
    )
    activation["scheduleInfo"]["expiration"]["duration"] = "PT1H"
    del activation["justification"]
    assert graph.call("POST", REQUESTS, "alice", activation).json()["status"] == "Provisioned"

    updated = graph.call("GET", f"{POLICIES}/{policy['id']}", "ci-app").json()
    assert updated["lastModifiedBy"]["id"] == graph.oid("admin-app") and updated["lastModifiedDateTime"]
    audit = [r for r in fresh_emu.runtime.world.audit.rows if r["activityDisplayName"] == "Update role setting in PIM"]
    assert len(audit) == 2 and audit[0]["targetResources"][0]["id"] == APP_ADMIN


def test_rule_patch_errors(graph: EmulatorGraph) -> None:
    policy = _policy_of(graph, APP_ADMIN)
    path = f"{POLICIES}/{policy['id']}/rules/Expiration_EndUser_Assignment"
    untyped = graph.call("PATCH", path, "admin-app", {"maximumDuration": "PT1H"})
    assert untyped.status_code == 500
    assert (untyped.json()["error"]["code"], untyped.json()["error"]["message"]) == ("", "An error has occurred.")
    typed = {"@odata.type": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule", "maximumDuration": "1 hour"}
    assert graph.call("PATCH", path, "admin-app", typed).status_code == 400
    denied = graph.call("PATCH", path, "ci-app", {**typed, "maximumDuration": "PT1H"})
    assert denied.status_code == 403 and "PermissionScopeNotGranted" in denied.json()["error"]["message"]
    assert graph.call("GET", f"{POLICIES}/{policy['id']}/rules/NoSuchRule", "ci-app").status_code == 404


def test_group_policies_are_listed_by_group_scope(graph: EmulatorGraph) -> None:
    group = graph.oid("kv-operators")
    flt = f"scopeId eq '{group}' and scopeType eq 'Group'"
    rows = graph.call("GET", POLICIES, "ci-app", params={"$filter": flt}).json()["value"]
    assert len(rows) == 2 and all(r["id"].startswith(f"Group_{group}_") for r in rows)
    assignments = graph.call(
        "GET", ASSIGNMENTS, "ci-app", params={"$filter": f"{flt} and roleDefinitionId eq 'member'"}
    ).json()["value"]
    assert [a["id"] for a in assignments] == [f"{assignments[0]['policyId']}_member"]
    one = graph.call("GET", f"{ASSIGNMENTS}/{assignments[0]['id']}", "ci-app", params={"$expand": "policy"}).json()
    assert one["policy"]["scopeType"] == "Group"
