"""What a verification found: the report, its first problem, and reading raw event rows. Kept apart from the
verifiers (`verify`, `verify_evidence`) so that the modules they use (`lease_rows`, `checkpoints`) can report
problems without importing a verifier back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from jitpim.errors import AuditVerificationError

__all__ = ["EVENT_COLUMNS", "SQLITE_MAGIC", "Problem", "VerifyReport", "plain_rows", "stream_rows"]

EVENT_COLUMNS: Final = "seq, lease_id, type, at, schema_version, body, prev_hash, hash, signature"
SQLITE_MAGIC: Final = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Problem:
    """The first broken link: what kind, where (`event seq 17` or `line 5`), and a sentence."""

    kind: str
    where: str
    message: str
    seq: int | None = None
    line: int | None = None
    lease_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "where": self.where,
            "message": self.message,
            "seq": self.seq,
            "line": self.line,
            "lease_id": self.lease_id,
        }


@dataclass
class VerifyReport:
    """What was checked and the first problem found (None when everything verified)."""

    source: str
    kind: str  # "ledger" | "evidence"
    checked: int = 0  # events (ledger) or records (evidence file)
    signatures: int = 0  # signatures verified one by one
    covered: int = 0  # summaries vouched for by a later signed checkpoint (see checkpoints.py)
    checkpoints: int = 0  # checkpoints in the ledger
    trusted: bool = True  # False when only keys embedded in the file itself were available
    key_ids: list[str] = field(default_factory=list)
    problem: Problem | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source": self.source,
            "kind": self.kind,
            "checked": self.checked,
            "signatures": self.signatures,
            "covered_by_checkpoints": self.covered,
            "checkpoints": self.checkpoints,
            "trusted_keys": self.trusted,
            "key_ids": self.key_ids,
            "problem": self.problem.to_json() if self.problem else None,
            "notes": self.notes,
        }

    def raise_for_problem(self) -> None:
        if self.problem is not None:
            raise AuditVerificationError(
                f"{self.problem.where}: {self.problem.message}",
                target=self.source,
                hint="The audit trail was altered after it was written, or checked with the wrong public key.",
            )


def plain_rows(cursor: Iterable[Any]) -> Iterator[Sequence[Any]]:
    """Rows addressable by position: sqlite3 tuples and Rows pass through, dict rows become tuples."""
    for row in cursor:
        yield tuple(row.values()) if isinstance(row, Mapping) else row


def stream_rows(conn: Any, query: str, params: Sequence[Any] = ()) -> Iterator[Sequence[Any]]:
    """Iterate a query as plain tuples without fetching it whole (SQLite steps a cursor of its own without the
    connection's row factory; PostgreSQL uses a server-side cursor)."""
    iter_tuples = getattr(conn, "iter_tuples", None)
    if callable(iter_tuples):
        rows: Iterator[Sequence[Any]] = iter_tuples(query, params)
        return rows
    if isinstance(conn, sqlite3.Connection):
        cursor = conn.cursor()
        cursor.row_factory = None  # tuples: no per-row object to build
        return cursor.execute(query, params)
    return plain_rows(conn.execute(query, params))
