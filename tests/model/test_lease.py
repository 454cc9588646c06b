"""The lease state machine: every allowed edge works, every other edge raises, leases round-trip as JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product

import pytest

from jitpim.errors import InvalidTransitionError
from jitpim.model import (
    ALLOWED_TRANSITIONS,
    Lease,
    LeaseState,
    Mode,
    RunContext,
    Target,
    lease_id,
    new_local_run_key,
)

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
TARGET = Target.from_flags(
    kind="rbac",
    role="Key Vault Secrets Officer",
    scope="/subscriptions/1b2c3d4e-5f60-4718-9a0b-c1d2e3f40516/resourceGroups/rg-payments",
    duration="30m",
    justification="rotate",
    ticket="JIRA:OPS-1",
)


def _lease(state: LeaseState = LeaseState.PLANNED) -> Lease:
    lease = Lease.plan(TARGET, mode=Mode.DIRECT, run_key="gh-42-1", run=RunContext(run_id="42", run_attempt=1))
    return lease if state is LeaseState.PLANNED else lease_in(lease, state)


def lease_in(lease: Lease, state: LeaseState) -> Lease:
    import dataclasses

    return dataclasses.replace(lease, state=state)


def test_plan_builds_hierarchical_id_when_run_key_given() -> None:
    """Lease ids are `<run>/<kind>/<slug>` and carry the target's justification and ticket."""
    lease = _lease()
    assert lease.lease_id == f"gh-42-1/rbac/{TARGET.slug}"
    assert lease.run_key == "gh-42-1"
    assert lease.state is LeaseState.PLANNED
    assert (lease.justification, str(lease.ticket)) == ("rotate", "JIRA:OPS-1")
    assert lease.requested_duration == timedelta(minutes=30)


def test_lease_id_refuses_run_key_when_it_has_a_slash() -> None:
    """A run key is one path segment, so prefixes stay unambiguous."""
    with pytest.raises(ValueError, match="one non-empty path segment"):
        lease_id("a/b", TARGET)
    with pytest.raises(ValueError):
        lease_id("  ", TARGET)


def test_new_local_run_key_is_unique_when_called_twice() -> None:
    """Local run keys carry the UTC time and a random part."""
    a, b = new_local_run_key(NOW), new_local_run_key(NOW)
    assert a.startswith("local-20260501T080000Z-") and a != b and "/" not in a


@pytest.mark.parametrize(("source", "dest"), list(product(LeaseState, LeaseState)))
def test_transition_follows_table_when_any_edge_is_tried(source: LeaseState, dest: LeaseState) -> None:
    """Exactly the edges in ALLOWED_TRANSITIONS succeed; all others raise InvalidTransitionError."""
    lease = _lease(source)
    if dest in ALLOWED_TRANSITIONS[source]:
        moved = lease.transition(dest)
        assert moved.state is dest
        assert lease.state is source  # the original is untouched (frozen)
    else:
        with pytest.raises(InvalidTransitionError) as info:
            lease.transition(dest)
        assert (info.value.current, info.value.requested) == (source.value, dest.value)
        assert info.value.exit_code == 70


def test_terminal_states_have_no_exit_when_reached() -> None:
    """released, expired and failed are terminal; failed never holds access."""
    terminal = {s for s in LeaseState if s.is_terminal}
    assert terminal == {LeaseState.RELEASED, LeaseState.EXPIRED, LeaseState.FAILED}
    assert not any(s.may_hold_access for s in terminal | {LeaseState.PLANNED})
    assert LeaseState.RELEASE_FAILED.may_hold_access


def test_failed_is_unreachable_when_a_grant_may_exist() -> None:
    """Once granted, the only ways out are release or expiry: `failed` would hide residual access."""
    for state in (LeaseState.GRANTED, LeaseState.EFFECTIVE, LeaseState.RELEASING, LeaseState.RELEASE_FAILED):
        assert LeaseState.FAILED not in ALLOWED_TRANSITIONS[state]


def test_transition_applies_changes_and_notes_when_allowed() -> None:
    """Changes are applied, request ids merge, notes append."""
    lease = _lease().transition(LeaseState.REQUESTED, request_ids={"schedule_request": "r1"}, note="submitted")
    lease = lease.transition(
        LeaseState.GRANTED,
        request_ids={"assignment": "a1"},
        start_at=NOW,
        end_at=NOW + timedelta(minutes=30),
        granted_duration=timedelta(minutes=30),
        note="granted",
    )
    assert dict(lease.request_ids) == {"schedule_request": "r1", "assignment": "a1"}
    assert lease.notes == ("submitted", "granted")
    assert lease.end_at == NOW + timedelta(minutes=30)
    updated = lease.with_changes(principal_id="p1")
    assert (updated.state, updated.principal_id) == (LeaseState.GRANTED, "p1")


def test_transition_refuses_identity_changes_when_fields_are_immutable() -> None:
    """lease_id and state cannot be changed through **changes; unknown fields are refused."""
    with pytest.raises(TypeError, match="lease_id"):
        _lease().transition(LeaseState.REQUESTED, lease_id="x")
    with pytest.raises(TypeError, match="colour"):
        _lease().with_changes(colour="red")


def test_lease_copies_mutable_inputs_when_constructed() -> None:
    """A caller's dict or list cannot change a lease afterwards."""
    ids = {"a": "1"}
    notes = ["n"]
    lease = Lease(lease_id=_lease().lease_id, target=TARGET, mode=Mode.SELF, request_ids=ids, notes=notes)  # type: ignore[arg-type]
    ids["b"] = "2"
    notes.append("m")
    assert dict(lease.request_ids) == {"a": "1"} and lease.notes == ("n",)


def test_lease_json_round_trips_when_fully_populated() -> None:
    """Every field survives to_json/from_json."""
    lease = (
        _lease()
        .transition(LeaseState.REQUESTED, request_ids={"r": "1"}, principal_id="p", tenant_id="t")
        .transition(
            LeaseState.GRANTED,
            start_at=NOW,
            end_at=NOW + timedelta(hours=1),
            granted_duration=timedelta(hours=1),
            note="ok",
        )
    )
    assert Lease.from_json(lease.to_json()) == lease
