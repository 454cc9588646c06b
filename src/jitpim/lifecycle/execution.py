"""`jitpim exec`: hold the access of a plan for exactly as long as a child command runs.

Exit code: the child's own, when every release succeeded; 128+N when signal N interrupted jitpim before
the child started; 83 when only the audit sinks failed; `ReleaseFailedError` (85) whenever a release failed,
whatever else happened. The child runs in its own process group and dies with jitpim (see `runner`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..audit.store import AuditStore
from ..model import RunContext
from .child_credentials import child_credentials
from .children import COMMAND_STARTED, started_body
from .evidence import Evidence, EvidenceWriter
from .held import HeldLease
from .holding import Hold, HoldContext, hold
from .planning import LifecycleOptions, Plan
from .release import ReleaseReport
from .reporting import Reporter
from .runner import NESTING_VARIABLE, ChildSpec, check_not_nested, resolve_program, run_child
from .waiting import Clock

__all__ = ["ExecResult", "child_environment", "execute"]


@dataclass
class ExecResult:
    exit_code: int
    child_exit_code: int | None
    leases: list[dict[str, Any]] = field(default_factory=list)
    releases: list[ReleaseReport] = field(default_factory=list)
    interrupted_by: int | None = None
    evidence: Evidence | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "child_exit_code": self.child_exit_code,
            "interrupted_by_signal": self.interrupted_by,
            "leases": self.leases,
            "releases": [r.to_json() for r in self.releases],
            "audit": self.evidence.to_json() if self.evidence else None,
        }


def child_environment(
    environ: Mapping[str, str], held: Sequence[HeldLease], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The child's environment: `environ` (already stripped of jitpim's credential and pointed at the lease's
    token endpoint, unless --pass-credentials), plus the leases it runs under and when they end."""
    env = dict(environ)
    env[NESTING_VARIABLE] = ",".join(h.lease_id for h in held)
    ends = [h.grant.end_at for h in held if h.grant.end_at is not None]
    if ends:
        env["JITPIM_LEASE_END"] = min(ends).isoformat()
    env.update(extra or {})
    return env


def execute(
    plan: Plan,
    argv: Sequence[str],
    *,
    ledger: AuditStore,
    run: RunContext,
    clock: Clock,
    options: LifecycleOptions,
    reporter: Reporter,
    environ: Mapping[str, str],
    extra_env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    evidence: EvidenceWriter | None = None,
    stdout_to_stderr: bool = False,
    pass_credentials: bool = False,
    child_audiences: Sequence[str] = (),
) -> ExecResult:
    check_not_nested(environ)
    # A command that cannot start is refused before anything is granted, not after a grant and its wait.
    resolve_program(argv, {**environ, **(extra_env or {})})

    def body(holding: Hold) -> int:
        # The child gets tokens for its lease only, not jitpim's credential (`child_credentials`); the endpoint
        # closes when the child ends, before anything is released.
        with child_credentials(
            environ, holding.held, now=clock.now, pass_credentials=pass_credentials, audiences=child_audiences
        ) as creds:
            env = child_environment(creds.environ, holding.held, extra_env)
            holding.say("child", creds.describe())
            holding.say("child", "running: " + " ".join(argv[:1]) + (" ..." if argv[1:] else ""))
            spec = ChildSpec(argv, env, cwd, grace=options.child_grace, stdout_to_stderr=stdout_to_stderr)
            code = run_child(
                spec, holding.guard, lambda pid, group: holding.record(COMMAND_STARTED, started_body(pid, group))
            )
        holding.record(
            "command.finished",
            {"exit_code": code, "signal": holding.guard.interrupted_by, "child_credentials": creds.to_json()},
        )
        holding.say("child", f"command exited with {code}", exit_code=code)
        return code

    ctx = HoldContext(ledger, run, clock, options, reporter, evidence)
    outcome = hold(plan, body, ctx)
    return ExecResult(
        outcome.exit_code(outcome.value),
        outcome.value,
        outcome.leases,
        outcome.releases,
        outcome.interrupted_by,
        outcome.evidence,
    )
