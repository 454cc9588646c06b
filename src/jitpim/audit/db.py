"""A connection inside one ledger transaction, as every ledger backend yields it: the one thing the shared
ledger core, the backends and the audit modules all need, kept apart so none of them imports another for it."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Db"]


class Db(Protocol):
    """A connection inside one transaction: `execute(sql, params)` with `?` parameter markers."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...
