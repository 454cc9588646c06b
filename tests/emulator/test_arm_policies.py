"""PIM role settings for Azure resources: roleManagementPolicies and roleManagementPolicyAssignments read and
changed with azure-mgmt-authorization, and the effect of a change on the next activation."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.identity import ClientSecretCredential
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2020_10_01.models import (
    RoleAssignmentScheduleRequest,
    RoleAssignmentScheduleRequestPropertiesScheduleInfo,
    RoleAssignmentScheduleRequestPropertiesScheduleInfoExpiration,
    RoleManagementPolicy,
    RoleManagementPolicyExpirationRule,
    RoleManagementPolicyRuleTarget,
)

from jitpim.emulator import Emulator
from jitpim.emulator.core.scenario import ScenarioError, default_scenario
from jitpim.testing import ARM_SCOPE, arm_authorization_client_as, vault_resource_id

SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
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
    "Approval_EndUser_Assignment",
    "AuthenticationContext_EndUser_Assignment",
    "Enablement_EndUser_Assignment",
    "Expiration_EndUser_Assignment",
    "Notification_Admin_EndUser_Assignment",
    "Notification_Requestor_EndUser_Assignment",
    "Notification_Approver_EndUser_Assignment",
}


@pytest.fixture(autouse=True)
def _fresh(emu: Emulator) -> None:
    emu.reset()


def _policy_for(client: AuthorizationManagementClient, scope: str, role: str) -> RoleManagementPolicy:
    """How a client finds a role's policy: the policy assignment for the role at the scope names it."""
    assignments = list(client.role_management_policy_assignments.list_for_scope(scope))
    found = [a for a in assignments if a.role_definition_id.lower().endswith(role)]
    assert len(found) == 1
    return client.role_management_policies.get(scope, found[0].policy_id.rsplit("/", 1)[-1])


def _rule(policy: RoleManagementPolicy, rule_id: str) -> Any:
    return next(r for r in policy.rules if r.id == rule_id)


def test_policies_carry_the_real_rules_and_scenario_settings(emu: Emulator) -> None:
    info = emu.info
    admin = arm_authorization_client_as(info, "admin-app", mfa=None)
    officer = _policy_for(admin, vault_resource_id(info), SECRETS_OFFICER)
    assert {r.id for r in officer.rules} == RULE_IDS
    assert officer.scope == vault_resource_id(info)
    expiration = _rule(officer, "Expiration_EndUser_Assignment")
    assert expiration.rule_type == "RoleManagementPolicyExpirationRule"
    assert (expiration.is_expiration_required, expiration.maximum_duration) == (True, "PT8H")
    assert expiration.target.caller == "EndUser" and expiration.target.level == "Assignment"
    assert _rule(officer, "Enablement_EndUser_Assignment").enabled_rules == ["Justification"]
    admin_expiry = _rule(officer, "Expiration_Admin_Assignment")
    assert (admin_expiry.is_expiration_required, admin_expiry.maximum_duration) == (True, "P180D")

    rg = f"/subscriptions/{info['subscription_id']}/resourceGroups/rg-payments"
    contributor = _policy_for(admin, rg, CONTRIBUTOR)
    assert _rule(contributor, "Expiration_EndUser_Assignment").maximum_duration == "PT4H"
    approval = _rule(contributor, "Approval_EndUser_Assignment").setting
    assert approval.is_approval_required is True and approval.approval_mode == "SingleStage"
    assert [a.id for a in approval.approval_stages[0].primary_approvers] == [info["principals"]["bob"]["object_id"]]


def test_policy_assignment_filter_and_get(emu: Emulator) -> None:
    info = emu.info
    token = (
        ClientSecretCredential(
            info["tenant_id"],
            info["principals"]["admin-app"]["client_id"],
            info["principals"]["admin-app"]["client_secret"],
            authority=info["authority"],
            disable_instance_discovery=True,
            connection_verify=info["ca_cert"],
        )
        .get_token(ARM_SCOPE)
        .token
    )
    url = f"{info['arm']}{vault_resource_id(info)}/providers/Microsoft.Authorization/roleManagementPolicyAssignments"
    response = requests.get(
        url,
        params={
            "api-version": "2020-10-01",
            "$filter": f"roleDefinitionId eq '/subscriptions/{info['subscription_id']}/"
            f"providers/Microsoft.Authorization/roleDefinitions/{SECRETS_OFFICER}'",
        },
        headers={"Authorization": f"Bearer {token}"},
        verify=info["ca_cert"],
        timeout=10,
    )
    assert response.status_code == 200
    [assignment] = response.json()["value"]
    assert assignment["name"].endswith(f"_{SECRETS_OFFICER}")
    assert assignment["type"] == "Microsoft.Authorization/RoleManagementPolicyAssignment"
    props = assignment["properties"]
    assert props["policyAssignmentProperties"]["roleDefinition"]["displayName"] == "Key Vault Secrets Officer"
    assert len(props["effectiveRules"]) == 17
    # The id the service returns (singular segment) can be read back.
    back = requests.get(
        f"{info['arm']}{assignment['id']}",
        params={"api-version": "2020-10-01"},
        headers={"Authorization": f"Bearer {token}"},
        verify=info["ca_cert"],
        timeout=10,
    )
    assert back.status_code == 200 and back.json()["name"] == assignment["name"]


def test_patch_changes_the_next_activation(emu: Emulator) -> None:
    info = emu.info
    admin = arm_authorization_client_as(info, "admin-app", mfa=None)
    policy = _policy_for(admin, vault_resource_id(info), SECRETS_OFFICER)
    updated = admin.role_management_policies.update(
        vault_resource_id(info),
        policy.name,
        RoleManagementPolicy(
            rules=[
                RoleManagementPolicyExpirationRule(
                    id="Expiration_EndUser_Assignment",
                    is_expiration_required=True,
                    maximum_duration="PT2H",
                    target=RoleManagementPolicyRuleTarget(caller="EndUser", operations=["All"], level="Assignment"),
                )
            ]
        ),
    )
    assert _rule(updated, "Expiration_EndUser_Assignment").maximum_duration == "PT2H"
    assert updated.last_modified_by.id == info["principals"]["admin-app"]["object_id"]
    assert len(updated.rules) == 17

    alice = arm_authorization_client_as(info, "alice", mfa=None)
    eligibility = next(
        i
        for i in alice.role_eligibility_schedule_instances.list_for_scope("/", filter="asTarget()")
        if i.role_definition_id.endswith(SECRETS_OFFICER)
    )

    def activate(duration: str) -> Any:
        return alice.role_assignment_schedule_requests.create(
            vault_resource_id(info),
            str(uuid.uuid4()),
            RoleAssignmentScheduleRequest(
                principal_id=info["principals"]["alice"]["object_id"],
                role_definition_id=eligibility.role_definition_id,
                request_type="SelfActivate",
                justification="deploy",
                linked_role_eligibility_schedule_id=eligibility.role_eligibility_schedule_id,
                schedule_info=RoleAssignmentScheduleRequestPropertiesScheduleInfo(
                    expiration=RoleAssignmentScheduleRequestPropertiesScheduleInfoExpiration(
                        type="AfterDuration", duration=duration
                    )
                ),
            ),
        )

    with pytest.raises(HttpResponseError) as too_long:
        activate("PT3H")
    assert json.loads(too_long.value.response.text())["error"]["message"] == (
        'The following policy rules failed: ["ExpirationRule"]'
    )
    assert activate("PT2H").status == "Provisioned"


def test_policy_writes_and_reads_are_authorized(emu: Emulator) -> None:
    info = emu.info
    ci = arm_authorization_client_as(info, "ci-app", mfa=None)
    policy = _policy_for(ci, vault_resource_id(info), SECRETS_OFFICER)  # PIM Assignment Requester may read policies
    with pytest.raises(HttpResponseError) as write:
        ci.role_management_policies.update(vault_resource_id(info), policy.name, RoleManagementPolicy(rules=[]))
    assert write.value.status_code == 403
    # An eligible user reads the policies of the roles she may activate here (Key Vault Secrets Officer on the
    # vault, Contributor inherited from the resource group), and nothing else.
    alice = arm_authorization_client_as(info, "alice", mfa=None)
    visible = list(alice.role_management_policies.list_for_scope(vault_resource_id(info)))
    contributor = _policy_for(ci, vault_resource_id(info), CONTRIBUTOR)
    assert sorted(p.name for p in visible) == sorted([policy.name, contributor.name])
    with pytest.raises(HttpResponseError) as nothing:
        list(alice.role_management_policies.list_for_scope(f"/subscriptions/{info['subscription_id']}"))
    assert nothing.value.status_code == 403


def test_invalid_patch_is_refused(emu: Emulator) -> None:
    info = emu.info
    admin = arm_authorization_client_as(info, "admin-app", mfa=None)
    policy = _policy_for(admin, vault_resource_id(info), SECRETS_OFFICER)
    token = (
        ClientSecretCredential(
            info["tenant_id"],
            info["principals"]["admin-app"]["client_id"],
            info["principals"]["admin-app"]["client_secret"],
            authority=info["authority"],
            disable_instance_discovery=True,
            connection_verify=info["ca_cert"],
        )
        .get_token(ARM_SCOPE)
        .token
    )
    url = f"{info['arm']}{policy.id}?api-version=2020-10-01"
    for rule in (
        {"id": "Expiration_EndUser_Assignment", "ruleType": "RoleManagementPolicyEnablementRule"},
        {"id": "No_Such_Rule", "ruleType": "RoleManagementPolicyExpirationRule"},
        {
            "id": "Expiration_EndUser_Assignment",
            "ruleType": "RoleManagementPolicyExpirationRule",
            "maximumDuration": "eight hours",
        },
    ):
        response = requests.patch(
            url,
            json={"properties": {"rules": [rule]}},
            headers={"Authorization": f"Bearer {token}"},
            verify=info["ca_cert"],
            timeout=10,
        )
        assert response.status_code == 400, rule
        assert response.json()["error"]["code"] == "InvalidPolicy"
    assert (
        _rule(
            admin.role_management_policies.get(vault_resource_id(info), policy.name), "Expiration_EndUser_Assignment"
        ).maximum_duration
        == "PT8H"
    )
    missing = requests.get(
        f"{info['arm']}{vault_resource_id(info)}/providers/Microsoft.Authorization/roleManagementPolicies/"
        f"{uuid.uuid4()}?api-version=2020-10-01",
        headers={"Authorization": f"Bearer {token}"},
        verify=info["ca_cert"],
        timeout=10,
    )
    assert missing.status_code == 404


def test_scenario_policy_entries_can_be_scoped() -> None:
    scenario = copy.deepcopy(default_scenario())
    scenario["policies"].append(
        {
            "kind": "azure-role",
            "role": "Key Vault Secrets Officer",
            "scope": "/subscriptions/{subscription_id}/resourceGroups/rg-payments",
            "max_activation": "PT1H",
            "require_ticket": True,
            "approval_timeout_days": 2,
        }
    )
    with Emulator.start(scenario=scenario) as emu:
        info = emu.info
        admin = arm_authorization_client_as(info, "admin-app", mfa=None)
        at_vault = _policy_for(admin, vault_resource_id(info), SECRETS_OFFICER)
        assert _rule(at_vault, "Expiration_EndUser_Assignment").maximum_duration == "PT1H"
        assert _rule(at_vault, "Enablement_EndUser_Assignment").enabled_rules == ["Justification", "Ticketing"]
        stage = _rule(at_vault, "Approval_EndUser_Assignment").setting.approval_stages[0]
        assert stage.approval_stage_time_out_in_days == 2
        at_subscription = _policy_for(admin, f"/subscriptions/{info['subscription_id']}", SECRETS_OFFICER)
        assert _rule(at_subscription, "Expiration_EndUser_Assignment").maximum_duration == "PT8H"


def test_scenario_policy_typos_fail_the_load() -> None:
    scenario = copy.deepcopy(default_scenario())
    scenario["policies"].append({"kind": "azure-role", "role": "*", "max_activaton": "PT1H"})
    with pytest.raises(ScenarioError, match="max_activaton"):
        Emulator.start(scenario=scenario)
