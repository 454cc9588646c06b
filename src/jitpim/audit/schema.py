"""The ledger's database schema as numbered migrations.

`schema_version` holds one row per applied migration; the database's version is the highest. A ledger
written by a newer jitpim (a higher version than `LATEST_VERSION`) is refused rather than guessed at: an old
binary must not write rows a newer schema would misread.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from jitpim.audit.canonical import GENESIS_HASH

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "READ_INDEXES",
    "RUN_ID_SQL",
    "Migration",
    "NewerSchemaError",
    "apply_migrations",
    "current_version",
    "ledger_tables",
    "outbox_tables",
]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


# The SQL expression for a lease's CI run id (`run` holds JSON text): indexed here, filtered on by the ledger.
RUN_ID_SQL: Final = "json_extract(run, '$.run_id')"


def ledger_tables(*, big_int: str, run_id_sql: str) -> tuple[str, ...]:
    """The leases, events and chain-head tables in a dialect: `big_int` is its 64-bit integer type (SQLite's
    `INTEGER`, so that `seq INTEGER PRIMARY KEY` stays the rowid), `run_id_sql` its run-id expression."""
    return tuple(statement.format(big_int=big_int, run_id_sql=run_id_sql) for statement in _LEDGER_TABLES)


def outbox_tables(*, serial_key: str) -> tuple[str, ...]:
    """The sink outbox in a dialect: `serial_key` is its auto-numbered primary key column type."""
    return tuple(statement.format(serial_key=serial_key) for statement in _OUTBOX_TABLES)


# Templates for `str.format` (literal braces doubled). Event bodies and JSON columns are TEXT holding canonical
# JSON on every backend, so a hash computed on one verifies on the other.
_LEDGER_TABLES: Final = (
    """
    CREATE TABLE leases (
        lease_id             TEXT PRIMARY KEY NOT NULL,
        state                TEXT NOT NULL,
        kind                 TEXT NOT NULL,
        role                 TEXT NOT NULL,
        role_id              TEXT,
        scope                TEXT NOT NULL,
        principal_id         TEXT,
        tenant_id            TEXT,
        mode                 TEXT NOT NULL,
        created_at           TEXT NOT NULL,
        updated_at           TEXT NOT NULL,
        start_at             TEXT,
        end_at               TEXT,
        requested_duration_s {big_int},
        granted_duration_s   {big_int},
        request_ids          TEXT NOT NULL DEFAULT '{{}}',
        justification        TEXT,
        ticket               TEXT,
        run                  TEXT,
        owner_pid            {big_int},
        owner_host           TEXT,
        owner_started_at     TEXT,
        release_strategy     TEXT,
        outcome              TEXT,
        exit_code            INTEGER,
        notes                TEXT NOT NULL DEFAULT '[]',
        data                 TEXT NOT NULL DEFAULT '{{}}'
    )
    """,
    "CREATE INDEX leases_state ON leases (state)",
    "CREATE INDEX leases_principal ON leases (principal_id)",
    "CREATE INDEX leases_run_id ON leases ({run_id_sql})",
    """
    CREATE TABLE events (
        seq            {big_int} PRIMARY KEY,
        lease_id       TEXT REFERENCES leases (lease_id),
        type           TEXT NOT NULL,
        at             TEXT NOT NULL,
        schema_version INTEGER NOT NULL,
        body           TEXT NOT NULL,
        prev_hash      TEXT NOT NULL,
        hash           TEXT NOT NULL UNIQUE,
        signature      TEXT
    )
    """,
    "CREATE INDEX events_lease ON events (lease_id, seq)",
    # The head of the hash chain: read and advanced inside the append transaction, so concurrent writers
    # serialise on it, and verification notices events deleted from the end of the chain.
    """
    CREATE TABLE chain_head (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        seq  {big_int} NOT NULL,
        hash TEXT NOT NULL
    )
    """,
    f"INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '{GENESIS_HASH}')",  # noqa: S608 - a constant
)

# The sink outbox: every audit record bound for a sink is written here before delivery is tried, so a sink
# that fails (or a process that dies mid-delivery) never loses it; `jitpim audit flush` retries what is pending.
_OUTBOX_TABLES: Final = (
    """
    CREATE TABLE outbox (
        id              {serial_key},
        sink            TEXT NOT NULL,
        record_id       TEXT NOT NULL,
        lease_id        TEXT,
        record          TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        last_attempt_at TEXT,
        last_error      TEXT,
        delivered_at    TEXT,
        UNIQUE (sink, record_id)
    )
    """,
    "CREATE INDEX outbox_pending ON outbox (sink, delivered_at, id)",
)

_V1_STATEMENTS: Final = (
    """
    CREATE TABLE schema_version (
        version     INTEGER PRIMARY KEY,
        applied_at  TEXT NOT NULL,
        description TEXT NOT NULL
    )
    """,
    *ledger_tables(big_int="INTEGER", run_id_sql=RUN_ID_SQL),
    # Events are append-only. Only a NULL signature may be filled in later (by the signing step); anything
    # else is refused by the database itself. Verification still catches edits made after dropping these.
    """
    CREATE TRIGGER events_append_only_update
    BEFORE UPDATE OF seq, lease_id, type, at, schema_version, body, prev_hash, hash ON events
    BEGIN
        SELECT RAISE(ABORT, 'ledger events are append-only');
    END
    """,
    """
    CREATE TRIGGER events_signature_once
    BEFORE UPDATE OF signature ON events
    WHEN OLD.signature IS NOT NULL
    BEGIN
        SELECT RAISE(ABORT, 'an event signature cannot be replaced');
    END
    """,
    """
    CREATE TRIGGER events_append_only_delete
    BEFORE DELETE ON events
    BEGIN
        SELECT RAISE(ABORT, 'ledger events are append-only');
    END
    """,
)

_V2_STATEMENTS: Final = outbox_tables(serial_key="INTEGER PRIMARY KEY AUTOINCREMENT")

# Indexes for readers that page through a large ledger (the dashboard): newest leases first, and events of
# one type (failures, approvals) newest first, without scanning every event. Same SQL on both backends.
READ_INDEXES: Final = (
    "CREATE INDEX leases_created ON leases (created_at)",
    "CREATE INDEX events_type ON events (type, seq)",
)

MIGRATIONS: Final = (
    Migration(1, "leases, hash-chained events, chain head", _V1_STATEMENTS),
    Migration(2, "sink outbox", _V2_STATEMENTS),
    Migration(3, "indexes for paging readers", READ_INDEXES),
)
LATEST_VERSION: Final = MIGRATIONS[-1].version


class NewerSchemaError(Exception):
    """The database was written by a newer jitpim (carries the version found)."""

    def __init__(self, found: int) -> None:
        super().__init__(found)
        self.found = found


def current_version(conn: sqlite3.Connection) -> int:
    """The applied schema version; 0 for an empty database."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0


def apply_migrations(conn: sqlite3.Connection) -> int:
    """Bring the schema to LATEST_VERSION inside one IMMEDIATE transaction; returns the version.

    The caller's connection must be in autocommit mode (isolation_level=None). Two processes opening a fresh
    ledger at once serialise on the write lock; the second sees the first's work and applies nothing.
    """
    version = current_version(conn)
    if version > LATEST_VERSION:
        raise NewerSchemaError(version)
    if version == LATEST_VERSION:
        return LATEST_VERSION  # the common case: no write lock needed
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = current_version(conn)
        if version > LATEST_VERSION:
            raise NewerSchemaError(version)
        for migration in MIGRATIONS:
            if migration.version <= version:
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)",
                (migration.version, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), migration.description),
            )
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return LATEST_VERSION
