"""Grants at the source: every grant carries its lease's marker, a grant several leases hold is released by
its last holder, reuse happens only when the existing grant covers the whole window, and access that
disappears mid-run fails the run. Against the emulator, on its clock; state is asserted in the emulator."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from jitpim.audit.ledger import Ledger
from jitpim.cloud import resolve_cloud
from jitpim.emulator import Emulator
from jitpim.errors import NotEffectiveError
from jitpim.lifecycle import Elevation, LifecycleOptions, Session, Timeline, make_plan
from jitpim.lifecycle.sharing import ReuseChoice
from jitpim.model import Mode, ReasonCode, RunContext, Target
from jitpim.providers import parse_markers
from jitpim.testing import EmulatedClock, github_job_environ

OFFICER_ID = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"


class _Rig:
    def __init__(self, emu: Emulator, tmp: Path) -> None:
        self.emu = emu
        self.info = emu.info
        self.clock = EmulatedClock(emu)
        self.environ = github_job_environ(self.info, workdir=tmp)
        self.cloud = resolve_cloud(environ=self.environ)
        self.ledger = Ledger.open(tmp / "ledger.sqlite3", clock=self.clock.now)
        self.timeline = Timeline()
        self.ci = self.info["principals"]["ci-app"]["object_id"]

    def session(self, mode: Mode = Mode.DIRECT) -> Session:
        return Session(self.cloud, mode, self.clock, environ=self.environ, sleep=self.clock.sleep)

    def elevation(self, session: Session, targets: list[Target], run_key: str, **options: Any) -> Elevation:
        opts = LifecycleOptions(mode=session.mode, poll_initial=1.0, poll_maximum=5.0, **options)
        plan = make_plan(targets, contexts=session.context, options=opts, clock=self.clock)
        return Elevation(
            plan, self.ledger, RunContext.from_environ(self.environ), self.clock, opts, self.timeline, run_key=run_key
        )

    def officer_grants(self) -> list[Any]:
        world = self.emu.runtime.world
        with world.lock:
            return [
                a
                for a in world.rbac.assignments.values()
                if a.principal_id == self.ci and a.role_definition_id == OFFICER_ID
            ]

    def can_write_secret(self, session: Session) -> bool:
        vault = self.info["vaults"]["kv-payments"]
        client = session.context(None).keyvault(vault["url"])
        try:
            client.put("secrets/probe", {"value": "x"}, params={"api-version": "7.5"}, expected=(200,))
        except Exception:
            return False
        return True


@pytest.fixture(name="rig")
def _rig(fresh_emu: Emulator, tmp_path: Path) -> Any:
    rig = _Rig(fresh_emu, tmp_path)
    yield rig
    rig.ledger.close()


def _officer(info: dict[str, Any], duration: str = "10m", **extra: Any) -> Target:
    return Target.from_flags(
        kind="rbac",
        role="Key Vault Secrets Officer",
        scope=info["vaults"]["kv-payments"]["resource_id"],
        duration=duration,
        justification="rotate",
        **extra,
    )


def test_every_rbac_grant_carries_its_lease_marker(rig: _Rig) -> None:
    with rig.session() as session, rig.elevation(session, [_officer(rig.info)], "run-1") as elevation:
        held = elevation.held[0]
        (assignment,) = rig.officer_grants()
        (marker,) = parse_markers(assignment.description)
        assert marker.lease_id == held.lease_id
        assert marker.holder == rig.ci
        assert marker.end == elevation.plan.items[0].decision.end.replace(microsecond=0)
    assert rig.officer_grants() == []


def test_a_shared_grant_is_released_by_its_last_holder(rig: _Rig) -> None:
    """Issue 9 item 4: a second job of the same identity joins the first one's grant; the first ending must
    not cut the second off, and the second ending releases it."""
    target = _officer(rig.info)
    with rig.session() as session:
        first = rig.elevation(session, [target], "run-a").__enter__()
        second = rig.elevation(session, [target], "run-b").__enter__()
        # It starts a few seconds later, so its marker moves the assignment's end (nothing else changes).
        assert second.plan.items[0].reuse in (ReuseChoice.REUSE, ReuseChoice.EXTEND)
        (assignment,) = rig.officer_grants()
        holders = {m.lease_id for m in parse_markers(assignment.description)}
        assert holders == {first.held[0].lease_id, second.held[0].lease_id}
        first.__exit__(None, None, None)
        assert [r.outcome for r in first.releases] == ["handed_over"]
        (assignment,) = rig.officer_grants()
        assert {m.lease_id for m in parse_markers(assignment.description)} == {second.held[0].lease_id}
        assert rig.can_write_secret(session)
        second.__exit__(None, None, None)
        assert [r.outcome for r in second.releases] == ["released"]
    assert rig.officer_grants() == []
    outcomes = {r["lease_id"]: r["outcome"] for r in rig.ledger.list()}
    assert sorted(outcomes.values()) == ["handed_over", "released"]


def test_the_first_holder_ending_last_releases_it(rig: _Rig) -> None:
    target = _officer(rig.info)
    with rig.session() as session:
        first = rig.elevation(session, [target], "run-a").__enter__()
        second = rig.elevation(session, [target], "run-b").__enter__()
        second.__exit__(None, None, None)
        assert [r.outcome for r in second.releases] == ["handed_over"]
        assert len(rig.officer_grants()) == 1
        first.__exit__(None, None, None)
        assert [r.outcome for r in first.releases] == ["released"]
    assert rig.officer_grants() == []


def test_a_holder_on_another_runner_is_seen_through_the_marker(rig: _Rig, tmp_path: Path) -> None:
    """No shared ledger: the other runner's lease is known only from its marker in the description."""
    target = _officer(rig.info)
    other = Ledger.open(tmp_path / "other.sqlite3", clock=rig.clock.now)
    try:
        with rig.session() as session:
            first = rig.elevation(session, [target], "run-a").__enter__()
            opts = LifecycleOptions(mode=Mode.DIRECT, poll_initial=1.0, poll_maximum=5.0)
            plan = make_plan([target], contexts=session.context, options=opts, clock=rig.clock)
            run = RunContext.from_environ(rig.environ)
            second = Elevation(plan, other, run, rig.clock, opts, rig.timeline, run_key="run-b").__enter__()
            first.__exit__(None, None, None)
            assert [r.outcome for r in first.releases] == ["handed_over"]
            assert len(rig.officer_grants()) == 1
            second.__exit__(None, None, None)
            assert [r.outcome for r in second.releases] == ["released"]
    finally:
        other.close()
    assert rig.officer_grants() == []


def test_reuse_extends_jitpims_own_grant_that_ends_too_soon(rig: _Rig) -> None:
    """Issue 9 item 5: `--duration 2h` must not reuse a grant ending in 10 minutes as it is."""
    with rig.session() as session:
        first = rig.elevation(session, [_officer(rig.info, "10m")], "run-a").__enter__()
        second = rig.elevation(session, [_officer(rig.info, "2h")], "run-b").__enter__()
        item = second.plan.items[0]
        assert item.reuse is ReuseChoice.EXTEND
        (assignment,) = rig.officer_grants()
        ends = {m.lease_id: m.end for m in parse_markers(assignment.description)}
        assert ends[second.held[0].lease_id] == item.decision.end.replace(microsecond=0)
        assert second.held[0].grant.end_at is not None
        assert second.held[0].grant.end_at >= item.decision.end.replace(microsecond=0)
        second.__exit__(None, None, None)
        first.__exit__(None, None, None)
    assert rig.officer_grants() == []


def test_someone_elses_grant_is_reused_only_when_it_covers_the_window(rig: _Rig) -> None:
    """A PIM assignment someone else made that ends before the requested end is neither reused nor
    extended: the plan refuses with the reason."""
    rg = f"/subscriptions/{rig.info['subscription_id']}/resourceGroups/rg-payments"
    target = Target.from_flags(kind="azure-role", role="Reader", scope=rg, duration="10m", justification="ops")
    within = Target.from_flags(kind="azure-role", role="Reader", scope=rg, duration="5m", justification="ops")
    longer = Target.from_flags(kind="azure-role", role="Reader", scope=rg, duration="2h", justification="ops")
    with rig.session() as session:
        opts = LifecycleOptions(mode=Mode.DIRECT)
        ctx = session.context(None)
        plan = make_plan([target], contexts=session.context, options=opts, clock=rig.clock)
        item = plan.items[0]
        # Someone else's assignment: granted outside jitpim (no marker).
        grant = item.provider.grant(item.resolved, item.decision, ctx, request_name=str(uuid.uuid4()))
        try:
            rig.clock.sleep(5)
            covered = make_plan([within], contexts=session.context, options=opts, clock=rig.clock).items[0]
            assert covered.reuse is ReuseChoice.REUSE and covered.decision.allowed
            short = make_plan([longer], contexts=session.context, options=opts, clock=rig.clock).items[0]
            assert short.reuse is ReuseChoice.CONFLICT
            assert not short.decision.allowed
            assert any(r.code is ReasonCode.POLICY_REFUSED and "lengthen" in r.message for r in short.decision.reasons)
        finally:
            rig.clock.sleep(300)
            item.provider.release(grant, item.resolved, ctx)


def test_access_that_disappears_mid_run_is_not_success(rig: _Rig) -> None:
    """Issue 9 item 4: a job whose grant is removed while it runs must not end as success."""
    world = rig.emu.runtime.world
    with (
        rig.session() as session,
        pytest.raises(NotEffectiveError, match="disappeared"),
        rig.elevation(session, [_officer(rig.info)], "run-a") as elevation,
    ):
        lease = elevation.held[0].lease_id
        with world.lock:  # another job's release, an administrator, a reaper that could not see this lease
            for assignment in list(world.rbac.assignments.values()):
                if assignment.principal_id == rig.ci and assignment.role_definition_id == OFFICER_ID:
                    del world.rbac.assignments[assignment.name]
    events = [e["type"] for e in rig.ledger.events(lease)]
    assert "lease.access_lost" in events
    assert rig.officer_grants() == []


def test_plan_refuses_a_role_the_callers_condition_does_not_allow(rig: _Rig) -> None:
    """Issue 10: Owner for ci-app is refused at plan time (its RBAC Administrator right is conditioned to Key
    Vault Secrets Officer), with the reason, instead of failing with 74 at exec time."""
    vault = rig.info["vaults"]["kv-payments"]["resource_id"]
    owner = Target.from_flags(kind="rbac", role="Owner", scope=vault, duration="10m", justification="x")
    with rig.session() as session:
        opts = LifecycleOptions(mode=Mode.DIRECT)
        plan = make_plan([owner, _officer(rig.info)], contexts=session.context, options=opts, clock=rig.clock)
    refused, allowed = plan.items
    assert not refused.decision.allowed
    assert any(r.code is ReasonCode.NOT_ELIGIBLE and "condition" in r.message for r in refused.decision.reasons)
    assert allowed.decision.allowed
    assert rig.officer_grants() == []


def test_reuse_choice_covers_the_window() -> None:
    from datetime import UTC, datetime

    from jitpim.lifecycle.sharing import reuse_choice
    from jitpim.model import TargetKind
    from jitpim.providers import Grant, GrantMarker, GrantStatus

    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    me = "2b3c4d5e-6f70-4b8c-9d0e-1f2a3b4c5d6e"

    def grant(end: timedelta, marked: bool) -> Grant:
        markers = [GrantMarker("run/azure-role/x", me, now + end).to_json()] if marked else []
        return Grant(
            TargetKind.AZURE_ROLE, GrantStatus.ACTIVE, None, None, now, now + end, True, data={"markers": markers}
        )

    def choose(existing: Grant, start: timedelta, end: timedelta, can_extend: bool = True) -> ReuseChoice:
        choice, _ = reuse_choice(
            existing, start=now + start, end=now + end, principal_id=me, can_extend=can_extend, kind=existing.kind
        )
        return choice

    assert choose(grant(timedelta(hours=3), False), timedelta(0), timedelta(hours=2)) is ReuseChoice.REUSE
    # `--start +1h` against a grant that ends 16 minutes before the window opens: jitpim's own is extended to
    # cover it (PIM refuses a second assignment beside it); anyone else's leaves a new grant to be asked for.
    assert choose(grant(timedelta(minutes=44), True), timedelta(hours=1), timedelta(hours=2)) is ReuseChoice.EXTEND
    assert choose(grant(timedelta(minutes=44), False), timedelta(hours=1), timedelta(hours=2)) is ReuseChoice.GRANT
    assert (
        choose(grant(timedelta(minutes=44), True), timedelta(hours=1), timedelta(hours=2), can_extend=False)
        is ReuseChoice.GRANT
    )
    # `--duration 2h` against jitpim's own grant ending in 8.5 minutes: extended.
    assert choose(grant(timedelta(minutes=8.5), True), timedelta(0), timedelta(hours=2)) is ReuseChoice.EXTEND
    # ... but not someone else's, nor an activation PIM cannot extend.
    assert choose(grant(timedelta(minutes=8.5), False), timedelta(0), timedelta(hours=2)) is ReuseChoice.CONFLICT
    assert (
        choose(grant(timedelta(minutes=8.5), True), timedelta(0), timedelta(hours=2), can_extend=False)
        is ReuseChoice.CONFLICT
    )
    nothing, _ = reuse_choice(None, start=now, end=now + timedelta(hours=1), principal_id=me, can_extend=True)
    assert nothing is ReuseChoice.GRANT


def test_a_pim_grant_removed_mid_run_is_not_success(rig: _Rig) -> None:
    """The same for Graph PIM, whose request still reads "Provisioned" after an administrator removed the
    assignment: the live instances are asked."""
    from jitpim.testing import ProviderContexts

    target = Target.from_flags(kind="entra-role", role="Application Administrator", duration="1h", justification="x")
    providers = ProviderContexts(rig.emu)
    try:
        with (
            rig.session() as session,
            pytest.raises(NotEffectiveError, match="disappeared"),
            rig.elevation(session, [target], "run-a") as elevation,
        ):
            held = elevation.held[0]
            rig.clock.sleep(301)  # past PIM's five-minute floor on removals
            admin = providers("admin-app")
            assert held.provider.release(held.grant, held.resolved, admin).outcome.value == "released"
        assert "lease.access_lost" in [e["type"] for e in rig.ledger.events(held.lease_id)]
    finally:
        providers.close()


def test_a_later_window_is_not_served_by_a_grant_that_ends_before_it(rig: _Rig) -> None:
    """Issue 9 item 5: `elevate --start +1h` while a grant ending in 10 minutes exists. PIM refuses a second,
    later assignment beside it ("exists"), so jitpim's own grant is extended to cover the window; someone else's
    is never passed off as covering it (the lease fails, saying why)."""
    from datetime import datetime

    rg = f"/subscriptions/{rig.info['subscription_id']}/resourceGroups/rg-payments"

    def reader(duration: str, start: datetime | None = None) -> Target:
        return Target.from_flags(
            kind="azure-role", role="Reader", scope=rg, duration=duration, justification="ops", start=start
        )

    with rig.session() as session:
        first = rig.elevation(session, [reader("10m")], "run-a").__enter__()
        later = rig.clock.now() + timedelta(hours=1)
        second = rig.elevation(session, [reader("1h", later)], "run-b", wait_for_start=False).__enter__()
        item = second.plan.items[0]
        assert item.reuse is ReuseChoice.EXTEND
        held = second.held[0]
        assert held.grant.end_at is not None and held.grant.end_at >= item.decision.end.replace(microsecond=0)
        assert not held.grant.reused
        second.__exit__(None, None, None)
        first.__exit__(None, None, None)
        assert sorted(r.outcome for r in [*first.releases, *second.releases]) == ["handed_over", "released"]

        # Someone else's assignment (made outside jitpim, no marker) ending before the later window.
        opts = LifecycleOptions(mode=Mode.DIRECT)
        ctx = session.context(None)
        outside = make_plan([reader("10m")], contexts=session.context, options=opts, clock=rig.clock).items[0]
        grant = outside.provider.grant(outside.resolved, outside.decision, ctx, request_name=str(uuid.uuid4()))
        try:
            later = rig.clock.now() + timedelta(hours=1)
            plan = make_plan([reader("1h", later)], contexts=session.context, options=opts, clock=rig.clock)
            refused = plan.items[0]
            assert refused.reuse is ReuseChoice.GRANT and not refused.decision.allowed
            assert any("already exists" in r.message for r in refused.decision.reasons)
        finally:
            rig.clock.sleep(301)
            outside.provider.release(grant, outside.resolved, ctx)


def test_an_exists_answer_that_does_not_cover_the_window_fails_the_lease() -> None:
    """The race path: the grant request is answered "exists" with someone else's grant that ends before the
    lease's end; it is not passed off as this lease's grant."""
    from datetime import UTC, datetime

    from jitpim.errors import ProviderError
    from jitpim.lifecycle.sharing import adopt_existing_answer
    from jitpim.model import Decision, TargetKind
    from jitpim.providers import Grant, GrantMarker, GrantStatus, ResolvedTarget

    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    me = "2b3c4d5e-6f70-4b8c-9d0e-1f2a3b4c5d6e"
    target = Target.from_flags(kind="entra-role", role="Application Administrator")
    resolved = ResolvedTarget(target, "9b895d92", "Application Administrator", "/", "the tenant", me, "t")
    decision = Decision(True, target, Mode.DIRECT, timedelta(hours=2), timedelta(hours=2), now)
    someone = Grant(TargetKind.ENTRA_ROLE, GrantStatus.ACTIVE, None, None, now, now + timedelta(minutes=8), True)
    marker = GrantMarker("run/entra-role/x", me, decision.end)
    with pytest.raises(ProviderError, match="refuses a second grant"):
        adopt_existing_answer(someone, None, resolved, None, decision, marker, can_extend=True)  # type: ignore[arg-type]
    covering = Grant(TargetKind.ENTRA_ROLE, GrantStatus.ACTIVE, None, None, now, now + timedelta(hours=3), True)
    kept, message = adopt_existing_answer(covering, None, resolved, None, decision, marker, can_extend=True)  # type: ignore[arg-type]
    assert kept is covering and kept.reused and "not jitpim's" in message
