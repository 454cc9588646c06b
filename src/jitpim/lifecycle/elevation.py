"""Holding access: grant each planned target, wait until it really works, and release everything on every
exit path.

For each target, in order:
  1. write-ahead: the lease enters the ledger (`lease.requested`) before anything is sent; if the ledger
     cannot be written, nothing is granted;
  2. grant (or reuse an equivalent existing grant); a lost response is recovered by looking the request up,
     never by sending it twice; the release is registered right here, before any waiting;
  3. wait for approval and provisioning (polling that backs off and honours Retry-After);
  4. wait until effective (the provider's probe), bounded; a grant that never works is released and fails.
Leaving the `Elevation` (normally, by exception, or by a signal turned into `Interrupted`) releases every
held lease in reverse order, verifies each release, and raises `ReleaseFailedError` if any failed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType

from ..audit.store import AuditStore
from ..errors import (
    ApprovalDeniedError,
    ApprovalTimeoutError,
    JitError,
    LedgerError,
    NotEffectiveError,
    ProviderApiError,
    ProviderError,
    ThrottledError,
    UsageError,
)
from ..model import (
    LeaseOutcome,
    LeaseState,
    Mode,
    RunContext,
    TargetKind,
    format_duration,
    lease_id,
    new_local_run_key,
)
from ..model.times import format_moment
from ..providers import Grant, GrantMarker, GrantStatus
from .held import HeldLease
from .planning import LifecycleOptions, Plan, PlannedTarget
from .release import Releaser, ReleaseReport, release_failure
from .reporting import Reporter, Step
from .sharing import ReuseChoice, access_lost, adopt_existing_answer, is_jitpim_grant, join_grant
from .signals import SignalGuard
from .waiting import Clock, Poller, effective_poller

__all__ = ["Elevation", "HeldLease"]


# A grant with no usable answer is looked up, then asked again at most this many times in all.
_GRANT_ATTEMPTS = 4


def _transport_failure(exc: ProviderApiError) -> bool:
    """The request may have been applied even though we got no answer (timeout, gateway error)."""
    return exc.status is None or exc.status in (500, 502, 503, 504)


@dataclass
class Elevation:
    """A context manager holding every lease of a plan (see the module docstring)."""

    plan: Plan
    ledger: AuditStore
    run: RunContext
    clock: Clock
    options: LifecycleOptions
    reporter: Reporter
    guard: SignalGuard = field(default_factory=SignalGuard)
    run_key: str | None = None
    # "exec": the lease lives as long as this process (the reaper releases it when the process is gone);
    # "elevate": it outlives the process and ends by `jitpim release`, at its end, or by the reaper after it.
    held_by: str = "exec"
    held: list[HeldLease] = field(default_factory=list)
    releases: list[ReleaseReport] = field(default_factory=list)
    # Every lease this elevation wrote to the ledger, granted or not: the evidence record covers them all.
    begun: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.run_key = self.run_key or self.run.run_key or new_local_run_key(self.clock.now())
        self._poller = Poller(self.clock, initial=self.options.poll_initial, maximum=self.options.poll_maximum)

    # reporting -------------------------------------------------------------------------------------
    def _say(self, name: str, message: str, lease: str | None = None, **data: object) -> None:
        self.reporter.step(Step(self.clock.now(), name, message, lease, data))

    # entering ----------------------------------------------------------------------------------------
    def __enter__(self) -> Elevation:
        self.plan.raise_for_refusal()
        try:
            for item in self.plan.items:
                self._acquire(item)
        except BaseException as exc:
            granted = [h.resolved.describe() for h in self.held if h.state is not LeaseState.FAILED]
            self._release_all()
            if granted and isinstance(exc, LedgerError):
                # LedgerError's usual hint says nothing was granted: here something was, and is released now.
                exc.hint = (
                    f"{', '.join(granted)} was granted before the ledger failed and has been released (verified); "
                    "nothing is held. Check --ledger / JITPIM_LEDGER points at a writable location."
                )
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._release_all()

    def _lease_row(self, item: PlannedTarget, lid: str, request_name: str) -> dict[str, object]:
        decision = item.decision
        target = item.target
        return {
            "lease_id": lid,
            "state": LeaseState.REQUESTED,
            "kind": str(target.kind),
            "role": item.resolved.role_name,
            "role_id": item.resolved.role_id,
            "scope": item.resolved.scope,
            "principal_id": item.resolved.principal_id,
            "tenant_id": item.resolved.tenant_id,
            "mode": str(self.options.mode),
            "start_at": decision.start,
            "end_at": decision.end,
            "requested_duration_s": int(decision.requested_duration.total_seconds()),
            "granted_duration_s": int(decision.duration.total_seconds()),
            "request_ids": {"request_name": request_name},
            "justification": target.justification,
            "ticket": str(target.ticket) if target.ticket else None,
            "run": self.run.to_json(),
            "release_strategy": self.options.early_release,
            "data": {"resolved": item.resolved.to_json(), "held_by": self.held_by},
        }

    def _acquire(self, item: PlannedTarget) -> None:
        assert self.run_key is not None
        base = str(lease_id(self.run_key, item.target))
        lid = base if self.ledger.find(base) is None else f"{base}#{uuid.uuid4().hex[:6]}"
        request_name = str(uuid.uuid4())
        described = item.resolved.describe()
        details = {"decision": item.decision.to_json(), "policy": item.policy.to_json()}
        try:
            self.ledger.begin(self._lease_row(item, lid, request_name), details=details)
        except LedgerError:
            if self.ledger.find(lid) is None:
                raise
            # A parallel job of the same run took this id between the look and the write: take another.
            lid = f"{base}#{uuid.uuid4().hex[:6]}"
            self.ledger.begin(self._lease_row(item, lid, request_name), details=details)
        self.begun.append(lid)
        # Every grant carries this lease's marker at the source (providers.marker): `reap --source` needs no ledger.
        marker = GrantMarker(lid, item.resolved.principal_id, item.decision.end)
        if item.existing is not None:
            try:
                grant, message = self._join(item, marker)
            except JitError as exc:
                self.ledger.transition(
                    lid,
                    LeaseState.FAILED,
                    "lease.grant_failed",
                    {"error": exc.to_json()},
                    outcome=LeaseOutcome.GRANT_FAILED,
                )
                raise
            self._held(lid, item, grant, "lease.granted", message)
            self._wait_effective(self.held[-1])
            return
        since = self.clock.now() - timedelta(seconds=5)
        try:
            if self._waits_for_rbac_window(item, lid):
                since = self.clock.now() - timedelta(seconds=5)
            grant = self._grant_once(item, lid, request_name, since, marker)
            message = f"granted {described} until {_time(grant.end_at, self.clock.now())}"
            if grant.status is GrantStatus.PENDING_APPROVAL:
                # Nothing is granted until an approver decides: say what happened, not "granted".
                message = f"requested {described}: waiting for an approver"
            elif grant.status is GrantStatus.PROVISIONING:
                message = f"requested {described}: the service is still provisioning it"
            if grant.reused:
                # The API answered "exists" (a parallel job of this identity was a moment faster, or PIM refuses a
                # later window beside the current one): use it only if it covers this lease's window.
                grant, message = adopt_existing_answer(
                    grant,
                    item.provider,
                    item.resolved,
                    item.ctx,
                    item.decision,
                    marker,
                    can_extend=self.options.mode is not Mode.SELF,
                )
        except BaseException as exc:
            if not isinstance(exc, JitError) and self._adopt_if_landed(item, lid, request_name, since):
                raise  # interrupted mid-request, but the grant had landed: it is held now, and released
            reason = exc.to_json() if isinstance(exc, JitError) else {"error": type(exc).__name__}
            self.ledger.transition(
                lid, LeaseState.FAILED, "lease.grant_failed", {"error": reason}, outcome=LeaseOutcome.GRANT_FAILED
            )
            raise
        self._held(lid, item, grant, "lease.granted", message)
        self._wait_granted(self.held[-1])
        self._wait_effective(self.held[-1])

    def _waits_for_rbac_window(self, item: PlannedTarget, lid: str) -> bool:
        """Plain RBAC has no schedule at the source: for a later `--start` the assignment is created when the
        window opens. `exec` waits for it (True once it has); `elevate`, which does not wait, refuses rather than
        granting early."""
        start = item.decision.start
        now = self.clock.now()
        if item.resolved.kind is not TargetKind.RBAC or start is None or start <= now:
            return False
        described = item.resolved.describe()
        if not self.options.wait_for_start:
            raise UsageError(
                f"{described}: a plain RBAC assignment cannot be scheduled at the source, so it cannot start at "
                f"{_time(start, now)} without a process waiting for it",
                hint="Use `jitpim exec --start ...` (it waits and grants when the window opens), or an azure-role "
                "target, which PIM schedules.",
            )
        self._say(
            "waiting", f"plain RBAC has no schedule at the source: granting {described} at {_time(start, now)}", lid
        )
        self.clock.sleep((start - now).total_seconds())
        return True

    def _join(self, item: PlannedTarget, marker: GrantMarker) -> tuple[Grant, str]:
        """Use an existing grant the plan found covering the window (or jitpim's own, extended to it): jitpim's
        own grant is shared (its last holder releases it); anyone else's is reused and never released."""
        existing = item.existing
        assert existing is not None
        described = item.resolved.describe()
        if not is_jitpim_grant(existing, item.resolved.principal_id):
            return existing, f"reusing an existing grant of {described} (not jitpim's: it is left in place)"
        extended = None
        if item.reuse is ReuseChoice.EXTEND:
            own = dataclasses.replace(existing, reused=False)
            extended = item.provider.extend(own, item.resolved, item.decision, item.ctx, marker=marker)
        grant = join_grant(existing, item.provider, item.resolved, item.ctx, item.decision, marker, extend=extended)
        holders = ", ".join(sorted({str(m.get("lease_id")) for m in existing.data.get("markers") or []}))
        verb = "extended and joined" if extended is not None else "joined"
        until = _time(grant.end_at, self.clock.now())
        return grant, f"{verb} jitpim's own grant of {described} (held by {holders}) until {until}"

    def _adopt_if_landed(self, item: PlannedTarget, lid: str, request_name: str, since: datetime) -> bool:
        """A signal (or a crash) in the middle of the grant request: the request may have been applied.
        Look it up before giving up, so that what landed is released rather than left behind."""
        with self.guard.deferred(), contextlib.suppress(Exception):
            landed = item.provider.recover(item.resolved, item.ctx, request_name=request_name, since=since)
            if landed is not None:
                self._held(
                    lid,
                    item,
                    landed,
                    "lease.granted",
                    f"the interrupted grant of {item.resolved.describe()} had landed; releasing it",
                )
                return True
        return False

    def _grant_once(
        self, item: PlannedTarget, lid: str, request_name: str, since: datetime, marker: GrantMarker | None = None
    ) -> Grant:
        """Grant exactly once. When the API gives no usable answer (timeout, 5xx), look the request up by its
        name first: if it landed, that is the grant; if it did not, asking again is safe."""
        described = item.resolved.describe()
        delay = self.options.poll_initial
        for attempt in range(1, _GRANT_ATTEMPTS + 1):
            try:
                return item.provider.grant(
                    item.resolved, item.decision, item.ctx, request_name=request_name, marker=marker
                )
            except ThrottledError as exc:
                # Still throttled after the HTTP layer's retries: the service did not process it; ask again.
                if attempt == _GRANT_ATTEMPTS:
                    raise
                wait = exc.retry_after or delay
                self._say("throttled", f"throttled while granting {described}; asking again in {wait:.0f}s", lid)
                self.clock.sleep(wait)
                delay = min(delay * 2, self.options.poll_maximum)
                continue
            except ProviderApiError as exc:
                if not _transport_failure(exc):
                    raise
                self._say(
                    "recover",
                    f"no usable answer to the grant of {described} ({exc.message}); looking it up",
                    lid,
                    status=exc.status,
                )
                recovered = item.provider.recover(item.resolved, item.ctx, request_name=request_name, since=since)
                if recovered is not None:
                    self._say("recover", f"the grant of {described} had landed: using it", lid)
                    return recovered
                if attempt == _GRANT_ATTEMPTS:
                    raise
                self.clock.sleep(delay)
                delay = min(delay * 2, self.options.poll_maximum)
        raise AssertionError("unreachable")  # the loop returns or raises

    def _held(self, lid: str, item: PlannedTarget, grant: Grant, event: str, message: str) -> None:
        # Accepted but still provisioning: nothing is granted yet, so the lease stays `requested` (it may still
        # end `failed`, which a granted lease never may).
        state = {
            GrantStatus.PENDING_APPROVAL: LeaseState.PENDING_APPROVAL,
            GrantStatus.PROVISIONING: LeaseState.REQUESTED,
        }.get(grant.status, LeaseState.GRANTED)
        held = HeldLease(lid, item.provider, item.resolved, item.ctx, grant, state, granted_at=self.clock.now())
        # Registered before any waiting: from here on, leaving the elevation releases it.
        self.held.append(held)
        request_ids = {
            "request_name": grant.data.get("request_name"),
            "request_id": grant.request_id,
            "resource_id": grant.resource_id,
            **{k: v for k, v in grant.data.items() if k.endswith("_id")},
        }
        self.ledger.transition(
            lid,
            state,
            "lease.approval_requested" if state is LeaseState.PENDING_APPROVAL else event,
            {"grant": grant.to_json()},
            request_ids={k: v for k, v in request_ids.items() if v},
            start_at=grant.start_at,
            end_at=grant.end_at,
            data={"resolved": item.resolved.to_json(), "grant": grant.to_json(), "held_by": self.held_by},
        )
        self._say(
            "approval" if state is LeaseState.PENDING_APPROVAL else "granted",
            message,
            lid,
            request_id=grant.request_id,
            api_status=grant.api_status,
            reused=grant.reused,
        )

    def _wait_granted(self, held: HeldLease) -> None:
        if held.grant.status in (GrantStatus.ACTIVE, GrantStatus.SCHEDULED):
            return
        pending = held.grant.status is GrantStatus.PENDING_APPROVAL
        timeout = self.options.approval_timeout if pending else self.options.provisioning_timeout

        def check() -> tuple[bool, Grant]:
            grant = held.provider.refresh(held.grant, held.resolved, held.ctx)
            return grant.status not in (GrantStatus.PENDING_APPROVAL, GrantStatus.PROVISIONING), grant

        def waiting(seconds: float, grant: Grant) -> None:
            what = "approval" if grant.status is GrantStatus.PENDING_APPROVAL else "provisioning"
            self._say(
                "waiting",
                f"waiting for {what} of {held.resolved.describe()} ({grant.api_status})",
                held.lease_id,
                next_check_s=round(seconds, 1),
            )

        done, grant = self._poller.until(check, timeout=timeout, on_wait=waiting)
        held.grant = grant
        if not done:
            error: JitError = (
                ApprovalTimeoutError(f"no approver decided within {format_duration(timeout)}")
                if pending
                else ProviderError(f"the grant was still provisioning after {format_duration(timeout)}")
            )
            error.target = held.resolved.describe()
            raise error
        if grant.status is GrantStatus.DENIED:
            self.ledger.transition(
                held.lease_id,
                LeaseState.FAILED,
                "lease.denied",
                {"grant": grant.to_json()},
                outcome=LeaseOutcome.DENIED,
            )
            held.state = LeaseState.FAILED
            raise ApprovalDeniedError("the approver denied the request", target=held.resolved.describe())
        if grant.status.is_final_failure:
            self.ledger.transition(
                held.lease_id,
                LeaseState.FAILED,
                "lease.grant_failed",
                {"grant": grant.to_json()},
                outcome=LeaseOutcome(str(grant.status)),
            )
            held.state = LeaseState.FAILED
            raise ProviderError(f"the request ended {grant.api_status}", target=held.resolved.describe())
        if not pending:
            self.ledger.transition(
                held.lease_id,
                LeaseState.GRANTED,
                "lease.provisioned",
                {"grant": grant.to_json()},
                start_at=grant.start_at,
                end_at=grant.end_at,
            )
            held.state = LeaseState.GRANTED
        if pending:
            self.ledger.transition(
                held.lease_id,
                LeaseState.GRANTED,
                "lease.approved",
                {"grant": grant.to_json()},
                start_at=grant.start_at,
                end_at=grant.end_at,
            )
            held.state = LeaseState.GRANTED
            self._say(
                "approved",
                f"approved: {held.resolved.describe()} until {_time(grant.end_at, self.clock.now())}",
                held.lease_id,
            )

    def _wait_for_start(self, held: HeldLease) -> None:
        """`exec` with a later `--start`: the command runs only once the window has opened."""
        start = held.grant.start_at
        if start is not None and start > self.clock.now():
            self._say("waiting", f"waiting for the window to open at {_time(start, self.clock.now())}", held.lease_id)
            self.clock.sleep((start - self.clock.now()).total_seconds())

        def check() -> tuple[bool, Grant]:
            grant = held.provider.refresh(held.grant, held.resolved, held.ctx)
            return grant.status is not GrantStatus.SCHEDULED, grant

        done, grant = self._poller.until(check, timeout=self.options.provisioning_timeout)
        held.grant = grant
        if not done or grant.status is not GrantStatus.ACTIVE:
            raise ProviderError(
                f"the scheduled grant did not start ({grant.api_status})", target=held.resolved.describe()
            )

    def _wait_effective(self, held: HeldLease) -> None:
        if held.grant.status is GrantStatus.SCHEDULED:
            self._say(
                "scheduled",
                f"{held.resolved.describe()} starts at {_time(held.grant.start_at, self.clock.now())}",
                held.lease_id,
            )
            if not self.options.wait_for_start:
                return
            self._wait_for_start(held)

        def check() -> tuple[bool, None]:
            return held.provider.probe(held.grant, held.resolved, held.ctx), None

        def waiting(seconds: float, _: None) -> None:
            self._say(
                "waiting",
                f"waiting until {held.resolved.describe()} takes effect",
                held.lease_id,
                next_check_s=round(seconds, 1),
            )

        started = self.clock.now()
        # Its own schedule: noticed within half a second of working, still cheap when it takes minutes.
        poller = effective_poller(self.clock)
        done, _ = poller.until(check, timeout=self.options.effective_timeout, on_wait=waiting)
        if not done:
            raise NotEffectiveError(
                f"granted, but the access did not work within {format_duration(self.options.effective_timeout)}",
                target=held.resolved.describe(),
            )
        held.effective_at = self.clock.now()
        held.state = LeaseState.EFFECTIVE
        waited = (held.effective_at - started).total_seconds()
        self.ledger.transition(held.lease_id, LeaseState.EFFECTIVE, "lease.effective", {"waited_s": round(waited, 3)})
        self._say("effective", f"{held.resolved.describe()} works (after {waited:.1f}s)", held.lease_id)

    # releasing -------------------------------------------------------------------------------------
    def _release_all(self) -> None:
        """Release every held lease, newest first. Each release is sent and verified even when the ledger can
        no longer be written; `ReleaseFailedError` (85) then names what is still held and what the ledger could
        not record. Access that vanished while held (lifecycle.sharing.access_lost) fails with 77 after."""
        releaser = Releaser(self.ledger, self.clock, self.options, self.reporter, guard=self.guard)
        described: dict[str, str] = {}
        reports: list[ReleaseReport] = []
        lost: list[str] = []
        with self.guard.deferred():
            while self.held:
                held = self.held.pop()
                if held.state is LeaseState.FAILED:
                    continue
                if held.state is LeaseState.EFFECTIVE:
                    lost.extend(self._check_still_held(held))
                described[held.lease_id] = held.resolved.describe()
                report = releaser.release(held)
                self.releases.append(report)
                reports.append(report)
        error = release_failure(reports, releaser.unrecorded, lambda lid: described.get(lid, lid))
        if error is not None:
            raise error
        if lost:
            raise NotEffectiveError(
                "the access disappeared while the command ran: " + "; ".join(lost),
                hint="Something removed the grant at the source before its end (another job's release, an "
                "administrator, or a reaper); the command may not have done its work: check it and run it again.",
            )

    def _check_still_held(self, held: HeldLease) -> list[str]:
        """A final look at the grant before the lease ends (lifecycle.sharing.access_lost): access that vanished
        mid-run must not end as success."""
        why = access_lost(held.provider, held.grant, held.resolved, held.ctx, self.clock.now())
        if not why:
            return []
        with contextlib.suppress(JitError):
            self.ledger.append_event(held.lease_id, "lease.access_lost", {"detail": why})
        self._say("access_lost", f"{held.resolved.describe()}: {why}", held.lease_id)
        return [f"{held.resolved.describe()}: {why}"]

    def detach(self) -> list[HeldLease]:
        """Stop holding the leases without releasing them (`jitpim elevate`: released later by
        `jitpim release`, or by the reaper, or at their end at the source)."""
        held, self.held = self.held, []
        return held


def _time(value: datetime | None, now: datetime) -> str:
    """`19:46:34Z`, or with its date when that is not today's (an 8-hour grant made in the evening)."""
    return format_moment(value, against=now)
