"""Key Vault access: the 401 challenge azure-keyvault-secrets expects, and RBAC on every data-plane call.

Every call goes over real HTTPS to an in-process emulator, driven by Microsoft's own clients (SecretClient with
azure-identity credentials) or, for wire details, by raw `requests`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.keyvault.secrets import SecretClient

from jitpim.emulator import Emulator
from jitpim.emulator.core.directory import Membership
from jitpim.emulator.core.rbac import RoleAssignment
from jitpim.testing import KEYVAULT_SCOPE, ControlPlaneToken, app_credential

VAULT = "kv-payments"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
SET_SECRET = "Microsoft.KeyVault/vaults/secrets/setSecret/action"


@pytest.fixture(autouse=True)
def _fresh(emu: Emulator) -> None:
    """The module's emulator (tests/conftest.py), back to the default scenario before each test."""
    emu.reset()


def _client(info: dict[str, Any], credential: Any) -> SecretClient:
    return SecretClient(
        vault_url=info["vaults"][VAULT]["url"],
        credential=credential,
        verify_challenge_resource=False,
        connection_verify=info["ca_cert"],
    )


def _assign(emu: Emulator, principal: str, role: str, *, by: str = "admin-app") -> str:
    """Create an Azure role assignment on the vault now, as the ARM PUT would (subject to propagation)."""
    world = emu.runtime.world
    info = emu.info
    name = str(uuid.uuid4())
    with world.lock:
        world.rbac.assignments[name] = RoleAssignment(
            name=name,
            scope=info["vaults"][VAULT]["resource_id"],
            role_definition_id=role,
            principal_id=info["principals"][principal]["object_id"],
            principal_type="ServicePrincipal" if info["principals"][principal]["type"] == "application" else "User",
            created_on=world.clock.now(),
            created_by=info["principals"][by]["object_id"],
        )
    return name


def _forbidden(excinfo: pytest.ExceptionInfo[HttpResponseError]) -> dict[str, Any]:
    error = excinfo.value
    assert error.status_code == 403
    body: dict[str, Any] = error.response.json()["error"]
    assert body["code"] == "Forbidden"
    assert body["innererror"]["code"] == "ForbiddenByRbac"
    return body


# -- 401: the challenge ----------------------------------------------------------------------------------------


def test_request_without_token_gets_the_challenge(emu: Emulator) -> None:
    info = emu.info
    response = requests.get(
        f"{info['vaults'][VAULT]['url']}/secrets/db-password/?api-version=7.5", verify=info["ca_cert"], timeout=10
    )
    assert response.status_code == 401
    assert response.json() == {
        "error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}
    }
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    params = dict(part.strip().split("=", 1) for part in challenge[len("Bearer ") :].split(","))
    assert params["authorization"].strip('"') == f"{info['authority']}/{info['tenant_id']}"
    assert params["resource"].strip('"') == "https://vault.azure.net"


def test_empty_body_probe_of_a_write_gets_the_challenge_and_changes_nothing(emu: Emulator) -> None:
    # ChallengeAuthPolicy's first request: the real method and URL, no body, no Authorization.
    info = emu.info
    response = requests.put(
        f"{info['vaults'][VAULT]['url']}/secrets/probe-only?api-version=7.5",
        data=b"",
        headers={"Content-Length": "0"},
        verify=info["ca_cert"],
        timeout=10,
    )
    assert response.status_code == 401
    assert "authorization=" in response.headers["WWW-Authenticate"]
    dumped = requests.get(f"{info['control']}/state", verify=info["ca_cert"], timeout=10).json()
    assert "probe-only" not in dumped["keyvault"]["vaults"][VAULT]["secrets"]


def test_token_for_another_audience_is_refused(emu: Emulator) -> None:
    info = emu.info
    arm_token = app_credential(info, "admin-app").get_token("https://management.azure.com/.default").token
    response = requests.get(
        f"{info['vaults'][VAULT]['url']}/secrets?api-version=7.5",
        headers={"Authorization": f"Bearer {arm_token}"},
        verify=info["ca_cert"],
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "Unauthorized"
    assert response.json()["error"]["message"].startswith("AKV10022")
    assert "WWW-Authenticate" in response.headers


# -- 403: RBAC -------------------------------------------------------------------------------------------------


def test_grant_propagates_then_works_and_removal_denies_again(emu: Emulator) -> None:
    info = emu.info
    ci = _client(info, app_credential(info, "ci-app"))
    ci_app = info["principals"]["ci-app"]

    with pytest.raises(HttpResponseError) as denied:
        ci.set_secret("rotated-by-ci", "v1")
    body = _forbidden(denied)
    lines = body["message"].split("\r\n")
    assert lines[0] == "Caller is not authorized to perform action on resource."
    assert "please observe propagation time" in lines[1]
    assert lines[2] == (
        f"Caller: appid={ci_app['client_id']};oid={ci_app['object_id']};iss=https://sts.windows.net/{info['tenant_id']}/"
    )
    assert lines[3] == f"Action: '{SET_SECRET}'"
    assert lines[4] == f"Resource: '{info['vaults'][VAULT]['resource_id'].lower()}/secrets/rotated-by-ci'"
    assert lines[5] == "Assignment: (not found)"
    assert lines[8] == f"Vault: {VAULT};location=westeurope"

    assignment = _assign(emu, "ci-app", SECRETS_OFFICER)
    with pytest.raises(HttpResponseError) as still_denied:  # accepted is not effective: propagation
        ci.set_secret("rotated-by-ci", "v1")
    _forbidden(still_denied)

    emu.advance(emu.runtime.world.settings.rbac_propagation_seconds)
    assert ci.set_secret("rotated-by-ci", "v1").value == "v1"
    assert ci.get_secret("rotated-by-ci").value == "v1"

    with emu.runtime.world.lock:
        del emu.runtime.world.rbac.assignments[assignment]
    with pytest.raises(HttpResponseError) as revoked:
        ci.get_secret("rotated-by-ci")
    _forbidden(revoked)


def test_each_operation_needs_its_own_data_action(emu: Emulator) -> None:
    info = emu.info
    _assign(emu, "ci-app", SECRETS_USER)  # getSecret + readMetadata only
    emu.advance(emu.runtime.world.settings.rbac_propagation_seconds)
    ci = _client(info, app_credential(info, "ci-app"))

    assert ci.get_secret("db-password").value == "initial-db-password-v1"
    assert {p.name for p in ci.list_properties_of_secrets()} == {"db-password", "payments-api-key"}
    denied = {
        "Microsoft.KeyVault/vaults/secrets/setSecret/action": lambda: ci.set_secret("db-password", "x"),
        "Microsoft.KeyVault/vaults/secrets/update/action": lambda: ci.update_secret_properties(
            "db-password", enabled=False
        ),
        "Microsoft.KeyVault/vaults/secrets/delete": lambda: ci.begin_delete_secret("db-password"),
        "Microsoft.KeyVault/vaults/secrets/backup/action": lambda: ci.backup_secret("db-password"),
        "Microsoft.KeyVault/vaults/secrets/purge/action": lambda: ci.purge_deleted_secret("db-password"),
        "Microsoft.KeyVault/vaults/secrets/recover/action": lambda: ci.begin_recover_deleted_secret("db-password"),
    }
    for action, call in denied.items():
        with pytest.raises(HttpResponseError) as excinfo:
            call()
        assert f"Action: '{action}'" in _forbidden(excinfo)["message"]


def test_a_group_membership_grants_the_groups_role(emu: Emulator) -> None:
    # kv-operators holds Key Vault Secrets Officer on the vault; alice is not a member yet.
    info = emu.info
    alice = _client(info, ControlPlaneToken(info, "alice", KEYVAULT_SCOPE))
    with pytest.raises(HttpResponseError) as denied:
        alice.get_secret("payments-api-key")
    body = _forbidden(denied)
    assert f"oid={info['principals']['alice']['object_id']}" in body["message"]

    world = emu.runtime.world
    with world.lock:
        group = world.directory.groups[info["principals"]["kv-operators"]["object_id"]]
        group.members[info["principals"]["alice"]["object_id"]] = Membership(world.clock.now(), None)
    with pytest.raises(HttpResponseError) as propagating:  # directory changes take effect after propagation
        alice.get_secret("payments-api-key")
    _forbidden(propagating)
    emu.advance(world.settings.directory_propagation_seconds)

    assert alice.get_secret("payments-api-key").value == "initial-api-key-v1"
    alice.set_secret("payments-api-key", "rotated-by-alice")
    assert alice.get_secret("payments-api-key").value == "rotated-by-alice"

    with world.lock:  # the membership ends (a PIM group assignment expiring does exactly this)
        group.members[info["principals"]["alice"]["object_id"]].end = world.clock.now()
    with pytest.raises(HttpResponseError) as ended:
        alice.get_secret("payments-api-key")
    _forbidden(ended)


def test_an_expiring_assignment_stops_working_at_its_end(emu: Emulator) -> None:
    info = emu.info
    name = _assign(emu, "ci-app", SECRETS_USER)
    world = emu.runtime.world
    with world.lock:
        world.rbac.assignments[name].end = world.clock.now() + timedelta(minutes=10)
    emu.advance(world.settings.rbac_propagation_seconds)
    ci = _client(info, app_credential(info, "ci-app"))
    assert ci.get_secret("db-password").value == "initial-db-password-v1"
    emu.advance(600)
    with pytest.raises(HttpResponseError) as expired:
        ci.get_secret("db-password")
    _forbidden(expired)
