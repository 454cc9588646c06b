"""The orchestrator's guarantees, with a scripted provider and a fake clock (no network, no wall time):
write-ahead ledger, release on every exit path, lost-response recovery, PIM's 5-minute floor, approvals."""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from jitpim.audit.ledger import Ledger
from jitpim.auth import Identity
from jitpim.errors import (
    ApprovalDeniedError,
    LedgerError,
    NotEffectiveError,
    PolicyDeniedError,
    ProviderApiError,
    ReleaseFailedError,
)
from jitpim.lifecycle import (
    Elevation,
    Interrupted,
    LifecycleOptions,
    SignalGuard,
    Timeline,
    execute,
    make_plan,
)
from jitpim.model import Decision, Mode, PolicyView, Reason, RunContext, Target, TargetKind
from jitpim.providers import (
    Grant,
    GrantMarker,
    GrantStatus,
    ProviderContext,
    ReleaseOutcome,
    ReleaseResult,
    ResolvedTarget,
    SourceGrant,
)

START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.t = START
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += timedelta(seconds=seconds)


@dataclass
class ScriptedProvider:
    """A provider whose API behaviour each test scripts; it records every call."""

    kind: ClassVar[TargetKind] = TargetKind.AZURE_ROLE
    clock: FakeClock
    effective_after: timedelta = timedelta(0)
    lose_grant_response: bool = False
    approval: str | None = None  # None | "approve" | "deny"
    release_floor: timedelta = timedelta(0)
    release_fails: bool = False
    policy: PolicyView = field(default_factory=lambda: PolicyView(max_duration=timedelta(hours=1)))
    calls: list[str] = field(default_factory=list)
    active: dict[str, Grant] = field(default_factory=dict)
    granted_at: datetime | None = None
    refreshes: int = 0

    def resolve(self, target: Target, ctx: ProviderContext) -> ResolvedTarget:
        self.calls.append("resolve")
        return ResolvedTarget(target, "role-id", target.role, target.scope, target.scope, "me", "tenant")

    def read_policy(self, resolved: ResolvedTarget, ctx: ProviderContext) -> PolicyView:
        return self.policy

    def check(self, resolved: ResolvedTarget, decision: Decision, ctx: ProviderContext) -> list[Reason]:
        return []

    def find_existing(self, resolved: ResolvedTarget, ctx: ProviderContext) -> Grant | None:
        return None if not self.active else next(iter(self.active.values()))

    def _grant(self, request_name: str, decision: Decision) -> Grant:
        status = GrantStatus.PENDING_APPROVAL if self.approval else GrantStatus.ACTIVE
        grant = Grant(
            self.kind,
            status,
            request_name,
            f"/requests/{request_name}",
            self.clock.now(),
            self.clock.now() + decision.duration,
            api_status="PendingApproval" if self.approval else "Provisioned",
        )
        self.active[request_name] = grant
        self.granted_at = self.clock.now()
        return grant

    def grant(
        self,
        resolved: ResolvedTarget,
        decision: Decision,
        ctx: ProviderContext,
        *,
        request_name: str,
        marker: GrantMarker | None = None,
    ) -> Grant:
        self.calls.append("grant")
        self._decision = decision
        grant = self._grant(request_name, decision)
        if self.lose_grant_response:
            raise ProviderApiError("gateway timeout", status=504)
        return grant

    def recover(
        self, resolved: ResolvedTarget, ctx: ProviderContext, *, request_name: str, since: datetime
    ) -> Grant | None:
        self.calls.append("recover")
        return self.active.get(request_name)

    def refresh(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> Grant:
        self.calls.append("refresh")
        self.refreshes += 1
        if self.approval and self.refreshes >= 2:
            status = GrantStatus.ACTIVE if self.approval == "approve" else GrantStatus.DENIED
            return Grant(grant.kind, status, grant.request_id, grant.resource_id, grant.start_at, grant.end_at)
        return grant

    def holders(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> list[GrantMarker]:
        return []

    def leave(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext, *, lease_id: str) -> None:
        return None

    def marked(self, ctx: ProviderContext, scopes: list[str]) -> list[SourceGrant]:
        return []

    def probe(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> bool:
        self.calls.append("probe")
        assert self.granted_at is not None
        return self.clock.now() >= self.granted_at + self.effective_after

    def release(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> ReleaseResult:
        self.calls.append("release")
        if self.release_fails:
            raise ProviderApiError("boom", status=400, code="Nope")
        assert self.granted_at is not None
        opens = self.granted_at + self.release_floor
        if self.clock.now() < opens:
            return ReleaseResult(ReleaseOutcome.TOO_EARLY, opens)
        if self.active.pop(grant.request_id or "", None) is None:
            return ReleaseResult(ReleaseOutcome.ALREADY_GONE)
        return ReleaseResult(ReleaseOutcome.RELEASED)

    def extend(self, grant: Grant, resolved: ResolvedTarget, decision: Decision, ctx: ProviderContext) -> Grant:
        return grant

    def eligible(self, ctx: ProviderContext) -> list[Target]:
        return []


def _ctx(clock: FakeClock) -> ProviderContext:
    identity = Identity("me", "tenant", "app", True, False)
    return ProviderContext(
        cloud=None,
        graph=None,
        arm=None,
        identity=identity,
        mode=Mode.DIRECT,  # type: ignore[arg-type]
        now=clock.now,
        keyvault=lambda url: None,
        fresh_claims=lambda s: {},
    )  # type: ignore[arg-type,return-value]


TARGET = Target.from_flags(
    kind="azure-role",
    role="Contributor",
    scope="/subscriptions/1b2c3d4e-5f60-4718-9a0b-c1d2e3f40516/resourceGroups/rg",
    duration="10m",
    justification="tests",
)


@pytest.fixture(name="clock")
def _clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(name="ledger")
def _ledger(tmp_path: Path, clock: FakeClock) -> Ledger:
    with Ledger.open(tmp_path / "ledger.sqlite3", clock=clock.now) as ledger:
        yield ledger


def _elevation(provider: ScriptedProvider, ledger: Ledger, clock: FakeClock, **options: Any) -> Elevation:
    opts = LifecycleOptions(mode=Mode.DIRECT, **options)
    plan = make_plan(
        [TARGET], contexts=lambda t: _ctx(clock), options=opts, clock=clock, provider_for=lambda kind: provider
    )
    return Elevation(plan, ledger, RunContext(), clock, opts, Timeline())


def _states(ledger: Ledger) -> list[str]:
    return [r["state"] for r in ledger.list()]


def _events(ledger: Ledger) -> list[str]:
    return [e["type"] for e in ledger.events()]


def test_grant_waits_until_effective_then_releases(ledger: Ledger, clock: FakeClock) -> None:
    """Effective only after probing succeeds; leaving releases and verifies; the ledger tells the story."""
    provider = ScriptedProvider(clock, effective_after=timedelta(seconds=20))
    with _elevation(provider, ledger, clock) as elevation:
        assert provider.active, "granted inside the block"
        assert elevation.held[0].state == "effective"
        assert clock.now() >= START + timedelta(seconds=20)
    assert provider.active == {}
    assert _states(ledger) == ["released"]
    assert _events(ledger) == [
        "lease.requested",
        "lease.granted",
        "lease.effective",
        "lease.releasing",
        "lease.released",
    ]
    assert ledger.verify_chain().ok


def test_exception_inside_releases(ledger: Ledger, clock: FakeClock) -> None:
    provider = ScriptedProvider(clock)
    with pytest.raises(RuntimeError), _elevation(provider, ledger, clock):
        raise RuntimeError("the job crashed")
    assert provider.active == {}
    assert _states(ledger) == ["released"]


def test_signal_during_effective_wait_releases(ledger: Ledger, clock: FakeClock) -> None:
    """A SIGTERM that arrives while jitpim waits for propagation interrupts it, and the grant is released."""
    provider = ScriptedProvider(clock, effective_after=timedelta(minutes=5))
    original_probe = provider.probe

    def probe_then_signal(*args: Any) -> bool:
        os.kill(os.getpid(), signal.SIGTERM)
        return original_probe(*args)

    provider.probe = probe_then_signal  # type: ignore[method-assign]
    elevation = _elevation(provider, ledger, clock)
    with SignalGuard() as guard, pytest.raises(Interrupted) as caught:
        elevation.guard = guard
        with elevation:
            pytest.fail("must not get here")
    assert caught.value.signum == signal.SIGTERM
    assert provider.active == {}
    assert _states(ledger) == ["released"]


def test_lost_grant_response_is_recovered_not_resent(ledger: Ledger, clock: FakeClock) -> None:
    provider = ScriptedProvider(clock, lose_grant_response=True)
    with _elevation(provider, ledger, clock):
        assert provider.calls.count("grant") == 1
        assert provider.calls.count("recover") == 1
        assert len(provider.active) == 1
    assert provider.active == {}


def test_never_effective_fails_and_releases(ledger: Ledger, clock: FakeClock) -> None:
    provider = ScriptedProvider(clock, effective_after=timedelta(hours=2))
    with pytest.raises(NotEffectiveError), _elevation(provider, ledger, clock, effective_timeout=timedelta(minutes=3)):
        pass
    assert provider.active == {}
    assert clock.now() - START <= timedelta(minutes=4)
    assert _states(ledger) == ["released"]


def test_early_release_waits_for_the_five_minute_window(ledger: Ledger, clock: FakeClock) -> None:
    provider = ScriptedProvider(clock, release_floor=timedelta(minutes=5))
    with _elevation(provider, ledger, clock):
        pass
    assert provider.active == {}
    assert clock.now() >= START + timedelta(minutes=5)
    assert "lease.release_retried" in _events(ledger)
    assert ledger.list()[0]["outcome"] == "released"


def test_early_release_can_be_left_to_expire(ledger: Ledger, clock: FakeClock) -> None:
    provider = ScriptedProvider(clock, release_floor=timedelta(minutes=5))
    with _elevation(provider, ledger, clock, early_release="expire") as elevation:
        pass
    assert len(provider.active) == 1, "left at the source until its end"
    assert elevation.releases[0].outcome == "left_to_expire"
    record = ledger.list()[0]
    assert record["outcome"] == "left_to_expire"
    assert "lease.left_to_expire" in _events(ledger)


def test_failed_release_is_the_most_severe_outcome(ledger: Ledger, clock: FakeClock) -> None:
    provider = ScriptedProvider(clock, release_fails=True)
    with pytest.raises(ReleaseFailedError) as caught, _elevation(provider, ledger, clock):
        pass
    assert caught.value.exit_code == 85
    assert _states(ledger) == ["release_failed"]


def test_approval_denied_is_reported_and_nothing_remains(ledger: Ledger, clock: FakeClock) -> None:
    provider = ScriptedProvider(clock, approval="deny")
    with pytest.raises(ApprovalDeniedError), _elevation(provider, ledger, clock):
        pass
    assert _states(ledger) == ["failed"]
    assert "lease.denied" in _events(ledger)


def test_approval_granted_then_effective(ledger: Ledger, clock: FakeClock) -> None:
    provider = ScriptedProvider(clock, approval="approve")
    with _elevation(provider, ledger, clock) as elevation:
        assert elevation.held[0].state == "effective"
    events = _events(ledger)
    assert events.index("lease.approval_requested") < events.index("lease.approved") < events.index("lease.effective")


def test_policy_refusal_is_caught_at_plan_time(ledger: Ledger, clock: FakeClock) -> None:
    """A ticket the policy requires but the request lacks refuses before anything is sent or written."""
    provider = ScriptedProvider(clock, policy=PolicyView(max_duration=timedelta(hours=1), require_ticket=True))
    with pytest.raises(PolicyDeniedError) as caught, _elevation(provider, ledger, clock):
        pass
    assert "TicketingRule" in str(caught.value.rules) or "ticket" in caught.value.message
    assert "grant" not in provider.calls
    assert ledger.list() == []


def test_ledger_failure_means_nothing_is_granted(tmp_path: Path, clock: FakeClock) -> None:
    provider = ScriptedProvider(clock)
    with Ledger.open(tmp_path / "l.sqlite3", clock=clock.now) as ledger:
        elevation = _elevation(provider, ledger, clock)

        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise LedgerError("disk full")

        ledger.begin = refuse  # type: ignore[method-assign]
        with pytest.raises(LedgerError), elevation:
            pass
    assert "grant" not in provider.calls


def test_exec_passes_the_child_exit_code_and_releases(ledger: Ledger, clock: FakeClock) -> None:
    provider = ScriptedProvider(clock)
    opts = LifecycleOptions(mode=Mode.DIRECT)
    plan = make_plan(
        [TARGET], contexts=lambda t: _ctx(clock), options=opts, clock=clock, provider_for=lambda kind: provider
    )
    script = "import os,sys; assert os.environ['JITPIM_LEASES']; sys.exit(7)"
    result = execute(
        plan,
        [sys.executable, "-c", script],
        ledger=ledger,
        run=RunContext(),
        clock=clock,
        options=opts,
        reporter=Timeline(),
        environ=dict(os.environ),
    )
    assert result.exit_code == 7
    assert provider.active == {}
    assert "command.finished" in _events(ledger)


def test_exec_refuses_to_nest(ledger: Ledger, clock: FakeClock) -> None:
    from jitpim.errors import NestingError

    provider = ScriptedProvider(clock)
    opts = LifecycleOptions(mode=Mode.DIRECT)
    plan = make_plan(
        [TARGET], contexts=lambda t: _ctx(clock), options=opts, clock=clock, provider_for=lambda kind: provider
    )
    with pytest.raises(NestingError):
        execute(
            plan,
            ["true"],
            ledger=ledger,
            run=RunContext(),
            clock=clock,
            options=opts,
            reporter=Timeline(),
            environ={"JITPIM_LEASES": "x/y/z"},
        )
    assert "grant" not in provider.calls


def test_signal_during_the_grant_request_adopts_and_releases_what_landed(ledger: Ledger, clock: FakeClock) -> None:
    """SIGTERM arrives while the grant request is in flight and after the API applied it: jitpim looks the
    request up, takes the grant as held, and releases it before exiting."""
    provider = ScriptedProvider(clock)
    original = provider.grant

    def grant_then_signal(*args: Any, **kwargs: Any) -> Grant:
        original(*args, **kwargs)  # applied at the source ...
        raise Interrupted(signal.SIGTERM)  # ... but the answer never arrives

    provider.grant = grant_then_signal  # type: ignore[method-assign]
    with pytest.raises(Interrupted), _elevation(provider, ledger, clock):
        pytest.fail("must not get here")
    assert provider.calls.count("recover") == 1
    assert provider.active == {}
    assert _states(ledger) == ["released"]


def test_a_pending_approval_is_not_reported_as_granted(ledger: Ledger, clock: FakeClock) -> None:
    """Until an approver decides, nothing is granted: the progress line says "waiting for an approver"."""
    provider = ScriptedProvider(clock, approval="approve")
    with _elevation(provider, ledger, clock) as elevation:
        pass
    steps = [(s.name, s.message) for s in elevation.reporter.steps]
    approval = [message for name, message in steps if name == "approval"]
    assert len(approval) == 1 and "waiting for an approver" in approval[0], steps
    assert not approval[0].startswith("granted")
    assert any(name == "approved" for name, _ in steps)


def test_a_grant_that_ends_another_day_names_that_date(ledger: Ledger, clock: FakeClock) -> None:
    """Granted at 23:50 for longer than ten minutes: the end is tomorrow and the line says so."""
    clock.t = clock.t.replace(hour=23, minute=50, second=0, microsecond=0)
    tomorrow = (clock.t + timedelta(days=1)).strftime("%Y-%m-%d")
    provider = ScriptedProvider(clock)
    with _elevation(provider, ledger, clock) as elevation:
        pass
    granted = [s.message for s in elevation.reporter.steps if s.name == "granted"]
    assert len(granted) == 1 and f"until {tomorrow} " in granted[0], granted
