"""Releasing a lease and verifying it is gone: used when an elevation ends, by `jitpim release`, and by
the reaper (from the lease as the ledger recorded it).

Four rules keep a grant from outliving its job, or its holders:

* A grant several leases hold (lifecycle.sharing) is released by its last holder: the others leave it in
  place (`handed_over`) and take their marker off it where the source keeps one.
* The release is always sent and verified, even when the ledger cannot be written: a ledger write that fails
  is noted on the report (`recorded=False`) and the release goes on. The caller then fails with exit 85.
* A throttled (429, honouring `Retry-After`) or unanswered (5xx, timeout) removal is asked again until the
  release deadline (`LifecycleOptions.release_deadline`, minutes), not after a fixed number of tries.
* PIM refuses removal in the first five minutes of an assignment (`ActiveDurationTooShort`). With
  `early_release="wait"` (the default) the removal is retried when the window opens; with `"expire"`, or
  when jitpim is being cancelled (a signal arrived: GitHub kills the job 10 s after its SIGINT), the grant is
  left to end at the source, and the record says so (`lease.left_to_expire`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ..audit.store import AuditStore
from ..errors import JitError, ProviderApiError, ReleaseFailedError, ThrottledError
from ..model import LeaseOutcome, LeaseState, TargetKind, format_duration
from ..model.times import format_moment
from ..providers import GrantStatus, ReleaseOutcome, ReleaseResult
from .held import HeldLease
from .planning import LifecycleOptions
from .reporting import Reporter, Step
from .sharing import other_holders
from .signals import SignalGuard
from .waiting import Clock, Poller

__all__ = ["ReleaseReport", "ReleaseStatus", "Releaser", "held_until", "summarize_releases"]

# Waits inside a release are cut into slices this long, so that a signal (cancellation) is noticed promptly.
_SLICE_S = 1.0
# How long a removed grant may still be listed (eventual consistency) before the release counts as failed.
_VERIFY_TIMEOUT = timedelta(minutes=2)


class ReleaseStatus(StrEnum):
    """What became of one lease's access when it was released (`ReleaseReport.outcome`)."""

    RELEASED = "released"
    ALREADY_GONE = "already_gone"
    LEFT_TO_EXPIRE = "left_to_expire"
    REUSED_NOT_RELEASED = "reused_not_released"
    HANDED_OVER = "handed_over"  # another lease still holds the grant: its last holder releases it
    SKIPPED_NOT_OURS = "skipped_not_ours"  # the reaper leaves another principal's lease alone
    FAILED = "failed"  # access may remain: the most severe outcome


@dataclass
class ReleaseReport:
    lease_id: str
    outcome: ReleaseStatus
    detail: str = ""
    released_at: datetime | None = None
    # False when the ledger could not record the release (the access itself was still released and verified).
    recorded: bool = True

    @property
    def still_held(self) -> bool:
        return self.outcome is ReleaseStatus.FAILED

    def to_json(self) -> dict[str, Any]:
        return {
            "lease_id": self.lease_id,
            "outcome": str(self.outcome),
            "detail": self.detail,
            "released_at": self.released_at.isoformat() if self.released_at else None,
            "recorded": self.recorded,
        }


_CLAUSES: dict[ReleaseStatus, str] = {
    ReleaseStatus.RELEASED: "released",
    ReleaseStatus.ALREADY_GONE: "already gone",
    ReleaseStatus.LEFT_TO_EXPIRE: "left to expire at the source",
    ReleaseStatus.REUSED_NOT_RELEASED: "reused and kept for its owner",
    ReleaseStatus.HANDED_OVER: "still held by another lease",
    ReleaseStatus.SKIPPED_NOT_OURS: "another principal's, left alone",
    ReleaseStatus.FAILED: "NOT released (access may remain)",
}


def held_until(lease_ids: Sequence[str]) -> str:
    """What ends a grant whose release failed, by its kind: PIM grants expire at the source; a plain RBAC
    assignment has no end there, so it stays until something removes it."""
    kinds = {kind for lease_id in lease_ids for kind in TargetKind if f"/{kind.value}/" in lease_id}
    rbac = TargetKind.RBAC in kinds
    pim = bool(kinds - {TargetKind.RBAC}) or not kinds
    parts = []
    if rbac:
        parts.append(
            "A plain RBAC assignment has no end at the source: the access stays until `jitpim reap` removes it "
            "(`jitpim reap --source` finds it even without this ledger)."
        )
    if pim:
        parts.append(("The PIM grant" if rbac else "The grant") + " also ends at its expiry at the source.")
    return " ".join(parts)


def summarize_releases(reports: Sequence[ReleaseReport]) -> str:
    """One clause built from what became of each lease: "everything granted was released" only when every
    grant really is gone, else the count of each outcome ("1 released, 1 left to expire at the source")."""
    if not reports:
        return "nothing had been granted"
    if all(r.outcome in (ReleaseStatus.RELEASED, ReleaseStatus.ALREADY_GONE) for r in reports):
        return "everything granted was released"
    counts: dict[ReleaseStatus, int] = {}
    for report in reports:
        counts[report.outcome] = counts.get(report.outcome, 0) + 1
    return ", ".join(f"{counts[outcome]} {clause}" for outcome, clause in _CLAUSES.items() if outcome in counts)


def _time(value: datetime | None) -> str:
    return value.strftime("%H:%M:%SZ") if value else "?"


_COUNTDOWN_STEP_S = 30.0


def _moment(value: datetime | None, now: datetime) -> str:
    """For messages: `19:46:34Z`, or with its date when that is not today's."""
    return format_moment(value, against=now)


def _retryable(exc: ProviderApiError) -> bool:
    """Asking again is safe and may succeed: throttled, or no usable answer (removal is idempotent)."""
    return isinstance(exc, ThrottledError) or exc.status is None or exc.status in (500, 502, 503, 504)


class Releaser:
    """Releases held leases (see the module docstring). `guard`, when given, tells whether jitpim is being
    cancelled (a signal arrived) and since when, which bounds every wait to `options.cancel_budget`."""

    def __init__(
        self,
        ledger: AuditStore,
        clock: Clock,
        options: LifecycleOptions,
        reporter: Reporter,
        *,
        guard: SignalGuard | None = None,
    ) -> None:
        self.ledger = ledger
        self.clock = clock
        self.options = options
        self.reporter = reporter
        self.guard = guard
        self.poller = Poller(clock, initial=options.poll_initial, maximum=options.poll_maximum)
        # lease id -> why the ledger could not record its release
        self.unrecorded: dict[str, str] = {}

    def _say(self, name: str, message: str, lease: str, **data: object) -> None:
        self.reporter.step(Step(self.clock.now(), name, message, lease, data))

    # cancellation and deadlines ----------------------------------------------------------------------
    def cancelling(self) -> bool:
        return self.guard is not None and self.guard.interrupted_by is not None

    def _limit(self, deadline: datetime) -> datetime:
        """Until when a release that started with `deadline` may keep trying: a cancellation (GitHub kills
        the job 10 s after its first signal) shortens it to the cancel budget."""
        if self.guard is not None and self.guard.first_at is not None:
            return min(deadline, self.guard.first_at + self.options.cancel_budget)
        return deadline

    def _sleep_until(self, moment: datetime, deadline: datetime) -> None:
        """Sleep until `moment`, in short slices, waking early when a cancellation moves the limit closer."""
        while True:
            remaining = (min(moment, self._limit(deadline)) - self.clock.now()).total_seconds()
            if remaining <= 0:
                return
            self.clock.sleep(min(_SLICE_S, remaining))

    def _count_down(self, seconds: float, held: HeldLease) -> bool:
        """`_wait_unless_cancelled` in steps of at most 30 s, each saying how long is left."""
        end = self.clock.now() + timedelta(seconds=seconds)
        while True:
            remaining = (end - self.clock.now()).total_seconds()
            if remaining <= 0:
                return True
            if remaining >= 1:
                left = format_duration(timedelta(seconds=round(remaining)))
                self._say("waiting", f"PIM's no-removal window: {left} left before the release", held.lease_id)
            if not self._wait_unless_cancelled(min(_COUNTDOWN_STEP_S, remaining)):
                return False

    def _wait_unless_cancelled(self, seconds: float) -> bool:
        """Sleep `seconds` in short slices; False as soon as a cancellation arrives."""
        end = self.clock.now() + timedelta(seconds=seconds)
        while not self.cancelling():
            remaining = (end - self.clock.now()).total_seconds()
            if remaining <= 0:
                return True
            self.clock.sleep(min(_SLICE_S, remaining))
        return False

    # recording ---------------------------------------------------------------------------------------
    def _record(
        self, held: HeldLease, state: LeaseState, event: str, body: Mapping[str, object], **fields: object
    ) -> bool:
        """One ledger write of the release; a failure is noted, never allowed to stop the release itself."""
        try:
            self.ledger.transition(held.lease_id, state, event, body, **fields)
        except JitError as exc:
            self.unrecorded.setdefault(held.lease_id, exc.message)
            return False
        held.state = state
        return True

    # releasing ---------------------------------------------------------------------------------------
    def release(self, held: HeldLease) -> ReleaseReport:
        described = held.resolved.describe()
        if held.grant.reused:
            recorded = self._record(held, LeaseState.RELEASING, "lease.releasing", {})
            recorded &= self._record(
                held,
                LeaseState.RELEASED,
                "lease.released",
                {"outcome": str(ReleaseStatus.REUSED_NOT_RELEASED)},
                outcome=LeaseOutcome.REUSED,
            )
            self._say("released", f"left the pre-existing grant of {described} in place (not ours)", held.lease_id)
            return ReleaseReport(
                held.lease_id, ReleaseStatus.REUSED_NOT_RELEASED, released_at=self.clock.now(), recorded=recorded
            )
        recorded = self._record(held, LeaseState.RELEASING, "lease.releasing", {})
        handed = self._hand_over(held, recorded)
        if handed is not None:
            return handed
        deadline = self.clock.now() + self.options.release_deadline
        try:
            result = self._send(held, deadline)
            if result.outcome is ReleaseOutcome.TOO_EARLY:
                waited = None
                if self.options.early_release == "wait" and not self.cancelling():
                    waited = self._release_when_allowed(held, result.retry_at)
                if waited is None:
                    return self._left_to_expire(held, recorded)
                result = waited
            self._verify_released(held, deadline)
        except JitError as exc:
            return self._failed(held, exc.message, recorded)
        except Exception as exc:
            return self._failed(held, f"{type(exc).__name__}: {exc}", recorded)
        outcome = LeaseOutcome(str(result.outcome))
        recorded &= self._record(held, LeaseState.RELEASED, "lease.released", {"outcome": outcome}, outcome=outcome)
        self._say("released", f"released {described} ({outcome.replace('_', ' ')}; verified)", held.lease_id)
        return ReleaseReport(
            held.lease_id, ReleaseStatus(str(outcome)), result.detail, self.clock.now(), recorded=recorded
        )

    def _hand_over(self, held: HeldLease, recorded: bool) -> ReleaseReport | None:
        """Another lease still holds this grant: leave it in place for the last holder to release."""
        if held.grant.status is not GrantStatus.ACTIVE:
            return None  # a request still pending, provisioning or scheduled is this lease's alone: cancel it
        try:
            others = other_holders(
                self.ledger, held.lease_id, held.provider, held.grant, held.resolved, held.ctx, self.clock.now()
            )
        except JitError:
            return None  # the holders cannot be counted: release, as a lease alone would
        if not others:
            return None
        note = ""
        try:
            held.provider.leave(held.grant, held.resolved, held.ctx, lease_id=held.lease_id)
        except JitError as exc:
            note = f" (its marker stays at the source until its end: {exc.message})"
        detail = f"left in place for {len(others)} other holder(s): {', '.join(others)}{note}"
        recorded &= self._record(
            held,
            LeaseState.RELEASED,
            "lease.released",
            {"outcome": str(ReleaseStatus.HANDED_OVER), "holders": others},
            outcome=LeaseOutcome.HANDED_OVER,
        )
        self._say("released", f"{held.resolved.describe()}: {detail}", held.lease_id)
        return ReleaseReport(held.lease_id, ReleaseStatus.HANDED_OVER, detail, self.clock.now(), recorded=recorded)

    def _send(self, held: HeldLease, deadline: datetime) -> ReleaseResult:
        """Send the removal; throttled or unanswered, ask again (honouring Retry-After) until `deadline` (or
        the end of the cancel budget, when jitpim is being cancelled)."""
        delay = self.options.poll_initial
        while True:
            try:
                return held.provider.release(held.grant, held.resolved, held.ctx)
            except ProviderApiError as exc:
                if not _retryable(exc):
                    raise
                asked = exc.retry_after if isinstance(exc, ThrottledError) else None
                wait = asked if asked is not None and asked > 0 else delay
                if self.clock.now() + timedelta(seconds=wait) > self._limit(deadline):
                    raise ReleaseFailedError(
                        f"the removal was still refused at the release deadline ({exc.message})"
                    ) from exc
                self._say(
                    "retry",
                    f"no removal of {held.resolved.describe()} yet ({exc.message}); asking again in {wait:.0f}s",
                    held.lease_id,
                    status=exc.status,
                )
                self._sleep_until(self.clock.now() + timedelta(seconds=wait), deadline)
                delay = min(delay * 2, self.options.poll_maximum)

    def _left_to_expire(self, held: HeldLease, recorded: bool) -> ReleaseReport:
        why = "jitpim is being cancelled" if self.cancelling() else "--early-release expire"
        note = (
            "PIM refuses removal in the first 5 minutes; left to expire at "
            f"{_moment(held.grant.end_at, self.clock.now())} ({why})"
        )
        recorded &= self._record(
            held,
            LeaseState.RELEASING,
            "lease.left_to_expire",
            {"end_at": _time(held.grant.end_at), "reason": why},
            outcome=LeaseOutcome.LEFT_TO_EXPIRE,
        )
        self._say("released", f"{held.resolved.describe()}: {note}", held.lease_id)
        return ReleaseReport(held.lease_id, ReleaseStatus.LEFT_TO_EXPIRE, note, recorded=recorded)

    def _release_when_allowed(self, held: HeldLease, retry_at: datetime | None) -> ReleaseResult | None:
        """Wait for PIM's minimum window, then remove. None when a cancellation arrived while waiting."""
        deadline = self.clock.now() + self.options.early_release_max_wait
        self._say(
            "waiting",
            f"PIM refuses removal in the first 5 minutes; retrying at {_moment(retry_at, self.clock.now())}",
            held.lease_id,
        )
        delay = self.options.poll_initial
        while True:
            when = retry_at or (self.clock.now() + timedelta(seconds=delay))
            wait = max(1.0, (when - self.clock.now()).total_seconds())
            wait = min(wait, max(0.0, (deadline - self.clock.now()).total_seconds()))
            if not self._count_down(wait, held):
                return None
            result = self._send(held, deadline)
            if result.outcome is not ReleaseOutcome.TOO_EARLY:
                self._record(
                    held, LeaseState.RELEASING, "lease.release_retried", {"strategy": "waited_for_minimum_window"}
                )
                return result
            if self.clock.now() >= deadline:
                raise ReleaseFailedError(
                    f"PIM still refused the removal after {format_duration(self.options.early_release_max_wait)}"
                )
            retry_at = result.retry_at
            delay = min(delay * 2, self.options.poll_maximum)

    def _verify_released(self, held: HeldLease, deadline: datetime) -> None:
        def check() -> tuple[bool, None]:
            try:
                existing = held.provider.find_existing(held.resolved, held.ctx)
            except ProviderApiError as exc:
                if _retryable(exc):
                    return False, None  # no answer yet: look again
                raise
            return existing is None or existing.reused, None

        limit = min(_VERIFY_TIMEOUT, max(timedelta(0), self._limit(deadline) - self.clock.now()))
        done, _ = self.poller.until(check, timeout=limit)
        if not done:
            raise ReleaseFailedError("the grant is still listed after its removal")

    def _failed(self, held: HeldLease, detail: str, recorded: bool) -> ReleaseReport:
        recorded &= self._record(
            held,
            LeaseState.RELEASE_FAILED,
            "lease.release_failed",
            {"detail": detail},
            outcome=LeaseOutcome.RELEASE_FAILED,
        )
        if not recorded:
            detail += " (and the ledger could not record it)"
        self._say("release_failed", f"could not release {held.resolved.describe()}: {detail}", held.lease_id)
        return ReleaseReport(held.lease_id, ReleaseStatus.FAILED, detail, recorded=recorded)


def release_failure(
    reports: list[ReleaseReport], unrecorded: Mapping[str, str], describe: Callable[[str], str]
) -> ReleaseFailedError | None:
    """The error that ends a hold whose releases did not all succeed and get recorded, naming what is still
    held (access may remain) and what was released but could not be recorded (the ledger still shows it open);
    None when everything was released and recorded."""
    held = [f"{describe(r.lease_id)}: {r.detail}" for r in reports if r.still_held]
    unwritten = [r for r in reports if not r.recorded and not r.still_held]
    if not held and not unwritten:
        return None
    parts: list[str] = []
    if held:
        parts.append("release failed for " + "; ".join(held))
    if unwritten:
        reason = next(iter(unrecorded.values()), "the ledger could not be written")
        parts.append(
            "the ledger could not record the end of "
            + ", ".join(f"{describe(r.lease_id)} ({r.outcome})" for r in unwritten)
            + f": {reason}"
        )
    still_held = [r.lease_id for r in reports if r.still_held]
    hint = (
        f"Still held: {', '.join(still_held)}. Run `jitpim reap` (or `jitpim release --all`) and check "
        f"`jitpim status --live`. {held_until(still_held)}"
        if still_held
        else "Nothing is held any more: every grant was removed and the removal verified at the source. Make the "
        "ledger writable (--ledger / JITPIM_LEDGER), then run `jitpim reap` to bring it up to date."
    )
    return ReleaseFailedError("; ".join(parts), hint=hint)
