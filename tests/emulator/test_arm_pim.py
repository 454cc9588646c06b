"""PIM for Azure resources over ARM: a human's SelfActivate/SelfDeactivate, expiry on the emulated clock,
approvals, policy rule failures, and the CI identity's time-bound AdminAssign/AdminRemove.

Microsoft's AuthorizationManagementClient (unchanged, pointed at the emulator) drives every flow; raw
`requests` checks wire details. State is asserted after the fact, in the world the emulator serves.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.keyvault.secrets import SecretClient
from azure.mgmt.authorization import AuthorizationManagementClient
from azure.mgmt.authorization.v2020_10_01.models import (
    RoleAssignmentScheduleRequest,
    RoleAssignmentScheduleRequestPropertiesScheduleInfo,
    RoleAssignmentScheduleRequestPropertiesScheduleInfoExpiration,
    RoleAssignmentScheduleRequestPropertiesTicketInfo,
)
from azure.mgmt.authorization.v2021_01_01_preview.models import RoleAssignmentApprovalStepProperties

from jitpim.emulator import Emulator
from jitpim.emulator.services.arm.state import ArmState
from jitpim.testing import (
    ARM_SCOPE,
    KEYVAULT_SCOPE,
    ControlPlaneToken,
    arm_authorization_client_as,
    resource_group_id,
    role_definition_id,
    vault_resource_id,
)

SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
REQUESTS = "providers/Microsoft.Authorization/roleAssignmentScheduleRequests"


@pytest.fixture(autouse=True)
def _fresh(emu: Emulator) -> None:
    emu.reset()


def _request(
    info: dict[str, Any],
    who: str,
    request_type: str,
    role: str,
    *,
    duration: str | None = "PT1H",
    justification: str | None = "hotfix INC-42",
    linked: str | None = None,
    start: str | None = None,
    expiration_type: str = "AfterDuration",
    ticket: bool = False,
) -> RoleAssignmentScheduleRequest:
    schedule = None
    if duration is not None or expiration_type == "NoExpiration":
        schedule = RoleAssignmentScheduleRequestPropertiesScheduleInfo(
            start_date_time=start,
            expiration=RoleAssignmentScheduleRequestPropertiesScheduleInfoExpiration(
                type=expiration_type, duration=duration
            ),
        )
    return RoleAssignmentScheduleRequest(
        principal_id=info["principals"][who]["object_id"],
        role_definition_id=role_definition_id(info, role),
        request_type=request_type,
        justification=justification,
        linked_role_eligibility_schedule_id=linked,
        schedule_info=schedule,
        ticket_info=RoleAssignmentScheduleRequestPropertiesTicketInfo(ticket_number="CHG-1", ticket_system="SNOW")
        if ticket
        else None,
    )


def _error(excinfo: pytest.ExceptionInfo[Any]) -> dict[str, Any]:
    error: HttpResponseError = excinfo.value
    body: dict[str, Any] = json.loads(error.response.text())["error"]
    return body


def _eligibility_id(client: AuthorizationManagementClient, role: str) -> str:
    for instance in client.role_eligibility_schedule_instances.list_for_scope("/", filter="asTarget()"):
        if instance.role_definition_id.endswith(role):
            return str(instance.role_eligibility_schedule_id)
    raise AssertionError(f"no eligibility for {role}")


def _activate(info: dict[str, Any], client: AuthorizationManagementClient, scope: str, role: str, **kwargs: Any) -> Any:
    linked = _eligibility_id(client, role)
    return client.role_assignment_schedule_requests.create(
        scope, str(uuid.uuid4()), _request(info, "alice", "SelfActivate", role, linked=linked, **kwargs)
    )


# -- a human activates, uses, deactivates ------------------------------------------------------------------------


def test_alice_sees_her_eligibilities_at_the_tenant_root(emu: Emulator) -> None:
    info = emu.info
    client = arm_authorization_client_as(info, "alice")
    instances = list(client.role_eligibility_schedule_instances.list_for_scope("/", filter="asTarget()"))
    by_role = {i.role_definition_id.rsplit("/", 1)[-1]: i for i in instances}
    assert set(by_role) == {SECRETS_OFFICER, CONTRIBUTOR}
    officer = by_role[SECRETS_OFFICER]
    assert officer.scope == vault_resource_id(info)
    assert officer.status == "Provisioned" and officer.member_type == "Direct"
    assert officer.role_eligibility_schedule_id.startswith(
        f"{vault_resource_id(info)}/providers/Microsoft.Authorization/"
    )
    assert officer.expanded_properties.role_definition.display_name == "Key Vault Secrets Officer"
    assert officer.expanded_properties.principal.type == "User"
    # At a narrower scope asTarget() returns what is at or below it, not what is inherited from above.
    at_vault = list(
        client.role_eligibility_schedule_instances.list_for_scope(vault_resource_id(info), filter="asTarget()")
    )
    assert [i.role_definition_id.rsplit("/", 1)[-1] for i in at_vault] == [SECRETS_OFFICER]
    schedules = list(client.role_eligibility_schedules.list_for_scope("/", filter="asTarget()"))
    assert {s.id for s in schedules} == {i.role_eligibility_schedule_id for i in instances}


def test_self_activate_grants_access_and_deactivation_waits_five_minutes(emu: Emulator) -> None:
    info = emu.info
    client = arm_authorization_client_as(info, "alice")
    alice = info["principals"]["alice"]["object_id"]
    secrets = SecretClient(
        info["vaults"]["kv-payments"]["url"],
        ControlPlaneToken(info, "alice", KEYVAULT_SCOPE),
        verify_challenge_resource=False,
        connection_verify=info["ca_cert"],
    )
    with pytest.raises(HttpResponseError) as denied:
        secrets.get_secret("db-password")
    assert denied.value.status_code == 403

    request = _activate(info, client, vault_resource_id(info), SECRETS_OFFICER, duration="PT1H")
    assert request.status == "Provisioned"
    assert request.request_type == "SelfActivate" and request.requestor_id == alice
    assert request.approval_id is None
    assert request.linked_role_eligibility_schedule_id.endswith(
        _eligibility_id(client, SECRETS_OFFICER).rsplit("/")[-1]
    )
    world = emu.runtime.world
    made = [a for a in world.rbac.assignments.values() if a.principal_id == alice]
    assert (
        len(made) == 1 and made[0].end is not None and made[0].schedule_id == request.target_role_assignment_schedule_id
    )
    assert (made[0].end - made[0].created_on).total_seconds() == pytest.approx(3600, abs=2)

    instances = list(
        client.role_assignment_schedule_instances.list_for_scope(vault_resource_id(info), filter="asTarget()")
    )
    activated = [i for i in instances if i.assignment_type == "Activated"]
    assert len(activated) == 1
    assert activated[0].origin_role_assignment_id == made[0].id
    assert activated[0].linked_role_eligibility_schedule_id == request.linked_role_eligibility_schedule_id
    emu.advance(3)  # RBAC propagation
    assert secrets.get_secret("db-password").value == "initial-db-password-v1"

    with pytest.raises(HttpResponseError) as early:
        client.role_assignment_schedule_requests.create(
            vault_resource_id(info),
            str(uuid.uuid4()),
            _request(info, "alice", "SelfDeactivate", SECRETS_OFFICER, duration=None),
        )
    assert early.value.status_code == 400
    assert _error(early) == {
        "code": "ActiveDurationTooShort",
        "message": "The Active duration is too short. Miniumum Required is 5 minutes.",
    }
    assert made[0].name.lower() in world.rbac.assignments

    emu.advance(301)
    revoked = client.role_assignment_schedule_requests.create(
        vault_resource_id(info),
        str(uuid.uuid4()),
        _request(info, "alice", "SelfDeactivate", SECRETS_OFFICER, duration=None),
    )
    assert revoked.status == "Revoked"
    assert revoked.schedule_info is None
    assert made[0].name.lower() not in world.rbac.assignments
    assert not [
        i
        for i in client.role_assignment_schedule_instances.list_for_scope(vault_resource_id(info), filter="asTarget()")
        if i.assignment_type == "Activated"
    ]


def test_expiry_removes_the_assignment_and_is_audited(emu: Emulator) -> None:
    info = emu.info
    client = arm_authorization_client_as(info, "alice")
    request = _activate(info, client, vault_resource_id(info), SECRETS_OFFICER, duration="PT30M")
    world = emu.runtime.world
    assert any(a.schedule_id == request.target_role_assignment_schedule_id for a in world.rbac.assignments.values())
    emu.advance(1799)
    assert any(a.schedule_id == request.target_role_assignment_schedule_id for a in world.rbac.assignments.values())
    emu.advance(2)
    assert not any(a.schedule_id == request.target_role_assignment_schedule_id for a in world.rbac.assignments.values())
    assert not list(client.role_assignment_schedules.list_for_scope(vault_resource_id(info), filter="asTarget()"))
    dump = requests.get(f"{info['control']}/state", verify=info["ca_cert"], timeout=10).json()["arm"]
    schedule = next(s for s in dump["assignment_schedules"] if s["name"] == request.target_role_assignment_schedule_id)
    assert schedule["status"] == "Expired"
    rows = [
        r for r in world.audit.rows if r["activityDisplayName"] == "Remove member from role (PIM activation expired)"
    ]
    assert len(rows) == 1 and rows[0]["initiatedBy"]["user"]["displayName"] == "Azure AD PIM"
    # The eligibility is untouched: activating again works at once.
    assert _activate(info, client, vault_resource_id(info), SECRETS_OFFICER).status == "Provisioned"


# -- policy rules ----------------------------------------------------------------------------------------------


def test_policy_rule_failures_name_the_rules(emu: Emulator) -> None:
    info = emu.info
    client = arm_authorization_client_as(info, "alice")
    with pytest.raises(HttpResponseError) as too_long:
        _activate(info, client, vault_resource_id(info), SECRETS_OFFICER, duration="PT9H")
    assert too_long.value.status_code == 400
    assert _error(too_long) == {
        "code": "RoleAssignmentRequestPolicyValidationFailed",
        "message": 'The following policy rules failed: ["ExpirationRule"]',
    }
    with pytest.raises(HttpResponseError) as unjustified:
        _activate(info, client, vault_resource_id(info), SECRETS_OFFICER, justification=None)
    assert _error(unjustified)["message"] == 'The following policy rules failed: ["JustificationRule"]'
    with pytest.raises(HttpResponseError) as both:
        _activate(info, client, vault_resource_id(info), SECRETS_OFFICER, justification="  ", duration="P1D")
    assert _error(both)["message"] == 'The following policy rules failed: ["ExpirationRule","JustificationRule"]'
    with pytest.raises(HttpResponseError) as short:
        _activate(info, client, vault_resource_id(info), SECRETS_OFFICER, duration="PT4M")
    assert _error(short)["code"] == "ActiveDurationTooShort"
    with pytest.raises(HttpResponseError) as not_eligible:
        client.role_assignment_schedule_requests.create(
            resource_group_id(info), str(uuid.uuid4()), _request(info, "alice", "SelfActivate", OWNER)
        )
    assert _error(not_eligible)["message"] == 'The following policy rules failed: ["EligibilityRule"]'
    assert not [
        a
        for a in emu.runtime.world.rbac.assignments.values()
        if a.principal_id == info["principals"]["alice"]["object_id"]
    ]


def test_duplicates_are_refused(emu: Emulator) -> None:
    info = emu.info
    client = arm_authorization_client_as(info, "alice")
    _activate(info, client, vault_resource_id(info), SECRETS_OFFICER)
    with pytest.raises(HttpResponseError) as again:
        _activate(info, client, vault_resource_id(info), SECRETS_OFFICER)
    assert _error(again) == {"code": "RoleAssignmentExists", "message": "The Role assignment already exists."}
    pending = _activate(info, client, resource_group_id(info), CONTRIBUTOR)
    assert pending.status == "PendingApproval"
    with pytest.raises(HttpResponseError) as twice:
        _activate(info, client, resource_group_id(info), CONTRIBUTOR)
    assert _error(twice)["code"] == "PendingRoleAssignmentRequest"
    name = pending.name
    with pytest.raises(HttpResponseError) as reput:
        client.role_assignment_schedule_requests.create(
            resource_group_id(info),
            name,
            _request(info, "alice", "SelfActivate", CONTRIBUTOR, linked=_eligibility_id(client, CONTRIBUTOR)),
        )
    assert _error(reput)["code"] == "RoleAssignmentRequestExists"


def test_mfa_rule_reads_the_token(emu: Emulator) -> None:
    info = emu.info
    world = emu.runtime.world
    state = world.service("arm", ArmState)
    with world.lock:
        scope = next(e.scope for e in state.eligibilities.values() if e.role == SECRETS_OFFICER)
        policy = state.policies.get(scope, SECRETS_OFFICER)
        policy.rule("Enablement_EndUser_Assignment")["enabledRules"] = [
            "MultiFactorAuthentication",
            "Justification",
            "Ticketing",
        ]
    client = arm_authorization_client_as(info, "alice", mfa=False)
    with pytest.raises(HttpResponseError) as failed:
        _activate(info, client, vault_resource_id(info), SECRETS_OFFICER)
    assert _error(failed)["message"] == 'The following policy rules failed: ["TicketingRule","MfaRule"]'
    assert (
        _activate(
            info, arm_authorization_client_as(info, "alice"), vault_resource_id(info), SECRETS_OFFICER, ticket=True
        ).status
        == "Provisioned"
    )


# -- approvals --------------------------------------------------------------------------------------------------


def test_contributor_activation_waits_for_bob(emu: Emulator) -> None:
    info = emu.info
    alice_client = arm_authorization_client_as(info, "alice")
    bob = arm_authorization_client_as(info, "bob")
    request = _activate(info, alice_client, resource_group_id(info), CONTRIBUTOR, duration="PT2H")
    assert request.status == "PendingApproval"
    assert request.approval_id == f"/providers/Microsoft.Authorization/roleAssignmentApprovals/{request.name}"
    alice_oid = info["principals"]["alice"]["object_id"]
    assert not [a for a in emu.runtime.world.rbac.assignments.values() if a.principal_id == alice_oid]

    approvals = list(bob.role_assignment_approval.list(filter="asApprover()"))
    assert [a.name for a in approvals] == [request.name]
    stage = approvals[0].stages[0]
    assert (stage.status, stage.assigned_to_me, stage.review_result) == ("InProgress", True, "NotReviewed")
    assert list(alice_client.role_assignment_approval.list(filter="asApprover()")) == []
    with pytest.raises(HttpResponseError) as self_approval:
        alice_client.role_assignment_approval_step.patch(
            request.name, stage.name, RoleAssignmentApprovalStepProperties(review_result="Approve", justification="me")
        )
    assert self_approval.value.status_code in (403, 404)

    emu.advance(600)
    approved = bob.role_assignment_approval_step.patch(
        request.name, stage.name, RoleAssignmentApprovalStepProperties(review_result="Approve", justification="ok")
    )
    assert (approved.status, approved.review_result, approved.principal_id) == (
        "Completed",
        "Approve",
        info["principals"]["bob"]["object_id"],
    )
    after = alice_client.role_assignment_schedule_requests.get(resource_group_id(info), request.name)
    assert after.status == "Provisioned"
    granted = [a for a in emu.runtime.world.rbac.assignments.values() if a.principal_id == alice_oid]
    assert len(granted) == 1
    # The window starts at approval (10 minutes after the request), not at the request.
    assert granted[0].end is not None
    assert (granted[0].end - request.created_on).total_seconds() == pytest.approx(7200 + 600, abs=5)
    with pytest.raises(HttpResponseError) as twice:
        bob.role_assignment_approval_step.patch(
            request.name, stage.name, RoleAssignmentApprovalStepProperties(review_result="Deny", justification="no")
        )
    assert twice.value.status_code == 409


def test_denied_and_canceled_requests(emu: Emulator) -> None:
    info = emu.info
    alice = arm_authorization_client_as(info, "alice")
    bob = arm_authorization_client_as(info, "bob")
    denied = _activate(info, alice, resource_group_id(info), CONTRIBUTOR)
    bob.role_assignment_approval_step.put(
        denied.name, denied.name, RoleAssignmentApprovalStepProperties(review_result="Deny", justification="no")
    )
    assert alice.role_assignment_schedule_requests.get(resource_group_id(info), denied.name).status == "Denied"
    canceled = _activate(info, alice, resource_group_id(info), CONTRIBUTOR)
    alice.role_assignment_schedule_requests.cancel(resource_group_id(info), canceled.name)
    assert alice.role_assignment_schedule_requests.get(resource_group_id(info), canceled.name).status == "Canceled"
    with pytest.raises(HttpResponseError) as again:
        alice.role_assignment_schedule_requests.cancel(resource_group_id(info), canceled.name)
    assert _error(again)["code"] == "RequestCannotBeCancelled"
    mine = list(alice.role_assignment_schedule_requests.list_for_scope("/", filter="asRequestor()"))
    assert {r.name: r.status for r in mine} == {denied.name: "Denied", canceled.name: "Canceled"}
    assert not [
        a
        for a in emu.runtime.world.rbac.assignments.values()
        if a.principal_id == info["principals"]["alice"]["object_id"]
    ]


# -- the CI identity: time-bound AdminAssign ------------------------------------------------------------------------


def test_ci_app_admin_assigns_itself_time_bound_and_removes_it(emu: Emulator) -> None:
    info = emu.info
    ci = arm_authorization_client_as(info, "ci-app")
    ci_oid = info["principals"]["ci-app"]["object_id"]
    assigned = ci.role_assignment_schedule_requests.create(
        vault_resource_id(info),
        str(uuid.uuid4()),
        _request(info, "ci-app", "AdminAssign", SECRETS_OFFICER, duration="PT30M"),
    )
    assert assigned.status == "Provisioned" and assigned.principal_type == "ServicePrincipal"
    world = emu.runtime.world
    made = [a for a in world.rbac.assignments.values() if a.principal_id == ci_oid and a.schedule_id]
    assert len(made) == 1 and made[0].role_definition_id == SECRETS_OFFICER
    schedules = [
        s
        for s in ci.role_assignment_schedules.list_for_scope(
            vault_resource_id(info), filter=f"principalId eq '{ci_oid}'"
        )
        if s.assignment_type == "Assigned" and s.end_date_time is not None
    ]
    assert len(schedules) == 1 and schedules[0].name == assigned.target_role_assignment_schedule_id

    remove = _request(info, "ci-app", "AdminRemove", SECRETS_OFFICER, duration=None)
    with pytest.raises(HttpResponseError) as early:
        ci.role_assignment_schedule_requests.create(vault_resource_id(info), str(uuid.uuid4()), remove)
    assert _error(early)["code"] == "ActiveDurationTooShort"
    emu.advance(300)
    removed = ci.role_assignment_schedule_requests.create(vault_resource_id(info), str(uuid.uuid4()), remove)
    assert removed.status == "Revoked"
    assert made[0].name.lower() not in world.rbac.assignments
    with pytest.raises(HttpResponseError) as gone:
        ci.role_assignment_schedule_requests.create(vault_resource_id(info), str(uuid.uuid4()), remove)
    assert _error(gone) == {"code": "RoleAssignmentDoesNotExist", "message": "The Role assignment does not exist."}


def test_admin_assign_rules_and_permissions(emu: Emulator) -> None:
    info = emu.info
    ci = arm_authorization_client_as(info, "ci-app")
    with pytest.raises(HttpResponseError) as permanent:
        ci.role_assignment_schedule_requests.create(
            vault_resource_id(info),
            str(uuid.uuid4()),
            _request(info, "ci-app", "AdminAssign", SECRETS_OFFICER, duration=None, expiration_type="NoExpiration"),
        )
    assert _error(permanent)["message"] == 'The following policy rules failed: ["ExpirationRule"]'
    with pytest.raises(HttpResponseError) as outside:  # the CI app may request only at its resource group
        ci.role_assignment_schedule_requests.create(
            f"/subscriptions/{info['subscription_id']}",
            str(uuid.uuid4()),
            _request(info, "ci-app", "AdminAssign", SECRETS_OFFICER),
        )
    assert outside.value.status_code == 403
    assert _error(outside)["code"] == "AuthorizationFailed"
    with pytest.raises(HttpResponseError) as alice:
        arm_authorization_client_as(info, "alice").role_assignment_schedule_requests.create(
            vault_resource_id(info), str(uuid.uuid4()), _request(info, "ci-app", "AdminAssign", SECRETS_OFFICER)
        )
    assert alice.value.status_code == 403


def test_future_start_is_granted_then_provisioned(emu: Emulator) -> None:
    info = emu.info
    ci = arm_authorization_client_as(info, "ci-app")
    start = emu.runtime.world.clock.now() + timedelta(minutes=10)
    request = ci.role_assignment_schedule_requests.create(
        vault_resource_id(info),
        str(uuid.uuid4()),
        _request(info, "ci-app", "AdminAssign", SECRETS_OFFICER, start=start.isoformat()),
    )
    assert request.status == "Granted"
    world = emu.runtime.world
    ci_oid = info["principals"]["ci-app"]["object_id"]
    assert not [a for a in world.rbac.assignments.values() if a.principal_id == ci_oid and a.schedule_id]
    emu.advance(601)
    assert ci.role_assignment_schedule_requests.get(vault_resource_id(info), request.name).status == "Provisioned"
    assert [a for a in world.rbac.assignments.values() if a.principal_id == ci_oid and a.schedule_id]


def test_validate_answers_without_changing_anything(emu: Emulator) -> None:
    info = emu.info
    ci = arm_authorization_client_as(info, "ci-app")
    name = str(uuid.uuid4())
    answer = ci.role_assignment_schedule_requests.validate(
        vault_resource_id(info), name, _request(info, "ci-app", "AdminAssign", SECRETS_OFFICER)
    )
    assert answer.status == "Provisioned"
    assert name not in emu.runtime.world.service("arm", ArmState).requests
    with pytest.raises(HttpResponseError) as invalid:
        ci.role_assignment_schedule_requests.validate(
            vault_resource_id(info), name, _request(info, "ci-app", "AdminAssign", SECRETS_OFFICER, duration="P365D")
        )
    assert _error(invalid)["code"] == "RoleAssignmentRequestPolicyValidationFailed"


def test_provisioning_delay_keeps_requests_accepted(emu: Emulator) -> None:
    info = emu.info
    world = emu.runtime.world
    world.settings.provisioning_seconds = 20
    ci = arm_authorization_client_as(info, "ci-app")
    request = ci.role_assignment_schedule_requests.create(
        vault_resource_id(info), str(uuid.uuid4()), _request(info, "ci-app", "AdminAssign", SECRETS_OFFICER)
    )
    assert request.status == "Accepted"
    emu.advance(20)
    assert ci.role_assignment_schedule_requests.get(vault_resource_id(info), request.name).status == "Provisioned"


def test_wire_details_of_schedule_requests(emu: Emulator) -> None:
    info = emu.info
    token = ControlPlaneToken(info, "alice", ARM_SCOPE).token
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{info['arm']}{vault_resource_id(info)}/{REQUESTS}/{uuid.uuid4()}"
    body = {
        "properties": {
            "principalId": info["principals"]["alice"]["object_id"],
            "requestType": "SelfActivate",
            "roleDefinitionId": role_definition_id(info, SECRETS_OFFICER),
            "justification": "x",
            "scheduleInfo": {"expiration": {"type": "AfterDuration", "duration": "PT1H"}},
        }
    }
    old = requests.put(url + "?api-version=2022-04-01", json=body, headers=headers, verify=info["ca_cert"], timeout=10)
    assert (old.status_code, old.json()["error"]["code"]) == (400, "NoRegisteredProviderFound")
    created = requests.put(
        url + "?api-version=2020-10-01", json=body, headers=headers, verify=info["ca_cert"], timeout=10
    )
    assert created.status_code == 201
    data = created.json()
    assert data["type"] == "Microsoft.Authorization/RoleAssignmentScheduleRequests"
    assert data["properties"]["scheduleInfo"]["expiration"] == {
        "type": "AfterDuration",
        "endDateTime": None,
        "duration": "PT1H",
    }
    assert data["properties"]["expandedProperties"]["scope"]["type"] == "resource"
    bad = requests.put(
        f"{info['arm']}{vault_resource_id(info)}/{REQUESTS}/not-a-guid?api-version=2020-10-01",
        json=body,
        headers=headers,
        verify=info["ca_cert"],
        timeout=10,
    )
    assert bad.status_code == 400
    listed = requests.get(
        f"{info['arm']}/{REQUESTS}?api-version=2020-10-01&$filter=asTarget() or asRequestor()",
        headers=headers,
        verify=info["ca_cert"],
        timeout=10,
    )
    assert (listed.status_code, listed.json()["error"]["code"]) == (400, "UnsupportedQuery")
