"""The sink outbox: records bound for sinks, kept in the ledger until each sink has acknowledged them.

A record is added for every configured sink *before* delivery is tried (one transaction), and marked
delivered only after the sink said so; a failed attempt records the error (a sentence, never the record or a
credential) and the attempt count. So a failing sink, a crash or a killed job never loses a record, and
`jitpim audit flush` retries exactly what is still pending. `(sink, record_id)` is unique: adding a record
twice is a no-op, so a retried finalize does not deliver duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jitpim.audit.canonical import canonical_json
from jitpim.audit.guard import assert_no_secrets
from jitpim.audit.store import AuditStore

__all__ = ["Outbox", "OutboxEntry", "record_id_of"]

_ERROR_LIMIT = 500


def record_id_of(record: Mapping[str, Any]) -> str:
    """A record's identity in the outbox: the hash of its ledger event (or of its content)."""
    ledger = record.get("ledger")
    if isinstance(ledger, Mapping) and isinstance(ledger.get("hash"), str):
        return str(ledger["hash"])
    import hashlib

    return hashlib.sha256(canonical_json(record).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    sink: str
    record_id: str
    lease_id: str | None
    record: dict[str, Any]
    created_at: str
    attempts: int
    last_attempt_at: str | None
    last_error: str | None
    delivered_at: str | None

    def to_json(self, *, with_record: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "sink": self.sink,
            "record_id": self.record_id,
            "lease_id": self.lease_id,
            "created_at": self.created_at,
            "attempts": self.attempts,
            "last_attempt_at": self.last_attempt_at,
            "last_error": self.last_error,
            "delivered_at": self.delivered_at,
        }
        if with_record:
            data["record"] = self.record
        return data


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _entry(row: Any) -> OutboxEntry:
    return OutboxEntry(
        id=int(row["id"]),
        sink=str(row["sink"]),
        record_id=str(row["record_id"]),
        lease_id=row["lease_id"],
        record=json.loads(row["record"]),
        created_at=str(row["created_at"]),
        attempts=int(row["attempts"]),
        last_attempt_at=row["last_attempt_at"],
        last_error=row["last_error"],
        delivered_at=row["delivered_at"],
    )


class Outbox:
    """The outbox table of one ledger (SQLite or PostgreSQL). `clock` stamps times (UTC ISO text)."""

    def __init__(self, store: AuditStore, *, clock: Callable[[], str] = _now) -> None:
        self.store = store
        self._clock = clock

    def add(self, sinks: Iterable[str], records: Sequence[Mapping[str, Any]]) -> int:
        """Queue every record for every sink (durably, one transaction); returns how many were new."""
        names = list(sinks)
        if not names or not records:
            return 0
        rows: list[tuple[str, str, str | None, str]] = []
        for record in records:
            assert_no_secrets(dict(record), "record")
            text = canonical_json(record)
            lease_id = record.get("lease_id")
            rid = record_id_of(record)
            rows.extend((name, rid, lease_id if isinstance(lease_id, str) else None, text) for name in names)
        added = 0
        now = self._clock()
        with self.store.write_transaction() as db:
            for sink, rid, lease_id, text in rows:
                found = db.execute("SELECT 1 FROM outbox WHERE sink = ? AND record_id = ?", (sink, rid)).fetchone()
                if found is not None:
                    continue
                db.execute(
                    "INSERT INTO outbox (sink, record_id, lease_id, record, created_at, attempts) "
                    "VALUES (?, ?, ?, ?, ?, 0)",
                    (sink, rid, lease_id, text, now),
                )
                added += 1
        return added

    def pending(self, sink: str | None = None, *, limit: int | None = None) -> list[OutboxEntry]:
        """Undelivered entries, oldest first (one sink's, or all)."""
        query = "SELECT * FROM outbox WHERE delivered_at IS NULL"
        params: list[Any] = []
        if sink is not None:
            query += " AND sink = ?"
            params.append(sink)
        query += " ORDER BY id"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        with self.store.read_transaction() as db:
            return [_entry(row) for row in db.execute(query, params).fetchall()]

    def entries(self, *, record_ids: Iterable[str] | None = None) -> list[OutboxEntry]:
        """Every entry (delivered or not), optionally only those of some records."""
        with self.store.read_transaction() as db:
            rows = db.execute("SELECT * FROM outbox ORDER BY id", ()).fetchall()
        found = [_entry(row) for row in rows]
        if record_ids is not None:
            wanted = set(record_ids)
            found = [e for e in found if e.record_id in wanted]
        return found

    def mark_delivered(self, ids: Iterable[int]) -> None:
        now = self._clock()
        with self.store.write_transaction() as db:
            for entry_id in ids:
                db.execute(
                    "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_attempt_at = ?, "
                    "last_error = NULL WHERE id = ?",
                    (now, now, entry_id),
                )

    def mark_failed(self, ids: Iterable[int], error: str) -> None:
        now = self._clock()
        text = error[:_ERROR_LIMIT]
        with self.store.write_transaction() as db:
            for entry_id in ids:
                db.execute(
                    "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?, last_error = ? WHERE id = ?",
                    (now, text, entry_id),
                )

    def counts(self) -> dict[str, dict[str, int]]:
        """Per sink: delivered and pending counts."""
        with self.store.read_transaction() as db:
            rows = db.execute(
                "SELECT sink, delivered_at IS NOT NULL AS done, COUNT(*) AS n FROM outbox GROUP BY sink, done", ()
            ).fetchall()
        out: dict[str, dict[str, int]] = {}
        for row in rows:
            bucket = out.setdefault(str(row["sink"]), {"delivered": 0, "pending": 0})
            bucket["delivered" if row["done"] else "pending"] += int(row["n"])
        return out
