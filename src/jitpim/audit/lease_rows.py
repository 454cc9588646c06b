"""Lease rows derived from the hash chain: the `leases` table is a cache, the chain is the truth.

Every event that writes a lease row carries what it wrote: the `lease.requested` event holds the new row
(`lease`, with `row_version`), and every later change (`transition()`, `update()`) holds `lease_changes`, the
fields it set including `updated_at`. Folding a lease's events in chain order gives the row exactly as jitpim
wrote it, so a row edited outside jitpim (its state set to `released` to hide it from the reaper, its
justification rewritten) is told apart from the truth: reads return the chain's row and say so, and
`jitpim audit verify` names the edited lease and fields.

Leases begun by a jitpim older than this (no `row_version` in their `lease.requested`) cannot be derived;
their rows are taken as stored and verification notes how many there were.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Final, cast

from jitpim.audit.records import LEASE_COLUMNS, LeaseRecord
from jitpim.audit.verify_report import Problem, stream_rows

__all__ = [
    "LEASE_CHANGES",
    "ROW_VERSION",
    "ROW_VERSION_KEY",
    "changed_fields",
    "check_rows",
    "derive_lease",
    "fold_event",
    "initial_row",
    "prefer_chain",
    "trusted_lease",
]

ROW_VERSION: Final = 1
ROW_VERSION_KEY: Final = "row_version"
LEASE_CHANGES: Final = "lease_changes"
_REQUESTED: Final = "lease.requested"
_SUMMARY: Final = "lease.summary"
_DEFAULTS: Final[dict[str, Any]] = {
    spec.name: ({} if spec.json_type is dict and spec.name != "run" else [] if spec.json_type is list else None)
    for spec in LEASE_COLUMNS
}
_log = logging.getLogger("jitpim.audit")


def initial_row(snapshot: Mapping[str, Any], at: str) -> dict[str, Any]:
    """The row a `lease.requested` event wrote: the defaults, its snapshot, and its time as both stamps."""
    row = dict(_DEFAULTS)
    row.update(snapshot)
    row["created_at"] = at
    row["updated_at"] = at
    return row


def fold_event(
    row: dict[str, Any] | None, event_type: str, at: str, body_text: str, *, strict: bool = False
) -> dict[str, Any] | None:
    """Apply one event (its stored body text) to the row derived so far; None while nothing is derivable.

    Bodies are parsed only when they can hold a row (the `lease.requested`, or a `lease_changes` key), so a
    long chain of other events costs a substring test each. A body that cannot be read (edited: the chain
    walk names it) makes the lease not derivable, or raises ValueError when `strict`."""
    try:
        return _fold(row, event_type, at, body_text)
    except (ValueError, TypeError, AttributeError):
        if strict:
            raise ValueError("an event body cannot be read back") from None
        return None


def _fold(row: dict[str, Any] | None, event_type: str, at: str, body_text: str) -> dict[str, Any] | None:
    if event_type == _SUMMARY:
        return row
    if event_type == _REQUESTED and row is None:
        body = json.loads(body_text)
        snapshot = body.get("lease") if isinstance(body, Mapping) else None
        if body.get(ROW_VERSION_KEY) != ROW_VERSION or not isinstance(snapshot, Mapping):
            return None  # begun by an older jitpim: not derivable
        return initial_row(snapshot, at)
    if row is None or f'"{LEASE_CHANGES}":' not in body_text:
        return row
    body = json.loads(body_text)
    changes = body.get(LEASE_CHANGES) if isinstance(body, Mapping) else None
    if isinstance(changes, Mapping):
        row.update(changes)
    return row


def derive_lease(events: Iterable[tuple[str, str, str]]) -> dict[str, Any] | None:
    """The row derived from one lease's `(type, at, body_text)` events in chain order (None: not derivable)."""
    row: dict[str, Any] | None = None
    for event_type, at, body_text in events:
        row = fold_event(row, event_type, at, body_text)
    return row


def changed_fields(stored: Mapping[str, Any], derived: Mapping[str, Any]) -> list[str]:
    """The columns where the stored row differs from the chain's."""
    return [spec.name for spec in LEASE_COLUMNS if stored.get(spec.name) != derived.get(spec.name)]


def trusted_lease(stored: LeaseRecord, events: Iterable[tuple[str, str, str]]) -> LeaseRecord:
    """The lease as the chain recorded it: `stored` when it matches (or cannot be derived), else the derived
    row, with a warning naming the lease and the edited fields (never their values)."""
    return prefer_chain(stored, derive_lease(events))


def prefer_chain(stored: LeaseRecord, derived: Mapping[str, Any] | None) -> LeaseRecord:
    """`stored` when it matches the row derived from the chain (or none was derivable), else the derived row
    with a warning."""
    if derived is None:
        return stored
    edited = changed_fields(stored, derived)
    if not edited:
        return stored
    _log.warning(
        "the ledger row of lease %s was edited outside jitpim (%s); using the record in the hash chain "
        "(run `jitpim audit verify`)",
        stored["lease_id"],
        ", ".join(edited),
    )
    return cast(LeaseRecord, {spec.name: derived.get(spec.name) for spec in LEASE_COLUMNS})


def _problem(kind: str, lease_id: str | None, message: str) -> Any:
    return Problem(kind, f"lease {lease_id}", message, lease_id=lease_id)


def check_rows(conn: Any, report: Any) -> Any:
    """Compare every `leases` row with the lease its events record (one streamed merge of both tables in
    lease order, flat memory); the first edited row as a `Problem`, or None. Counts legacy rows in notes."""
    from jitpim.audit.records import lease_from_row

    def stream(query: str) -> Iterator[Sequence[Any]]:
        return stream_rows(conn, query)

    orphan = conn.execute(
        "SELECT e.lease_id FROM events e LEFT JOIN leases l ON l.lease_id = e.lease_id "
        "WHERE e.lease_id IS NOT NULL AND l.lease_id IS NULL LIMIT 1",
        (),
    ).fetchone()
    if orphan is not None:
        lease_id = next(iter(orphan.values())) if isinstance(orphan, Mapping) else orphan[0]
        return _problem("row", lease_id, f"the row of lease {lease_id} was deleted from the leases table")
    names = [spec.name for spec in LEASE_COLUMNS]
    leases = stream(f"SELECT {', '.join(names)} FROM leases ORDER BY lease_id")  # noqa: S608 - fixed columns
    events = stream(
        "SELECT lease_id, type, at, body FROM events WHERE lease_id IS NOT NULL AND type <> 'lease.summary' "
        "ORDER BY lease_id, seq"
    )
    pending = next(events, None)
    legacy = 0
    for values in leases:
        stored = lease_from_row(dict(zip(names, values, strict=True)))
        lease_id = stored["lease_id"]
        derived: dict[str, Any] | None = None
        seen = False
        unreadable = False
        while pending is not None and pending[0] == lease_id:
            seen = True
            try:
                derived = fold_event(derived, pending[1], pending[2], pending[3], strict=True)
            except ValueError:  # an edited body: the chain walk names it
                unreadable = True
            pending = next(events, None)
        if unreadable:
            return _problem("row", lease_id, f"the events of lease {lease_id} cannot be read back (edited)")
        if not seen:
            return _problem("row", lease_id, f"lease {lease_id} has a row but no events (added outside jitpim)")
        if derived is None:
            legacy += 1
            continue
        edited = changed_fields(stored, derived)
        if edited:
            return _problem(
                "row",
                lease_id,
                f"the row of lease {lease_id} was edited outside jitpim ({', '.join(edited)} differ from the chain)",
            )
    if legacy:
        report.notes.append(f"{legacy} lease row(s) predate chain-derived rows and were not compared")
    return None
