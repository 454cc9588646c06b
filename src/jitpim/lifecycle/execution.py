"""`jitpim exec`: hold the access of a plan for exactly as long as a child command runs.

Exit code: the child's own, when every release succeeded; 128+N when signal N interrupted jitpim before
the child started; `ReleaseFailedError` (85) whenever a release failed, whatever else happened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..audit.ledger import Ledger
from ..model import RunContext
from .elevation import Elevation, HeldLease
from .planning import LifecycleOptions, Plan
from .release import ReleaseReport
from .reporting import Reporter, Step
from .runner import NESTING_VARIABLE, ChildSpec, check_not_nested, resolve_program, run_child
from .signals import Interrupted, SignalGuard
from .waiting import Clock

__all__ = ["ExecResult", "child_environment", "execute"]


@dataclass
class ExecResult:
    exit_code: int
    child_exit_code: int | None
    leases: list[dict[str, Any]] = field(default_factory=list)
    releases: list[ReleaseReport] = field(default_factory=list)
    interrupted_by: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "child_exit_code": self.child_exit_code,
            "interrupted_by_signal": self.interrupted_by,
            "leases": self.leases,
            "releases": [r.to_json() for r in self.releases],
        }


def child_environment(
    environ: Mapping[str, str], held: Sequence[HeldLease], extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The child's environment: the caller's (its identity settings included, so Azure SDKs in the child
    authenticate as the now-elevated principal), plus the leases it runs under and when they end."""
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
    ledger: Ledger,
    run: RunContext,
    clock: Clock,
    options: LifecycleOptions,
    reporter: Reporter,
    environ: Mapping[str, str],
    extra_env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ExecResult:
    check_not_nested(environ)
    # A command that cannot start is refused before anything is granted, not after a grant and its wait.
    resolve_program(argv, {**environ, **(extra_env or {})})
    guard = SignalGuard()
    elevation = Elevation(plan, ledger, run, clock, options, reporter, guard=guard)
    child_code: int | None = None
    interrupted: int | None = None
    with guard:
        try:
            with elevation:
                leases = [h.to_json() for h in elevation.held]
                env = child_environment(environ, elevation.held, extra_env)
                reporter.step(
                    Step(clock.now(), "child", "running: " + " ".join(argv[:1]) + (" ..." if argv[1:] else ""))
                )
                child_code = run_child(ChildSpec(argv, env, cwd), guard)
                interrupted = guard.interrupted_by
                for held in elevation.held:
                    ledger.append_event(
                        held.lease_id, "command.finished", {"exit_code": child_code, "signal": interrupted}
                    )
                reporter.step(
                    Step(clock.now(), "child", f"command exited with {child_code}", data={"exit_code": child_code})
                )
        except Interrupted as exc:
            interrupted = exc.signum
            reporter.step(Step(clock.now(), "interrupted", f"{exc}; everything granted was released"))
            return ExecResult(exc.exit_code, None, [], elevation.releases, interrupted)
    code = child_code if child_code is not None else 1
    if interrupted is not None and child_code is None:
        code = 128 + interrupted
    return ExecResult(code, child_code, leases, elevation.releases, interrupted)
