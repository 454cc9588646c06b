"""Every bad input the broker meets gets a clear refusal, and nothing is granted."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from jitpim.broker import build_broker
from jitpim.errors import ConfigError

from .conftest import BrokerWorld, broker_config, broker_environ
from .test_flow import jitpim_assignments


def _error(response: object) -> dict[str, str]:
    body = response.json()  # type: ignore[attr-defined]
    return dict(body["error"])


def test_token_for_another_audience_is_refused(bw: BrokerWorld) -> None:
    response = bw.submit(bw.job_token(audience="api://AzureADTokenExchange"))
    assert response.status_code == 401
    assert "another audience" in _error(response)["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_replayed_token_is_refused(bw: BrokerWorld) -> None:
    token = bw.job_token()
    assert bw.submit(token, client_request_id="first").status_code == 201
    again = bw.submit(token, client_request_id="second")
    assert again.status_code == 401
    assert "already used" in _error(again)["message"]
    bw.broker.wait_idle()
    for request in bw.broker.store.list_requests():
        bw.broker._release(request, "test cleanup")


def test_forged_token_is_refused(bw: BrokerWorld) -> None:
    header, payload, signature = bw.job_token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["repository"] = "contoso/payments"
    claims["ref"] = "refs/heads/main"
    claims["jti"] = "forged-" + claims["jti"]
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    response = bw.submit(f"{header}.{forged_payload}.{signature}")
    assert response.status_code == 401
    assert "signature" in _error(response)["message"]
    assert bw.broker.store.list_requests() == []


def test_garbage_and_missing_tokens_are_refused(bw: BrokerWorld) -> None:
    assert bw.submit("not-a-jwt").status_code == 401
    response = bw.http.post(f"{bw.url}/v1/requests", json={}, timeout=10)
    assert response.status_code == 401
    assert "bearer" in _error(response)["message"]


def test_unknown_repository_is_refused(bw: BrokerWorld) -> None:
    token = bw.job_token(repository="evil/fork", repository_owner="evil")
    response = bw.submit(token)
    assert response.status_code == 403
    error = _error(response)
    assert error["code"] == "UnknownRepository"
    assert "evil/fork" in error["message"]
    assert bw.broker.store.list_requests() == []


def test_bad_targets_and_bodies_are_refused(bw: BrokerWorld) -> None:
    assert bw.submit(client_request_id="x", kind="nonsense").status_code == 400
    assert bw.submit(client_request_id="x", duration="9h").status_code == 400
    assert bw.submit(client_request_id="").status_code == 400
    response = bw.http.post(
        f"{bw.url}/v1/requests", data=b"{", headers={"Authorization": f"Bearer {bw.job_token()}"}, timeout=10
    )
    assert response.status_code == 400
    assert jitpim_assignments(bw) == []


def test_approver_outside_the_group_and_missing_reason(bw: BrokerWorld) -> None:
    token = bw.job_token(ref="refs/pull/9/merge", event_name="pull_request")
    request_id = bw.submit(token, client_request_id="pr-9").json()["request_id"]
    # admin-app's client id is the audience, but a user token for another app is refused.
    ci_app_client = bw.info["principals"]["ci-app"]["client_id"]
    other = bw.http.post(
        f"{bw.url}/v1/approvals/{request_id}",
        json={"decision": "approve", "reason": "x"},
        headers={"Authorization": f"Bearer {bw.approver_token('bob', client_id=ci_app_client)}"},
        timeout=10,
    )
    assert other.status_code == 401
    assert bw.decide("bob", request_id, reason="  ").status_code == 400
    # A GitHub job token is not an approver's token.
    job = bw.http.post(
        f"{bw.url}/v1/approvals/{request_id}",
        json={"decision": "approve", "reason": "x"},
        headers={"Authorization": f"Bearer {bw.job_token()}"},
        timeout=10,
    )
    assert job.status_code == 401
    assert bw.broker.get(request_id).state.value == "pending_approval"


def test_approver_not_in_group(bw: BrokerWorld, tmp_path: Path) -> None:
    bw.broker.config = broker_config(
        bw.info, tmp_path / "other", approver_groups={"payments-leads": [{"upn": "someone@contoso.onmicrosoft.com"}]}
    )
    token = bw.job_token(ref="refs/pull/9/merge", event_name="pull_request")
    request_id = bw.submit(token, client_request_id="pr-10").json()["request_id"]
    response = bw.decide("bob", request_id)
    assert response.status_code == 403
    assert _error(response)["code"] == "NotAnApprover"
    listing = bw.http.get(
        f"{bw.url}/v1/approvals", headers={"Authorization": f"Bearer {bw.approver_token('bob')}"}, timeout=10
    )
    assert listing.json() == {"value": []}


def test_deny_ends_the_request_and_nothing_is_granted(bw: BrokerWorld) -> None:
    token = bw.job_token(ref="refs/pull/9/merge", event_name="pull_request")
    request_id = bw.submit(token, client_request_id="pr-11").json()["request_id"]
    denied = bw.decide("bob", request_id, decision="deny", reason="not during the freeze")
    assert denied.status_code == 200
    assert denied.json()["state"] == "denied"
    assert bw.decide("bob", request_id).status_code == 409
    assert jitpim_assignments(bw) == []


def test_pending_request_times_out(bw: BrokerWorld) -> None:
    token = bw.job_token(ref="refs/pull/9/merge", event_name="pull_request")
    request_id = bw.submit(token, client_request_id="pr-12").json()["request_id"]
    bw.emu.advance(31 * 60)
    assert bw.broker.reap()["timed_out"] == 1
    assert bw.broker.get(request_id).state.value == "timed_out"
    assert bw.decide("bob", request_id).status_code == 409


def test_another_job_cannot_see_or_release_a_request(bw: BrokerWorld) -> None:
    request_id = bw.submit(client_request_id="mine").json()["request_id"]
    bw.broker.wait_idle()
    other_run = bw.job_token(run_id="5550001")
    headers = {"Authorization": f"Bearer {other_run}"}
    assert bw.http.get(f"{bw.url}/v1/requests/{request_id}", headers=headers, timeout=10).status_code == 404
    bw.http.patch(f"{bw.info['control']}/github/claims", json={"run_id": "9100200300"}, verify=bw.info["ca_cert"])
    assert bw.release(request_id).json()["state"] == "released"
    assert jitpim_assignments(bw) == []


def test_policy_syntax_error_refuses_to_start(fresh_emu: object, tmp_path: Path) -> None:
    info = fresh_emu.info  # type: ignore[attr-defined]
    config = broker_config(info, tmp_path, policies="permit(principal, action resource);")
    with pytest.raises(ConfigError, match=r"main\.cedar: Cedar syntax error"):
        build_broker(config, environ=broker_environ(info))
    assert not (tmp_path / "broker.sqlite3").exists()
