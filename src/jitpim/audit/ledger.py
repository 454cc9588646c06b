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

import contextlib
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from jitpim.audit._ledger_core import BEGIN_STATES, LedgerCore, Transition
from jitpim.audit.connection import connect, ledger_error, newer_schema_error
from jitpim.audit.location import resolve_ledger_path
from jitpim.audit.owner import ProcessOwner
from jitpim.audit.schema import RUN_ID_SQL, NewerSchemaError, apply_migrations, current_version
from jitpim.errors import LedgerError

__all__ = ["BEGIN_STATES", "Ledger", "Transition"]

_DEFAULT_BUSY_TIMEOUT_S: Final = 30.0


class Ledger(LedgerCore[sqlite3.Connection, sqlite3.Connection]):
    """A lease ledger backed by one SQLite file. Use as a context manager, or call `close()`.

    `path`: the file (else `$JITPIM_LEDGER`, else `$XDG_STATE_HOME/jitpim/ledger.sqlite3`, else
    `~/.local/state/jitpim/ledger.sqlite3`). `clock` returns the aware UTC time stamped on rows and events
    (injectable so emulated runs record emulated time). `owner` is the process recorded as a new lease's
    owner unless the lease names one. `read_only=True` opens an existing ledger for viewing (status,
    dashboards, verification) without creating, migrating or writing it; writes then raise LedgerError.
    """

    # No chain-head clause: every write transaction is `BEGIN IMMEDIATE`, holding SQLite's write lock from
    # its first read, so appends already serialise.
    _HEAD_LOCK = ""
    _RUN_ID_SQL = RUN_ID_SQL

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
        super().__init__(clock=clock, owner=owner)
        self._path = resolve_ledger_path(path, environ)
        self._conn = connect(self._path, busy_timeout_s=busy_timeout_s, read_only=read_only)
        self._synchronous = "FULL"  # what connect() set

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, **options: Any) -> Ledger:
        """Open (creating and migrating when needed) the ledger at `path` or the configured default."""
        return cls(path, **options)

    # -- connection -------------------------------------------------------------------------------------

    def reopen(self) -> Ledger:
        """A second, read-only connection to the same file, for a reader working in parallel (verification)."""
        return Ledger(self._path, read_only=True)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def _target(self) -> str:
        return str(self._path)

    def _error(self, doing: str, error: BaseException) -> LedgerError:
        return ledger_error(doing, error, self._path)

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

    def __repr__(self) -> str:
        return f"Ledger(path={str(self._path)!r})"

    @contextlib.contextmanager
    def _transaction(self, begin: str, doing: str, synchronous: str | None = None) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._connection()
            try:
                if (
                    synchronous is not None and synchronous != self._synchronous
                ):  # a connection setting, changed only between transactions
                    conn.execute(f"PRAGMA synchronous = {synchronous}")
                    self._synchronous = synchronous
                conn.execute(begin)
            except sqlite3.Error as error:
                raise self._error(doing, error) from error
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException as error:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                if isinstance(error, sqlite3.Error):
                    raise self._error(doing, error) from error
                raise

    def _write(self, *, durable: bool = True) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One IMMEDIATE transaction: the write lock is held from the first read to COMMIT. Durable commits fsync
        the WAL (`synchronous=FULL`), which also makes every earlier `NORMAL` commit durable."""
        return self._transaction("BEGIN IMMEDIATE", "write", "FULL" if durable else "NORMAL")

    def _read(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One read transaction: a consistent snapshot even while other processes append."""
        return self._transaction("BEGIN", "read")
