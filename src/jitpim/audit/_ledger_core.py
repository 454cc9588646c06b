"""The lease and event logic both ledgers share, written once against their transaction protocol.

`LedgerCore` holds everything that is the same on SQLite and PostgreSQL: validating and writing leases,
appending to the hash chain, reading leases and events back, verifying the chain. A backend supplies only
what really differs: opening its connection, the `_read()` / `_write()` transactions (yielding a connection
whose `execute(sql, params)` takes `?` markers and returns rows addressable by column name) with its own
error mapping, how a writer locks the chain head, and the SQL expression for a lease's CI run id.
"""

from __future__ import annotations

import abc
import builtins
import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ClassVar, Final, Generic, NamedTuple, Protocol, Self, TypeVar

from jitpim.audit.canonical import canonical_json, chain_hash
from jitpim.audit.db import Db
from jitpim.audit.events import (
    EVENT_SCHEMA_VERSION,
    LEASE_REQUESTED,
    ChainedRow,
    ChainVerification,
    event_material,
    is_valid_event_type,
    verify_rows,
)
from jitpim.audit.guard import assert_no_secrets
from jitpim.audit.lease_rows import LEASE_CHANGES, ROW_VERSION, ROW_VERSION_KEY, fold_event, prefer_chain, trusted_lease
from jitpim.audit.owner import ProcessOwner, current_owner
from jitpim.audit.records import (
    LEASE_COLUMNS,
    TERMINAL_STATES,
    EventRecord,
    LeaseRecord,
    format_time,
    lease_column,
    lease_from_row,
    to_column,
)
from jitpim.errors import LeaseNotFoundError, LedgerError
from jitpim.model.lease import LeaseState, check_transition

__all__ = ["BEGIN_STATES", "LedgerCore", "Transition"]

# A lease enters the ledger before anything is asked of Azure: it is only planned or requested.
BEGIN_STATES: Final = frozenset({LeaseState.PLANNED.value, LeaseState.REQUESTED.value})
# Set by the ledger itself, never by callers.
_LEDGER_OWNED: Final = frozenset({"created_at", "updated_at"})


class Transition(NamedTuple):
    """What `transition()` wrote: the lease after the change and the event recording it."""

    lease: LeaseRecord
    event: EventRecord


class _Closeable(Protocol):
    def close(self) -> None: ...


ConnT = TypeVar("ConnT", bound=_Closeable)
DbT = TypeVar("DbT", bound=Db)


class LedgerCore(abc.ABC, Generic[ConnT, DbT]):
    """The shared ledger API over a backend connection `ConnT` whose transactions yield `DbT`.

    `clock` returns the aware UTC time stamped on rows and events (injectable so emulated runs record
    emulated time). `owner` is the process recorded as a new lease's owner unless the lease names one.
    """

    # Appended to the chain head read: the clause that makes concurrent writers queue on the head row ("" when
    # the backend's write transaction already holds an exclusive lock from its start).
    _HEAD_LOCK: ClassVar[str] = ""
    # The SQL expression for the CI provenance's run id (`run` holds JSON text), as indexed by the schema.
    _RUN_ID_SQL: ClassVar[str]

    def __init__(self, *, clock: Callable[[], datetime] | None, owner: ProcessOwner | None) -> None:
        self._clock = clock if clock is not None else (lambda: datetime.now(UTC))
        self._owner = owner if owner is not None else current_owner()
        # One connection per ledger, shared by this process's threads under this lock.
        self._lock = threading.RLock()
        self._conn: ConnT | None = None

    # -- what a backend supplies ------------------------------------------------------------------------

    @property
    @abc.abstractmethod
    def _target(self) -> str:
        """Where the ledger is (a path, or a DSN without its password), named in errors."""

    @abc.abstractmethod
    def _read(self) -> contextlib.AbstractContextManager[DbT]:
        """One read transaction: a consistent snapshot even while other processes append."""

    @abc.abstractmethod
    def _write(self, *, durable: bool = True) -> contextlib.AbstractContextManager[DbT]:
        """One write transaction, in which appends to the chain serialise. `durable=True` returns only once the
        commit is on stable storage (fsync); `durable=False` commits atomically and becomes durable with the
        next durable commit (see "Durability" in docs/reference/ledger.md)."""

    # -- connection -------------------------------------------------------------------------------------

    def _connection(self) -> ConnT:
        if self._conn is None:
            raise LedgerError("the ledger is closed", target=self._target)
        return self._conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def write_transaction(self) -> contextlib.AbstractContextManager[DbT]:
        """One write transaction on the ledger's connection (`?` parameter markers), for the audit modules that
        keep their own tables in the ledger (the sink outbox)."""
        return self._write()

    def read_transaction(self) -> contextlib.AbstractContextManager[DbT]:
        """One consistent read snapshot on the ledger's connection (`?` parameter markers), for verification and
        exports that stream raw rows."""
        return self._read()

    def _now(self) -> str:
        try:
            return format_time(self._clock())
        except ValueError:
            raise LedgerError("the ledger's clock returned a naive datetime", target=self._target) from None

    def _lock_chain_head(self, db: DbT) -> None:
        """Queue behind other writers before reading anything the write depends on (a no-op when the write
        transaction is exclusive from its start)."""
        if self._HEAD_LOCK:
            db.execute(f"SELECT seq FROM chain_head WHERE id = 1{self._HEAD_LOCK}")  # noqa: S608 - a constant

    # -- leases -----------------------------------------------------------------------------------------

    def begin(self, lease: Mapping[str, object], *, details: Mapping[str, object] | None = None) -> LeaseRecord:
        """Write-ahead: record a new lease and its `lease.requested` event durably, in one transaction.

        Grant only after this returns. `lease` maps column names to values (see LEASE_COLUMNS); its state
        must be `planned` or `requested`. `details` is added to the event body.
        """
        for name in lease:
            lease_column(name)
            if name in _LEDGER_OWNED:
                raise LedgerError(f"lease field {name!r} is set by the ledger")
        if lease.get("state") not in BEGIN_STATES:
            raise LedgerError("a lease begins in state 'planned' or 'requested'")
        assert_no_secrets(dict(lease), "lease")
        if details is not None:
            assert_no_secrets(dict(details), "details")
        now = self._now()
        values: dict[str, object] = {}
        for spec in LEASE_COLUMNS:
            values[spec.name] = now if spec.name in _LEDGER_OWNED else to_column(spec.name, lease.get(spec.name))
        if "owner_pid" not in lease:
            values["owner_pid"] = self._owner.pid
            values["owner_host"] = self._owner.host
            values["owner_started_at"] = self._owner.started_at
        lease_id = str(values["lease_id"])
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self._write() as db:
            # The chain head first: every writer serialises on it, so the id check below cannot race.
            self._lock_chain_head(db)
            if db.execute("SELECT 1 FROM leases WHERE lease_id = ?", (lease_id,)).fetchone() is not None:
                raise LedgerError("a lease with this id is already in the ledger", target=lease_id)
            db.execute(f"INSERT INTO leases ({names}) VALUES ({marks})", tuple(values.values()))  # noqa: S608
            record = self._get(db, lease_id)
            # The row as written, so the chain can rebuild it (see lease_rows.py); stamped with the row's time.
            body: dict[str, Any] = {"lease": _snapshot(record), ROW_VERSION_KEY: ROW_VERSION}
            if details is not None:
                body["details"] = dict(details)
            self._append(db, lease_id, LEASE_REQUESTED, body, at=now)
        return record

    def update(self, lease_id: str, /, **fields: object) -> LeaseRecord:
        """Change lease fields, recorded as a `lease.updated` event; prefer `transition()`, which says why."""
        if "state" in fields:
            raise LedgerError("a lease's state changes only through transition(), where the state machine is enforced")
        changes = self._changes(fields)
        with self._write(durable=False) as db:
            self._lock_chain_head(db)
            after = self._update(db, lease_id, changes)
            self._append(
                db, lease_id, "lease.updated", {LEASE_CHANGES: _decoded(changes)}, at=str(changes["updated_at"])
            )
            return after

    def transition(
        self,
        lease_id: str,
        /,
        state: str,
        event_type: str,
        body: Mapping[str, object] | None = None,
        **fields: object,
    ) -> Transition:
        """Move a lease to `state`, change `fields`, and append `event_type`, all in one transaction.

        The move is checked against the lease state machine (`jitpim.model.lease.check_transition`) inside the
        write transaction, after the chain head is locked: a forbidden edge raises `InvalidTransitionError` and
        writes nothing, and two writers cannot both pass the check on the same old state.
        The event body gets `lease_state: {"from": ..., "to": ...}` besides what the caller passed.
        """
        _check_event_type(event_type)
        changes = self._changes({**fields, "state": state})
        event_body = dict(body or {})
        assert_no_secrets(event_body)
        with self._write(durable=False) as db:
            self._lock_chain_head(db)
            before = self._get(db, lease_id)
            check_transition(before["state"], str(state), lease=lease_id)
            after = self._update(db, lease_id, changes)
            event_body.setdefault("lease_state", {"from": before["state"], "to": after["state"]})
            event_body[LEASE_CHANGES] = _decoded(changes)  # what the row became, so the chain can rebuild it
            event = self._append(db, lease_id, event_type, event_body, at=str(changes["updated_at"]))
        return Transition(after, event)

    def _changes(self, fields: Mapping[str, object]) -> dict[str, object]:
        changes: dict[str, object] = {}
        for name, value in fields.items():
            spec = lease_column(name)
            if not spec.mutable or name in _LEDGER_OWNED:
                raise LedgerError(f"lease field {name!r} cannot be changed")
            changes[name] = to_column(name, value)
        assert_no_secrets(dict(fields), "lease")
        changes["updated_at"] = self._now()
        return changes

    def _update(self, db: DbT, lease_id: str, changes: Mapping[str, object]) -> LeaseRecord:
        assignments = ", ".join(f"{name} = ?" for name in changes)
        cursor = db.execute(
            f"UPDATE leases SET {assignments} WHERE lease_id = ?",  # noqa: S608 - names come from LEASE_COLUMNS
            (*changes.values(), lease_id),
        )
        if cursor.rowcount == 0:
            raise LeaseNotFoundError("no lease with this id in the ledger", target=lease_id)
        return self._get(db, lease_id)

    def _get(self, db: DbT, lease_id: str) -> LeaseRecord:
        row = db.execute("SELECT * FROM leases WHERE lease_id = ?", (lease_id,)).fetchone()
        if row is None:
            raise LeaseNotFoundError("no lease with this id in the ledger", target=lease_id)
        return lease_from_row(row)

    def get(self, lease_id: str) -> LeaseRecord:
        """The lease as the hash chain recorded it (see lease_rows.py), or LeaseNotFoundError."""
        with self._read() as db:
            stored = self._get(db, lease_id)
            events = db.execute(
                "SELECT type, at, body FROM events WHERE lease_id = ? AND type <> 'lease.summary' ORDER BY seq",
                (lease_id,),
            ).fetchall()
            return trusted_lease(stored, ((e["type"], e["at"], e["body"]) for e in events))

    def find(self, lease_id: str) -> LeaseRecord | None:
        """The lease, or None."""
        try:
            return self.get(lease_id)
        except LeaseNotFoundError:
            return None

    def list(
        self,
        *,
        state: str | Iterable[str] | None = None,
        principal_id: str | None = None,
        run_id: str | None = None,
        kind: str | None = None,
        active_only: bool = False,
    ) -> builtins.list[LeaseRecord]:
        """Leases matching every given filter, oldest first. `run_id` matches the CI provenance's run id;
        `active_only` keeps leases that may still hold access (not released, expired or failed).

        Leases are returned as the hash chain recorded them (see lease_rows.py), and the filters apply to that
        record: a row edited to look released is still listed as open. The state filters therefore read every
        lease's events (one pass over the chain) rather than trusting the indexed state column."""
        clauses: builtins.list[str] = []
        params: builtins.list[object] = []
        states = None if state is None else frozenset([state] if isinstance(state, str) else state)
        if principal_id is not None:
            clauses.append("principal_id = ?")
            params.append(principal_id)
        if run_id is not None:
            clauses.append(f"{self._RUN_ID_SQL} = ?")
            params.append(run_id)
        if kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT * FROM leases {where} ORDER BY created_at, lease_id"  # noqa: S608 - fixed fragments
        events_query = (
            "SELECT lease_id, type, at, body FROM events WHERE type <> 'lease.summary' "  # noqa: S608 - fixed fragments
            f"AND lease_id IN (SELECT lease_id FROM leases {where}) ORDER BY lease_id, seq"
        )
        with self._read() as db:
            stored = [lease_from_row(row) for row in db.execute(query, params).fetchall()]
            derived: dict[str, dict[str, Any] | None] = {}
            for row in db.execute(events_query, params):
                lease = row["lease_id"]
                derived[lease] = fold_event(derived.get(lease), row["type"], row["at"], row["body"])
        leases = [prefer_chain(record, derived.get(record["lease_id"])) for record in stored]
        if states is not None:
            leases = [lease for lease in leases if lease["state"] in states]
        if active_only:
            leases = [lease for lease in leases if lease["state"] not in TERMINAL_STATES]
        return leases

    def open_leases(self) -> builtins.list[LeaseRecord]:
        """Leases that may still hold access: every state but released, expired and failed."""
        return self.list(active_only=True)

    # -- events -----------------------------------------------------------------------------------------

    def append_event(
        self,
        lease_id: str | None,
        event_type: str,
        body: Mapping[str, object] | None = None,
        *,
        signature: str | None = None,
    ) -> EventRecord:
        """Append one event to the chain (`lease_id` may be None for events about no lease).

        `signature` is stored with the event in the same insert (the audit summary signs its body before
        appending it, so a signed record is never visible unsigned)."""
        _check_event_type(event_type)
        event_body = dict(body or {})
        assert_no_secrets(event_body)
        with self._write(durable=False) as db:
            if lease_id is not None:
                self._get(db, lease_id)
            return self._append(db, lease_id, event_type, event_body, signature)

    def append_signed(
        self, event_type: str, build: Callable[[DbT, int, str], tuple[Mapping[str, object], str]]
    ) -> EventRecord:
        """Append one event about no lease whose body and signature depend on the chain head it follows:
        `build(db, head_seq, head_hash)` runs inside the write transaction with the head locked (so nothing is
        appended in between) and returns `(body, signature text)`. Signed checkpoints are written this way."""
        _check_event_type(event_type)
        with self._write() as db:
            self._lock_chain_head(db)
            head = db.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
            if head is None:
                raise LedgerError("the ledger's chain head is missing; run verify_chain()", target=self._target)
            body, signature = build(db, int(head["seq"]), str(head["hash"]))
            assert_no_secrets(dict(body))
            return self._append(db, None, event_type, body, signature)

    def _append(
        self,
        db: DbT,
        lease_id: str | None,
        event_type: str,
        body: Mapping[str, object],
        signature: str | None = None,
        *,
        at: str | None = None,
    ) -> EventRecord:
        # Inside the write transaction, with the head locked: nobody else can move it between this read and write.
        head = db.execute(f"SELECT seq, hash FROM chain_head WHERE id = 1{self._HEAD_LOCK}").fetchone()  # noqa: S608
        if head is None:
            raise LedgerError("the ledger's chain head is missing; run verify_chain()", target=self._target)
        seq = int(head["seq"]) + 1
        prev_hash = str(head["hash"])
        at = at if at is not None else self._now()
        try:
            body_text = canonical_json(body)
        except (TypeError, ValueError):
            raise LedgerError("the event body is not JSON-serialisable", target=self._target) from None
        material = event_material(
            seq=seq, lease_id=lease_id, event_type=event_type, at=at, schema_version=EVENT_SCHEMA_VERSION, body=body
        )
        digest = chain_hash(prev_hash, material)
        db.execute(
            "INSERT INTO events (seq, lease_id, type, at, schema_version, body, prev_hash, hash, signature) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, lease_id, event_type, at, EVENT_SCHEMA_VERSION, body_text, prev_hash, digest, signature),
        )
        db.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (seq, digest))
        # The record as stored: the same values, and the body as read back from its stored text.
        return EventRecord(
            seq=seq,
            lease_id=lease_id,
            type=event_type,
            at=at,
            schema_version=EVENT_SCHEMA_VERSION,
            body=json.loads(body_text),
            prev_hash=prev_hash,
            hash=digest,
            signature=signature,
        )

    def events(self, lease_id: str | None = None, *, after_seq: int = 0) -> builtins.list[EventRecord]:
        """Events in chain order; only one lease's when `lease_id` is given; only seq > `after_seq`."""
        with self._read() as db:
            if lease_id is None:
                rows = db.execute("SELECT * FROM events WHERE seq > ? ORDER BY seq", (after_seq,)).fetchall()
            else:
                rows = db.execute(
                    "SELECT * FROM events WHERE lease_id = ? AND seq > ? ORDER BY seq", (lease_id, after_seq)
                ).fetchall()
            return [_event_from_row(row) for row in rows]

    def verify_chain(self) -> ChainVerification:
        """Recompute the hash chain over all events: `(ok, first_bad_seq, reason)`.

        Detects an edited event (body, type, time, lease or hash), a deleted event (in the middle or at the
        end), and reordered events, naming the first seq where the chain breaks.
        """
        with self._read() as db:
            head = db.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
            if head is None:
                return ChainVerification(False, None, "the chain head record is missing")
            rows = (
                ChainedRow(
                    seq=int(row["seq"]),
                    lease_id=row["lease_id"],
                    event_type=row["type"],
                    at=row["at"],
                    schema_version=int(row["schema_version"]),
                    body=row["body"],
                    prev_hash=row["prev_hash"],
                    hash=row["hash"],
                )
                for row in db.execute(
                    "SELECT seq, lease_id, type, at, schema_version, body, prev_hash, hash FROM events ORDER BY seq"
                )
            )
            return verify_rows(rows, int(head["seq"]), str(head["hash"]))


def _event_from_row(row: Mapping[str, Any]) -> EventRecord:
    return EventRecord(
        seq=int(row["seq"]),
        lease_id=row["lease_id"],
        type=row["type"],
        at=row["at"],
        schema_version=int(row["schema_version"]),
        body=json.loads(row["body"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
        signature=row["signature"],
    )


def _decoded(changes: Mapping[str, object]) -> dict[str, object]:
    """Column values as the row reads them back (JSON columns decoded), for `lease_changes`."""
    out: dict[str, object] = {}
    for name, value in changes.items():
        json_column = lease_column(name).kind == "json"
        out[name] = json.loads(value) if json_column and isinstance(value, str) else value
    return out


def _check_event_type(event_type: str) -> None:
    if not is_valid_event_type(event_type):
        raise LedgerError(f"not an event type: {event_type!r} (expected lowercase `noun.verb`, e.g. lease.granted)")


def _snapshot(record: LeaseRecord) -> dict[str, Any]:
    """The lease as recorded in its `lease.requested` event: every set field except the bookkeeping times."""
    return {
        name: value
        for name, value in record.items()
        if value is not None and name not in _LEDGER_OWNED and value != {} and value != []
    }
