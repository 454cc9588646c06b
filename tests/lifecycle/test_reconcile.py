"""Reconcile against the emulator: Entra's directoryAudits and the live assignments versus the ledger.

The grants are made through the emulated APIs exactly as jitpim's providers make them (Graph PIM adminAssign,
ARM role assignments); the ledger records some of them as jitpim would. One elevation is made directly
"outside jitpim" and must be reported, as must a lease the ledger thinks released but is still active, and
a lease that expired at the source while the ledger still had it open.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ClientSecretCredential
from click.testing import CliRunner

from jitpim.audit import Ledger
from jitpim.cli import cli
from jitpim.cloud import emulator_profile
from jitpim.emulator import Emulator
from jitpim.http import ApiClient, arm_client, graph_client
from jitpim.lifecycle.reconcile import reconcile
from jitpim.model import Mode
from jitpim.testing import ProviderContexts

APP_ADMIN = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
GROUPS_ADMIN = "fdd7a751-b60b-444a-984c-02652fe8fa1c"
HELPDESK_ADMIN = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
REQUESTS = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests"


class World:
    """The emulator, API clients authenticated as admin-app, and a ledger on the emulated clock."""

    def __init__(self, emu: Emulator, tmp: Path) -> None:
        self.emu = emu
        self.info = emu.info
        admin = self.info["principals"]["admin-app"]
        self.credential = ClientSecretCredential(
            self.info["tenant_id"],
            admin["client_id"],
            admin["client_secret"],
            authority=self.info["authority"],
            disable_instance_discovery=True,
            connection_verify=self.info["ca_cert"],
        )
        cloud = emulator_profile(self.info["authority"], self.info["ca_cert"])
        self.graph: ApiClient = graph_client(cloud, self.credential)
        self.arm: ApiClient = arm_client(cloud, self.credential)
        self.ci = self.info["principals"]["ci-app"]["object_id"]
        self.alice = self.info["principals"]["alice"]["object_id"]
        self.ledger = Ledger(tmp / "ledger.sqlite3", clock=self.now)
        self.providers = ProviderContexts(emu)

    def contexts(self, who: str = "admin-app") -> Any:
        """The provider contexts reconcile goes through, acting as `who`."""
        return lambda tenant: self.providers(who, Mode.DIRECT)

    def now(self) -> datetime:
        return self.emu.runtime.world.clock.now()

    def assign(self, principal: str, role: str, duration: str, justification: str) -> dict[str, Any]:
        body = {
            "action": "adminAssign",
            "principalId": principal,
            "roleDefinitionId": role,
            "directoryScopeId": "/",
            "justification": justification,
            "scheduleInfo": {
                "startDateTime": self.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "expiration": {"type": "afterDuration", "duration": duration},
            },
        }
        return dict(self.graph.post(REQUESTS, body, expected=(201,)).json)

    def remove(self, principal: str, role: str) -> None:
        body = {
            "action": "adminRemove",
            "principalId": principal,
            "roleDefinitionId": role,
            "directoryScopeId": "/",
            "justification": "done",
        }
        self.graph.post(REQUESTS, body, expected=(201,))

    def lease(
        self, lease_id: str, *, kind: str, role: str, role_id: str, scope: str, request_id: str, end: datetime | None
    ) -> None:
        self.ledger.begin(
            {
                "lease_id": lease_id,
                "state": "requested",
                "kind": kind,
                "role": role,
                "role_id": role_id,
                "scope": scope,
                "principal_id": self.ci,
                "tenant_id": self.info["tenant_id"],
                "mode": "direct",
                "justification": "ci deploy",
                "end_at": end,
                "request_ids": {"request_name": str(uuid.uuid4())},
                "run": {"repository": "contoso/payments", "run_id": "9100200300", "run_attempt": 1},
            }
        )
        self.ledger.transition(
            lease_id,
            "granted",
            "lease.granted",
            {"grant": {"kind": kind, "status": "active", "request_id": request_id}},
            request_ids={"request_id": request_id},
        )
        self.ledger.transition(lease_id, "effective", "lease.effective", {"waited_s": 0})

    def release(self, lease_id: str) -> None:
        self.ledger.transition(lease_id, "releasing", "lease.releasing", {})
        self.ledger.transition(lease_id, "released", "lease.released", {"outcome": "released"}, outcome="released")

    def close(self) -> None:
        self.graph.close()
        self.arm.close()
        self.providers.close()
        self.ledger.close()


@pytest.fixture(name="world")
def _world(fresh_emu: Emulator, tmp_path: Path) -> Any:
    built = World(fresh_emu, tmp_path)
    yield built
    built.close()
    # The scenario leaves grants on purpose (reconcile must find them); nothing jitpim made outlives the test.
    fresh_emu.reset()


def _scenario(world: World) -> dict[str, str]:
    """Build the situation; returns the request id of the elevation made outside jitpim."""
    # 1. A jitpim lease, granted, released at the source, and released in the ledger: all consistent.
    granted = world.assign(world.ci, APP_ADMIN, "PT1H", "ci deploy")
    world.lease(
        "run/entra-role/app-admin",
        kind="entra-role",
        role="Application Administrator",
        role_id=APP_ADMIN,
        scope="/",
        request_id=granted["id"],
        end=world.now() + timedelta(hours=1),
    )
    # 2. A jitpim lease the ledger believes released, but whose assignment was never removed.
    lingering = world.assign(world.ci, HELPDESK_ADMIN, "PT1H", "ci deploy")
    world.lease(
        "run/entra-role/helpdesk",
        kind="entra-role",
        role="Helpdesk Administrator",
        role_id=HELPDESK_ADMIN,
        scope="/",
        request_id=lingering["id"],
        end=world.now() + timedelta(hours=1),
    )
    # 3. A short jitpim lease the ledger still has open: it will expire at the source.
    short = world.assign(world.ci, GROUPS_ADMIN, "PT10M", "ci deploy")
    world.lease(
        "run/entra-role/groups",
        kind="entra-role",
        role="Groups Administrator",
        role_id=GROUPS_ADMIN,
        scope="/",
        request_id=short["id"],
        end=world.now() + timedelta(minutes=10),
    )
    # 4. A plain RBAC assignment jitpim recorded as released, still present in ARM.
    rg = f"/subscriptions/{world.info['subscription_id']}/resourceGroups/rg-payments"
    name = str(uuid.uuid4())
    world.arm.put(
        f"{rg}/providers/Microsoft.Authorization/roleAssignments/{name}",
        {
            "properties": {
                "roleDefinitionId": f"/subscriptions/{world.info['subscription_id']}/providers/"
                f"Microsoft.Authorization/roleDefinitions/{READER}",
                "principalId": world.ci,
                "principalType": "ServicePrincipal",
            }
        },
        params={"api-version": "2022-04-01"},
        expected=(201,),
    )
    world.lease(
        "run/rbac/reader",
        kind="rbac",
        role="Reader",
        role_id=READER,
        scope=rg,
        request_id=name,
        end=world.now() + timedelta(hours=8),
    )
    # 5. Outside jitpim: an administrator elevates alice directly, with no lease anywhere.
    outside = world.assign(world.alice, USER_ADMIN, "PT2H", "manual fix, no ticket")

    world.emu.advance(6 * 60)  # past PIM's 5-minute floor on removals
    world.remove(world.ci, APP_ADMIN)
    world.release("run/entra-role/app-admin")
    world.release("run/entra-role/helpdesk")
    world.release("run/rbac/reader")
    world.emu.advance(9 * 60)  # lease 3 (10 minutes) has now expired at the source
    return {"outside": outside["id"]}


def test_reconcile_reports_outside_elevations_lingering_grants_and_expiries(world: World) -> None:
    ids = _scenario(world)
    since = world.now() - timedelta(days=1)
    report = reconcile(world.ledger, world.contexts(), now=world.now(), since=since)
    assert report.errors == []
    kinds = sorted((f.kind, f.lease_id or f.request_id) for f in report.findings)
    assert kinds == sorted(
        [
            ("outside_jitpim", ids["outside"]),
            ("released_but_active", "run/entra-role/helpdesk"),
            ("released_but_active", "run/rbac/reader"),
            ("expired_at_source", "run/entra-role/groups"),
        ]
    ), [f.to_json() for f in report.findings]
    outside = next(f for f in report.findings if f.kind == "outside_jitpim")
    assert outside.principal_id == world.alice and outside.role_id == USER_ADMIN
    assert outside.audit_id and outside.activity and "completed" in outside.activity
    assert world.ledger.get("run/entra-role/groups")["state"] == "effective"  # not recorded without the flag

    recorded = reconcile(world.ledger, world.contexts(), now=world.now(), since=since, record_expiries=True)
    expired = next(f for f in recorded.findings if f.kind == "expired_at_source")
    assert expired.recorded
    lease = world.ledger.get("run/entra-role/groups")
    assert lease["state"] == "expired"
    assert world.ledger.events("run/entra-role/groups")[-1]["type"] == "lease.expired"
    # Once recorded, the expiry is no longer a finding; the rest stand.
    again = reconcile(world.ledger, world.contexts(), now=world.now(), since=since)
    assert sorted(f.kind for f in again.findings) == ["outside_jitpim", "released_but_active", "released_but_active"]
    assert world.ledger.verify_chain().ok


def test_reconcile_command_exits_83_on_findings_and_names_them(world: World, tmp_path: Path) -> None:
    ids = _scenario(world)
    admin = world.info["principals"]["admin-app"]
    env = {
        "JITPIM_LEDGER": str(world.ledger.path),
        "JITPIM_EMULATOR_URL": world.info["authority"],
        "JITPIM_CA_BUNDLE": world.info["ca_cert"],
        "AZURE_CLIENT_ID": admin["client_id"],
        "AZURE_TENANT_ID": world.info["tenant_id"],
        "AZURE_CLIENT_SECRET": admin["client_secret"],
        "HOME": str(tmp_path),
    }
    at = world.now().isoformat()
    result = CliRunner().invoke(cli, ["audit", "reconcile", "--since", "1d", "--at", at, "-o", "json"], env=env)
    assert result.exit_code == 83, result.output
    findings = json.loads(result.stdout)["findings"]
    assert any(f["kind"] == "outside_jitpim" and f["request_id"] == ids["outside"] for f in findings)
    text = CliRunner().invoke(cli, ["audit", "reconcile", "--since", "1d", "--at", at, "--no-fail"], env=env)
    assert text.exit_code == 0 and "outside_jitpim: " in text.output and "released_but_active: " in text.output


def test_reconcile_says_what_it_cannot_read(world: World, tmp_path: Path) -> None:
    report = reconcile(world.ledger, world.contexts("ci-app"), now=world.now(), since=world.now() - timedelta(days=1))
    assert report.errors and "directoryAudits" in report.errors[0] and "AuditLog.Read.All" in report.errors[0]
    assert not report.clean


def test_a_lease_handed_over_to_another_holder_is_not_released_but_active(world: World) -> None:
    """A shared grant: the first holder's lease is released in the ledger (handed over) while the second still
    holds the assignment, which is therefore rightly active."""
    granted = world.assign(world.ci, APP_ADMIN, "PT1H", "ci deploy")
    for lease in ("run-a/entra-role/app-admin", "run-b/entra-role/app-admin"):
        world.lease(
            lease,
            kind="entra-role",
            role="Application Administrator",
            role_id=APP_ADMIN,
            scope="/",
            request_id=granted["id"],
            end=world.now() + timedelta(hours=1),
        )
    world.release("run-a/entra-role/app-admin")
    report = reconcile(world.ledger, world.contexts(), now=world.now(), since=world.now() - timedelta(days=1))
    assert [f for f in report.findings if f.kind == "released_but_active"] == []
    world.release("run-b/entra-role/app-admin")
    report = reconcile(world.ledger, world.contexts(), now=world.now(), since=world.now() - timedelta(days=1))
    assert sorted(f.lease_id or "" for f in report.findings if f.kind == "released_but_active") == [
        "run-a/entra-role/app-admin",
        "run-b/entra-role/app-admin",
    ]
