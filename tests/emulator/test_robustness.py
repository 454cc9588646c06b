"""Bad input across services: missing, expired, forged or wrong-audience tokens, malformed JSON and wrong
types each get the service's real error envelope and status, never a stack trace or a hang."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from jitpim.emulator import Emulator


def _token(info: dict[str, Any], scope: str) -> str:
    app = info["principals"]["admin-app"]
    response = requests.post(
        f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": scope,
        },
        verify=info["ca_cert"],
        timeout=10,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def _urls(info: dict[str, Any]) -> dict[str, tuple[str, str]]:
    vault = info["vaults"]["kv-payments"]["url"]
    sub = info["subscription_id"]
    return {
        "graph": (
            f"{info['graph']}/v1.0/roleManagement/directory/roleDefinitions",
            "https://graph.microsoft.com/.default",
        ),
        "arm": (
            f"{info['arm']}/subscriptions/{sub}/providers/Microsoft.Authorization/roleAssignments"
            "?api-version=2022-04-01",
            "https://management.azure.com/.default",
        ),
        "keyvault": (f"{vault}/secrets?api-version=7.5", "https://vault.azure.net/.default"),
    }


def _forged(claims: dict[str, Any]) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "forged"})


@pytest.mark.parametrize("service", ["graph", "arm", "keyvault"])
def test_missing_token_is_401_in_the_service_envelope(
    http: requests.Session, info: dict[str, Any], service: str
) -> None:
    url, _ = _urls(info)[service]
    response = http.get(url)
    assert response.status_code == 401
    assert "error" in response.json()
    if service == "keyvault":
        assert response.headers["WWW-Authenticate"].startswith("Bearer authorization=")


@pytest.mark.parametrize("service", ["graph", "arm", "keyvault"])
def test_forged_token_is_refused(http: requests.Session, info: dict[str, Any], service: str) -> None:
    url, scope = _urls(info)[service]
    real = jwt.decode(_token(info, scope), options={"verify_signature": False})
    response = http.get(url, headers={"Authorization": f"Bearer {_forged(real)}"})
    assert response.status_code == 401
    assert isinstance(response.json()["error"], dict)


@pytest.mark.parametrize("service", ["graph", "arm", "keyvault"])
def test_token_for_another_audience_is_refused(http: requests.Session, info: dict[str, Any], service: str) -> None:
    url, _ = _urls(info)[service]
    other = "https://monitor.azure.com/.default"
    response = http.get(url, headers={"Authorization": f"Bearer {_token(info, other)}"})
    assert response.status_code == 401


def test_expired_token_is_refused(fresh_emu: Emulator, http: requests.Session, info: dict[str, Any]) -> None:
    """A token whose `exp` has passed (signed by the emulator's own key) is refused by every service."""
    world = fresh_emu.runtime.world
    for service, (url, scope) in _urls(info).items():
        claims = jwt.decode(_token(info, scope), options={"verify_signature": False})
        claims["iat"] = claims["nbf"] = int(time.time()) - 7200
        claims["exp"] = int(time.time()) - 3600
        expired = world.entra_key.sign(claims)
        response = http.get(url, headers={"Authorization": f"Bearer {expired}"})
        assert response.status_code == 401, service
        if service == "arm":
            assert response.json()["error"]["code"] == "ExpiredAuthenticationToken"


def test_malformed_bearer_is_refused(http: requests.Session, info: dict[str, Any]) -> None:
    url, _ = _urls(info)["graph"]
    response = http.get(url, headers={"Authorization": "Bearer not.a.jwt"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_malformed_json_bodies_get_400(http: requests.Session, info: dict[str, Any]) -> None:
    graph_token = _token(info, "https://graph.microsoft.com/.default")
    graph = http.post(
        f"{info['graph']}/v1.0/roleManagement/directory/roleAssignmentScheduleRequests",
        data="{not json",
        headers={"Authorization": f"Bearer {graph_token}", "Content-Type": "application/json"},
    )
    assert graph.status_code == 400
    assert graph.json()["error"]["code"]
    arm_token = _token(info, "https://management.azure.com/.default")
    scope = f"/subscriptions/{info['subscription_id']}"
    arm = http.put(
        f"{info['arm']}{scope}/providers/Microsoft.Authorization/roleAssignments/"
        "3f2504e0-4f89-41d3-9a0c-0305e82c3301?api-version=2022-04-01",
        data="[1, 2",
        headers={"Authorization": f"Bearer {arm_token}", "Content-Type": "application/json"},
    )
    assert arm.status_code == 400
    assert arm.json()["error"]["code"]


def test_wrong_types_get_400_not_500(http: requests.Session, info: dict[str, Any]) -> None:
    graph_token = _token(info, "https://graph.microsoft.com/.default")
    response = http.post(
        f"{info['graph']}/v1.0/roleManagement/directory/roleAssignmentScheduleRequests",
        json={
            "action": 42,
            "principalId": ["x"],
            "roleDefinitionId": {"a": 1},
            "directoryScopeId": None,
            "scheduleInfo": "soon",
        },
        headers={"Authorization": f"Bearer {graph_token}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"]


def test_concurrent_role_assignment_writes_all_land_once(fresh_emu: Emulator, info: dict[str, Any]) -> None:
    """80 role assignments PUT from 8 threads at once (bounded): each lands exactly once, none is lost, and a
    duplicate of each answers 409 RoleAssignmentExists."""
    import concurrent.futures
    import uuid

    token = _token(info, "https://management.azure.com/.default")
    rg = info["vaults"]["kv-payments"]["resource_id"].split("/providers/")[0]
    users = [info["principals"][name]["object_id"] for name in ("alice", "bob")]
    roles = [
        "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        "4633458b-17de-408a-b874-0445c86b69e6",
        "21090545-7ca7-4776-b22c-e363652d74d2",
        "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    ]
    scopes = [rg, info["vaults"]["kv-payments"]["resource_id"], f"/subscriptions/{info['subscription_id']}"]
    combos = [(u, r, s) for u in users for r in roles for s in scopes][:24]

    def put(combo: tuple[str, str, str], name: str) -> int:
        principal, role, scope = combo
        with requests.Session() as session:
            session.verify = info["ca_cert"]
            response = session.put(
                f"{info['arm']}{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01",
                json={
                    "properties": {
                        "roleDefinitionId": f"/subscriptions/{info['subscription_id']}/providers/"
                        f"Microsoft.Authorization/roleDefinitions/{role}",
                        "principalId": principal,
                        "principalType": "User",
                    }
                },
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            return response.status_code

    jobs = [(combo, str(uuid.uuid4())) for combo in combos for _ in range(3)]  # 72 writes, 3 per combination
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda job: put(*job), jobs, timeout=120))
    assert codes.count(201) == len(combos), codes
    assert codes.count(409) == 2 * len(combos), codes
    world = fresh_emu.runtime.world
    with world.lock:
        landed = {
            (a.principal_id, a.role_definition_id, a.scope.lower())
            for a in world.rbac.assignments.values()
            if a.principal_id in users
        }
    assert {(u, r, s.lower()) for u, r, s in combos} <= landed
