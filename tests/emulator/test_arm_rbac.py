"""ARM RBAC: role definitions, role assignments (with ABAC-conditioned delegation), the permissions read,
resource reads, and ARM's api-version and error envelopes.

Driven over real HTTPS by azure-mgmt-authorization's AuthorizationManagementClient (unchanged, pointed at
the emulator) and by raw `requests` where the wire details (status codes, error bodies) are the point.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignmentCreateParameters

from jitpim.emulator import Emulator
from jitpim.testing import (
    ARM_SCOPE,
    app_credential,
    arm_authorization_client,
    principal_token,
    role_definition_id,
    vault_resource_id,
)

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
RA = "providers/Microsoft.Authorization/roleAssignments"


@pytest.fixture(autouse=True)
def _fresh(emu: Emulator) -> None:
    emu.reset()


def _raw(info: dict[str, Any], method: str, path: str, who: str | None, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {principal_token(info, who, ARM_SCOPE)}"} if who else {}
    return requests.request(method, info["arm"] + path, headers=headers, verify=info["ca_cert"], timeout=10, **kwargs)


def _params(
    info: dict[str, Any], role: str, principal: str, principal_type: str | None = None
) -> RoleAssignmentCreateParameters:
    oid = info["principals"][principal]["object_id"]
    kind = principal_type or ("ServicePrincipal" if info["principals"][principal]["type"] == "application" else "User")
    return RoleAssignmentCreateParameters(
        role_definition_id=role_definition_id(info, role), principal_id=oid, principal_type=kind
    )


def _error(excinfo: pytest.ExceptionInfo[Any]) -> dict[str, Any]:
    """The ARM error body of an azure-core HttpResponseError (also checked against the SDK's own parsing)."""
    error: HttpResponseError = excinfo.value
    body: dict[str, Any] = json.loads(error.response.text())["error"]
    assert error.error is not None and error.error.code == body["code"]
    return body


# -- role definitions ------------------------------------------------------------------------------------------


def test_role_definitions_list_filter_and_get(emu: Emulator) -> None:
    info = emu.info
    client = arm_authorization_client(info, app_credential(info, "ci-app"))
    sub = f"/subscriptions/{info['subscription_id']}"
    found = list(client.role_definitions.list(sub, filter="roleName eq 'Key Vault Secrets Officer'"))
    assert [d.name for d in found] == [SECRETS_OFFICER]
    assert found[0].id == role_definition_id(info, SECRETS_OFFICER)
    assert found[0].role_type == "BuiltInRole"
    custom = list(client.role_definitions.list(sub, filter="type eq 'CustomRole'"))
    assert [d.role_name for d in custom] == ["PIM Assignment Requester"]
    assert custom[0].assignable_scopes == [sub]
    owner = client.role_definitions.get(sub, OWNER)
    assert owner.role_name == "Owner" and owner.permissions[0].actions == ["*"]
    tenant_level = client.role_definitions.get_by_id(f"/providers/Microsoft.Authorization/roleDefinitions/{READER}")
    assert tenant_level.id == f"/providers/Microsoft.Authorization/roleDefinitions/{READER}"

    missing = _raw(
        info,
        "GET",
        f"{sub}/providers/Microsoft.Authorization/roleDefinitions/{uuid.uuid4()}?api-version=2022-04-01",
        "ci-app",
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "RoleDefinitionDoesNotExist"
    both = _raw(
        info,
        "GET",
        f"{sub}/providers/Microsoft.Authorization/roleDefinitions?api-version=2022-04-01",
        "ci-app",
        params={"$filter": "roleName eq 'Owner' and type eq 'BuiltInRole'"},
    )
    assert both.status_code == 400
    assert both.json()["error"]["code"] == "UnsupportedQuery"


# -- api-version, authentication, envelopes ------------------------------------------------------------------------


def test_api_version_is_required_and_validated(emu: Emulator) -> None:
    info = emu.info
    path = f"/subscriptions/{info['subscription_id']}/{RA}"
    missing = _raw(info, "GET", path, "admin-app")
    assert missing.status_code == 400
    assert missing.json() == {
        "error": {
            "code": "MissingApiVersionParameter",
            "message": "The api-version query parameter (?api-version=) is required for all requests.",
        }
    }
    malformed = _raw(info, "GET", path + "?api-version=latest", "admin-app")
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "InvalidApiVersionParameter"
    unsupported = _raw(info, "GET", path + "?api-version=2020-10-01", "admin-app")
    assert unsupported.status_code == 400
    error = unsupported.json()["error"]
    assert error["code"] == "NoRegisteredProviderFound"
    assert "'2022-04-01'" not in error["message"] and "2022-04-01" in error["message"]
    resource = _raw(info, "GET", f"/subscriptions/{info['subscription_id']}?api-version=2099-01-01", "admin-app")
    assert resource.status_code == 400
    assert resource.json()["error"]["code"] == "InvalidApiVersionParameter"
    assert _raw(info, "GET", path + "?api-version=2022-04-01", "admin-app").status_code == 200


def test_missing_token_is_401_with_challenge(emu: Emulator) -> None:
    info = emu.info
    response = _raw(info, "GET", f"/subscriptions/{info['subscription_id']}/{RA}?api-version=2022-04-01", None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AuthenticationFailed"
    assert response.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")


def test_paths_are_case_insensitive_and_carry_arm_headers(emu: Emulator) -> None:
    info = emu.info
    response = _raw(
        info,
        "GET",
        f"/SUBSCRIPTIONS/{info['subscription_id']}/resourcegroups/RG-PAYMENTS/providers/"
        "microsoft.authorization/ROLEASSIGNMENTS?api-version=2022-04-01",
        "admin-app",
    )
    assert response.status_code == 200
    assert response.headers["x-ms-request-id"]
    assert "x-ms-ratelimit-remaining-subscription-reads" in response.headers
    scopes = {a["properties"]["scope"] for a in response.json()["value"]}
    assert f"/subscriptions/{info['subscription_id']}/resourceGroups/rg-payments" in scopes


# -- the conditioned delegation of the CI app -------------------------------------------------------------------------


def test_ci_app_grants_itself_secrets_officer_and_then_reads_secrets(emu: Emulator) -> None:
    info = emu.info
    credential = app_credential(info, "ci-app")
    client = arm_authorization_client(info, credential)
    name = str(uuid.uuid4())
    secrets = SecretClient(
        info["vaults"]["kv-payments"]["url"],
        credential,
        verify_challenge_resource=False,
        connection_verify=info["ca_cert"],
    )
    with pytest.raises(HttpResponseError) as before:
        secrets.get_secret("db-password")
    assert before.value.status_code == 403

    created = client.role_assignments.create(vault_resource_id(info), name, _params(info, SECRETS_OFFICER, "ci-app"))
    assert created.name == name
    assert created.id == f"{vault_resource_id(info)}/{RA}/{name}"
    assert created.role_definition_id == role_definition_id(info, SECRETS_OFFICER)
    assert created.principal_type == "ServicePrincipal"
    assert created.created_by == info["principals"]["ci-app"]["object_id"]
    stored = emu.runtime.world.rbac.assignments[name]
    assert (stored.scope, stored.role_definition_id, stored.end) == (vault_resource_id(info), SECRETS_OFFICER, None)

    emu.advance(3)  # the scenario's RBAC propagation delay
    assert secrets.get_secret("db-password").value == "initial-db-password-v1"


def test_ci_app_cannot_grant_owner_nor_grant_anyone_else(emu: Emulator) -> None:
    info = emu.info
    client = arm_authorization_client(info, app_credential(info, "ci-app"))
    before = set(emu.runtime.world.rbac.assignments)
    with pytest.raises(HttpResponseError) as owner:
        client.role_assignments.create(vault_resource_id(info), str(uuid.uuid4()), _params(info, OWNER, "ci-app"))
    assert owner.value.status_code == 403
    error = _error(owner)
    assert error["code"] == "AuthorizationFailed"
    assert "ABAC condition not fulfilled" in error["message"]
    assert "'Microsoft.Authorization/roleAssignments/write'" in error["message"]
    assert owner.value.response.headers["x-ms-failure-cause"] == "gateway"
    with pytest.raises(HttpResponseError) as other:
        client.role_assignments.create(
            vault_resource_id(info), str(uuid.uuid4()), _params(info, SECRETS_OFFICER, "alice")
        )
    assert other.value.status_code == 403
    assert _error(other)["code"] == "AuthorizationFailed"
    with pytest.raises(HttpResponseError) as wider:  # no write at the resource group at all
        client.role_assignments.create(
            f"/subscriptions/{info['subscription_id']}/resourceGroups/rg-payments",
            str(uuid.uuid4()),
            _params(info, SECRETS_OFFICER, "ci-app"),
        )
    assert wider.value.status_code == 403
    assert "ABAC" not in _error(wider)["message"]
    assert set(emu.runtime.world.rbac.assignments) == before


def test_role_assignment_exists_is_409_with_the_existing_id(emu: Emulator) -> None:
    info = emu.info
    client = arm_authorization_client(info, app_credential(info, "ci-app"))
    first = client.role_assignments.create(
        vault_resource_id(info), str(uuid.uuid4()), _params(info, SECRETS_OFFICER, "ci-app")
    )
    with pytest.raises(ResourceExistsError) as again:
        client.role_assignments.create(
            vault_resource_id(info), str(uuid.uuid4()), _params(info, SECRETS_OFFICER, "ci-app")
        )
    assert again.value.status_code == 409
    error = _error(again)
    assert error["code"] == "RoleAssignmentExists"
    assert error["message"].endswith(f"The ID of the existing role assignment is {first.name.replace('-', '')}.")


def test_identical_re_put_is_200_and_changing_the_principal_is_refused(emu: Emulator) -> None:
    info = emu.info
    name = str(uuid.uuid4())
    path = f"{vault_resource_id(info)}/{RA}/{name}?api-version=2022-04-01"
    body = {
        "properties": {
            "roleDefinitionId": role_definition_id(info, SECRETS_OFFICER),
            "principalType": "ServicePrincipal",
            "principalId": info["principals"]["ci-app"]["object_id"],
        }
    }
    assert _raw(info, "PUT", path, "admin-app", json=body).status_code == 201
    assert _raw(info, "PUT", path, "admin-app", json=body).status_code == 200
    body["properties"]["principalId"] = info["principals"]["payments-api"]["object_id"]
    changed = _raw(info, "PUT", path, "admin-app", json=body)
    assert changed.status_code == 400
    assert changed.json()["error"]["code"] == "RoleAssignmentUpdateNotPermitted"


def test_delete_twice_is_200_then_204(emu: Emulator) -> None:
    info = emu.info
    client = arm_authorization_client(info, app_credential(info, "ci-app"))
    name = str(uuid.uuid4())
    client.role_assignments.create(vault_resource_id(info), name, _params(info, SECRETS_OFFICER, "ci-app"))
    path = f"{vault_resource_id(info)}/{RA}/{name}?api-version=2022-04-01"
    first = _raw(info, "DELETE", path, "ci-app")
    assert first.status_code == 200
    assert first.json()["name"] == name
    second = _raw(info, "DELETE", path, "ci-app")
    assert second.status_code == 204 and second.content == b""
    assert name not in emu.runtime.world.rbac.assignments
    assert client.role_assignments.delete(vault_resource_id(info), name) is None
    with pytest.raises(ResourceNotFoundError) as missing:
        client.role_assignments.get(vault_resource_id(info), name)
    assert _error(missing)["code"] == "RoleAssignmentNotFound"


def test_ci_app_cannot_delete_someone_elses_assignment(emu: Emulator) -> None:
    info = emu.info
    world = emu.runtime.world
    group_assignment = next(
        a for a in world.rbac.assignments.values() if a.principal_id == info["principals"]["kv-operators"]["object_id"]
    )
    response = _raw(
        info, "DELETE", f"{vault_resource_id(info)}/{RA}/{group_assignment.name}?api-version=2022-04-01", "ci-app"
    )
    assert response.status_code == 403
    assert "ABAC condition not fulfilled" in response.json()["error"]["message"]
    assert group_assignment.name in world.rbac.assignments


def test_by_id_operations_and_lists(emu: Emulator) -> None:
    info = emu.info
    admin = arm_authorization_client(info, app_credential(info, "admin-app"))
    ci_oid = info["principals"]["ci-app"]["object_id"]
    created = admin.role_assignments.create(vault_resource_id(info), str(uuid.uuid4()), _params(info, READER, "ci-app"))
    assert admin.role_assignments.get_by_id(created.id).name == created.name

    at_vault = list(admin.role_assignments.list_for_scope(vault_resource_id(info), filter="atScope()"))
    roles_at_vault = {(a.principal_id, a.role_definition_id.rsplit("/", 1)[-1]) for a in at_vault}
    assert (ci_oid, RBAC_ADMIN) in roles_at_vault and (ci_oid, READER) in roles_at_vault
    # atScope() includes assignments above the scope (the subscription's), not only those at it.
    assert any(a.scope == f"/subscriptions/{info['subscription_id']}" for a in at_vault)
    in_group = list(admin.role_assignments.list_for_resource_group("rg-payments"))
    assert any(a.scope == vault_resource_id(info) for a in in_group)  # below the resource group
    for_ci = list(admin.role_assignments.list_for_subscription(filter=f"principalId eq '{ci_oid}'"))
    assert {a.principal_id for a in for_ci} == {ci_oid}
    assert len(for_ci) == 3  # RBAC admin (vault), PIM requester (resource group), the new Reader

    alice = info["principals"]["alice"]["object_id"]
    group = emu.runtime.world.directory.groups[info["principals"]["kv-operators"]["object_id"]]
    from jitpim.emulator.core.directory import Membership

    with emu.runtime.world.lock:
        group.members[alice] = Membership(emu.runtime.world.clock.now(), None)
    emu.advance(1)
    for_alice = list(admin.role_assignments.list_for_scope(vault_resource_id(info), filter=f"assignedTo('{alice}')"))
    assert [a.principal_id for a in for_alice] == [group.object_id]

    admin.role_assignments.delete_by_id(created.id)
    assert created.name not in emu.runtime.world.rbac.assignments
    bad = _raw(
        info,
        "GET",
        f"{vault_resource_id(info)}/{RA}?api-version=2022-04-01",
        "admin-app",
        params={"$filter": f"principalId eq '{ci_oid}' and roleDefinitionId eq '{READER}'"},
    )
    assert bad.status_code == 400
    assert bad.json()["error"] == {
        "code": "UnsupportedQuery",
        "message": f"The filter 'principalId eq '{ci_oid}' and roleDefinitionId eq '{READER}'' is not supported. "
        "Supported filters are either 'atScope()' or 'principalId eq '{value}'' or assignedTo('{value}')'.",
    }


@pytest.mark.parametrize(
    ("name", "body", "status", "code"),
    [
        ("not-a-guid", {}, 400, "InvalidRoleAssignmentId"),
        (None, {"roleDefinitionId": "Owner"}, 400, "InvalidRoleDefinitionId"),
        (
            None,
            {"roleDefinitionId": f"/providers/Microsoft.Authorization/roleDefinitions/{uuid.UUID(int=7)}"},
            400,
            "RoleDefinitionDoesNotExist",
        ),
        (None, {"principalId": "alice"}, 400, "InvalidPrincipalId"),
        (None, {"principalId": str(uuid.UUID(int=9)), "principalType": None}, 400, "PrincipalNotFound"),
        (None, {"principalType": "User"}, 400, "UnmatchedPrincipalType"),
        (
            None,
            {"scope": "/subscriptions/00000000-0000-0000-0000-000000000001"},
            400,
            "InvalidCreateRoleAssignmentRequest",
        ),
    ],
)
def test_put_validation_errors(emu: Emulator, name: str | None, body: dict[str, Any], status: int, code: str) -> None:
    info = emu.info
    props: dict[str, Any] = {
        "roleDefinitionId": role_definition_id(info, READER),
        "principalType": "ServicePrincipal",
        "principalId": info["principals"]["ci-app"]["object_id"],
    }
    props.update(body)
    props = {k: v for k, v in props.items() if v is not None}
    response = _raw(
        info,
        "PUT",
        f"{vault_resource_id(info)}/{RA}/{name or uuid.uuid4()}?api-version=2022-04-01",
        "admin-app",
        json={"properties": props},
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


def test_missing_scopes_answer_arm_not_found_codes(emu: Emulator) -> None:
    info = emu.info
    sub = info["subscription_id"]
    body = {
        "properties": {
            "roleDefinitionId": role_definition_id(info, READER),
            "principalType": "ServicePrincipal",
            "principalId": info["principals"]["ci-app"]["object_id"],
        }
    }
    cases = {
        f"/subscriptions/{uuid.uuid4()}": "SubscriptionNotFound",
        f"/subscriptions/{sub}/resourceGroups/rg-nope": "ResourceGroupNotFound",
        f"{vault_resource_id(info)}-nope": "ResourceNotFound",
    }
    for scope, code in cases.items():
        response = _raw(info, "PUT", f"{scope}/{RA}/{uuid.uuid4()}?api-version=2022-04-01", "admin-app", json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (404, code), scope


def test_reads_need_permission(emu: Emulator) -> None:
    info = emu.info
    response = _raw(info, "GET", f"/subscriptions/{info['subscription_id']}/{RA}?api-version=2022-04-01", "alice")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "AuthorizationFailed"
    assert error["message"].startswith("The client 'alice@contoso.onmicrosoft.com' with object id ")


# -- permissions and propagation --------------------------------------------------------------------------------


def test_permissions_read_follows_propagation(emu: Emulator) -> None:
    info = emu.info
    client = arm_authorization_client(info, app_credential(info, "ci-app"))
    path = f"{vault_resource_id(info)}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"
    before = _raw(info, "GET", path, "ci-app").json()["value"]
    assert len(before) == 2  # RBAC admin (with its condition) at the vault, PIM requester at the resource group
    assert any(p.get("condition") and "Microsoft.Authorization/roleAssignments/write" in p["actions"] for p in before)
    client.role_assignments.create(vault_resource_id(info), str(uuid.uuid4()), _params(info, SECRETS_OFFICER, "ci-app"))
    assert len(_raw(info, "GET", path, "ci-app").json()["value"]) == 2  # not yet propagated
    emu.advance(3)
    after = _raw(info, "GET", path, "ci-app").json()["value"]
    assert any("Microsoft.KeyVault/vaults/secrets/*" in p["dataActions"] for p in after)
    assert _raw(info, "GET", path, "alice").json() == {"value": []}


# -- resource reads -------------------------------------------------------------------------------------------


def test_resource_reads(emu: Emulator) -> None:
    info = emu.info
    sub = info["subscription_id"]
    subscription = _raw(info, "GET", f"/subscriptions/{sub}?api-version=2022-12-01", "admin-app")
    assert subscription.status_code == 200
    assert subscription.json()["subscriptionId"] == sub and subscription.json()["tenantId"] == info["tenant_id"]
    hidden = _raw(info, "GET", f"/subscriptions/{sub}?api-version=2022-12-01", "alice")
    assert (hidden.status_code, hidden.json()["error"]["code"]) == (404, "SubscriptionNotFound")
    group = _raw(info, "GET", f"/subscriptions/{sub}/resourcegroups/RG-Payments?api-version=2021-04-01", "admin-app")
    assert group.status_code == 200
    assert group.json()["id"] == f"/subscriptions/{sub}/resourceGroups/rg-payments"
    nope = _raw(info, "GET", f"/subscriptions/{sub}/resourceGroups/nope?api-version=2021-04-01", "admin-app")
    assert (nope.status_code, nope.json()["error"]["code"]) == (404, "ResourceGroupNotFound")
    vault = _raw(info, "GET", f"{vault_resource_id(info)}?api-version=2023-07-01", "admin-app")
    assert vault.status_code == 200
    assert vault.json()["properties"]["vaultUri"] == info["vaults"]["kv-payments"]["url"] + "/"
    assert vault.json()["properties"]["enableRbacAuthorization"] is True
    missing = _raw(info, "GET", f"{vault_resource_id(info)}x?api-version=2023-07-01", "admin-app")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "ResourceNotFound")
    denied = _raw(info, "GET", f"{vault_resource_id(info)}?api-version=2023-07-01", "alice")
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "AuthorizationFailed")
    groups = _raw(info, "GET", f"/subscriptions/{sub}/resourcegroups?api-version=2021-04-01", "admin-app")
    assert [g["name"] for g in groups.json()["value"]] == ["rg-payments"]
