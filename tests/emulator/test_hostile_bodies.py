"""Bodies an attacker or a broken client sends: nested 100,000 levels deep, not UTF-8, NaN and infinities.
Every service answers 400 in its own envelope (never the crash handler's 500), and nothing changes."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from jitpim.emulator import Emulator

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
ARM_SCOPE = "https://management.azure.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"


def _token(http: requests.Session, info: dict[str, Any], scope: str, who: str = "admin-app") -> str:
    app = info["principals"][who]
    response = http.post(
        f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": scope,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _assignment_url(info: dict[str, Any], scope: str, name: str) -> str:
    return f"{info['arm']}{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01"


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
def test_deep_json_to_arm_is_400_in_arms_envelope(
    fresh_emu: Emulator, http: requests.Session, info: dict[str, Any], body: bytes
) -> None:
    token = _token(http, info, ARM_SCOPE)
    before = len(fresh_emu.runtime.world.rbac.assignments)
    response = http.put(
        _assignment_url(info, f"/subscriptions/{info['subscription_id']}", str(uuid.uuid4())),
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text[:300]
    error = response.json()["error"]
    assert error["code"] == "InvalidRequestContent"
    assert "depth" in error["message"]
    assert set(error) == {"code", "message"}
    assert len(fresh_emu.runtime.world.rbac.assignments) == before


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
def test_deep_json_to_graph_is_400_in_graphs_envelope(
    fresh_emu: Emulator, http: requests.Session, info: dict[str, Any], body: bytes
) -> None:
    token = _token(http, info, GRAPH_SCOPE)
    response = http.post(
        f"{info['graph']}/v1.0/roleManagement/directory/roleAssignmentScheduleRequests",
        data=body,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text[:300]
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    assert "depth" in error["message"]
    assert error["innerError"]["request-id"]


def test_deep_json_to_key_vault_is_400_bad_parameter(
    fresh_emu: Emulator, http: requests.Session, info: dict[str, Any], control: Any
) -> None:
    """The caller is authorized (Key Vault Secrets Officer on the vault), so the body is what is refused."""
    vault = info["vaults"]["kv-payments"]
    admin = info["principals"]["admin-app"]
    grant = http.put(
        _assignment_url(info, vault["resource_id"], str(uuid.uuid4())),
        json={
            "properties": {
                "roleDefinitionId": f"/subscriptions/{info['subscription_id']}/providers/"
                f"Microsoft.Authorization/roleDefinitions/{OFFICER}",
                "principalId": admin["object_id"],
                "principalType": "ServicePrincipal",
            }
        },
        headers={"Authorization": f"Bearer {_token(http, info, ARM_SCOPE)}"},
    )
    assert grant.status_code == 201, grant.text
    control("clock/advance", {"seconds": 60})
    token = _token(http, info, "https://vault.azure.net/.default")
    url = f"{vault['url']}/secrets/db-password?api-version=7.5"
    response = http.put(
        url, data=DEEP, headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text[:300]
    error = response.json()["error"]
    assert error["code"] == "BadParameter"
    assert "depth" in error["message"]
    # The secret is unchanged, and an ordinary write by the same caller still works.
    assert http.get(url, headers={"Authorization": f"Bearer {token}"}).json()["value"] == "initial-db-password-v1"
    ok = http.put(url, json={"value": "v2"}, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("path", ["clock/advance", "faults", "tokens", "github/claims", "github/token", "scenario"])
def test_deep_json_to_the_control_plane_is_400(http: requests.Session, info: dict[str, Any], path: str) -> None:
    response = http.post(f"{info['control']}/{path}", data=DEEP, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text[:300]
    error = response.json()["error"]
    assert error["code"] == "InvalidControlRequest"
    assert "depth" in error["message"]


def test_deep_yaml_scenario_is_400(http: requests.Session, info: dict[str, Any]) -> None:
    """Block-style YAML nests by indentation, not brackets: still a 400 naming the depth."""
    text = "".join(f"{' ' * i}k:\n" for i in range(3000)) + " " * 3000 + "v: 1\n"
    response = http.post(f"{info['control']}/scenario", data=text.encode())
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"]["code"] == "InvalidControlRequest"


@pytest.mark.parametrize("path", ["clock/advance", "faults", "tokens", "scenario", "github/claims"])
def test_invalid_utf8_to_the_control_plane_is_400(
    fresh_emu: Emulator, http: requests.Session, info: dict[str, Any], path: str
) -> None:
    tenant = fresh_emu.runtime.world.tenant_id
    response = http.post(
        f"{info['control']}/{path}",
        data=b'{"seconds": 1, "principal": "\xff\xfe", "tenant": {"id": "x"}}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"]["code"] == "InvalidControlRequest"
    assert fresh_emu.runtime.world.tenant_id == tenant
    assert fresh_emu.runtime.clock.offset.total_seconds() == 0


@pytest.mark.parametrize(
    "raw",
    ['{"seconds": NaN}', '{"seconds": Infinity}', '{"seconds": -Infinity}', '{"seconds": 1e400}', '{"seconds": -5}'],
)
def test_advance_refuses_non_finite_and_negative_seconds(
    fresh_emu: Emulator, http: requests.Session, info: dict[str, Any], raw: str
) -> None:
    response = http.post(f"{info['control']}/clock/advance", data=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "InvalidControlRequest"
    assert fresh_emu.runtime.clock.offset.total_seconds() == 0
    assert http.get(f"{info['control']}/clock").status_code == 200


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "error", "path": "(unclosed"},
        {"kind": "error", "count": "3"},
        {"kind": "error", "count": 2.5},
        {"kind": "throttle", "retry_after": -1},
        {"kind": "error", "status": 200},
        {"kind": 7},
    ],
)
def test_bad_fault_rules_are_400_and_add_nothing(
    fresh_emu: Emulator, http: requests.Session, info: dict[str, Any], rule: dict[str, Any]
) -> None:
    response = http.post(f"{info['control']}/faults", json=rule)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith("invalid fault rule")
    assert fresh_emu.runtime.faults.rules == []
