"""PIM administration over ARM: eligibility schedule requests, extending and updating active assignments,
end-user extension requests, standing assignments seen (and removed) through PIM, and group eligibility."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.authorization.v2020_10_01.models import (
    RoleAssignmentScheduleRequest,
    RoleAssignmentScheduleRequestPropertiesScheduleInfo,
    RoleAssignmentScheduleRequestPropertiesScheduleInfoExpiration,
    RoleEligibilityScheduleRequest,
    RoleEligibilityScheduleRequestPropertiesScheduleInfo,
    RoleEligibilityScheduleRequestPropertiesScheduleInfoExpiration,
)

from jitpim.emulator import Emulator
from jitpim.emulator.core.directory import Membership
from jitpim.testing import (
    arm_authorization_client_as,
    principal_oid,
    resource_group_id,
    role_definition_id,
    vault_resource_id,
)

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
KV_READER = "21090545-7ca7-4776-b22c-e363652d74d2"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"


@pytest.fixture(autouse=True)
def _fresh(emu: Emulator) -> None:
    emu.reset()


def _eligibility(
    info: dict[str, Any],
    who: str,
    role: str,
    request_type: str = "AdminAssign",
    duration: str | None = "P30D",
    **kw: Any,
) -> RoleEligibilityScheduleRequest:
    schedule = RoleEligibilityScheduleRequestPropertiesScheduleInfo(
        start_date_time=kw.get("start"),
        expiration=RoleEligibilityScheduleRequestPropertiesScheduleInfoExpiration(
            type="AfterDuration" if duration else "NoExpiration", duration=duration
        ),
    )
    return RoleEligibilityScheduleRequest(
        principal_id=principal_oid(info, who),
        role_definition_id=role_definition_id(info, role),
        request_type=request_type,
        justification="onboarding",
        schedule_info=schedule if request_type != "AdminRemove" else None,
    )


def _assignment(
    info: dict[str, Any],
    who: str,
    role: str,
    request_type: str,
    duration: str | None = "PT1H",
    linked: str | None = None,
) -> RoleAssignmentScheduleRequest:
    schedule = None
    if duration:
        schedule = RoleAssignmentScheduleRequestPropertiesScheduleInfo(
            expiration=RoleAssignmentScheduleRequestPropertiesScheduleInfoExpiration(
                type="AfterDuration", duration=duration
            )
        )
    return RoleAssignmentScheduleRequest(
        principal_id=principal_oid(info, who),
        role_definition_id=role_definition_id(info, role),
        request_type=request_type,
        justification="maintenance window",
        schedule_info=schedule,
        linked_role_eligibility_schedule_id=linked,
    )


def _code(excinfo: pytest.ExceptionInfo[Any]) -> str:
    return str(json.loads(excinfo.value.response.text())["error"]["code"])


def test_admin_makes_bob_eligible_and_bob_activates(emu: Emulator) -> None:
    info = emu.info
    admin = arm_authorization_client_as(info, "admin-app")
    bob = arm_authorization_client_as(info, "bob")
    created = admin.role_eligibility_schedule_requests.create(
        resource_group_id(info), str(uuid.uuid4()), _eligibility(info, "bob", READER)
    )
    assert created.status == "Provisioned" and created.request_type == "AdminAssign"
    assert created.target_role_eligibility_schedule_id
    [instance] = list(bob.role_eligibility_schedule_instances.list_for_scope("/", filter="asTarget()"))
    assert instance.role_definition_id == role_definition_id(info, READER)
    assert (instance.end_date_time - instance.start_date_time).days == 30
    with pytest.raises(HttpResponseError) as duplicate:
        admin.role_eligibility_schedule_requests.create(
            resource_group_id(info), str(uuid.uuid4()), _eligibility(info, "bob", READER)
        )
    assert _code(duplicate) == "RoleAssignmentExists"

    activation = bob.role_assignment_schedule_requests.create(
        resource_group_id(info),
        str(uuid.uuid4()),
        _assignment(info, "bob", READER, "SelfActivate", linked=instance.role_eligibility_schedule_id),
    )
    assert activation.status == "Provisioned"
    listed = list(
        admin.role_eligibility_schedule_requests.list_for_scope(
            resource_group_id(info), filter=f"principalId eq '{principal_oid(info, 'bob')}'"
        )
    )
    assert [r.name for r in listed] == [created.name]

    emu.advance(301)
    bob.role_assignment_schedule_requests.create(
        resource_group_id(info), str(uuid.uuid4()), _assignment(info, "bob", READER, "SelfDeactivate", duration=None)
    )
    removed = admin.role_eligibility_schedule_requests.create(
        resource_group_id(info), str(uuid.uuid4()), _eligibility(info, "bob", READER, "AdminRemove")
    )
    assert removed.status == "Revoked"
    assert list(bob.role_eligibility_schedule_instances.list_for_scope("/", filter="asTarget()")) == []
    with pytest.raises(HttpResponseError) as gone:
        bob.role_assignment_schedule_requests.create(
            resource_group_id(info), str(uuid.uuid4()), _assignment(info, "bob", READER, "SelfActivate")
        )
    assert json.loads(gone.value.response.text())["error"]["message"] == (
        'The following policy rules failed: ["EligibilityRule"]'
    )


def test_eligibility_rules(emu: Emulator) -> None:
    info = emu.info
    admin = arm_authorization_client_as(info, "admin-app")
    with pytest.raises(HttpResponseError) as app:
        admin.role_eligibility_schedule_requests.create(
            resource_group_id(info), str(uuid.uuid4()), _eligibility(info, "ci-app", READER)
        )
    assert _code(app) == "PrincipalTypeNotSupported"
    with pytest.raises(HttpResponseError) as too_long:
        admin.role_eligibility_schedule_requests.create(
            resource_group_id(info), str(uuid.uuid4()), _eligibility(info, "bob", READER, duration="P400D")
        )
    assert _code(too_long) == "RoleAssignmentRequestPolicyValidationFailed"
    with pytest.raises(HttpResponseError) as ci:
        arm_authorization_client_as(info, "ci-app").role_eligibility_schedule_requests.create(
            resource_group_id(info), str(uuid.uuid4()), _eligibility(info, "bob", READER)
        )
    assert ci.value.status_code == 403
    start = (emu.runtime.world.clock.now() + timedelta(days=1)).isoformat()
    future = admin.role_eligibility_schedule_requests.create(
        resource_group_id(info), str(uuid.uuid4()), _eligibility(info, "bob", READER, start=start)
    )
    assert future.status == "Granted"
    admin.role_eligibility_schedule_requests.cancel(resource_group_id(info), future.name)
    assert admin.role_eligibility_schedule_requests.get(resource_group_id(info), future.name).status == "Canceled"
    assert (
        list(
            arm_authorization_client_as(info, "bob").role_eligibility_schedules.list_for_scope("/", filter="asTarget()")
        )
        == []
    )


def test_admin_extend_moves_the_end_of_the_live_assignment(emu: Emulator) -> None:
    info = emu.info
    ci = arm_authorization_client_as(info, "ci-app")
    ci.role_assignment_schedule_requests.create(
        vault_resource_id(info), str(uuid.uuid4()), _assignment(info, "ci-app", SECRETS_OFFICER, "AdminAssign", "PT30M")
    )
    world = emu.runtime.world
    [made] = [
        a for a in world.rbac.assignments.values() if a.principal_id == principal_oid(info, "ci-app") and a.schedule_id
    ]
    first_end = made.end
    assert first_end is not None
    extended = ci.role_assignment_schedule_requests.create(
        vault_resource_id(info), str(uuid.uuid4()), _assignment(info, "ci-app", SECRETS_OFFICER, "AdminExtend", "PT2H")
    )
    assert extended.status == "Provisioned"
    assert made.end is not None and (made.end - first_end) == timedelta(minutes=90)
    emu.advance(1801)
    assert made.name.lower() in world.rbac.assignments  # still live: the extension holds


def test_self_extend_waits_for_the_admin(emu: Emulator) -> None:
    info = emu.info
    admin = arm_authorization_client_as(info, "admin-app")
    bob = arm_authorization_client_as(info, "bob")
    admin.role_assignment_schedule_requests.create(
        resource_group_id(info), str(uuid.uuid4()), _assignment(info, "bob", READER, "AdminAssign", "PT1H")
    )
    asked = bob.role_assignment_schedule_requests.create(
        resource_group_id(info), str(uuid.uuid4()), _assignment(info, "bob", READER, "SelfExtend", "PT8H")
    )
    assert asked.status == "PendingAdminDecision"
    admin.role_assignment_schedule_requests.create(
        resource_group_id(info), str(uuid.uuid4()), _assignment(info, "bob", READER, "AdminExtend", "PT8H")
    )
    assert bob.role_assignment_schedule_requests.get(resource_group_id(info), asked.name).status == "AdminApproved"


def test_standing_assignments_show_as_permanent_and_admin_remove_takes_them(emu: Emulator) -> None:
    info = emu.info
    admin = arm_authorization_client_as(info, "admin-app")
    sub = f"/subscriptions/{info['subscription_id']}"
    instances = list(
        admin.role_assignment_schedule_instances.list_for_scope(
            sub, filter=f"principalId eq '{principal_oid(info, 'admin-app')}'"
        )
    )
    reader = [i for i in instances if i.role_definition_id.endswith(READER)]
    assert len(reader) == 1
    assert (reader[0].assignment_type, reader[0].end_date_time, reader[0].status) == ("Assigned", None, "Provisioned")
    assert reader[0].origin_role_assignment_id.startswith(f"{sub}/providers/Microsoft.Authorization/roleAssignments/")
    removed = admin.role_assignment_schedule_requests.create(
        sub, str(uuid.uuid4()), _assignment(info, "admin-app", READER, "AdminRemove", duration=None)
    )
    assert removed.status == "Revoked"
    assert not [
        a
        for a in emu.runtime.world.rbac.assignments.values()
        if a.principal_id == principal_oid(info, "admin-app") and a.role_definition_id == READER
    ]


def test_group_eligibility_lets_members_activate(emu: Emulator) -> None:
    info = emu.info
    admin = arm_authorization_client_as(info, "admin-app")
    group = principal_oid(info, "kv-operators")
    request = RoleEligibilityScheduleRequest(
        principal_id=group,
        role_definition_id=role_definition_id(info, KV_READER),
        request_type="AdminAssign",
        justification="operators may read the vault",
        schedule_info=RoleEligibilityScheduleRequestPropertiesScheduleInfo(
            expiration=RoleEligibilityScheduleRequestPropertiesScheduleInfoExpiration(type="NoExpiration")
        ),
    )
    assert admin.role_eligibility_schedule_requests.create(
        vault_resource_id(info), str(uuid.uuid4()), request
    ).status == ("Provisioned")
    world = emu.runtime.world
    with world.lock:
        world.directory.groups[group].members[principal_oid(info, "alice")] = Membership(world.clock.now(), None)
    emu.advance(1)  # directory propagation
    alice = arm_authorization_client_as(info, "alice")
    roles = {
        i.role_definition_id.rsplit("/", 1)[-1]
        for i in alice.role_eligibility_schedule_instances.list_for_scope("/", filter="asTarget()")
    }
    assert KV_READER in roles
    activation = alice.role_assignment_schedule_requests.create(
        vault_resource_id(info), str(uuid.uuid4()), _assignment(info, "alice", KV_READER, "SelfActivate")
    )
    assert activation.status == "Provisioned"
    assert any(
        a.principal_id == principal_oid(info, "alice") and a.role_definition_id == KV_READER
        for a in world.rbac.assignments.values()
    )


def test_activation_defaults_to_the_policy_maximum_and_never_outlives_the_eligibility(emu: Emulator) -> None:
    info = emu.info
    admin = arm_authorization_client_as(info, "admin-app")
    bob = arm_authorization_client_as(info, "bob")
    admin.role_eligibility_schedule_requests.create(
        resource_group_id(info), str(uuid.uuid4()), _eligibility(info, "bob", READER, duration="PT3H")
    )
    unbounded = RoleAssignmentScheduleRequest(
        principal_id=principal_oid(info, "bob"),
        role_definition_id=role_definition_id(info, READER),
        request_type="SelfActivate",
        justification="no expiration given",
    )
    first = bob.role_assignment_schedule_requests.create(resource_group_id(info), str(uuid.uuid4()), unbounded)
    assert first.schedule_info.expiration.duration == "PT8H"  # Expiration_EndUser_Assignment.maximumDuration
    [made] = [a for a in emu.runtime.world.rbac.assignments.values() if a.principal_id == principal_oid(info, "bob")]
    assert made.end is not None
    assert (made.end - made.created_on) <= timedelta(hours=3)  # capped at the eligibility's end
