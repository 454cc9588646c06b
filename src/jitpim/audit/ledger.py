"""The write-ahead lease ledger: one SQLite file holding every lease and a hash chain of audit events.

The guarantee the lifecycle relies on: `begin()` commits the lease row and its `lease.requested` event in
one fsync-durable transaction (WAL, `synchronous=FULL`) and returns only then, so the caller grants only
after the ledger knows about the grant. If the ledger cannot be written, `begin()` raises `LedgerError` and
nothing is granted (fail closed). Every later change is a row update plus an event, again atomically.

Many processes may write one ledger at once: each append takes SQLite's write lock (`BEGIN IMMEDIATE`)
*before* reading the chain head, so appends serialise and the chain stays linear. Errors carry the path
and the OS/SQLite reason, never the values being written.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from jitpim.audit.canonical import canonical_json, chain_hash
from jitpim.audit.connection import connect, ledger_error, newer_schema_error
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
from jitpim.audit.location import resolve_ledger_path
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
from jitpim.audit.schema import NewerSchemaError, apply_migrations, current_version
from jitpim.errors import LeaseNotFoundError, LedgerError

__all__ = ["BEGIN_STATES", "Ledger", "Transition"]

# A lease enters the ledger before anything is asked of Azure: it is only planned or requested.
BEGIN_STATES = frozenset({"planned", "requested"})
# Set by the ledger itself, never by callers.
_LEDGER_OWNED = frozenset({"created_at", "updated_at"})
_DEFAULT_BUSY_TIMEOUT_S = 30.0


class Transition(NamedTuple):
    """What `Ledger.transition` wrote: the lease after the change and the event recording it."""

    lease: LeaseRecord
    event: EventRecord


def _event_from_row(row: sqlite3.Row) -> EventRecord:
    return EventRecord(
        seq=row["seq"],
        lease_id=row["lease_id"],
        type=row["type"],
        at=row["at"],
        schema_version=row["schema_version"],
        body=json.loads(row["body"]),
        prev_hash=row["prev_hash"],
        hash=row["hash"],
        signature=row["signature"],
    )


class Ledger:
    """A lease ledger backed by one SQLite file. Use as a context manager, or call `close()`.

    `path`: the file (else `$JITPIM_LEDGER`, else `$XDG_STATE_HOME/jitpim/ledger.sqlite3`, else
    `~/.local/state/jitpim/ledger.sqlite3`). `clock` returns the aware UTC time stamped on rows and events
    (injectable so emulated runs record emulated time). `owner` is the process recorded as a new lease's
    owner unless the lease names one. `read_only=True` opens an existing ledger for viewing (status,
    dashboards, verification) without creating, migrating or writing it; writes then raise LedgerError.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], datetime] | None = None,
        busy_timeout_s: float = _DEFAULT_BUSY_TIMEOUT_S,
        owner: ProcessOwner | None = None,
        read_only: bool = False,
    ) -> None:
        self._path = resolve_ledger_path(path, environ)
        self._clock = clock if clock is not None else (lambda: datetime.now(UTC))
        self._owner = owner if owner is not None else current_owner()
        # One connection per Ledger, shared by this process's threads under this lock.
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = connect(self._path, busy_timeout_s=busy_timeout_s, read_only=read_only)

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, **options: Any) -> Ledger:
        """Open (creating and migrating when needed) the ledger at `path` or the configured default."""
        return cls(path, **options)

    # -- connection -------------------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    def _error(self, doing: str, error: BaseException) -> LedgerError:
        return ledger_error(doing, error, self._path)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LedgerError("the ledger is closed", target=str(self._path))
        return self._conn

    def migrate(self) -> int:
        """Apply pending schema migrations (done on open too); returns the schema version."""
        with self._lock:
            try:
                return apply_migrations(self._connection())
            except NewerSchemaError as newer:
                raise newer_schema_error(newer.found, self._path) from None
            except sqlite3.Error as error:
                raise self._error("migrate", error) from error

    @property
    def schema_version(self) -> int:
        with self._read() as conn:
            return current_version(conn)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger(path={str(self._path)!r})"

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: the write lock is held from the first read to COMMIT."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise self._error("write", error) from error
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as error:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error):
                    raise self._error("write", error) from error
                raise

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: a consistent snapshot even while other processes append."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN")
                yield conn
                conn.execute("COMMIT")
            except BaseException as error:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error):
                    raise self._error("read", error) from error
                raise

    def write_transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One IMMEDIATE write transaction on the ledger's connection (`?` parameter markers), for the audit
        modules that keep their own tables in the ledger (the sink outbox)."""
        return self._write()

    def read_transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One consistent read snapshot on the ledger's connection (`?` parameter markers), for verification and
        exports that stream raw rows."""
        return self._read()

    def _now(self) -> str:
        try:
            return format_time(self._clock())
        except ValueError:
            raise LedgerError("the ledger's clock returned a naive datetime", target=str(self._path)) from None

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
        state = lease.get("state")
        if state not in BEGIN_STATES:
            raise LedgerError("a lease begins in state 'planned' or 'requested'")
        assert_no_secrets(dict(lease), "lease")
        if details is not None:
            assert_no_secrets(dict(details), "details")
        now = self._now()
        values: dict[str, object] = {}
        for spec in LEASE_COLUMNS:
            if spec.name in _LEDGER_OWNED:
                values[spec.name] = now
            else:
                values[spec.name] = to_column(spec.name, lease.get(spec.name))
        if "owner_pid" not in lease:
            values["owner_pid"] = self._owner.pid
            values["owner_host"] = self._owner.host
            values["owner_started_at"] = self._owner.started_at
        lease_id = str(values["lease_id"])
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM leases WHERE lease_id = ?", (lease_id,)).fetchone() is not None:
                raise LedgerError("a lease with this id is already in the ledger", target=lease_id)
            conn.execute(f"INSERT INTO leases ({names}) VALUES ({marks})", tuple(values.values()))  # noqa: S608
            record = self._get(conn, lease_id)
            body: dict[str, Any] = {"lease": _snapshot(record)}
            if details is not None:
                body["details"] = dict(details)
            self._append(conn, lease_id, LEASE_REQUESTED, body)
        return record

    def update(self, lease_id: str, /, **fields: object) -> LeaseRecord:
        """Change lease fields (no event); prefer `transition()`, which records why."""
        changes = self._changes(fields)
        with self._write() as conn:
            return self._update(conn, lease_id, changes)

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

        The event body gets `lease_state: {"from": ..., "to": ...}` besides what the caller passed.
        """
        _check_event_type(event_type)
        changes = self._changes({**fields, "state": state})
        event_body = dict(body or {})
        assert_no_secrets(event_body)
        with self._write() as conn:
            before = self._get(conn, lease_id)
            after = self._update(conn, lease_id, changes)
            event_body.setdefault("lease_state", {"from": before["state"], "to": after["state"]})
            event = self._append(conn, lease_id, event_type, event_body)
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

    def _update(self, conn: sqlite3.Connection, lease_id: str, changes: Mapping[str, object]) -> LeaseRecord:
        assignments = ", ".join(f"{name} = ?" for name in changes)
        cursor = conn.execute(
            f"UPDATE leases SET {assignments} WHERE lease_id = ?",  # noqa: S608 - names come from LEASE_COLUMNS
            (*changes.values(), lease_id),
        )
        if cursor.rowcount == 0:
            raise LeaseNotFoundError("no lease with this id in the ledger", target=lease_id)
        return self._get(conn, lease_id)

    def _get(self, conn: sqlite3.Connection, lease_id: str) -> LeaseRecord:
        row = conn.execute("SELECT * FROM leases WHERE lease_id = ?", (lease_id,)).fetchone()
        if row is None:
            raise LeaseNotFoundError("no lease with this id in the ledger", target=lease_id)
        return lease_from_row(row)

    def get(self, lease_id: str) -> LeaseRecord:
        """The lease, or LeaseNotFoundError."""
        with self._read() as conn:
            return self._get(conn, lease_id)

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
        `active_only` keeps leases that may still hold access (not released, expired or failed)."""
        clauses: builtins.list[str] = []
        params: builtins.list[object] = []
        if state is not None:
            states = [state] if isinstance(state, str) else builtins.list(state)
            clauses.append(f"state IN ({', '.join('?' for _ in states)})")
            params.extend(states)
        if principal_id is not None:
            clauses.append("principal_id = ?")
            params.append(principal_id)
        if run_id is not None:
            clauses.append("json_extract(run, '$.run_id') = ?")
            params.append(run_id)
        if kind is not None:
            clauses.append("kind = ?")
            params.append(kind)
        if active_only:
            terminal = sorted(TERMINAL_STATES)
            clauses.append(f"state NOT IN ({', '.join('?' for _ in terminal)})")
            params.extend(terminal)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        query = f"SELECT * FROM leases {where} ORDER BY created_at, lease_id"  # noqa: S608 - fixed fragments
        with self._read() as conn:
            return [lease_from_row(row) for row in conn.execute(query, params)]

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
        with self._write() as conn:
            if lease_id is not None:
                self._get(conn, lease_id)
            return self._append(conn, lease_id, event_type, event_body, signature)

    def _append(
        self,
        conn: sqlite3.Connection,
        lease_id: str | None,
        event_type: str,
        body: Mapping[str, object],
        signature: str | None = None,
    ) -> EventRecord:
        # Called inside an IMMEDIATE transaction: nobody else can move the head between this read and write.
        head = conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
        if head is None:
            raise LedgerError("the ledger's chain head is missing; run verify_chain()", target=str(self._path))
        seq = int(head["seq"]) + 1
        prev_hash = str(head["hash"])
        at = self._now()
        try:
            body_text = canonical_json(body)
        except (TypeError, ValueError):
            raise LedgerError("the event body is not JSON-serialisable", target=str(self._path)) from None
        material = event_material(
            seq=seq,
            lease_id=lease_id,
            event_type=event_type,
            at=at,
            schema_version=EVENT_SCHEMA_VERSION,
            body=body,
        )
        digest = chain_hash(prev_hash, material)
        conn.execute(
            "INSERT INTO events (seq, lease_id, type, at, schema_version, body, prev_hash, hash, signature) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, lease_id, event_type, at, EVENT_SCHEMA_VERSION, body_text, prev_hash, digest, signature),
        )
        conn.execute("UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (seq, digest))
        row = conn.execute("SELECT * FROM events WHERE seq = ?", (seq,)).fetchone()
        return _event_from_row(row)

    def events(self, lease_id: str | None = None, *, after_seq: int = 0) -> builtins.list[EventRecord]:
        """Events in chain order; only one lease's when `lease_id` is given; only seq > `after_seq`."""
        with self._read() as conn:
            if lease_id is None:
                rows = conn.execute("SELECT * FROM events WHERE seq > ? ORDER BY seq", (after_seq,))
            else:
                rows = conn.execute(
                    "SELECT * FROM events WHERE lease_id = ? AND seq > ? ORDER BY seq", (lease_id, after_seq)
                )
            return [_event_from_row(row) for row in rows]

    def verify_chain(self) -> ChainVerification:
        """Recompute the hash chain over all events: `(ok, first_bad_seq, reason)`.

        Detects an edited event (body, type, time, lease or hash), a deleted event (in the middle or at the
        end), and reordered events, naming the first seq where the chain breaks.
        """
        with self._read() as conn:
            head = conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
            if head is None:
                return ChainVerification(False, None, "the chain head record is missing")
            rows = (
                ChainedRow(
                    seq=row["seq"],
                    lease_id=row["lease_id"],
                    event_type=row["type"],
                    at=row["at"],
                    schema_version=row["schema_version"],
                    body=row["body"],
                    prev_hash=row["prev_hash"],
                    hash=row["hash"],
                )
                for row in conn.execute(
                    "SELECT seq, lease_id, type, at, schema_version, body, prev_hash, hash FROM events ORDER BY seq"
                )
            )
            return verify_rows(rows, int(head["seq"]), str(head["hash"]))


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
