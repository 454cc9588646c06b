"""Runs an example workflow's job against the emulator with the test repository checked out, and the checks
every scenario shares: the evidence artifact verifies, secrets never reach the log, nothing stays granted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from jitpim.emulator import Emulator

from .conftest import EXAMPLES, REPOSITORY
from .workflow_runner import Cancel, JobResult, WorkflowJob

__all__ = ["grants_left", "run_example", "verify_evidence"]


def run_example(
    name: str,
    job: str,
    *,
    emu: Emulator,
    control: Any,
    tmp_path: Path,
    tool_cache: Path,
    variables: dict[str, str],
    event: str = "workflow_dispatch",
    inputs: dict[str, Any] | None = None,
    matrix: dict[str, Any] | None = None,
    cancel: Cancel | None = None,
    runner_env: dict[str, str] | None = None,
) -> JobResult:
    info = emu.info
    info_file = tmp_path / "emulator-info.json"
    info_file.write_text(json.dumps(info))
    env = {
        # The cloud profile is the only switch to the emulator (a runner of a real tenant has none of these).
        "JITPIM_CLOUD": "emulator",
        "JITPIM_EMULATOR_URL": info["authority"],
        "JITPIM_CA_BUNDLE": info["ca_cert"],
        "EMULATOR_INFO": str(info_file),
        **(runner_env or {}),
    }
    workflow = WorkflowJob(
        EXAMPLES / name,
        job,
        info=info,
        control=control,
        workdir=tmp_path / "runner",
        repository=REPOSITORY,
        tool_cache=tool_cache,
        event=event,
        inputs=inputs,
        variables=variables,
        matrix=matrix,
        runner_env=env,
        cancel=cancel,
    )
    result = workflow.run()
    secrets = [p["client_secret"] for p in info["principals"].values() if p.get("client_secret")]
    secrets.append(info["github_oidc"]["request_token"])
    for secret in secrets:
        assert secret not in result.log, "a credential reached the job log"
    return result


def grants_left(emu: Emulator) -> list[str]:
    """Time-bound or jitpim-made access still in force (PIM role and group grants, jitpim's RBAC assignments)."""
    world = emu.runtime.world
    with world.lock:
        left = [f"directory role {a.role_definition_id}" for a in world.directory.role_assignments if a.source == "pim"]
        left += [
            f"group {g.display_name} {p}"
            for g in world.directory.groups.values()
            for table in (g.members, g.owners)
            for p, m in table.items()
            if m.source == "pim"
        ]
        left += [
            f"role assignment {a.name} at {a.scope}"
            for a in world.rbac.assignments.values()
            if a.end is not None or (a.description or "").startswith("jitpim")
        ]
    return left


def verify_evidence(result: JobResult, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The uploaded artifact holds the run's signed lease summaries, and `jitpim audit verify` accepts it; returns
    the summaries."""
    files = sorted(result.artifacts.glob("jitpim-evidence-*/*.jsonl"))
    assert len(files) == 1, f"one evidence file uploaded, found {files}"
    lines = [json.loads(line) for line in files[0].read_text().splitlines() if line.strip()]
    records = [line["record"] for line in lines if "record" in line]
    assert records, "the evidence file holds no lease record"
    verify = subprocess.run(
        [sys.executable, "-m", "jitpim", "audit", "verify", str(files[0]), "--output", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    return records
