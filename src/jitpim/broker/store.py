"""The broker's state: requests, approvals, used token ids and the reaper's lock, in SQLite (one node, the
default) or PostgreSQL (replicas sharing one database).

Concurrency is settled by the database, not by the process: a request enters once per (repository, client
request id) by a unique key, so a retried request finds the first one; an approver decides once by a
unique key; a token id is used once by a primary key; every state change is a compare-and-set
(`UPDATE ... WHERE state IN (...)`) that exactly one replica wins; and one reaper at a time holds a
time-limited lock row.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..errors import ConfigError, LedgerError
from .records import ApprovalRecord, BrokerRequest, RequestState

__all__ = ["Store", "open_store"]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS broker_requests (
        request_id TEXT PRIMARY KEY,
        client_request_id TEXT NOT NULL,
        repository TEXT NOT NULL,
        subject TEXT NOT NULL,
        state TEXT NOT NULL,
        principal_id TEXT NOT NULL,
        claims TEXT NOT NULL,
        target TEXT NOT NULL,
        decision TEXT NOT NULL,
        lease TEXT NOT NULL,
        error TEXT,
        review INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        expires_at TEXT,
        UNIQUE (repository, client_request_id)
    )""",
    "CREATE INDEX IF NOT EXISTS broker_requests_state ON broker_requests (state, expires_at)",
    """CREATE TABLE IF NOT EXISTS broker_approvals (
        request_id TEXT NOT NULL,
        approver_id TEXT NOT NULL,
        approver_name TEXT NOT NULL,
        decision TEXT NOT NULL,
        reason TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (request_id, approver_id)
    )""",
    "CREATE TABLE IF NOT EXISTS broker_token_ids (jti TEXT PRIMARY KEY, expires_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS broker_locks (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until TEXT NOT NULL)",
)
_COLUMNS = (
    "request_id, client_request_id, repository, subject, state, principal_id, claims, target, decision, lease, "
    "error, review, created_at, updated_at, expires_at"
)


def _time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value is not None else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


class Store:
    """Both backends behind one API; `paramstyle` and the connection differ, the SQL does not."""

    def __init__(self, location: str, *, postgres: bool) -> None:
        self.location = location
        self.postgres = postgres
        self._lock = threading.RLock()
        self._local = threading.local()
        self._sqlite: sqlite3.Connection | None = None
        self._pg_conns: list[Any] = []
        with self._tx() as cur:
            for statement in _SCHEMA:
                self._exec(cur, statement)

    # connections -----------------------------------------------------------------------------------
    def _pg(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            import psycopg

            try:
                conn = psycopg.connect(self.location, autocommit=False)
            except psycopg.Error as exc:
                raise LedgerError(
                    f"cannot connect to the broker's PostgreSQL database: {type(exc).__name__}",
                    hint="Check the broker's store DSN (host, credentials, database) and that the server runs.",
                ) from None
            self._local.conn = conn
            with self._lock:
                self._pg_conns.append(conn)
        return conn

    def _sqlite_conn(self) -> sqlite3.Connection:
        if self._sqlite is None:
            path = Path(self.location)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode = WAL")
                # NORMAL under WAL: a commit survives the process dying; only an OS crash or power loss can
                # lose the last commits, and each is recoverable (a job retries its request under the same
                # client id; a lost "granted" leaves the lease in the ledger, which syncs fully, for `reap`).
                # FULL would fsync twice per request and cost ~4 ms each on the decision path.
                conn.execute("PRAGMA synchronous = NORMAL")
            except sqlite3.Error as exc:
                raise LedgerError(f"cannot open the broker store: {exc}", target=str(path)) from None
            self._sqlite = conn
        return self._sqlite

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """One transaction; SQLite's starts IMMEDIATE (the write lock up front), PostgreSQL's READ COMMITTED
        with compare-and-set updates (which re-check their WHERE on the current row)."""
        if self.postgres:
            conn = self._pg()
            try:
                with conn.cursor() as cur:
                    yield cur
                conn.commit()
            except BaseException:
                conn.rollback()
                raise
            return
        with self._lock:
            conn = self._sqlite_conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn.cursor()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _exec(self, cur: Any, sql: str, params: Sequence[Any] = ()) -> Any:
        if self.postgres:
            sql = sql.replace("?", "%s")
        cur.execute(sql, tuple(params))
        return cur

    def close(self) -> None:
        with self._lock:
            if self._sqlite is not None:
                self._sqlite.close()
                self._sqlite = None
            for conn in self._pg_conns:
                conn.close()
            self._pg_conns.clear()

    # rows ------------------------------------------------------------------------------------------
    def _row(self, row: Sequence[Any], approvals: tuple[ApprovalRecord, ...] = ()) -> BrokerRequest:
        created, updated = _parse(row[12]), _parse(row[13])
        assert created is not None and updated is not None
        return BrokerRequest(
            request_id=row[0],
            client_request_id=row[1],
            repository=row[2],
            subject=row[3],
            state=RequestState(row[4]),
            principal_id=row[5],
            claims=json.loads(row[6]),
            target=json.loads(row[7]),
            decision=json.loads(row[8]),
            lease=json.loads(row[9]),
            error=json.loads(row[10]) if row[10] else None,
            review=bool(row[11]),
            created_at=created,
            updated_at=updated,
            expires_at=_parse(row[14]),
            approvals=approvals,
        )

    def _approvals(self, cur: Any, request_id: str) -> tuple[ApprovalRecord, ...]:
        rows = self._exec(
            cur,
            "SELECT approver_id, approver_name, decision, reason, at FROM broker_approvals "
            "WHERE request_id = ? ORDER BY at, approver_id",
            (request_id,),
        ).fetchall()
        return tuple(ApprovalRecord(r[0], r[1], r[2], r[3], _parse(r[4]) or datetime.now(UTC)) for r in rows)

    def _get(self, cur: Any, request_id: str) -> BrokerRequest | None:
        row = self._exec(cur, f"SELECT {_COLUMNS} FROM broker_requests WHERE request_id = ?", (request_id,)).fetchone()
        return self._row(row, self._approvals(cur, request_id)) if row else None

    # requests --------------------------------------------------------------------------------------
    def create(self, request: BrokerRequest) -> tuple[BrokerRequest, bool]:
        """Insert, or return the request already stored under the same (repository, client request id):
        (request, True when it is new)."""
        values = (
            request.request_id,
            request.client_request_id,
            request.repository,
            request.subject,
            request.state.value,
            request.principal_id,
            json.dumps(request.claims, sort_keys=True),
            json.dumps(request.target, sort_keys=True),
            json.dumps(request.decision, sort_keys=True),
            json.dumps(request.lease, sort_keys=True),
            json.dumps(request.error) if request.error else None,
            1 if request.review else 0,
            _time(request.created_at),
            _time(request.updated_at),
            _time(request.expires_at),
        )
        with self._tx() as cur:
            inserted = self._exec(
                cur,
                f"INSERT INTO broker_requests ({_COLUMNS}) VALUES ({', '.join('?' * len(values))}) "
                "ON CONFLICT (repository, client_request_id) DO NOTHING",
                values,
            ).rowcount
            if inserted == 1:
                return request, True
            row = self._exec(
                cur,
                f"SELECT {_COLUMNS} FROM broker_requests WHERE repository = ? AND client_request_id = ?",
                (request.repository, request.client_request_id),
            ).fetchone()
            return self._row(row, self._approvals(cur, row[0])), False

    def get(self, request_id: str) -> BrokerRequest | None:
        with self._tx() as cur:
            return self._get(cur, request_id)

    def list_requests(
        self, states: Iterable[RequestState] | None = None, *, repository: str | None = None, limit: int = 200
    ) -> list[BrokerRequest]:
        clauses: list[str] = []
        params: list[Any] = []
        wanted = [s.value for s in states] if states is not None else []
        if wanted:
            clauses.append(f"state IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        if repository is not None:
            clauses.append("repository = ?")
            params.append(repository)
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        with self._tx() as cur:
            rows = self._exec(
                cur, f"SELECT {_COLUMNS} FROM broker_requests {where}ORDER BY created_at LIMIT ?", (*params, limit)
            ).fetchall()
            return [self._row(row, self._approvals(cur, row[0])) for row in rows]

    def transition(
        self,
        request_id: str,
        from_states: Iterable[RequestState],
        to_state: RequestState,
        *,
        now: datetime,
        **fields: Any,
    ) -> BrokerRequest | None:
        """Move the request to `to_state` only if it is in one of `from_states` now; None when another
        caller moved it first. `fields` may set lease, error, decision, review, expires_at."""
        sets = ["state = ?", "updated_at = ?"]
        params: list[Any] = [to_state.value, _time(now)]
        for name, value in fields.items():
            if name in ("lease", "decision", "claims", "target"):
                params.append(json.dumps(value, sort_keys=True))
            elif name == "error":
                params.append(json.dumps(value) if value else None)
            elif name == "review":
                params.append(1 if value else 0)
            elif name == "expires_at":
                params.append(_time(value))
            else:
                raise ValueError(f"cannot set {name}")
            sets.append(f"{name} = ?")
        allowed = [s.value for s in from_states]
        marks = ", ".join("?" * len(allowed))
        with self._tx() as cur:
            changed = self._exec(
                cur,
                f"UPDATE broker_requests SET {', '.join(sets)} WHERE request_id = ? AND state IN ({marks})",
                (*params, request_id, *allowed),
            ).rowcount
            return self._get(cur, request_id) if changed == 1 else None

    def due(self, state: RequestState, now: datetime, *, limit: int = 100) -> list[BrokerRequest]:
        """Requests in `state` whose `expires_at` has passed (pending approvals past their deadline, grants
        past their end)."""
        with self._tx() as cur:
            rows = self._exec(
                cur,
                f"SELECT {_COLUMNS} FROM broker_requests WHERE state = ? AND expires_at IS NOT NULL "
                "AND expires_at <= ? ORDER BY expires_at LIMIT ?",
                (state.value, _time(now), limit),
            ).fetchall()
            return [self._row(row) for row in rows]

    def stale(self, state: RequestState, before: datetime, *, limit: int = 100) -> list[BrokerRequest]:
        """Requests that have been in `state` since before `before` (a step whose replica stopped)."""
        with self._tx() as cur:
            rows = self._exec(
                cur,
                f"SELECT {_COLUMNS} FROM broker_requests WHERE state = ? AND updated_at < ? "
                "ORDER BY updated_at LIMIT ?",
                (state.value, _time(before), limit),
            ).fetchall()
            return [self._row(row) for row in rows]

    # approvals -------------------------------------------------------------------------------------
    def add_approval(self, request_id: str, record: ApprovalRecord) -> bool:
        """Record an approver's decision; False when this approver already decided on this request."""
        with self._tx() as cur:
            return bool(
                self._exec(
                    cur,
                    "INSERT INTO broker_approvals (request_id, approver_id, approver_name, decision, reason, at) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (request_id, approver_id) DO NOTHING",
                    (
                        request_id,
                        record.approver_id,
                        record.approver_name,
                        record.decision,
                        record.reason,
                        _time(record.at),
                    ),
                ).rowcount
                == 1
            )

    # token ids (replay) -------------------------------------------------------------------------------
    def use_token_id(self, jti: str, expires_at: datetime, now: datetime) -> bool:
        """Remember a token id until its token expires; False when it was used before (a replay)."""
        with self._tx() as cur:
            self._exec(cur, "DELETE FROM broker_token_ids WHERE expires_at < ?", (_time(now - timedelta(minutes=5)),))
            return bool(
                self._exec(
                    cur,
                    "INSERT INTO broker_token_ids (jti, expires_at) VALUES (?, ?) ON CONFLICT (jti) DO NOTHING",
                    (jti, _time(expires_at)),
                ).rowcount
                == 1
            )

    # the reaper's lock -------------------------------------------------------------------------------
    def try_lock(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take (or renew) a named lock until now + ttl; False while another holder's lock is live."""
        with self._tx() as cur:
            self._exec(
                cur,
                "INSERT INTO broker_locks (name, holder, until) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                (name, holder, _time(now + ttl)),
            )
            return bool(
                self._exec(
                    cur,
                    "UPDATE broker_locks SET holder = ?, until = ? WHERE name = ? AND (holder = ? OR until < ?)",
                    (holder, _time(now + ttl), name, holder, _time(now)),
                ).rowcount
                == 1
            )

    def unlock(self, name: str, holder: str) -> None:
        with self._tx() as cur:
            self._exec(cur, "DELETE FROM broker_locks WHERE name = ? AND holder = ?", (name, holder))


def open_store(location: str) -> Store:
    """`postgresql://...` (or `postgres://`) opens PostgreSQL; anything else is a SQLite file path."""
    text = location.strip()
    if not text:
        raise ConfigError("the broker store location is empty", hint="Give a SQLite path or a postgresql:// DSN.")
    postgres = text.startswith(("postgresql://", "postgres://"))
    return Store(text, postgres=postgres)
