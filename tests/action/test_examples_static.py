"""What every example workflow promises before it runs: least privilege, pinned actions, no credentials left in
the checkout, a dry run where pull requests trigger it, concurrency groups, and the evidence uploaded."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import EXAMPLES
from .workflow_runner import load_workflow

WORKFLOWS = sorted(EXAMPLES.glob("*.yml"))
SCENARIOS = {
    "deploy-infrastructure.yml",
    "production-hotfix.yml",
    "rotate-secret.yml",
    "scale-database.yml",
    "onboard-test-identity.yml",
    "incident-diagnostics.yml",
    "access-review-test.yml",
    "partner-operations.yml",
    "identity-configuration.yml",
    "maintenance-window.yml",
}
SHA = re.compile(r"@[0-9a-f]{40}$")


def test_one_workflow_per_scenario() -> None:
    assert {p.name for p in WORKFLOWS} == SCENARIOS


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege(path: Path) -> None:
    workflow = load_workflow(path)
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        uses_checkout = any(str(s.get("uses", "")).startswith("actions/checkout@") for s in job["steps"])
        expected = {"id-token": "write", **({"contents": "read"} if uses_checkout else {})}
        assert job["permissions"] == expected, name


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_and_checkout_keeps_no_credentials(path: Path) -> None:
    workflow = load_workflow(path)
    for step in _steps(workflow):
        if "uses" not in step:
            continue
        assert SHA.search(step["uses"]), step["uses"]
        if step["uses"].startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_dry_run_on_pull_requests_and_elevation_elsewhere(path: Path) -> None:
    workflow = load_workflow(path)
    triggers = workflow["on"]
    for job in workflow["jobs"].values():
        jit = [s for s in job["steps"] if re.search(r"/jitpim@", str(s.get("uses", "")))]
        assert len(jit) == 1
        dry = jit[0]["with"].get("dry-run") is True
        condition = str(job.get("if", ""))
        if dry:
            assert condition == "github.event_name == 'pull_request'"
        elif "pull_request" in triggers:
            assert ("pull_request" in condition and "!=" in condition) or "workflow_dispatch" in condition
    if "pull_request" in triggers:
        assert any(s.get("with", {}).get("dry-run") is True for s in _steps(workflow))


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_elevating_jobs_upload_the_evidence_and_run_one_at_a_time(path: Path) -> None:
    workflow = load_workflow(path)
    for name, job in workflow["jobs"].items():
        assert job.get("concurrency") or workflow.get("concurrency"), name
        assert job.get("timeout-minutes"), name
        jit = next(s for s in job["steps"] if "/jitpim@" in str(s.get("uses", "")))
        if jit["with"].get("dry-run") is True:
            continue
        assert jit["id"] == "jit"
        uploads = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@")]
        evidence = [
            s
            for s in uploads
            if s["with"]["path"].split()
            == ["${{", "steps.jit.outputs.audit-file", "}}", "${{", "steps.jit.outputs.audit-report", "}}"]
        ]
        assert len(evidence) == 1, name
        assert evidence[0]["if"].startswith("always()")
        assert evidence[0]["with"]["if-no-files-found"] == "error"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_no_expression_is_interpolated_into_a_script(path: Path) -> None:
    for step in _steps(load_workflow(path)):
        assert "${{" not in str(step.get("run", "")), step
        assert "${{" not in str(step.get("with", {}).get("run", "")), step
