"""One lease state machine, enforced by the ledger inside its write transaction: on SQLite and on PostgreSQL
(both through the shared ledger core), a forbidden edge raises `InvalidTransitionError` and writes nothing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from jitpim.audit.ledger import Ledger
from jitpim.errors import InvalidTransitionError, LedgerError
from jitpim.model import ALLOWED_TRANSITIONS, LeaseState

# Read at import: the suite's autouse fixture clears JITPIM_* variables before each test runs.
DSN = os.environ.get("JITPIM_TEST_PG_DSN")


@pytest.fixture(name="ledger", params=["sqlite", "postgresql"])
def _ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        with Ledger(tmp_path / "ledger.sqlite3") as ledger:
            yield ledger
        return
    if not DSN:
        pytest.skip("JITPIM_TEST_PG_DSN is not set (no PostgreSQL server)")
    import psycopg

    from jitpim.audit.postgres import PostgresLedger

    schema = f"jitpim_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in DSN else "?"
    try:
        with PostgresLedger(f"{DSN}{separator}options={quote(f'-csearch_path={schema}')}") as ledger:
            yield ledger
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _begin(ledger: Any, lease_id: str = "run-1/rbac/officer") -> str:
    ledger.begin(
        {
            "lease_id": lease_id,
            "state": "requested",
            "kind": "rbac",
            "role": "Key Vault Secrets Officer",
            "scope": "/subscriptions/s/resourceGroups/rg",
            "mode": "direct",
        }
    )
    return lease_id


def test_the_allowed_path_is_written(ledger: Any) -> None:
    lid = _begin(ledger)
    for state in ("granted", "effective", "releasing", "releasing", "released"):
        ledger.transition(lid, state, "lease.state_changed")
    assert ledger.get(lid)["state"] == "released"


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ((), "released"),  # requested -> released: a release that never started
        (("granted",), "failed"),  # a grant may exist: `failed` would hide it
        (("granted", "effective", "releasing", "released"), "releasing"),  # terminal
        (("failed",), "failed"),  # terminal states take no further events either
    ],
)
def test_a_forbidden_transition_raises_and_writes_nothing(ledger: Any, path: tuple[str, ...], illegal: str) -> None:
    lid = _begin(ledger)
    for state in path:
        ledger.transition(lid, state, "lease.state_changed")
    before = (ledger.get(lid), len(ledger.events()))
    with pytest.raises(InvalidTransitionError) as raised:
        ledger.transition(lid, illegal, "lease.state_changed", {"note": "must not be written"})
    assert raised.value.exit_code == 70
    assert raised.value.requested == illegal and lid in raised.value.message
    assert (ledger.get(lid), len(ledger.events())) == before
    assert ledger.verify_chain().ok


def test_an_unknown_state_is_refused(ledger: Any) -> None:
    lid = _begin(ledger)
    with pytest.raises(LedgerError, match="must be a lease state"):
        ledger.transition(lid, "nonsense", "lease.state_changed")
    assert ledger.get(lid)["state"] == "requested" and len(ledger.events()) == 1


def test_every_edge_of_the_state_machine_is_what_the_ledger_accepts(tmp_path: Path) -> None:
    """The ledger's judgement is the model's table, edge for edge (SQLite suffices: the check is the core's)."""
    reach: dict[LeaseState, tuple[str, ...]] = {
        LeaseState.REQUESTED: (),
        LeaseState.PENDING_APPROVAL: ("pending_approval",),
        LeaseState.GRANTED: ("granted",),
        LeaseState.EFFECTIVE: ("granted", "effective"),
        LeaseState.RELEASING: ("granted", "releasing"),
        LeaseState.RELEASE_FAILED: ("granted", "releasing", "release_failed"),
        LeaseState.RELEASED: ("granted", "releasing", "released"),
        LeaseState.EXPIRED: ("expired",),
        LeaseState.FAILED: ("failed",),
    }
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        for n, (start, path) in enumerate(reach.items()):
            for m, target in enumerate(LeaseState):
                lid = _begin(ledger, f"run-{n}-{m}/rbac/officer")
                for state in path:
                    ledger.transition(lid, state, "lease.state_changed")
                allowed = target in ALLOWED_TRANSITIONS[start] or (target is start and not start.is_terminal)
                try:
                    ledger.transition(lid, target, "lease.state_changed")
                    accepted = True
                except InvalidTransitionError:
                    accepted = False
                assert accepted is allowed, f"{start} -> {target}"


def test_state_changes_only_through_transition(ledger: Any) -> None:
    lid = _begin(ledger)
    with pytest.raises(LedgerError, match="only through transition"):
        ledger.update(lid, state="released")
    assert ledger.get(lid)["state"] == "requested"
