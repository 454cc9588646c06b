"""Holding a plan's access while some work runs: the one way the lifecycle holds a lease.

`Hold` is a context manager that owns, in this order:
  1. signals: SIGINT/SIGTERM/SIGHUP interrupt the grant and its waits (everything granted is released);
     while the work runs they are the work's to handle (`jitpim exec` forwards them to its child);
  2. the grant and the wait until the access really works (`Elevation`);
  3. the release of every lease on every way out, verified, even when the ledger cannot be written;
  4. the evidence record: each lease's signed summary, the run's evidence file, the sinks
     (`EvidenceWriter`), written exactly once, whether the hold succeeded, failed or was interrupted;
  5. the exit status: the work's own, 128+N when signal N stopped it first, 83 when only a sink failed
     (`HoldOutcome.exit_code`); a failed release raises `ReleaseFailedError` (85) after the evidence.

`hold(plan, body, ctx)` runs `body(hold)` inside it and returns a `HoldOutcome`: `jitpim exec` and each
rotation are exactly that. `jitpim elevate` enters a `Hold` and `detach()`es what it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, TypeVar

from ..audit.store import AuditStore
from ..errors import AuditError, JitError
from ..model import RunContext
from .elevation import Elevation
from .evidence import Evidence, EvidenceWriter, with_sink_status
from .held import HeldLease
from .planning import LifecycleOptions, Plan
from .release import ReleaseReport, summarize_releases
from .reporting import Reporter, Step
from .signals import Interrupted, SignalGuard
from .waiting import Clock

__all__ = ["Hold", "HoldContext", "HoldOutcome", "hold"]

T = TypeVar("T")


@dataclass(frozen=True)
class HoldContext:
    """What a hold runs with. `evidence` is None only where the caller records evidence itself (never in the
    product; tests of the orchestration alone)."""

    ledger: AuditStore
    run: RunContext
    clock: Clock
    options: LifecycleOptions
    reporter: Reporter
    evidence: EvidenceWriter | None = None
    # Told the end of the cancel budget when the first signal arrives (the runtime cuts HTTP retry waits to it).
    on_cancel: Callable[[datetime], None] | None = None


@dataclass(frozen=True)
class HoldOutcome(Generic[T]):
    """What a finished hold did: the body's value (None if it never ran or did not finish), the leases as
    they were once effective, their releases, the signal that interrupted it, and the evidence record."""

    value: T | None
    leases: list[dict[str, Any]] = field(default_factory=list)
    releases: list[ReleaseReport] = field(default_factory=list)
    interrupted_by: int | None = None
    evidence: Evidence | None = None
    audit_error: str | None = None

    def exit_code(self, code: int | None) -> int:
        """The exit status of a hold whose work ended with `code` (None: it did not get to finish): 128+N
        when signal N stopped it first, 83 when all else succeeded but the evidence could not be delivered."""
        if code is None:
            code = 128 + self.interrupted_by if self.interrupted_by is not None else 1
        code = with_sink_status(code, self.evidence)
        if code == 0 and self.audit_error is not None:
            return AuditError.exit_code
        return code


class Hold:
    """Holds every lease of a plan while the `with` block runs (see the module docstring).

    `held_by` is recorded with each lease: "exec" leases live as long as this process (the reaper releases
    them when it is gone); "elevate" leases outlive it and end by `jitpim release`, at their end, or by the
    reaper after it.
    """

    def __init__(self, plan: Plan, ctx: HoldContext, *, held_by: str = "exec") -> None:
        self.plan = plan
        self.ctx = ctx
        budget = ctx.options.cancel_budget
        on_cancel = ctx.on_cancel
        self.guard = SignalGuard(
            now=ctx.clock.now, on_first=(lambda first: on_cancel(first + budget)) if on_cancel is not None else None
        )
        self.elevation = Elevation(
            plan, ctx.ledger, ctx.run, ctx.clock, ctx.options, ctx.reporter, guard=self.guard, held_by=held_by
        )
        self.leases: list[dict[str, Any]] = []
        self.interrupted_by: int | None = None
        self.evidence: Evidence | None = None
        self.audit_error: str | None = None
        self.unrecorded_events: list[str] = []
        self._detached = False

    # while held ----------------------------------------------------------------------------------------
    @property
    def held(self) -> list[HeldLease]:
        return self.elevation.held

    @property
    def lease_ids(self) -> list[str]:
        return [h.lease_id for h in self.elevation.held]

    @property
    def releases(self) -> list[ReleaseReport]:
        return self.elevation.releases

    def say(self, name: str, message: str, lease_id: str | None = None, **data: object) -> None:
        self.ctx.reporter.step(Step(self.ctx.clock.now(), name, message, lease_id, dict(data)))

    def record(self, event_type: str, body: Mapping[str, object]) -> None:
        """Append an event to every held lease. Best effort: a ledger that cannot be written must not stop
        the work's end or the release (which then fails loudly, naming what the ledger could not record)."""
        for held in self.elevation.held:
            try:
                self.ctx.ledger.append_event(held.lease_id, event_type, body)
            except JitError as exc:
                self.unrecorded_events.append(f"{event_type} of {held.lease_id}: {exc.message}")
                self.say("ledger", f"could not record {event_type}: {exc.message}", held.lease_id)

    def detach(self) -> list[HeldLease]:
        """Stop holding the leases without releasing them (`jitpim elevate`: they end by `jitpim release`,
        by the reaper, or at their end at the source). Their evidence is recorded when they end."""
        self._detached = True
        return self.elevation.detach()

    # entering and leaving ------------------------------------------------------------------------------
    def __enter__(self) -> Hold:
        self.plan.raise_for_refusal()
        self.guard.__enter__()
        try:
            self.elevation.__enter__()
        except BaseException as exc:
            self._finish(exc)
            raise
        self.leases = [h.to_json() for h in self.elevation.held]
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        failure: BaseException | None = None
        try:
            self.elevation.__exit__(exc_type, exc, tb)
        except BaseException as raised:  # a failed release: raised after the evidence is written
            failure = raised
        self._finish(failure or exc)
        if failure is not None:
            raise failure

    def _finish(self, exc: BaseException | None) -> None:
        try:
            with self.guard.deferred():
                if isinstance(exc, Interrupted):
                    self.interrupted_by = exc.signum
                    # Built from what became of each lease: with --early-release expire a grant is left to
                    # expire at the source, and saying "released" would not be true.
                    self.say("interrupted", f"{exc}; {summarize_releases(self.elevation.releases)}")
                elif self.guard.interrupted_by is not None:
                    self.interrupted_by = self.guard.interrupted_by
                if not (self._detached and exc is None):
                    self._record_evidence()
        finally:
            self.guard.__exit__(None, None, None)

    def _record_evidence(self) -> None:
        writer = self.ctx.evidence
        if writer is None:
            return
        try:
            self.evidence = writer.record(self.elevation.begun)
        except JitError as exc:
            self.audit_error = str(exc)
            self.say("audit", f"could not write the audit summary: {exc}")

    def outcome(self, value: T | None) -> HoldOutcome[T]:
        return HoldOutcome(
            value, list(self.leases), list(self.releases), self.interrupted_by, self.evidence, self.audit_error
        )


def hold(plan: Plan, body: Callable[[Hold], T], ctx: HoldContext, *, held_by: str = "exec") -> HoldOutcome[T]:
    """Run `body` while the plan's access is held (see the module docstring). A signal that interrupts the
    grant or the body ends the hold normally, with `interrupted_by` set; a failed release raises
    `ReleaseFailedError`; any other error of the grant or the body is raised after the release."""
    holding = Hold(plan, ctx, held_by=held_by)
    value: T | None = None
    try:
        with holding:
            value = body(holding)
    except Interrupted:
        pass  # released and recorded by the hold; the outcome carries the signal
    return holding.outcome(value)
