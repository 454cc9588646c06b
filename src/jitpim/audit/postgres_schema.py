"""The PostgreSQL ledger's schema: the same tables, columns and migration numbers as the SQLite ledger
(`schema.py`), in PostgreSQL's dialect.

Event bodies and JSON columns are `TEXT` holding canonical JSON, exactly as in SQLite, so a hash computed on
one backend verifies on the other and the stored bytes are the hashed bytes (`jsonb` would re-serialise).
Migrations run in one transaction under a transaction-scoped advisory lock, so many runners opening a fresh
database at once apply each migration exactly once.
"""

from __future__ import annotations

from typing import Any, Final

from jitpim.audit.schema import LATEST_VERSION, READ_INDEXES, NewerSchemaError, ledger_tables, outbox_tables

__all__ = ["MIGRATION_LOCK", "PG_MIGRATIONS", "PG_RUN_ID_SQL", "apply_pg_migrations", "pg_current_version"]

# Advisory lock keys (any constant bigint): one for migrations, one taken by every chain append.
MIGRATION_LOCK: Final = 7_315_052_901

# The SQL expression for a lease's CI run id (`run` holds JSON text): indexed here, filtered on by the ledger.
PG_RUN_ID_SQL: Final = "((run::jsonb) ->> 'run_id')"

_V1: Final = (
    *ledger_tables(big_int="BIGINT", run_id_sql=PG_RUN_ID_SQL),
    """
    CREATE FUNCTION jitpim_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'ledger events are append-only';
        END IF;
        IF (NEW.seq, NEW.lease_id, NEW.type, NEW.at, NEW.schema_version, NEW.body, NEW.prev_hash, NEW.hash)
           IS DISTINCT FROM
           (OLD.seq, OLD.lease_id, OLD.type, OLD.at, OLD.schema_version, OLD.body, OLD.prev_hash, OLD.hash) THEN
            RAISE EXCEPTION 'ledger events are append-only';
        END IF;
        IF OLD.signature IS NOT NULL AND NEW.signature IS DISTINCT FROM OLD.signature THEN
            RAISE EXCEPTION 'an event signature cannot be replaced';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION jitpim_events_append_only()
    """,
)

_V2: Final = outbox_tables(serial_key="BIGSERIAL PRIMARY KEY")

PG_MIGRATIONS: Final = (
    (1, "leases, hash-chained events, chain head", _V1),
    (2, "sink outbox", _V2),
    (3, "indexes for paging readers", READ_INDEXES),
)
assert PG_MIGRATIONS[-1][0] == LATEST_VERSION, "keep the PostgreSQL migrations in step with schema.py"


def pg_current_version(conn: Any) -> int:
    exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL AS present").fetchone()
    if not exists["present"]:
        return 0
    row = conn.execute("SELECT MAX(version) AS version FROM schema_version").fetchone()
    return int(row["version"]) if row is not None and row["version"] is not None else 0


def apply_pg_migrations(conn: Any, now: str) -> int:
    """Bring the schema to LATEST_VERSION (the connection is in autocommit mode); returns the version."""
    version = pg_current_version(conn)
    if version > LATEST_VERSION:
        raise NewerSchemaError(version)
    if version == LATEST_VERSION:
        return version
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version ("
            "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL, description TEXT NOT NULL)"
        )
        version = pg_current_version(conn)
        if version > LATEST_VERSION:
            raise NewerSchemaError(version)
        for number, description, statements in PG_MIGRATIONS:
            if number <= version:
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at, description) VALUES (%s, %s, %s)",
                (number, now, description),
            )
    return LATEST_VERSION
