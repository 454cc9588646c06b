"""The lease ledger on PostgreSQL (psycopg 3), for fleets of runners sharing one: the same API and the same
hash-chain semantics as the SQLite `Ledger`.

Every append runs in one transaction that first takes the chain head row with `SELECT ... FOR UPDATE`: a
second writer (another process, another machine) blocks on that row until the first commits, then reads the
new head, so the chain stays linear however many processes write. Commits are durable per the server's
`synchronous_commit` (on by default), so `begin()` returning still means the lease is recorded before
anything is granted. Errors carry the server (never its password) and the server's reason, never values.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from jitpim.audit._ledger_core import LedgerCore
from jitpim.audit.owner import ProcessOwner
from jitpim.audit.postgres_schema import PG_RUN_ID_SQL, apply_pg_migrations, pg_current_version
from jitpim.audit.schema import NewerSchemaError
from jitpim.errors import LedgerError, require_extra

__all__ = ["PostgresLedger", "redact_dsn"]


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
        self._cursors = 0

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self._conn.execute(sql.replace("?", "%s"), tuple(parameters))

    def fetch_tuples(self, sql: str, parameters: Any = (), /) -> list[tuple[Any, ...]]:
        """All rows as plain tuples (no per-row dict): what bulk readers such as verification want."""
        from psycopg.rows import tuple_row

        with self._conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(sql.replace("?", "%s"), tuple(parameters))
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows

    def iter_tuples(self, sql: str, parameters: Any = (), /, *, batch: int = 5000) -> Iterator[tuple[Any, ...]]:
        """Rows as plain tuples through a server-side cursor, `batch` at a time: flat memory for any table size
        (verification streams a million events this way)."""
        from psycopg.rows import tuple_row

        self._cursors += 1
        with self._conn.cursor(name=f"jitpim_stream_{self._cursors}", row_factory=tuple_row) as cursor:
            cursor.itersize = batch
            cursor.execute(sql.replace("?", "%s"), tuple(parameters))
            yield from cursor

    def repeatable_snapshot(self) -> None:
        """Make this (fresh) transaction see one snapshot for all its statements: a verification's walk, its
        lookups and its row comparison must not see a write that commits in between."""
        self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")


class PostgresLedger(LedgerCore[Any, _Db]):
    """A lease ledger in a PostgreSQL database (`dsn`: `postgresql://user:password@host:port/db`).

    Options as for `Ledger`: `clock` (aware UTC datetimes), `owner`, `connect_timeout_s`.
    """

    # FOR UPDATE: a concurrent writer waits on the head row until this transaction commits, then sees our head.
    _HEAD_LOCK = " FOR UPDATE"
    _RUN_ID_SQL = PG_RUN_ID_SQL

    def __init__(
        self,
        dsn: str,
        *,
        clock: Callable[[], datetime] | None = None,
        owner: ProcessOwner | None = None,
        connect_timeout_s: int = 10,
    ) -> None:
        require_extra("psycopg", "postgres", "A PostgreSQL ledger")
        import psycopg
        from psycopg.rows import dict_row

        super().__init__(clock=clock, owner=owner)
        self._dsn = dsn
        self.location = redact_dsn(dsn)
        try:
            self._conn = psycopg.connect(dsn, autocommit=True, row_factory=dict_row, connect_timeout=connect_timeout_s)
        except psycopg.Error as error:
            raise self._error("open", error) from None
        try:
            self.migrate()
        except BaseException:
            self._conn.close()
            raise

    # -- connection -------------------------------------------------------------------------------------

    def reopen(self) -> PostgresLedger:
        """A second connection to the same ledger, for a reader working in parallel (verification)."""
        return PostgresLedger(self._dsn)

    @property
    def _target(self) -> str:
        return self.location

    def _error(self, doing: str, error: BaseException) -> LedgerError:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return LedgerError(f"cannot {doing} the ledger: {reason}", target=self.location)

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

    def __repr__(self) -> str:
        return f"PostgresLedger({self.location!r})"

    @contextlib.contextmanager
    def _transaction(self, doing: str, *, durable: bool = True) -> Iterator[_Db]:
        import psycopg

        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    if not durable:  # flushed with the next durable commit (or the WAL writer, within 200 ms)
                        conn.execute("SET LOCAL synchronous_commit TO OFF")
                    yield _Db(conn)
            except psycopg.Error as error:
                raise self._error(doing, error) from None

    def _write(self, *, durable: bool = True) -> contextlib.AbstractContextManager[_Db]:
        return self._transaction("write", durable=durable)

    def _read(self) -> contextlib.AbstractContextManager[_Db]:
        return self._transaction("read")
