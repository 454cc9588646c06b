"""The ledger's hash chain: tamper detection and concurrent appends from several processes."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from jitpim.audit import GENESIS_HASH, LEASE_GRANTED, LEASE_REQUESTED, Ledger, canonical_json
from jitpim.audit.schema import MIGRATIONS

LEASES = ("run-7/rbac/a", "run-7/rbac/b")


def _row(lease_id: str) -> dict[str, object]:
    return {
        "lease_id": lease_id,
        "state": "requested",
        "kind": "rbac",
        "role": "Reader",
        "scope": "/subscriptions/00000000-0000-0000-0000-000000000001",
        "mode": "direct",
        "justification": "nightly drift check",
    }


@pytest.fixture(name="path")
def _path(tmp_path: Path) -> Path:
    """A ledger with 6 events: begin, granted, finished for two leases (seq 1..6)."""
    path = tmp_path / "ledger.sqlite3"
    with Ledger(path) as ledger:
        for lease_id in LEASES:
            ledger.begin(_row(lease_id))
        for lease_id in LEASES:
            ledger.transition(lease_id, "granted", LEASE_GRANTED, {"request_id": f"req-{lease_id[-1]}"})
        ledger.append_event(LEASES[0], "command.finished", {"exit_code": 0})
        ledger.append_event(LEASES[1], "command.finished", {"exit_code": 3})
        assert ledger.verify_chain() == (True, None, "6 events verified")
    return path


@pytest.fixture(name="raw")
def _raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A raw connection with the append-only triggers dropped, as a determined tamperer would."""
    conn = sqlite3.connect(path, isolation_level=None)
    for trigger in ("events_append_only_update", "events_append_only_delete", "events_signature_once"):
        conn.execute(f"DROP TRIGGER {trigger}")
    yield conn
    conn.close()


def _verify(path: Path) -> tuple[bool, int | None, str]:
    with Ledger(path) as ledger:
        return ledger.verify_chain()


def test_hashes_follow_the_documented_formula(path: Path) -> None:
    with Ledger(path) as ledger:
        events = ledger.events()
    prev = GENESIS_HASH
    for event in events:
        fields = dict(event)
        envelope = {key: fields[key] for key in ("at", "body", "lease_id", "schema_version", "seq", "type")}
        expected = hashlib.sha256((prev + canonical_json(envelope)).encode("utf-8")).hexdigest()
        assert event["prev_hash"] == prev
        assert event["hash"] == expected
        prev = event["hash"]
    raw = sqlite3.connect(path)
    try:
        bodies = [row[0] for row in raw.execute("SELECT body FROM events ORDER BY seq")]
    finally:
        raw.close()
    assert all(body == canonical_json(json.loads(body)) for body in bodies)
    at = events[2]["at"]
    assert bodies[2] == (
        '{"lease_changes":{"state":"granted","updated_at":"' + at + '"},'
        '"lease_state":{"from":"requested","to":"granted"},"request_id":"req-a"}'
    )


def test_events_are_append_only_in_the_database_itself(path: Path) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE events SET body = '{}' WHERE seq = 2")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM events WHERE seq = 6")
        # The signature may be filled in once (by the signing step), never replaced.
        conn.execute("UPDATE events SET signature = 'sig-1' WHERE seq = 1")
        with pytest.raises(sqlite3.IntegrityError, match="cannot be replaced"):
            conn.execute("UPDATE events SET signature = 'sig-2' WHERE seq = 1")
    finally:
        conn.close()
    assert _verify(path).ok


def test_one_edited_body_byte_is_found(path: Path, raw: sqlite3.Connection) -> None:
    (body,) = raw.execute("SELECT body FROM events WHERE seq = 3").fetchone()
    edited = body.replace("req-a", "req-z")
    assert len(edited) == len(body) and edited != body
    raw.execute("UPDATE events SET body = ? WHERE seq = 3", (edited,))
    ok, first_bad, reason = _verify(path)
    assert (ok, first_bad) == (False, 3)
    assert "hash of seq 3" in reason


def test_a_non_canonical_body_with_the_same_content_is_found(path: Path, raw: sqlite3.Connection) -> None:
    (body,) = raw.execute("SELECT body FROM events WHERE seq = 5").fetchone()
    raw.execute("UPDATE events SET body = ? WHERE seq = 5", (body.replace(":", ": ", 1),))
    assert _verify(path)[:2] == (False, 5)


def test_an_edited_envelope_is_found(path: Path, raw: sqlite3.Connection) -> None:
    raw.execute("UPDATE events SET type = 'lease.released' WHERE seq = 4")
    assert _verify(path)[:2] == (False, 4)


def test_a_deleted_row_is_named(path: Path, raw: sqlite3.Connection) -> None:
    raw.execute("DELETE FROM events WHERE seq = 4")
    ok, first_bad, reason = _verify(path)
    assert (ok, first_bad) == (False, 4)
    assert "seq 4 is missing" in reason


def test_a_deleted_last_row_is_found_through_the_chain_head(path: Path, raw: sqlite3.Connection) -> None:
    raw.execute("DELETE FROM events WHERE seq = 6")
    ok, first_bad, reason = _verify(path)
    assert (ok, first_bad) == (False, 6)
    assert "missing" in reason


def test_two_swapped_rows_are_found(path: Path, raw: sqlite3.Connection) -> None:
    # Swap whole rows (hashes and all) by exchanging their positions in the chain.
    raw.execute("UPDATE events SET seq = -2 WHERE seq = 2")
    raw.execute("UPDATE events SET seq = 2 WHERE seq = 5")
    raw.execute("UPDATE events SET seq = 5 WHERE seq = -2")
    ok, first_bad, _ = _verify(path)
    assert (ok, first_bad) == (False, 2)


def test_two_swapped_bodies_are_found(path: Path, raw: sqlite3.Connection) -> None:
    (body2,) = raw.execute("SELECT body FROM events WHERE seq = 2").fetchone()
    (body3,) = raw.execute("SELECT body FROM events WHERE seq = 3").fetchone()
    raw.execute("UPDATE events SET body = ? WHERE seq = 2", (body3,))
    raw.execute("UPDATE events SET body = ? WHERE seq = 3", (body2,))
    assert _verify(path)[:2] == (False, 2)


def test_a_recomputed_hash_still_breaks_the_link_to_the_next_event(path: Path, raw: sqlite3.Connection) -> None:
    # The tamperer edits seq 2 and fixes its own hash; seq 3 still points at the old one.
    row = raw.execute("SELECT seq, lease_id, type, at, schema_version, body, prev_hash FROM events WHERE seq = 2")
    seq, lease_id, event_type, at, version, body, prev = row.fetchone()
    forged_body = json.loads(body)
    forged_body["lease"]["justification"] = "something else"
    envelope = {
        "at": at,
        "body": forged_body,
        "lease_id": lease_id,
        "schema_version": version,
        "seq": seq,
        "type": event_type,
    }
    forged_hash = hashlib.sha256((prev + canonical_json(envelope)).encode("utf-8")).hexdigest()
    raw.execute("UPDATE events SET body = ?, hash = ? WHERE seq = 2", (canonical_json(forged_body), forged_hash))
    ok, first_bad, reason = _verify(path)
    assert (ok, first_bad) == (False, 3)
    assert "prev_hash of seq 3" in reason


WORKERS = 4
EVENTS_PER_WORKER = 50


def _worker(path: str, worker: int, barrier: multiprocessing.synchronize.Barrier) -> None:
    lease_id = f"run-8/rbac/worker-{worker}"
    barrier.wait(timeout=30)  # all open and write at once
    with Ledger(path) as ledger:
        ledger.begin(_row(lease_id))
        for index in range(EVENTS_PER_WORKER):
            ledger.append_event(lease_id, "command.progress", {"worker": worker, "index": index})


def test_concurrent_appends_from_several_processes_keep_the_chain_intact(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    Ledger(path).close()  # created and migrated once; the workers race on appends only
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(WORKERS)
    processes = [context.Process(target=_worker, args=(str(path), n, barrier)) for n in range(WORKERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=90)
    assert [process.exitcode for process in processes] == [0] * WORKERS

    with Ledger(path) as ledger:
        assert ledger.verify_chain() == (True, None, f"{WORKERS * (EVENTS_PER_WORKER + 1)} events verified")
        events = ledger.events()
        assert [event["seq"] for event in events] == list(range(1, WORKERS * (EVENTS_PER_WORKER + 1) + 1))
        for worker in range(WORKERS):
            mine = ledger.events(f"run-8/rbac/worker-{worker}")
            assert mine[0]["type"] == LEASE_REQUESTED
            assert [event["body"]["index"] for event in mine[1:]] == list(range(EVENTS_PER_WORKER))


def test_concurrent_first_open_migrates_once(tmp_path: Path) -> None:
    path = tmp_path / "fresh.sqlite3"
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(WORKERS)
    processes = [context.Process(target=_worker, args=(str(path), n, barrier)) for n in range(WORKERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=90)
    assert [process.exitcode for process in processes] == [0] * WORKERS
    raw = sqlite3.connect(path)
    try:
        # Each migration applied exactly once, however many processes raced to open the fresh file.
        assert raw.execute("SELECT COUNT(*) FROM schema_version").fetchone() == (len(MIGRATIONS),)
    finally:
        raw.close()
    assert _verify(path).ok
