"""Releasing a lease and verifying it is gone: used when an elevation ends, by `jitpim release`, and by
the reaper (from the lease as the ledger recorded it).

A grant several leases hold (lifecycle.sharing) is released by its last holder: the others leave it in place
(`handed_over`) and take their marker off it where the source keeps one.

PIM refuses removal in the first five minutes of an assignment (`ActiveDurationTooShort`). With
`early_release="wait"` (the default) the removal is retried when the window opens; with `"expire"` the
grant is left to end at the source, and the record says so (`lease.left_to_expire`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..audit.ledger import Ledger
from ..errors import JitError, ReleaseFailedError
from ..model import format_duration
from ..providers import GrantStatus, ReleaseOutcome, ReleaseResult
from .planning import LifecycleOptions
from .reporting import Reporter, Step
from .sharing import other_holders
from .waiting import Clock, Poller

if TYPE_CHECKING:
    from .elevation import HeldLease

__all__ = ["ReleaseReport", "Releaser"]


@dataclass
class ReleaseReport:
    lease_id: str
    outcome: str  # released | already_gone | left_to_expire | reused_not_released | handed_over | failed
    detail: str = ""
    released_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "lease_id": self.lease_id,
            "outcome": self.outcome,
            "detail": self.detail,
            "released_at": self.released_at.isoformat() if self.released_at else None,
        }


def _time(value: datetime | None) -> str:
    return value.strftime("%H:%M:%SZ") if value else "?"


class Releaser:
    def __init__(self, ledger: Ledger, clock: Clock, options: LifecycleOptions, reporter: Reporter) -> None:
        self.ledger = ledger
        self.clock = clock
        self.options = options
        self.reporter = reporter
        self.poller = Poller(clock, initial=options.poll_initial, maximum=options.poll_maximum)

    def _say(self, name: str, message: str, lease: str, **data: Any) -> None:
        self.reporter.step(Step(self.clock.now(), name, message, lease, data))

    def release(self, held: HeldLease) -> ReleaseReport:
        described = held.resolved.describe()
        if held.grant.reused:
            self.ledger.transition(held.lease_id, "releasing", "lease.releasing", {})
            self.ledger.transition(
                held.lease_id, "released", "lease.released", {"outcome": "reused_not_released"}, outcome="reused"
            )
            self._say("released", f"left the pre-existing grant of {described} in place (not ours)", held.lease_id)
            return ReleaseReport(held.lease_id, "reused_not_released", released_at=self.clock.now())
        self.ledger.transition(held.lease_id, "releasing", "lease.releasing", {})
        handed = self._hand_over(held)
        if handed is not None:
            return handed
        try:
            result = held.provider.release(held.grant, held.resolved, held.ctx)
            if result.outcome is ReleaseOutcome.TOO_EARLY:
                if self.options.early_release == "expire":
                    note = f"PIM refuses removal in the first 5 minutes; left to expire at {_time(held.grant.end_at)}"
                    self.ledger.transition(
                        held.lease_id,
                        "releasing",
                        "lease.left_to_expire",
                        {"end_at": _time(held.grant.end_at)},
                        outcome="left_to_expire",
                    )
                    self._say("released", f"{described}: {note}", held.lease_id)
                    return ReleaseReport(held.lease_id, "left_to_expire", note)
                result = self._release_when_allowed(held, result.retry_at)
            self._verify_released(held)
        except JitError as exc:
            return self._failed(held, exc.message)
        except Exception as exc:
            return self._failed(held, f"{type(exc).__name__}: {exc}")
        outcome = str(result.outcome)
        self.ledger.transition(held.lease_id, "released", "lease.released", {"outcome": outcome}, outcome=outcome)
        self._say("released", f"released {described} ({outcome.replace('_', ' ')}; verified)", held.lease_id)
        return ReleaseReport(held.lease_id, outcome, result.detail, self.clock.now())

    def _hand_over(self, held: HeldLease) -> ReleaseReport | None:
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
        self.ledger.transition(
            held.lease_id,
            "released",
            "lease.released",
            {"outcome": "handed_over", "holders": others},
            outcome="handed_over",
        )
        self._say("released", f"{held.resolved.describe()}: {detail}", held.lease_id)
        return ReleaseReport(held.lease_id, "handed_over", detail, self.clock.now())

    def _release_when_allowed(self, held: HeldLease, retry_at: datetime | None) -> ReleaseResult:
        deadline = self.options.early_release_max_wait
        self._say(
            "waiting", f"PIM refuses removal in the first 5 minutes; retrying at {_time(retry_at)}", held.lease_id
        )

        def check() -> tuple[bool, ReleaseResult]:
            result = held.provider.release(held.grant, held.resolved, held.ctx)
            return result.outcome is not ReleaseOutcome.TOO_EARLY, result

        def retry_after(result: ReleaseResult) -> float | None:
            when = result.retry_at or retry_at
            return max(1.0, (when - self.clock.now()).total_seconds()) if when else None

        first = ReleaseResult(ReleaseOutcome.TOO_EARLY, retry_at)
        wait = retry_after(first)
        if wait is not None:
            self.clock.sleep(min(wait, deadline.total_seconds()))
        done, result = self.poller.until(check, timeout=deadline, retry_after=retry_after)
        if not done:
            raise ReleaseFailedError(f"PIM still refused the removal after {format_duration(deadline)}")
        self.ledger.transition(
            held.lease_id, "releasing", "lease.release_retried", {"strategy": "waited_for_minimum_window"}
        )
        return result

    def _verify_released(self, held: HeldLease) -> None:
        def check() -> tuple[bool, None]:
            existing = held.provider.find_existing(held.resolved, held.ctx)
            return existing is None or existing.reused, None

        done, _ = self.poller.until(check, timeout=timedelta(minutes=2))
        if not done:
            raise ReleaseFailedError("the grant is still listed after its removal")

    def _failed(self, held: HeldLease, detail: str) -> ReleaseReport:
        try:
            self.ledger.transition(
                held.lease_id, "release_failed", "lease.release_failed", {"detail": detail}, outcome="release_failed"
            )
        except JitError:
            detail += " (and the ledger could not record it)"
        self._say("release_failed", f"could not release {held.resolved.describe()}: {detail}", held.lease_id)
        return ReleaseReport(held.lease_id, "failed", detail)
