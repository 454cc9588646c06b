"""Each example workflow's job, run as GitHub would run it, against the emulator: the scenario's outcome, the
signed evidence artifact, and no grant left (PIM grants left to expire end at their end time at the source:
the test moves the emulator's clock past it and checks)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jitpim.emulator import Emulator
from jitpim.testing import EmulatorGraph

from .conftest import EXAMPLES
from .harness import grants_left, run_example, verify_evidence
from .workflow_runner import load_workflow, matrix_combinations


@pytest.fixture(name="run")
def _run(workflow_emu: Emulator, control: Any, tmp_path: Path, tool_cache: Path, variables: dict[str, str]) -> Any:
    def run(name: str, job: str, **kwargs: Any) -> Any:
        return run_example(
            name,
            job,
            emu=workflow_emu,
            control=control,
            tmp_path=tmp_path,
            tool_cache=tool_cache,
            variables=variables,
            **kwargs,
        )

    return run


def _expire_pim_grants(emu: Emulator, control: Any, minutes: int) -> None:
    """PIM grants left to expire are still there, and gone once their end has passed."""
    assert grants_left(emu), "a PIM grant left to expire should still be in force before its end"
    control("clock/advance", {"seconds": minutes * 60 + 60})
    assert grants_left(emu) == []


def _record(result: Any) -> dict[str, Any]:
    records = verify_evidence(result)
    assert len(records) == 1, records
    # The example workflows upload, beside the evidence, the action's self-contained HTML report of it.
    reports = sorted(result.artifacts.glob("jitpim-evidence-*/*.html"))
    assert len(reports) == 1, "no HTML report uploaded beside the evidence"
    page = reports[0].read_text()
    assert 'data-verification="ok"' in page or "data-verification=" in page
    assert records[0]["lease_id"] in page and "<script" not in page
    return records[0]


def test_infrastructure_deploy_on_push(run: Any, workflow_emu: Emulator, control: Any) -> None:
    result = run("deploy-infrastructure.yml", "deploy", event="push")
    assert result.status == "success", result.log
    assert "deployed 3f786850e387550fdab836ed7e6dc881de23001b" in result.log
    record = _record(result)
    assert record["lease_id"].startswith("gh-9100200300-1/azure-role/contributor")
    assert record["outcome"] == "left_to_expire"
    _expire_pim_grants(workflow_emu, control, 30)


def test_infrastructure_deploy_pull_request_is_a_dry_run(run: Any, workflow_emu: Emulator) -> None:
    assert run("deploy-infrastructure.yml", "deploy", event="pull_request").skipped
    result = run("deploy-infrastructure.yml", "plan", event="pull_request")
    assert result.status == "success", result.log
    assert "| azure-role | Contributor |" in result.summary
    assert "allowed" in result.summary
    assert result.step("__2").outputs["exit-code"] == "0"
    assert not list(result.artifacts.iterdir())
    assert grants_left(workflow_emu) == []


def test_production_hotfix_uses_the_profile_duration_and_the_typed_reason(
    run: Any, workflow_emu: Emulator, control: Any
) -> None:
    result = run(
        "production-hotfix.yml",
        "hotfix",
        inputs={"ticket": "ServiceNow:CHG0042", "reason": "Fix the payments timeout"},
    )
    assert result.status == "success", result.log
    assert "hotfix applied for ServiceNow:CHG0042" in result.log
    record = _record(result)
    # The action passes no --duration when its input is empty: the profile's 20 minutes apply (issue 10).
    assert record["durations"]["requested_s"] == 20 * 60
    assert record["justification"] == "Fix the payments timeout"
    assert "CHG0042" in json.dumps(record)
    _expire_pim_grants(workflow_emu, control, 20)


def test_database_scaling_with_a_ticket(run: Any, workflow_emu: Emulator, control: Any) -> None:
    result = run("scale-database.yml", "scale", inputs={"sku": "P1", "ticket": "ServiceNow:CHG0077"})
    assert result.status == "success", result.log
    assert "scaled sql-payments/payments to P1" in result.log
    record = _record(result)
    assert record["justification"] == "Scale sql-payments/payments to P1"
    _expire_pim_grants(workflow_emu, control, 15)


def test_scaling_refuses_a_size_the_workflow_does_not_offer(run: Any) -> None:
    with pytest.raises(ValueError, match="not one of"):
        run("scale-database.yml", "scale", inputs={"sku": "P15", "ticket": "ServiceNow:CHG0077"})


def test_onboarding_promotes_the_test_identity_into_the_group_for_the_test_only(
    run: Any, workflow_emu: Emulator, control: Any
) -> None:
    result = run("onboard-test-identity.yml", "smoke-test", inputs={"action": "onboard"})
    assert result.status == "success", result.log
    assert "kv-payments/payments-api-key: read" in result.log
    assert "(onboard)" in result.log
    assert _record(result)["lease_id"].startswith("gh-9100200300-1/pim-group/")
    _expire_pim_grants(workflow_emu, control, 10)


def test_incident_diagnostics_are_kept_with_the_evidence(run: Any, workflow_emu: Emulator, control: Any) -> None:
    result = run("incident-diagnostics.yml", "diagnose", inputs={"incident": "INC0012345"})
    assert result.status == "success", result.log
    listing = json.loads((result.artifacts / "diagnostics-INC0012345-1" / "role-assignments.json").read_text())
    assert any("Reader" in json.dumps(row) or row.get("roleDefinitionId") for row in listing)
    record = _record(result)
    assert record["justification"] == "Diagnostics for incident INC0012345"
    _expire_pim_grants(workflow_emu, control, 60)


def test_access_review_proves_no_standing_access_before_and_after(run: Any, workflow_emu: Emulator) -> None:
    result = run("access-review-test.yml", "review", event="schedule")
    assert result.status == "success", result.log
    outcomes = [(s.name, s.outcome) for s in result.steps if not s.post]
    assert [o for _, o in outcomes] == ["success"] * len(outcomes)
    assert result.log.count("write refused (403)") == 2
    assert _record(result)["outcome"] == "released"
    assert grants_left(workflow_emu) == []


def test_partner_operations_run_one_job_per_customer_tenant(
    run: Any, workflow_emu: Emulator, control: Any, variables: dict[str, str]
) -> None:
    job = load_workflow(EXAMPLES / "partner-operations.yml")["jobs"]["operate"]
    combos = matrix_combinations(job, {"vars": variables})
    assert combos == [{"customer": "fabrikam", "tenant": workflow_emu.info["tenant_id"]}]
    result = run(
        "partner-operations.yml",
        "operate",
        inputs={"operation": "Reset the break-glass account", "ticket": "ServiceNow:CHG0100"},
        matrix=combos[0],
    )
    assert result.status == "success", result.log
    assert "User Administrator: active" in result.log
    assert (result.artifacts / "jitpim-evidence-fabrikam-9100200300-1").is_dir()
    record = _record(result)
    assert record["principal"]["tenant_id"] == workflow_emu.info["tenant_id"]
    _expire_pim_grants(workflow_emu, control, 15)


def test_identity_configuration_adds_the_federated_credential(
    run: Any, workflow_emu: Emulator, control: Any, http: Any
) -> None:
    subject = "repo:contoso/payments-api:environment:production"
    result = run(
        "identity-configuration.yml",
        "configure",
        inputs={"app": "payments-api", "credential-name": "payments-api-production", "subject": subject},
    )
    assert result.status == "success", result.log
    graph = EmulatorGraph(http, workflow_emu.info)
    app = graph.call("GET", "/applications", "admin-app", params={"$filter": "displayName eq 'payments-api'"})
    app_id = app.json()["value"][0]["id"]
    credentials = graph.call("GET", f"/applications/{app_id}/federatedIdentityCredentials", "admin-app").json()
    assert [c["subject"] for c in credentials["value"]] == [subject]
    _record(result)
    _expire_pim_grants(workflow_emu, control, 10)


def test_maintenance_window_waits_for_its_start_and_records_the_ticket(
    run: Any, workflow_emu: Emulator, control: Any
) -> None:
    # A window that opens shortly after dispatch; on a loaded machine the job may reach it only after it opened.
    start = (datetime.now(UTC) + timedelta(seconds=15)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = run("maintenance-window.yml", "maintain", inputs={"start": start})
    assert result.status == "success", result.log
    assert f"maintenance window starts at {start}" in result.log
    assert "maintenance under ServiceNow:CHG0099 done" in result.log
    record = _record(result)
    assert "CHG0099" in json.dumps(record)
    finished = next(e for e in record["events"] if e["type"] == "command.finished")
    assert finished["at"] >= start.removesuffix("Z")  # the maintenance ran inside the window, never before
    if record["decision"]["start"].startswith(start.removesuffix("Z")):  # planned before the window opened
        assert "waiting for the window to open" in result.log
    _expire_pim_grants(workflow_emu, control, 60)
