"""The ledger's rows as typed dicts, and conversion between Python values and stored columns.

The ledger takes its states from `jitpim.model.lease` (the one owner of the lease state machine); otherwise a
lease is written as a mapping of column name to plain value
(str, int, JSON-able dict/list, or an aware datetime for the time columns) and read back as a `LeaseRecord`.
Times are stored as UTC ISO-8601 text with microseconds and a `Z` (`2025-01-31T09:00:00.000000Z`), so they
sort as text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal, TypedDict, cast

from jitpim.audit.canonical import canonical_json
from jitpim.errors import LedgerError
from jitpim.model.lease import LeaseState

__all__ = [
    "LEASE_COLUMNS",
    "TERMINAL_STATES",
    "Column",
    "EventRecord",
    "LeaseRecord",
    "format_time",
    "lease_column",
    "lease_from_row",
    "to_column",
]

ColumnKind = Literal["text", "int", "time", "json"]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: ColumnKind
    required: bool = False  # must be given to begin()
    mutable: bool = True  # may be changed by update()/transition()
    json_type: type | None = None  # for json columns: dict or list


# States after which a lease holds no access and needs nothing more. `release_failed` is deliberately NOT
# terminal: access may still be granted, so the reaper must keep seeing it.
TERMINAL_STATES: Final = frozenset(state.value for state in LeaseState if state.is_terminal)

LEASE_COLUMNS: Final = (
    Column("lease_id", "text", required=True, mutable=False),
    Column("state", "text", required=True),
    Column("kind", "text", required=True),
    Column("role", "text", required=True),
    Column("role_id", "text"),
    Column("scope", "text", required=True),
    Column("principal_id", "text"),
    Column("tenant_id", "text"),
    Column("mode", "text", required=True),
    Column("created_at", "time", mutable=False),
    Column("updated_at", "time"),
    Column("start_at", "time"),
    Column("end_at", "time"),
    Column("requested_duration_s", "int"),
    Column("granted_duration_s", "int"),
    Column("request_ids", "json", json_type=dict),
    Column("justification", "text"),
    Column("ticket", "text"),
    Column("run", "json", json_type=dict),
    Column("owner_pid", "int"),
    Column("owner_host", "text"),
    Column("owner_started_at", "time"),
    Column("release_strategy", "text"),
    Column("outcome", "text"),
    Column("exit_code", "int"),
    Column("notes", "json", json_type=list),
    Column("data", "json", json_type=dict),
)
_BY_NAME: Final = {column.name: column for column in LEASE_COLUMNS}
_STATES: Final = frozenset(state.value for state in LeaseState)


class LeaseRecord(TypedDict):
    """One lease as read back from the ledger (JSON columns decoded)."""

    lease_id: str
    state: str
    kind: str
    role: str
    role_id: str | None
    scope: str
    principal_id: str | None
    tenant_id: str | None
    mode: str
    created_at: str
    updated_at: str
    start_at: str | None
    end_at: str | None
    requested_duration_s: int | None
    granted_duration_s: int | None
    request_ids: dict[str, Any]
    justification: str | None
    ticket: str | None
    run: dict[str, Any] | None
    owner_pid: int | None
    owner_host: str | None
    owner_started_at: str | None
    release_strategy: str | None
    outcome: str | None
    exit_code: int | None
    notes: list[Any]
    data: dict[str, Any]


class EventRecord(TypedDict):
    """One audit event as read back from the ledger (body decoded)."""

    seq: int
    lease_id: str | None
    type: str
    at: str
    schema_version: int
    body: dict[str, Any]
    prev_hash: str
    hash: str
    signature: str | None


def format_time(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _bad(column: str, expected: str) -> LedgerError:
    return LedgerError(f"lease field {column!r} must be {expected}")


def lease_column(name: str) -> Column:
    found = _BY_NAME.get(name)
    if found is None:
        raise LedgerError(f"unknown lease field {name!r}", hint="The lease fields are listed in LEASE_COLUMNS.")
    return found


def _time_text(spec: Column, value: object) -> str:
    if isinstance(value, datetime):
        try:
            return format_time(value)
        except ValueError:
            raise _bad(spec.name, "a timezone-aware datetime") from None
    if isinstance(value, str):
        try:
            return format_time(datetime.fromisoformat(value))
        except ValueError:
            raise _bad(spec.name, "an ISO-8601 time with a UTC offset") from None
    raise _bad(spec.name, "a datetime or ISO-8601 text")


def to_column(name: str, value: object) -> object:
    """Convert a Python value for column `name` into what is stored (None stays NULL where allowed)."""
    spec = lease_column(name)
    if value is None:
        if spec.required:
            raise _bad(name, "set")
        if spec.kind == "json":
            return None if spec.name == "run" else canonical_json(spec.json_type() if spec.json_type else None)
        return None
    if spec.kind == "text":
        if not isinstance(value, str) or (spec.required and value == ""):
            raise _bad(name, "a non-empty string" if spec.required else "a string")
        if name == "state" and value not in _STATES:
            raise _bad(name, "a lease state (" + ", ".join(state.value for state in LeaseState) + ")")
        return str(value)  # a StrEnum member (LeaseState, TargetKind) is stored as its value
    if spec.kind == "int":
        if isinstance(value, timedelta) and name.endswith("_duration_s"):
            return int(value.total_seconds())
        if isinstance(value, bool) or not isinstance(value, int):
            raise _bad(name, "an integer")
        return int(value)
    if spec.kind == "time":
        return _time_text(spec, value)
    if spec.json_type is dict:
        if not isinstance(value, Mapping):
            raise _bad(name, "a JSON object")
        value = dict(value)
    elif spec.json_type is list:
        if not isinstance(value, list | tuple):
            raise _bad(name, "a JSON array")
        value = list(value)
    try:
        return canonical_json(value)
    except (TypeError, ValueError):
        raise _bad(name, "JSON-serialisable") from None


def lease_from_row(row: Any) -> LeaseRecord:
    """Decode a `leases` row (sqlite3.Row or dict of stored values)."""
    decoded: dict[str, Any] = {}
    for spec in LEASE_COLUMNS:
        stored = row[spec.name]
        if spec.kind == "json" and stored is not None:
            decoded[spec.name] = json.loads(stored)
        else:
            decoded[spec.name] = stored
    return cast(LeaseRecord, decoded)
