"""The pieces of `jitpim demo` that do not depend on the emulator: the simulated GitHub Actions job (its
environment, passed explicitly, never written into `os.environ`), the clock that advances the emulator's
time instead of waiting, and the record of what the demo checked."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..lifecycle import Step

__all__ = ["VALIDATOR", "Check", "DemoClock", "DemoRecorder", "job_environment"]

# The demo's validation command (run as `python -c VALIDATOR`): it reads the new value from the inherited
# descriptor, never from argv or the environment, and accepts it when it is long and mixed enough.
VALIDATOR = """
import os, string, sys
fd = int(os.environ["JITPIM_SECRET_FD"])
chunks = []
while True:
    chunk = os.read(fd, 65536)
    if not chunk:
        break
    chunks.append(chunk)
value = b"".join(chunks).decode()
classes = [string.ascii_lowercase, string.ascii_uppercase, string.digits]
ok = len(value) >= 32 and all(any(c in group for c in value) for group in classes)
sys.exit(0 if ok else 1)
""".strip()


def job_environment(
    info: Mapping[str, Any],
    claims: Mapping[str, Any],
    workdir: Path,
    *,
    path: str,
    client: str = "ci-app",
) -> dict[str, str]:
    """The environment of a GitHub Actions job that runs jitpim: the `GITHUB_*` provenance mirrors the claims
    the emulated OIDC issuer puts in the job's ID token (so the run context and the token agree), the
    `ACTIONS_ID_TOKEN_REQUEST_*` pair reaches that issuer, `AZURE_CLIENT_ID` is the CI application (whose
    federated credential trusts the token), and the runner's file commands are files in `workdir`."""
    principal = (info.get("principals") or {}).get(client) or {}
    if not principal.get("client_id"):
        from ..errors import ConfigError

        raise ConfigError(
            f"the scenario has no application {client!r} to run the job as",
            hint="A demo scenario needs a `ci-app` application with a federated credential for the GitHub job.",
        )
    outputs, summary = workdir / "github_output", workdir / "step_summary.md"
    outputs.touch()
    summary.touch()
    env = {
        "PATH": path,
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": str(claims.get("repository", "")),
        "GITHUB_REPOSITORY_OWNER": str(claims.get("repository_owner", "")),
        "GITHUB_REF": str(claims.get("ref", "")),
        "GITHUB_SHA": str(claims.get("sha", "")),
        "GITHUB_WORKFLOW": str(claims.get("workflow", "")),
        "GITHUB_JOB": "rotate",
        "GITHUB_RUN_ID": str(claims.get("run_id", "")),
        "GITHUB_RUN_NUMBER": str(claims.get("run_number", "")),
        "GITHUB_RUN_ATTEMPT": str(claims.get("run_attempt", "1")),
        "GITHUB_ACTOR": str(claims.get("actor", "")),
        "GITHUB_EVENT_NAME": str(claims.get("event_name", "")),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(summary),
        "ACTIONS_ID_TOKEN_REQUEST_URL": str(info["github_oidc"]["request_url"]),
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": str(info["github_oidc"]["request_token"]),
        "AZURE_CLIENT_ID": str(principal["client_id"]),
        "AZURE_TENANT_ID": str(info["tenant_id"]),
        "AZURE_SUBSCRIPTION_ID": str(info["subscription_id"]),
        "JITPIM_CLOUD": "emulator",
        "JITPIM_EMULATOR_URL": str(info["authority"]),
        "JITPIM_CA_BUNDLE": str(info["ca_cert"]),
        "JITPIM_LEDGER": str(workdir / "ledger.sqlite3"),
    }
    if claims.get("environment"):
        env["JITPIM_ENVIRONMENT"] = str(claims["environment"])
    return {k: v for k, v in env.items() if v}


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class DemoRecorder:
    """Receives every step (the lifecycle's and the demo's own), stamps it with wall time since the demo
    started, and keeps the checks; `live` prints each line as it happens."""

    started: float = field(default_factory=time.monotonic)
    live: Callable[[float, Step], None] | None = None
    steps: list[tuple[float, Step]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def step(self, step: Step) -> None:
        entry = (self.elapsed(), step)
        self.steps.append(entry)
        if self.live is not None:
            self.live(*entry)

    def check(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def timeline_json(self) -> list[dict[str, Any]]:
        return [{"wall_s": round(wall, 3), **step.to_json()} for wall, step in self.steps]


class DemoClock:
    """The lifecycle's clock for the demo: `now()` is the emulator's time; `sleep(s)` advances the emulator's
    clock by `s` instead of waiting, so propagation and grace periods pass in an instant while the emulator
    still goes through every real state transition. Each advance is reported as a step."""

    def __init__(
        self,
        now: Callable[[], datetime],
        advance: Callable[[float], None],
        report: Callable[[Step], None],
    ) -> None:
        self._now = now
        self._advance = advance
        self._report = report
        self.advanced_s = 0.0

    def now(self) -> datetime:
        return self._now()

    def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        if seconds == 0:
            return
        self._advance(seconds)
        self.advanced_s += seconds
        self._report(
            Step(
                self._now(),
                "emulated-time",
                f"advanced the emulator's clock by {seconds:.1f}s instead of waiting "
                f"(emulated time is now {self.advanced_s:.1f}s ahead of the wall clock)",
                data={"advanced_s": round(seconds, 3), "total_advanced_s": round(self.advanced_s, 3)},
            )
        )
