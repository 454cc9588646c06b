"""The control plane: reset, scenarios, state, clock, faults; and robustness against bad input."""

from __future__ import annotations

import concurrent.futures
import json
from typing import Any

import requests

from jitpim.emulator import Emulator

GRAPH = "https://graph.microsoft.com/.default"


def _token_request(http: requests.Session, info: dict[str, Any], secret: str | None = None) -> requests.Response:
    ci = info["principals"]["ci-app"]
    return http.post(
        f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": ci["client_id"],
            "client_secret": secret or ci["client_secret"],
            "scope": GRAPH,
        },
    )


def test_clock_advances_and_refuses_going_back(control: Any, http: requests.Session, info: dict[str, Any]) -> None:
    before = control("clock", method="GET")
    after = control("clock/advance", {"seconds": 3600})
    assert after["offset_seconds"] - before["offset_seconds"] == 3600
    response = http.post(f"{info['control']}/clock/advance", json={"seconds": -5})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidControlRequest"
    assert http.post(f"{info['control']}/clock/advance", json={"seconds": "soon"}).status_code == 400


def test_reset_restores_clock_and_clears_faults(control: Any) -> None:
    control("clock/advance", {"seconds": 120})
    control("faults", {"kind": "error", "path": "/graph/", "status": 500, "count": 3})
    control("reset")
    assert control("clock", method="GET")["offset_seconds"] == 0
    assert control("faults", method="GET") == []


def test_throttle_fault_answers_429_with_retry_after_then_clears(
    control: Any, http: requests.Session, info: dict[str, Any]
) -> None:
    control("faults", {"kind": "throttle", "path": "/oauth2/v2.0/token", "count": 2, "retry_after": 7})
    first = _token_request(http, info)
    second = _token_request(http, info)
    third = _token_request(http, info)
    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert first.headers["Retry-After"] == "7"
    rules = control("faults", method="GET")
    assert rules[0]["fired"] == 2 and rules[0]["remaining"] == 0


def test_error_fault_uses_the_service_envelope(control: Any, http: requests.Session, info: dict[str, Any]) -> None:
    control("faults", {"kind": "error", "path": "/graph/", "status": 503})
    response = http.get(f"{info['graph']}/v1.0/users")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "ServiceUnavailable"
    assert "request-id" in error["innerError"]


def test_fault_rules_are_validated(http: requests.Session, info: dict[str, Any]) -> None:
    bad = http.post(f"{info['control']}/faults", json={"kind": "explode"})
    assert bad.status_code == 400
    assert "fault kind" in bad.json()["error"]["message"]
    unknown = http.post(f"{info['control']}/faults", json={"kind": "error", "colour": "red"})
    assert unknown.status_code == 400
    assert "colour" in unknown.json()["error"]["message"]


def test_faults_can_be_deleted(control: Any, http: requests.Session, info: dict[str, Any]) -> None:
    control("faults", {"kind": "error", "path": "oauth2", "count": 5})
    http.delete(f"{info['control']}/faults").raise_for_status()
    assert _token_request(http, info).status_code == 200


def test_scenario_load_replaces_the_tenant(control: Any, http: requests.Session, info: dict[str, Any]) -> None:
    scenario = {
        "tenant": {"id": "0c0c0c0c-1111-4222-8333-444455556666", "domain": "fabrikam.onmicrosoft.com"},
        "subscription": {"id": "0d0d0d0d-1111-4222-8333-444455556666"},
        "principals": {"deployer": {"type": "application", "client_secret": "s3cr3t-for-tests"}},
    }
    loaded = control("scenario", scenario)
    try:
        assert loaded["tenant_id"] == "0c0c0c0c-1111-4222-8333-444455556666"
        assert set(loaded["principals"]) == {"deployer"}
        response = http.post(
            f"{info['authority']}/{loaded['tenant_id']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": loaded["principals"]["deployer"]["client_id"],
                "client_secret": "s3cr3t-for-tests",
                "scope": GRAPH,
            },
        )
        assert response.status_code == 200
    finally:
        control("scenario", json.loads(json.dumps(_default_scenario())))


def _default_scenario() -> dict[str, Any]:
    from jitpim.emulator.core.scenario import default_scenario

    return default_scenario()


def test_invalid_scenario_is_refused_and_state_kept(http: requests.Session, info: dict[str, Any]) -> None:
    response = http.post(f"{info['control']}/scenario", data="tenant: [unclosed")
    assert response.status_code == 400
    assert "YAML" in response.json()["error"]["message"]
    missing = http.post(f"{info['control']}/scenario", json={"tenant": {"id": "x"}})
    assert "subscription.id" in missing.json()["error"]["message"]
    assert _token_request(http, info).status_code == 200


def test_state_dump_lists_assignments_and_never_secrets(control: Any, info: dict[str, Any]) -> None:
    state = control("state", method="GET")
    assert state["tenant_id"] == info["tenant_id"]
    assert any(a["role"] == "Role Based Access Control Administrator" for a in state["role_assignments"])
    text = json.dumps(state)
    assert info["principals"]["ci-app"]["client_secret"] not in text
    assert "initial-db-password-v1" not in text


def test_malformed_token_requests_get_oauth_errors(http: requests.Session, info: dict[str, Any]) -> None:
    url = f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token"
    assert http.post(url, data=b"\xff\xfe garbage").json()["error"] == "unsupported_grant_type"
    response = http.post(url, data={"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.json()["error_codes"] == [900144]


def test_unknown_routes_answer_in_each_service_envelope(http: requests.Session, info: dict[str, Any]) -> None:
    graph = http.get(f"{info['graph']}/v1.0/noSuchThing")
    assert graph.status_code == 400
    assert graph.json()["error"]["message"] == "Resource not found for the segment 'noSuchThing'."
    version = http.get(f"{info['graph']}/v2.0/users")
    assert version.json()["error"]["message"] == "Invalid version: v2.0"
    # ARM authenticates before routing, as the real front door does.
    arm = http.get(f"{info['arm']}/subscriptions/{info['subscription_id']}/providers/Microsoft.Nope/things")
    assert arm.status_code == 401
    assert arm.json()["error"]["code"] == "AuthenticationFailed"


def test_concurrent_token_requests_all_succeed(http: requests.Session, info: dict[str, Any]) -> None:
    """64 concurrent token requests (bounded: 8 workers) all succeed with distinct tokens."""

    def one(_: int) -> str:
        with requests.Session() as session:
            session.verify = info["ca_cert"]
            response = _token_request(session, info)
            response.raise_for_status()
            return str(response.json()["access_token"])

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        tokens = list(pool.map(one, range(64), timeout=60))
    assert len(set(tokens)) == 64


def test_emulator_refuses_non_loopback_hosts() -> None:
    try:
        Emulator(host="0.0.0.0")
    except ValueError as exc:
        assert "loopback" in str(exc)
    else:
        raise AssertionError("a non-loopback host was accepted")
