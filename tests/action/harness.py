"""Runs an example workflow's job against the emulator with the test repository checked out, and the checks
every scenario shares: the evidence artifact verifies, secrets never reach the log, nothing stays granted."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from jitpim.emulator import Emulator

from .conftest import EXAMPLES, REPOSITORY
from .workflow_runner import Cancel, JobResult, WorkflowJob

__all__ = ["grants_left", "new_signing_key", "run_example", "verify_evidence"]


def run_example(
    name: str,
    job: str,
    *,
    emu: Emulator,
    control: Any,
    tmp_path: Path,
    tool_cache: Path,
    variables: dict[str, str],
    secrets: dict[str, str] | None = None,
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
        secrets=secrets,
        matrix=matrix,
        runner_env=env,
        cancel=cancel,
    )
    if secrets is None:
        secrets = {"JITPIM_SIGNING_KEY": new_signing_key()}
    workflow.secrets = dict(secrets)
    workflow.masks += [v for v in secrets.values() if v]
    result = workflow.run()
    result.secrets = dict(secrets)
    credentials = [p["client_secret"] for p in info["principals"].values() if p.get("client_secret")]
    credentials.append(info["github_oidc"]["request_token"])
    credentials += list((secrets or {}).values())
    for credential in credentials:
        assert credential not in result.log, "a credential reached the job log"
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


def new_signing_key() -> str:
    """A team's evidence signing key as the Actions secret holds it: the base64 of an Ed25519 seed."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seed = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.b64encode(seed).decode("ascii")


def _pinned_public_key(result: JobResult) -> Path:
    """The public half of the job's signing secret, written where a verifier keeps the key it pins."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(result.secrets["JITPIM_SIGNING_KEY"]))
    path = result.artifacts.parent / "pinned-jitpim.pub"
    path.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return path


def verify_evidence(result: JobResult, *, run: str = "gh-9100200300-1") -> list[dict[str, Any]]:
    """The uploaded artifact holds the run's signed lease summaries, and `jitpim audit verify` accepts it
    against the pinned key (the public half of the job's signing secret), bound to this run of the repository
    (exit 0); returns the summaries."""
    public_key = _pinned_public_key(result)
    files = sorted(result.artifacts.glob("jitpim-evidence-*/*.jsonl"))
    assert len(files) == 1, f"one evidence file uploaded, found {files}"
    lines = [json.loads(line) for line in files[0].read_text().splitlines() if line.strip()]
    records = [line["record"] for line in lines if "record" in line]
    assert records, "the evidence file holds no lease record"
    argv = [sys.executable, "-m", "jitpim", "audit", "verify", str(files[0])]
    argv += ["--run", run, "--repository", "contoso/payments", "--public-key", str(public_key)]
    verify = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(result.env["HOME"])},
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    return records
