"""Helpers for testing code that uses jitpim against the embedded emulator (public, test-only: production
code never imports this module).

    from jitpim.emulator import Emulator
    from jitpim.testing import EmulatedClock, github_job_environ

    with Emulator.start() as emu:
        env = github_job_environ(emu.info, workdir=tmp_path)   # a GitHub Actions job of the sample repo
        clock = EmulatedClock(emu)                             # waiting advances the emulator's clock
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

__all__ = ["EmulatedClock", "github_job_environ"]


class _Emulator(Protocol):
    @property
    def runtime(self) -> Any: ...

    def advance(self, seconds: float) -> None: ...


class EmulatedClock:
    """A lifecycle clock whose `sleep` advances the emulator's clock instead of waiting: propagation delays,
    PIM's five-minute window and expiries all happen, in no wall time."""

    def __init__(self, emulator: _Emulator) -> None:
        self.emulator = emulator
        self.slept: list[float] = []

    def now(self) -> datetime:
        now: datetime = self.emulator.runtime.clock.now()
        return now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.emulator.advance(max(0.0, seconds))


def github_job_environ(
    info: dict[str, Any],
    *,
    workdir: Path,
    principal: str = "ci-app",
    run_id: str = "9100200300",
    pr_number: int | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a GitHub Actions job of the emulator's sample repository that authenticates as
    `principal` through the emulated OIDC issuer (no client secret), with jitpim pointed at the emulator."""
    oidc = info["github_oidc"]
    app = info["principals"][principal]
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "github_output").touch()
    (workdir / "step_summary").touch()
    ref = f"refs/pull/{pr_number}/merge" if pr_number else "refs/heads/main"
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(workdir),
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_REPOSITORY": "contoso/payments",
        "GITHUB_REPOSITORY_OWNER": "contoso",
        "GITHUB_REF": ref,
        "GITHUB_SHA": "3f786850e387550fdab836ed7e6dc881de23001b",
        "GITHUB_WORKFLOW": "rotate-secrets",
        "GITHUB_JOB": "rotate",
        "GITHUB_RUN_ID": run_id,
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_RUN_NUMBER": "42",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_EVENT_NAME": "pull_request" if pr_number else "workflow_dispatch",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_OUTPUT": str(workdir / "github_output"),
        "GITHUB_STEP_SUMMARY": str(workdir / "step_summary"),
        "ACTIONS_ID_TOKEN_REQUEST_URL": oidc["request_url"],
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": oidc["request_token"],
        "AZURE_CLIENT_ID": app["client_id"],
        "AZURE_TENANT_ID": info["tenant_id"],
        "AZURE_SUBSCRIPTION_ID": info["subscription_id"],
        "JITPIM_CLOUD": "emulator",
        "JITPIM_EMULATOR_URL": info["authority"],
        "JITPIM_CA_BUNDLE": info["ca_cert"],
        "JITPIM_LEDGER": str(workdir / "ledger.sqlite3"),
    }
    env.update(extra or {})
    return env
