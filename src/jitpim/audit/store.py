"""What the audit modules need from a ledger, and opening the right one (SQLite file or PostgreSQL DSN).

`Ledger` (SQLite) and `PostgresLedger` both satisfy `AuditStore`: the same lease and event API, plus
`read_transaction()` / `write_transaction()` yielding a connection whose `execute(sql, params)` takes `?`
parameter markers and returns rows addressable by column name. The audit modules (summary, outbox,
verification, export) are written once against this protocol.
"""

from __future__ import annotations

import builtins
import contextlib
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Protocol, Self

from jitpim.audit._ledger_core import Transition
from jitpim.audit.db import Db
from jitpim.audit.events import ChainVerification
from jitpim.audit.location import LEDGER_ENV
from jitpim.audit.records import EventRecord, LeaseRecord

__all__ = ["POSTGRES_SCHEMES", "AuditStore", "Db", "is_postgres_dsn", "open_store", "store_file"]

POSTGRES_SCHEMES: Final = ("postgresql://", "postgres://")


class AuditStore(Protocol):
    """The ledger API shared by the SQLite and PostgreSQL ledgers."""

    def begin(self, lease: Mapping[str, object], *, details: Mapping[str, object] | None = None) -> LeaseRecord: ...

    def get(self, lease_id: str) -> LeaseRecord: ...

    def find(self, lease_id: str) -> LeaseRecord | None: ...

    def list(
        self,
        *,
        state: str | Iterable[str] | None = None,
        principal_id: str | None = None,
        run_id: str | None = None,
        kind: str | None = None,
        active_only: bool = False,
    ) -> builtins.list[LeaseRecord]: ...

    def open_leases(self) -> builtins.list[LeaseRecord]: ...

    def events(self, lease_id: str | None = None, *, after_seq: int = 0) -> builtins.list[EventRecord]: ...

    def append_event(
        self,
        lease_id: str | None,
        event_type: str,
        body: Mapping[str, object] | None = None,
        *,
        signature: str | None = None,
    ) -> EventRecord: ...

    def transition(
        self,
        lease_id: str,
        /,
        state: str,
        event_type: str,
        body: Mapping[str, object] | None = None,
        **fields: object,
    ) -> Transition: ...

    def append_signed(
        self, event_type: str, build: Callable[[Any, int, str], tuple[Mapping[str, object], str]]
    ) -> EventRecord: ...

    def verify_chain(self) -> ChainVerification: ...

    def read_transaction(self) -> contextlib.AbstractContextManager[Db]: ...

    def write_transaction(self) -> contextlib.AbstractContextManager[Db]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None, /
    ) -> None: ...


def is_postgres_dsn(location: str | os.PathLike[str] | None) -> bool:
    return location is not None and str(location).startswith(POSTGRES_SCHEMES)


def open_store(
    location: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    read_only: bool = False,
    **options: Any,
) -> AuditStore:
    """The ledger at `location` (else `$JITPIM_LEDGER`, else the default file): a `postgresql://` DSN opens
    `PostgresLedger`, anything else the SQLite `Ledger`."""
    env = os.environ if environ is None else environ
    chosen = location if location is not None and str(location) != "" else env.get(LEDGER_ENV) or None
    if is_postgres_dsn(chosen):
        from jitpim.audit.postgres import PostgresLedger

        return PostgresLedger(str(chosen), **options)
    from jitpim.audit.ledger import Ledger

    return Ledger(chosen, environ=env, read_only=read_only, **options)


def store_file(store: AuditStore) -> Path | None:
    """The SQLite file behind a store (None for PostgreSQL): where the generated signing key lives."""
    path = getattr(store, "path", None)
    return path if isinstance(path, Path) else None
