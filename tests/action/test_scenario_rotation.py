"""Secret rotation (examples/workflows/rotate-secret.yml): a new version of the secret written inside the
window, denied after it, signed evidence uploaded, nothing left granted; on a pull request only a plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jitpim.emulator import Emulator

from .harness import grants_left, run_example, verify_evidence


def _versions(control: Any, name: str) -> int:
    state = control("state", method="GET")
    return len(state["keyvault"]["vaults"]["kv-payments"]["secrets"][name]["versions"])


def test_scheduled_rotation(
    workflow_emu: Emulator, control: Any, tmp_path: Path, tool_cache: Path, variables: dict[str, str]
) -> None:
    before = _versions(control, "db-password")
    result = run_example(
        "rotate-secret.yml",
        "rotate",
        emu=workflow_emu,
        control=control,
        tmp_path=tmp_path,
        tool_cache=tool_cache,
        variables=variables,
        event="schedule",
    )
    assert result.status == "success", result.log
    assert _versions(control, "db-password") == before + 1
    jit = result.step("jit")
    assert jit.outputs["exit-code"] == "0"
    assert jit.outputs["lease-ids"].startswith("gh-9100200300-1/rbac/")
    records = verify_evidence(result)
    assert any(r.get("lease_id") == jit.outputs["lease-ids"] for r in records)
    assert grants_left(workflow_emu) == []


def test_pull_request_gets_a_plan_only(
    workflow_emu: Emulator, control: Any, tmp_path: Path, tool_cache: Path, variables: dict[str, str]
) -> None:
    result = run_example(
        "rotate-secret.yml",
        "plan",
        emu=workflow_emu,
        control=control,
        tmp_path=tmp_path,
        tool_cache=tool_cache,
        variables=variables,
        event="pull_request",
    )
    assert result.status == "success", result.log
    assert "jitpim plan (dry run" in result.summary
    assert "Key Vault Secrets Officer" in result.summary
    assert grants_left(workflow_emu) == []
