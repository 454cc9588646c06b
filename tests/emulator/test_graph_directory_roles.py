"""Directory role definitions and raw role assignments over raw HTTPS."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests

from jitpim.emulator import Emulator
from jitpim.emulator.core.directory import DirectoryRoleAssignment
from jitpim.testing import app_credential

GRAPH = "https://graph.microsoft.com/.default"
PRIVILEGED_ROLE_ADMINISTRATOR = "e8611ab8-c189-46e8-94e1-60213ab1f814"
SECURITY_READER = "5d6b6bb7-de71-4623-b4af-96380a352509"


def _auth(info: dict[str, Any], name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {app_credential(info, name).get_token(GRAPH).token}"}


def _url(info: dict[str, Any], suffix: str) -> str:
    return f"{info['graph']}/v1.0/roleManagement/directory/{suffix}"


@pytest.mark.parametrize(
    ("name", "template_id"),
    [
        ("Global Administrator", "62e90394-69f5-4237-9190-012177145e10"),
        ("Privileged Role Administrator", PRIVILEGED_ROLE_ADMINISTRATOR),
        ("Application Administrator", "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"),
        ("Cloud Application Administrator", "158c047a-c907-4556-b7ef-446551a6b5f7"),
        ("Groups Administrator", "fdd7a751-b60b-444a-984c-02652fe8fa1c"),
        ("Application Developer", "cf1c38e5-3621-4004-a7cb-879624dced7c"),
    ],
)
def test_definitions_carry_the_real_template_ids(
    http: requests.Session, info: dict[str, Any], name: str, template_id: str
) -> None:
    found = http.get(
        _url(info, "roleDefinitions"), headers=_auth(info, "ci-app"), params={"$filter": f"displayName eq '{name}'"}
    ).json()
    assert (
        found["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#roleManagement/directory/roleDefinitions"
    )
    (definition,) = found["value"]
    assert definition["id"] == definition["templateId"] == template_id
    assert definition["isBuiltIn"] is True


def test_definition_by_id_and_or_is_refused(http: requests.Session, info: dict[str, Any]) -> None:
    headers = _auth(info, "ci-app")
    one = http.get(_url(info, "roleDefinitions/9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"), headers=headers).json()
    actions = one["rolePermissions"][0]["allowedResourceActions"]
    assert "microsoft.directory/applications/credentials/update" in actions
    refused = http.get(
        _url(info, "roleDefinitions"),
        headers=headers,
        params={"$filter": "displayName eq 'Global Administrator' or displayName eq 'Global Reader'"},
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "Request_UnsupportedQuery"
    assert refused.json()["error"]["message"] == "Or operator not supported for this entity set."
    assert (
        http.get(_url(info, "roleDefinitions/11111111-1111-4111-8111-111111111111"), headers=headers).status_code == 404
    )


def test_assignments_list_filter_and_expand(http: requests.Session, info: dict[str, Any]) -> None:
    headers = _auth(info, "ci-app")
    admin = info["principals"]["admin-app"]["object_id"]
    mine = http.get(
        _url(info, "roleAssignments"),
        headers=headers,
        params={"$filter": f"principalId eq '{admin}'", "$expand": "principal,roleDefinition"},
    ).json()
    (assignment,) = mine["value"]
    assert assignment["roleDefinitionId"] == PRIVILEGED_ROLE_ADMINISTRATOR
    assert assignment["directoryScopeId"] == "/"
    assert assignment["principal"]["@odata.type"] == "#microsoft.graph.servicePrincipal"
    assert assignment["roleDefinition"]["displayName"] == "Privileged Role Administrator"
    by_role = http.get(
        _url(info, "roleAssignments"),
        headers=headers,
        params={"$filter": f"roleDefinitionId eq '{PRIVILEGED_ROLE_ADMINISTRATOR}'"},
    ).json()["value"]
    assert sorted(a["principalId"] for a in by_role) == sorted([admin, info["principals"]["bob"]["object_id"]])
    one = http.get(_url(info, f"roleAssignments/{assignment['id']}"), headers=headers).json()
    assert one["principalId"] == admin


def test_pim_materialised_assignments_are_listed_while_active(
    http: requests.Session, info: dict[str, Any], fresh_emu: Emulator
) -> None:
    world = fresh_emu.runtime.world
    alice = info["principals"]["alice"]["object_id"]
    with world.lock:
        now = world.clock.now()
        world.directory.role_assignments.append(
            DirectoryRoleAssignment(
                alice,
                SECURITY_READER,
                "/",
                now,
                now + timedelta(hours=1),
                source="pim",
                schedule_id="sched-1",
                assignment_type="Activated",
            )
        )
    headers = _auth(info, "ci-app")
    params = {"$filter": f"principalId eq '{alice}'"}
    (active,) = http.get(_url(info, "roleAssignments"), headers=headers, params=params).json()["value"]
    assert active["roleDefinitionId"] == SECURITY_READER
    removal = http.delete(_url(info, f"roleAssignments/{active['id']}"), headers=_auth(info, "admin-app"))
    assert removal.status_code == 400
    fresh_emu.advance(3601)
    assert http.get(_url(info, "roleAssignments"), headers=headers, params=params).json()["value"] == []


def test_permanent_assignment_outside_pim(http: requests.Session, info: dict[str, Any], fresh_emu: Emulator) -> None:
    admin = _auth(info, "admin-app")
    alice = info["principals"]["alice"]["object_id"]
    body = {"principalId": alice, "roleDefinitionId": SECURITY_READER, "directoryScopeId": "/"}
    created = http.post(_url(info, "roleAssignments"), headers=admin, json=body)
    assert created.status_code == 201
    assignment = created.json()
    assert assignment["@odata.context"].endswith("$metadata#roleManagement/directory/roleAssignments/$entity")
    assert assignment["id"].endswith("-1")
    duplicate = http.post(_url(info, "roleAssignments"), headers=admin, json=body)
    assert duplicate.status_code == 400
    assert duplicate.json()["error"]["code"] == "Request_BadRequest"
    rows = fresh_emu.runtime.world.audit.rows
    outside = [r for r in rows if r["activityDisplayName"] == "Add member to role outside of PIM (permanent)"]
    assert len(outside) == 1 and outside[0]["loggedByService"] == "PIM"
    assert outside[0]["initiatedBy"]["app"]["appId"] == info["principals"]["admin-app"]["client_id"]
    assert any(
        r["activityDisplayName"] == "Add member to role" and r["loggedByService"] == "Core Directory" for r in rows
    )
    fresh_emu.advance(5)
    world = fresh_emu.runtime.world
    assert SECURITY_READER in world.directory.effective_role_ids(alice, world.clock.now())
    assert http.delete(_url(info, f"roleAssignments/{assignment['id']}"), headers=admin).status_code == 204
    assert http.delete(_url(info, f"roleAssignments/{assignment['id']}"), headers=admin).status_code == 404
    assert SECURITY_READER not in world.directory.effective_role_ids(alice, world.clock.now())


def test_only_role_administrators_assign(http: requests.Session, info: dict[str, Any], control: Any) -> None:
    body = {
        "principalId": info["principals"]["ci-app"]["object_id"],
        "roleDefinitionId": PRIVILEGED_ROLE_ADMINISTRATOR,
        "directoryScopeId": "/",
    }
    refused = http.post(_url(info, "roleAssignments"), headers=_auth(info, "ci-app"), json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "Authorization_RequestDenied"
    alice = control("tokens", {"principal": "alice", "scope": GRAPH, "mfa": True})["access_token"]
    assert (
        http.post(_url(info, "roleAssignments"), headers={"Authorization": f"Bearer {alice}"}, json=body).status_code
        == 403
    )
    unknown_role = http.post(
        _url(info, "roleAssignments"),
        headers=_auth(info, "admin-app"),
        json={**body, "roleDefinitionId": "11111111-1111-4111-8111-111111111111"},
    )
    assert unknown_role.status_code == 404
