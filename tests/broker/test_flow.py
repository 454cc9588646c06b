"""The vertical slice: a job with no standing right asks the broker; policy permits (main) or holds for
approval (pull request); the broker grants with its own identity, the job's principal can use the vault,
release takes it away again."""

from __future__ import annotations

from typing import Any

import requests
from azure.keyvault.secrets import SecretClient

from jitpim.testing import app_credential

from .conftest import BrokerWorld


def _job_can_write(bw: BrokerWorld) -> bool:
    """Does the job's own identity (ci-app, holding no Key Vault role) succeed at a secret write?"""
    info = bw.info
    client = SecretClient(
        info["vaults"]["kv-payments"]["url"],
        app_credential(info, "ci-app"),
        connection_verify=info["ca_cert"],
        verify_challenge_resource=False,
    )
    try:
        client.set_secret("db-password", "rotated-by-job")
        return True
    except Exception as exc:  # HttpResponseError 403 ForbiddenByRbac
        assert getattr(exc, "status_code", None) == 403, exc
        return False
    finally:
        client.close()


def jitpim_assignments(bw: BrokerWorld) -> list[str]:
    """Role assignments jitpim made for the job's principal, straight from the emulator's state."""
    world = bw.emu.runtime.world
    ci = bw.info["principals"]["ci-app"]["object_id"]
    with world.lock:
        return [
            a.name
            for a in world.rbac.assignments.values()
            if a.principal_id == ci and (a.description or "").startswith("jitpim")
        ]


def _ready(bw: BrokerWorld, request_id: str) -> dict[str, Any]:
    found = bw.poll(request_id)
    bw.emu.advance(5)  # RBAC propagation in the emulator
    return found


def test_main_job_is_auto_approved_granted_and_released(bw: BrokerWorld) -> None:
    assert not _job_can_write(bw)
    response = bw.submit()
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "permitted"
    assert body["decision"]["outcome"] == "permit"
    assert body["decision"]["policy_id"] == "main-auto"
    assert body["decision"]["claims"]["principal.ref"] == "refs/heads/main"
    assert body["claims"]["repository"] == "contoso/payments"
    granted = _ready(bw, body["request_id"])
    assert granted["state"] == "granted", granted
    assert granted["lease"]["lease_id"].startswith("gh-9100200300-1/rbac/")
    assert granted["principal_id"] == bw.info["principals"]["ci-app"]["object_id"]
    assert _job_can_write(bw)

    released = bw.release(body["request_id"])
    assert released.status_code == 200, released.text
    assert released.json()["state"] == "released"
    bw.emu.advance(5)
    assert not _job_can_write(bw)
    # The ledger holds the lease with the broker's decision and the verified claims.
    ledger = bw.broker.granter.ledger  # type: ignore[union-attr]
    lease_id = granted["lease"]["lease_id"]
    assert ledger.get(lease_id)["state"] == "released"
    decided = [e for e in ledger.events(lease_id) if e["type"] == "broker.decided"]
    assert decided and decided[0]["body"]["decision"]["policy_id"] == "main-auto"
    assert decided[0]["body"]["claims"]["repository"] == "contoso/payments"


def test_pull_request_job_waits_for_an_approver(bw: BrokerWorld) -> None:
    token = bw.job_token(ref="refs/pull/7/merge", event_name="pull_request")
    response = bw.submit(token, client_request_id="pr-7")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["state"] == "pending_approval"
    assert body["decision"]["policy_id"] == "pr-needs-approval"
    assert body["decision"]["approval"] == {"count": 1, "group": "payments-leads", "timeout": "PT30M"}
    assert not _job_can_write(bw)

    # alice triggered the run (actor octocat is her GitHub login): she may not approve it.
    self_approval = bw.decide("alice", body["request_id"])
    assert self_approval.status_code == 403
    assert self_approval.json()["error"]["code"] == "SelfApproval"

    approved = bw.decide("bob", body["request_id"], reason="CHG-42 reviewed")
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] in ("approved", "granting", "granted")
    granted = _ready(bw, body["request_id"])
    assert granted["state"] == "granted", granted
    assert [a["approver"] for a in granted["approvals"]] == ["bob@contoso.onmicrosoft.com"]
    assert _job_can_write(bw)

    second = bw.decide("bob", body["request_id"], decision="deny", reason="changed my mind")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "AlreadyDecided"
    assert bw.release(body["request_id"]).json()["state"] == "released"
    bw.emu.advance(5)
    assert not _job_can_write(bw)


def test_retried_request_is_the_same_request_and_grants_once(bw: BrokerWorld) -> None:
    first = bw.submit(client_request_id="retry-1")
    second = bw.submit(client_request_id="retry-1")
    assert first.status_code == 201 and second.status_code == 200
    assert first.json()["request_id"] == second.json()["request_id"]
    granted = _ready(bw, first.json()["request_id"])
    assert granted["state"] == "granted"
    assert len(jitpim_assignments(bw)) == 1
    assert bw.release(first.json()["request_id"]).status_code == 200
    assert jitpim_assignments(bw) == []


def test_reaper_ends_a_grant_whose_job_vanished(bw: BrokerWorld) -> None:
    body = bw.submit(client_request_id="vanish", duration="10m").json()
    assert _ready(bw, body["request_id"])["state"] == "granted"
    assert _job_can_write(bw)
    bw.emu.advance(11 * 60)
    assert bw.broker.reap() == {"timed_out": 0, "expired": 1, "failed": 0, "abandoned": 0}
    assert bw.broker.get(body["request_id"]).state.value == "expired"
    bw.emu.advance(5)
    assert not _job_can_write(bw)


def test_forbidden_role_is_refused_with_the_policy_named(bw: BrokerWorld) -> None:
    response = bw.submit(client_request_id="ga", kind="entra-role", role="Global Administrator", scope="/")
    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "forbidden"
    assert body["decision"]["policy_id"] == "no-global-admin"
    assert body["decision"]["claims"] == {"resource.role": "Global Administrator"}


def test_health(bw: BrokerWorld) -> None:
    assert requests.get(f"{bw.url}/healthz", timeout=10).json()["policy_version"] == bw.broker.policies.version
