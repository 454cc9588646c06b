"""A broker on the emulator: admin-app is the broker's identity, ci-app the job's principal (it receives the
access), bob and alice approvers; jobs get GitHub ID tokens for the broker's audience from the emulated
issuer, approvers Entra ID tokens for the broker's app from the control plane."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from jitpim.broker import Broker, BrokerServer, build_broker
from jitpim.broker.config import parse_config
from jitpim.emulator import Emulator
from jitpim.testing import EmulatedClock

AUDIENCE = "api://jitpim-broker"

POLICIES = """
@id("main-auto")
permit(principal, action == Jitpim::Action::"request", resource)
when {
  principal.repository == "contoso/payments" && principal.ref == "refs/heads/main" &&
  resource.role == "Key Vault Secrets Officer" && context.duration_minutes <= 60
};

@id("pr-needs-approval")
@approvals("1")
@approvers("payments-leads")
@approval_timeout("30m")
permit(principal, action == Jitpim::Action::"request", resource)
when { principal.repository == "contoso/payments" && principal.pull_request };

@id("no-global-admin")
forbid(principal, action, resource) when { resource.role == "Global Administrator" };
"""


def broker_config(
    info: dict[str, Any],
    tmp_path: Path,
    policies: str = POLICIES,
    *,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> Any:
    (tmp_path / "policies").mkdir(parents=True, exist_ok=True)
    (tmp_path / "policies" / "main.cedar").write_text(policies)
    data: dict[str, Any] = {
        "audience": AUDIENCE,
        "policies": ["policies"],
        "store": "broker.sqlite3",
        "ledger": "ledger.sqlite3",
        "github": {"jwks_uri": info["github_oidc"]["jwks_uri"]},
        "entra": {"tenant_id": info["tenant_id"], "audiences": [info["principals"]["admin-app"]["client_id"]]},
        "repositories": {"contoso/payments": {"principal_id": info["principals"]["ci-app"]["object_id"]}},
        "approver_groups": {
            "payments-leads": [
                {"upn": "bob@contoso.onmicrosoft.com", "github": "bob-gh"},
                {"object_id": info["principals"]["alice"]["object_id"], "github": "octocat"},
            ]
        },
    }
    data.update(overrides)
    return parse_config(data, base=tmp_path, source=str(tmp_path / "broker.yaml"), environ=environ or {})


def broker_environ(info: dict[str, Any]) -> dict[str, str]:
    admin = info["principals"]["admin-app"]
    return {
        "AZURE_CLIENT_ID": admin["client_id"],
        "AZURE_CLIENT_SECRET": admin["client_secret"],
        "AZURE_TENANT_ID": info["tenant_id"],
        "JITPIM_CLOUD": "emulator",
        "JITPIM_EMULATOR_URL": info["authority"],
        "JITPIM_CA_BUNDLE": info["ca_cert"],
        "PATH": "/usr/bin:/bin",
    }


@dataclass
class BrokerWorld:
    emu: Emulator
    broker: Broker
    server: BrokerServer
    http: requests.Session

    @property
    def info(self) -> dict[str, Any]:
        return self.emu.info

    @property
    def url(self) -> str:
        return self.server.url

    def job_token(self, audience: str = AUDIENCE, **claims: Any) -> str:
        control = self.info["control"]
        verify = self.info["ca_cert"]
        if claims:
            self.http.patch(f"{control}/github/claims", json=claims, verify=verify, timeout=10).raise_for_status()
        response = self.http.post(f"{control}/github/token", json={"audience": audience}, verify=verify, timeout=10)
        response.raise_for_status()
        return str(response.json()["value"])

    def approver_token(self, user: str, client_id: str | None = None) -> str:
        client = client_id or self.info["principals"]["admin-app"]["client_id"]
        response = self.http.post(
            f"{self.info['control']}/tokens",
            json={"principal": user, "client_id": client},
            verify=self.info["ca_cert"],
            timeout=10,
        )
        response.raise_for_status()
        return str(response.json()["id_token"])

    def submit(self, token: str | None = None, *, client_request_id: str = "job-1", **target: Any) -> requests.Response:
        body = {
            "client_request_id": client_request_id,
            "target": {
                "kind": "rbac",
                "role": "Key Vault Secrets Officer",
                "scope": self.info["vaults"]["kv-payments"]["resource_id"],
                "duration": "15m",
                "justification": "rotate db-password",
                **target,
            },
        }
        headers = {"Authorization": f"Bearer {token or self.job_token()}"}
        return self.http.post(f"{self.url}/v1/requests", json=body, headers=headers, timeout=30)

    def poll(self, request_id: str) -> dict[str, Any]:
        self.broker.wait_idle()
        headers = {"Authorization": f"Bearer {self.job_token()}"}
        response = self.http.get(f"{self.url}/v1/requests/{request_id}", headers=headers, timeout=30)
        response.raise_for_status()
        return dict(response.json())

    def decide(
        self, user: str, request_id: str, decision: str = "approve", reason: str = "reviewed"
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.approver_token(user)}"}
        return self.http.post(
            f"{self.url}/v1/approvals/{request_id}",
            json={"decision": decision, "reason": reason},
            headers=headers,
            timeout=30,
        )

    def release(self, request_id: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.job_token()}"}
        return self.http.post(f"{self.url}/v1/requests/{request_id}/release", headers=headers, timeout=60)


@pytest.fixture(name="bw")
def _broker_world(fresh_emu: Emulator, tmp_path: Path) -> Iterator[BrokerWorld]:
    info = fresh_emu.info
    broker = build_broker(
        broker_config(info, tmp_path), environ=broker_environ(info), clock=EmulatedClock(fresh_emu), poll_initial=0.5
    )
    server = BrokerServer(broker, reaper_interval=0).start()
    session = requests.Session()
    try:
        yield BrokerWorld(fresh_emu, broker, server, session)
    finally:
        server.stop()
        broker.close()
        session.close()
