"""The lease ledger on PostgreSQL (psycopg 3), for fleets of runners sharing one: the same API and the same
hash-chain semantics as the SQLite `Ledger`.

Every append runs in one transaction that first takes the chain head row with `SELECT ... FOR UPDATE`: a
second writer (another process, another machine) blocks on that row until the first commits, then reads the
new head, so the chain stays linear however many processes write. Commits are durable per the server's
`synchronous_commit` (on by default), so `begin()` returning still means the lease is recorded before
anything is granted. Errors carry the server (never its password) and the server's reason, never values.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final

from jitpim.audit.canonical import canonical_json, chain_hash
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
from jitpim.audit.ledger import BEGIN_STATES, Transition
from jitpim.audit.owner import ProcessOwner, current_owner
from jitpim.audit.postgres_schema import apply_pg_migrations, pg_current_version
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
from jitpim.audit.schema import NewerSchemaError
from jitpim.errors import LeaseNotFoundError, LedgerError

__all__ = ["PostgresLedger", "redact_dsn"]

_LEDGER_OWNED: Final = frozenset({"created_at", "updated_at"})


def redact_dsn(dsn: str) -> str:
    """`postgresql://user@host:port/db`: the DSN without its password, for messages."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(dsn)
    except Exception:  # a DSN psycopg cannot parse: say nothing of it
        return "postgresql://(unparseable DSN)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


class _Db:
    """A psycopg connection inside a transaction, taking `?` parameter markers like sqlite3."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self._conn.execute(sql.replace("?", "%s"), tuple(parameters))

    def fetch_tuples(self, sql: str, parameters: Any = (), /) -> list[tuple[Any, ...]]:
        """All rows as plain tuples (no per-row dict): what bulk readers such as verification want."""
        from psycopg.rows import tuple_row

        with self._conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(sql.replace("?", "%s"), tuple(parameters))
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows


def _event(row: Mapping[str, Any]) -> EventRecord:
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


class PostgresLedger:
    """A lease ledger in a PostgreSQL database (`dsn`: `postgresql://user:password@host:port/db`).

    Options as for `Ledger`: `clock` (aware UTC datetimes), `owner`, `connect_timeout_s`.
    """

    def __init__(
        self,
        dsn: str,
        *,
        clock: Callable[[], datetime] | None = None,
        owner: ProcessOwner | None = None,
        connect_timeout_s: int = 10,
    ) -> None:
        import psycopg
        from psycopg.rows import dict_row

        self._dsn = dsn
        self.location = redact_dsn(dsn)
        self._clock = clock if clock is not None else (lambda: datetime.now(UTC))
        self._owner = owner if owner is not None else current_owner()
        self._lock = threading.RLock()
        try:
            self._conn: Any = psycopg.connect(
                dsn, autocommit=True, row_factory=dict_row, connect_timeout=connect_timeout_s
            )
        except psycopg.Error as error:
            raise self._error("open", error) from None
        try:
            self.migrate()
        except BaseException:
            self._conn.close()
            raise

    # -- connection -------------------------------------------------------------------------------------

    def _error(self, doing: str, error: BaseException) -> LedgerError:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return LedgerError(f"cannot {doing} the ledger: {reason}", target=self.location)

    def _connection(self) -> Any:
        if self._conn is None:
            raise LedgerError("the ledger is closed", target=self.location)
        return self._conn

    def migrate(self) -> int:
        import psycopg

        with self._lock:
            try:
                return apply_pg_migrations(self._connection(), self._now())
            except NewerSchemaError as newer:
                raise LedgerError(
                    f"the ledger has schema version {newer.found}, newer than this jitpim supports",
                    hint="Upgrade jitpim to use this ledger; an older version must not write it. Nothing was granted.",
                    target=self.location,
                ) from None
            except psycopg.Error as error:
                raise self._error("migrate", error) from None

    @property
    def schema_version(self) -> int:
        with self._read() as db:
            return pg_current_version(db)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> PostgresLedger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresLedger({self.location!r})"

    @contextlib.contextmanager
    def _transaction(self, doing: str) -> Iterator[_Db]:
        import psycopg

        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    yield _Db(conn)
            except psycopg.Error as error:
                raise self._error(doing, error) from None

    def _write(self) -> contextlib.AbstractContextManager[_Db]:
        return self._transaction("write")

    def _read(self) -> contextlib.AbstractContextManager[_Db]:
        return self._transaction("read")

    def write_transaction(self) -> contextlib.AbstractContextManager[_Db]:
        return self._write()

    def read_transaction(self) -> contextlib.AbstractContextManager[_Db]:
        return self._read()

    def _now(self) -> str:
        try:
            return format_time(self._clock())
        except ValueError:
            raise LedgerError("the ledger's clock returned a naive datetime", target=self.location) from None

    # -- leases -----------------------------------------------------------------------------------------

    def begin(self, lease: Mapping[str, object], *, details: Mapping[str, object] | None = None) -> LeaseRecord:
        """Write-ahead: the lease row and its `lease.requested` event, in one committed transaction."""
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
            db.execute("SELECT seq FROM chain_head WHERE id = 1 FOR UPDATE")
            if db.execute("SELECT 1 FROM leases WHERE lease_id = ?", (lease_id,)).fetchone() is not None:
                raise LedgerError("a lease with this id is already in the ledger", target=lease_id)
            db.execute(f"INSERT INTO leases ({names}) VALUES ({marks})", tuple(values.values()))  # noqa: S608
            record = self._get(db, lease_id)
            body: dict[str, Any] = {"lease": _snapshot(record)}
            if details is not None:
                body["details"] = dict(details)
            self._append(db, lease_id, LEASE_REQUESTED, body)
        return record

    def update(self, lease_id: str, /, **fields: object) -> LeaseRecord:
        changes = self._changes(fields)
        with self._write() as db:
            return self._update(db, lease_id, changes)

    def transition(
        self,
        lease_id: str,
        /,
        state: str,
        event_type: str,
        body: Mapping[str, object] | None = None,
        **fields: object,
    ) -> Transition:
        _check_event_type(event_type)
        changes = self._changes({**fields, "state": state})
        event_body = dict(body or {})
        assert_no_secrets(event_body)
        with self._write() as db:
            db.execute("SELECT seq FROM chain_head WHERE id = 1 FOR UPDATE")
            before = self._get(db, lease_id)
            after = self._update(db, lease_id, changes)
            event_body.setdefault("lease_state", {"from": before["state"], "to": after["state"]})
            event = self._append(db, lease_id, event_type, event_body)
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

    def _update(self, db: _Db, lease_id: str, changes: Mapping[str, object]) -> LeaseRecord:
        assignments = ", ".join(f"{name} = ?" for name in changes)
        cursor = db.execute(
            f"UPDATE leases SET {assignments} WHERE lease_id = ?",  # noqa: S608 - names come from LEASE_COLUMNS
            (*changes.values(), lease_id),
        )
        if cursor.rowcount == 0:
            raise LeaseNotFoundError("no lease with this id in the ledger", target=lease_id)
        return self._get(db, lease_id)

    def _get(self, db: _Db, lease_id: str) -> LeaseRecord:
        row = db.execute("SELECT * FROM leases WHERE lease_id = ?", (lease_id,)).fetchone()
        if row is None:
            raise LeaseNotFoundError("no lease with this id in the ledger", target=lease_id)
        return lease_from_row(row)

    def get(self, lease_id: str) -> LeaseRecord:
        with self._read() as db:
            return self._get(db, lease_id)

    def find(self, lease_id: str) -> LeaseRecord | None:
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
            clauses.append("((run::jsonb) ->> 'run_id') = ?")
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
        with self._read() as db:
            return [lease_from_row(row) for row in db.execute(query, params).fetchall()]

    def open_leases(self) -> builtins.list[LeaseRecord]:
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
        _check_event_type(event_type)
        event_body = dict(body or {})
        assert_no_secrets(event_body)
        with self._write() as db:
            if lease_id is not None:
                self._get(db, lease_id)
            return self._append(db, lease_id, event_type, event_body, signature)

    def _append(
        self,
        db: _Db,
        lease_id: str | None,
        event_type: str,
        body: Mapping[str, object],
        signature: str | None = None,
    ) -> EventRecord:
        # FOR UPDATE: a concurrent appender waits here until this transaction commits, then sees our head.
        head = db.execute("SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE").fetchone()
        if head is None:
            raise LedgerError("the ledger's chain head is missing; run verify_chain()", target=self.location)
        seq = int(head["seq"]) + 1
        prev_hash = str(head["hash"])
        at = self._now()
        try:
            body_text = canonical_json(body)
        except (TypeError, ValueError):
            raise LedgerError("the event body is not JSON-serialisable", target=self.location) from None
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
        with self._read() as db:
            if lease_id is None:
                rows = db.execute("SELECT * FROM events WHERE seq > ? ORDER BY seq", (after_seq,)).fetchall()
            else:
                rows = db.execute(
                    "SELECT * FROM events WHERE lease_id = ? AND seq > ? ORDER BY seq", (lease_id, after_seq)
                ).fetchall()
            return [_event(row) for row in rows]

    def verify_chain(self) -> ChainVerification:
        with self._read() as db:
            head = db.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
            if head is None:
                return ChainVerification(False, None, "the chain head record is missing")
            rows = db.execute(
                "SELECT seq, lease_id, type, at, schema_version, body, prev_hash, hash FROM events ORDER BY seq"
            ).fetchall()
        chained = (
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
            for row in rows
        )
        return verify_rows(chained, int(head["seq"]), str(head["hash"]))


def _check_event_type(event_type: str) -> None:
    if not is_valid_event_type(event_type):
        raise LedgerError(f"not an event type: {event_type!r} (expected lowercase `noun.verb`, e.g. lease.granted)")


def _snapshot(record: LeaseRecord) -> dict[str, Any]:
    """The lease as recorded in its `lease.requested` event (as the SQLite ledger records it)."""
    return {
        name: value
        for name, value in record.items()
        if value is not None and name not in _LEDGER_OWNED and value != {} and value != []
    }
