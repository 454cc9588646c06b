"""The action's inputs as a workflow author gets them wrong or right: a refused plan fails the dry run with
the plan in the summary, a missing `run` or target is a usage error (64) before anything is installed or
granted, and an input given explicitly overrides the profile's value."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import yaml

from jitpim.emulator import Emulator

from .conftest import REPOSITORY
from .harness import new_signing_key, verify_evidence
from .workflow_runner import WorkflowJob

JITPIM = "contoso/jitpim@aa650cdf2ac3304923945f8d4cb89ec4be5a6713"
CHECKOUT = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1"
SETUP_PYTHON = "actions/setup-python@5fda3b95a4ea91299a34e894583c3862153e4b97"
UPLOAD = "actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f"


def run_adhoc_job(
    workflow_emu: Emulator,
    control: Any,
    tmp_path: Path,
    tool_cache: Path,
    variables: dict[str, str],
    with_: str,
    *,
    env: dict[str, str] | None = None,
    cancel: Any = None,
) -> Any:
    """Run a one-job workflow: checkout, the action `with:` these inputs (YAML), the evidence upload."""
    info = workflow_emu.info
    tmp_path.mkdir(parents=True, exist_ok=True)
    workflow = tmp_path / "adhoc.yml"
    steps = [
        {"uses": CHECKOUT, "with": {"persist-credentials": False}},
        {"uses": SETUP_PYTHON, "with": {"python-version": "3.12"}},
        {"id": "jit", "uses": JITPIM, "with": yaml.safe_load(textwrap.dedent(with_))},
        {
            "if": "always() && steps.jit.outputs.audit-file != ''",
            "uses": UPLOAD,
            "with": {"name": "jitpim-evidence-1", "path": "${{ steps.jit.outputs.audit-file }}"},
        },
    ]
    job = {
        "runs-on": "ubuntu-latest",
        "permissions": {"id-token": "write", "contents": "read"},
        "env": {
            "AZURE_CLIENT_ID": "${{ vars.AZURE_CLIENT_ID }}",
            "AZURE_TENANT_ID": "${{ vars.AZURE_TENANT_ID }}",
            "JITPIM_SIGNING_KEY": "${{ secrets.JITPIM_SIGNING_KEY }}",
            **(env or {}),
        },
        "steps": steps,
    }
    workflow.write_text(
        yaml.safe_dump({"name": "adhoc", "on": "workflow_dispatch", "permissions": {}, "jobs": {"job": job}})
    )
    secrets = {"JITPIM_SIGNING_KEY": new_signing_key()}
    info_file = tmp_path / "emulator-info.json"
    info_file.write_text(json.dumps(info))
    runner = WorkflowJob(
        workflow,
        "job",
        info=info,
        control=control,
        workdir=tmp_path / "runner",
        repository=REPOSITORY,
        tool_cache=tool_cache,
        variables=variables,
        secrets=secrets,
        runner_env={
            "JITPIM_CLOUD": "emulator",
            "JITPIM_EMULATOR_URL": info["authority"],
            "JITPIM_CA_BUNDLE": info["ca_cert"],
            "EMULATOR_INFO": str(info_file),
        },
        cancel=cancel,
    )
    result = runner.run()
    result.secrets = secrets
    return result


def test_a_refused_plan_fails_the_dry_run_and_says_why(
    workflow_emu: Emulator, control: Any, tmp_path: Path, tool_cache: Path, variables: dict[str, str]
) -> None:
    scope = f"/subscriptions/{variables['AZURE_SUBSCRIPTION_ID']}/resourceGroups/rg-payments"
    result = run_adhoc_job(
        workflow_emu,
        control,
        tmp_path,
        tool_cache,
        variables,
        f"""\
        dry-run: true
        kind: azure-role
        role: Contributor
        scope: {scope}
        duration: 10m
        """,
    )
    jit = result.step("jit")
    assert jit.outcome == "failure"
    assert jit.outputs["exit-code"] not in ("", "0")
    assert "refused" in result.summary
    assert "justification" in result.summary.lower()
    assert "nothing to clean up" in result.step("jit", post=True).log


def test_without_run_or_target_it_is_a_usage_error_before_installing(
    workflow_emu: Emulator, control: Any, tmp_path: Path, tool_cache: Path, variables: dict[str, str]
) -> None:
    for with_, message in (
        ("kind: rbac\n", "the `run` input is required"),
        ("run: ./scripts/deploy.sh\n", "give either `profile` or `kind`"),
        ("dry-run: maybe\nkind: rbac\n", "must be true or false"),
    ):
        result = run_adhoc_job(
            workflow_emu, control, tmp_path / message[:8].replace(" ", "-"), tool_cache, variables, with_
        )
        jit = result.step("jit")
        assert jit.outcome == "failure"
        assert jit.outputs["exit-code"] == "64"
        assert message in jit.log
        assert "Install jitpim" not in jit.log
        assert "nothing to clean up" in result.step("jit", post=True).log


def test_an_explicit_duration_overrides_the_profile(
    workflow_emu: Emulator, control: Any, tmp_path: Path, tool_cache: Path, variables: dict[str, str]
) -> None:
    result = run_adhoc_job(
        workflow_emu,
        control,
        tmp_path,
        tool_cache,
        variables,
        """\
        profile: hotfix
        duration: 7m
        early-release: expire
        run: echo held
        """,
    )
    assert result.status == "success", result.log
    (record,) = verify_evidence(result)
    assert record["durations"]["requested_s"] == 7 * 60
    assert record["justification"] == "Production hotfix under change control"  # the profile's: not overridden
    control("clock/advance", {"seconds": 8 * 60})


def test_when_jitpim_cannot_be_installed_the_step_fails_with_71_and_nothing_is_granted(
    workflow_emu: Emulator, control: Any, tmp_path: Path, variables: dict[str, str]
) -> None:
    empty_cache = tmp_path / "empty-tool-cache"
    empty_cache.mkdir()
    result = run_adhoc_job(
        workflow_emu,
        control,
        tmp_path,
        empty_cache,
        variables,
        """\
        kind: rbac
        role: Key Vault Secrets Officer
        scope: /subscriptions/x/resourceGroups/rg-payments/providers/Microsoft.KeyVault/vaults/kv-payments
        python: /nonexistent/python3
        run: echo never
        """,
    )
    jit = result.step("jit")
    assert jit.outcome == "failure"
    assert jit.outputs["exit-code"] == "71"
    assert "cannot run /nonexistent/python3" in jit.log
    assert "\nnever\n" not in jit.log  # the command never ran
    assert "nothing to clean up" in result.step("jit", post=True).log
