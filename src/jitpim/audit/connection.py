"""Opening the ledger's SQLite connection: private file, WAL, durable commits, migrated schema.

Every failure becomes `LedgerError` with the path and the OS/SQLite reason (never data values).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from jitpim.audit.location import create_private
from jitpim.audit.schema import LATEST_VERSION, NewerSchemaError, apply_migrations, current_version
from jitpim.errors import LedgerError

__all__ = ["connect", "ledger_error", "newer_schema_error"]


def ledger_error(doing: str, error: BaseException, path: Path) -> LedgerError:
    """`<path>: cannot <doing> the ledger: <reason>` from an OSError or sqlite3.Error."""
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return LedgerError(f"cannot {doing} the ledger: {reason}", target=str(path))


def newer_schema_error(found: int, path: Path) -> LedgerError:
    return LedgerError(
        f"the ledger has schema version {found}, newer than this jitpim supports ({LATEST_VERSION})",
        hint="Upgrade jitpim to use this ledger; an older version must not write it. Nothing was granted.",
        target=str(path),
    )


def connect(path: Path, *, busy_timeout_s: float, read_only: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), rows as sqlite3.Row, shareable
    between threads (the Ledger serialises use with its own lock)."""
    conn: sqlite3.Connection | None = None
    try:
        if read_only:
            if not path.is_file():
                raise LedgerError("there is no ledger at this path", target=str(path))
            conn = _connect_read_only(path, busy_timeout_s)
        else:
            create_private(path)
            conn = sqlite3.connect(str(path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
        if read_only:
            _check_readable(conn, path)
        else:
            _prepare_writable(conn, busy_timeout_s)
    except BaseException as error:
        if conn is not None:
            conn.close()
        if isinstance(error, NewerSchemaError):
            raise newer_schema_error(error.found, path) from None
        if isinstance(error, sqlite3.Error | OSError):
            raise ledger_error("open", error, path) from error
        raise
    return conn


def _connect_read_only(path: Path, busy_timeout_s: float) -> sqlite3.Connection:
    """`mode=ro`; and when this user cannot write the ledger's folder either (a read-only mount, an
    auditor's copy), `immutable=1`: a WAL ledger opened read-only needs its `-shm` file, which SQLite cannot
    create there, and nobody who could change the file is expected to be writing it."""
    uri = path.resolve().as_uri()
    suffix = "?mode=ro" if os.access(path.parent, os.W_OK) else "?mode=ro&immutable=1"
    return sqlite3.connect(
        f"{uri}{suffix}", uri=True, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
    )


def _enable_wal(conn: sqlite3.Connection, busy_timeout_s: float) -> str:
    """Switch to WAL (persistent in the file: a no-op after the first time); returns the journal mode.

    Switching needs an exclusive lock, and SQLite answers SQLITE_BUSY at once, without its busy handler,
    when another process holds any lock meanwhile (several jobs opening a fresh ledger together), so this
    waits for the lock itself, within the same busy timeout.
    """
    deadline = time.monotonic() + busy_timeout_s
    pause = 0.005
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
        except sqlite3.OperationalError as error:
            code = getattr(error, "sqlite_errorcode", 0) & 0xFF
            if code not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _prepare_writable(conn: sqlite3.Connection, busy_timeout_s: float) -> None:
    journal = _enable_wal(conn, busy_timeout_s)
    if journal != "wal":
        raise sqlite3.OperationalError(f"the filesystem does not support WAL (journal mode {journal})")
    # FULL: a commit is fsync'ed to the WAL before it returns, which is what makes Ledger.begin() durable.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    apply_migrations(conn)
    # Try a write and roll it back, so a ledger that opens but cannot be written (a read-only file) fails
    # here, before any planning work, rather than at the first begin().
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("UPDATE chain_head SET seq = seq WHERE id = 1")
    finally:
        conn.execute("ROLLBACK")


def _check_readable(conn: sqlite3.Connection, path: Path) -> None:
    version = current_version(conn)
    if version > LATEST_VERSION:
        raise NewerSchemaError(version)
    if version < LATEST_VERSION:
        raise LedgerError(
            f"the ledger has schema version {version}; this jitpim reads version {LATEST_VERSION}",
            hint="Open it once without read_only (any jitpim command that writes) to migrate it.",
            target=str(path),
        )
