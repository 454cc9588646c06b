"""Read-only questions the dashboard asks of a ledger (SQLite or PostgreSQL), one function per table.

Every query reads one consistent snapshot through the store's `read_transaction()` (`?` parameter markers on
both backends) and pages with LIMIT/OFFSET over an indexed order, so the first page of a ledger with a million
events costs the same as the first page of an empty one. Nothing here writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final, Literal

from jitpim.audit.records import LEASE_COLUMNS, LeaseRecord, format_time, lease_from_row
from jitpim.audit.store import AuditStore

__all__ = [
    "GROUPS",
    "OPEN_STATES",
    "Approval",
    "Filters",
    "Page",
    "Problem",
    "Usage",
    "approvals",
    "count_leases",
    "lease_events",
    "leases",
    "open_grants",
    "privilege_hours",
    "problems",
    "stored_lease",
]

# States in which access may exist at the source right now (mirrors LeaseState.may_hold_access).
OPEN_STATES: Final = ("granted", "effective", "releasing", "release_failed", "pending_approval", "requested")
GROUPS: Final = ("principal", "role", "scope", "repository")
Group = Literal["principal", "role", "scope", "repository"]
_COLUMNS: Final = ", ".join(column.name for column in LEASE_COLUMNS)
PAGE_SIZE: Final = 50


@dataclass(frozen=True)
class Filters:
    """What the user narrowed the view to; every field is optional and they combine with AND."""

    repository: str | None = None
    run: str | None = None
    role: str | None = None
    principal: str | None = None
    state: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1

    def with_page(self, page: int) -> Filters:
        return replace(self, page=max(1, page))

    def query(self) -> dict[str, str]:
        """The filters as URL query parameters (empty ones left out)."""
        out = {
            "repository": self.repository,
            "run": self.run,
            "role": self.role,
            "principal": self.principal,
            "state": self.state,
            "since": format_time(self.since) if self.since else None,
            "until": format_time(self.until) if self.until else None,
        }
        return {k: v for k, v in out.items() if v}


@dataclass(frozen=True)
class Page:
    rows: list[LeaseRecord]
    page: int
    more: bool


@dataclass(frozen=True)
class Usage:
    """Privilege-hours of one group key on one UTC day."""

    day: str
    key: str
    hours: float


@dataclass(frozen=True)
class Approval:
    lease_id: str
    role: str
    scope: str
    principal_id: str | None
    requested_at: str
    decided_at: str | None
    decision: str  # approved, denied, pending
    decided_by: str | None
    wait_s: float | None


@dataclass(frozen=True)
class Problem:
    lease_id: str
    category: str  # failed, release_failed, left_to_expire, reaped, drift
    at: str
    role: str
    scope: str
    detail: str


@dataclass
class _Where:
    clauses: list[str] = field(default_factory=list)
    params: list[object] = field(default_factory=list)

    def add(self, clause: str, *params: object) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


def _is_postgres(store: AuditStore) -> bool:
    return type(store).__name__.startswith("Postgres")


def _json_field(store: AuditStore, column: str, key: str) -> str:
    # The JSON columns hold canonical JSON text on both backends; key is a fixed identifier, never user input.
    if _is_postgres(store):
        return f"(({column})::json->>'{key}')"
    return f"json_extract({column}, '$.{key}')"


def _where(store: AuditStore, filters: Filters) -> _Where:
    where = _Where()
    if filters.repository:
        where.add(_json_field(store, "run", "repository") + " = ?", filters.repository)
    if filters.run:
        # A run is named by its lease-id prefix (gh-RUNID-ATTEMPT) or by its bare run id.
        # `prefix/` <= id < `prefix0` ('0' follows '/') is the prefix match without LIKE's wildcards.
        where.add(
            "((lease_id >= ? AND lease_id < ?) OR " + _json_field(store, "run", "run_id") + " = ?)",
            filters.run + "/",
            filters.run + "0",
            filters.run,
        )
    if filters.role:
        where.add("role = ?", filters.role)
    if filters.principal:
        where.add("principal_id = ?", filters.principal)
    if filters.state:
        where.add("state = ?", filters.state)
    if filters.since:
        where.add("created_at >= ?", format_time(filters.since))
    if filters.until:
        where.add("created_at < ?", format_time(filters.until))
    return where


def _in_leases(where: _Where) -> str:
    """Restrict events to the filtered leases (nothing when there is no filter: the join already holds)."""
    return f" AND e.lease_id IN (SELECT lease_id FROM leases{where.sql()})" if where.clauses else ""  # noqa: S608


def _rows(store: AuditStore, sql: str, params: Sequence[object]) -> list[dict[str, Any]]:
    """Every row of one bounded query (pages, aggregates, limited lists), read inside one transaction."""
    with store.read_transaction() as db:
        cursor = db.execute(sql, list(params))
        names = [column[0] for column in cursor.description]
        # psycopg's rows are already mappings; sqlite3's are sequences in column order.
        return [
            dict(row) if isinstance(row, Mapping) else dict(zip(names, row, strict=True)) for row in cursor.fetchall()
        ]


def leases(store: AuditStore, filters: Filters, *, page_size: int = PAGE_SIZE) -> Page:
    """Leases matching `filters`, newest first, one page at a time."""
    where = _where(store, filters)
    offset = (filters.page - 1) * page_size
    sql = (
        f"SELECT {_COLUMNS} FROM leases{where.sql()} "  # noqa: S608 - clauses are fixed text, values are bound
        "ORDER BY created_at DESC, lease_id DESC LIMIT ? OFFSET ?"
    )
    rows = [lease_from_row(row) for row in _rows(store, sql, [*where.params, page_size + 1, offset])]
    return Page(rows[:page_size], filters.page, len(rows) > page_size)


def count_leases(store: AuditStore, filters: Filters) -> int:
    where = _where(store, filters)
    sql = f"SELECT COUNT(*) AS n FROM leases{where.sql()}"  # noqa: S608 - fixed clauses, bound values
    return int(_rows(store, sql, where.params)[0]["n"])


def open_grants(store: AuditStore, filters: Filters | None = None, *, limit: int = 200) -> list[LeaseRecord]:
    """Leases that may hold access at the source now, soonest end first."""
    where = _where(store, replace(filters or Filters(), state=None))
    where.add("state IN (" + ", ".join("?" for _ in OPEN_STATES) + ")", *OPEN_STATES)
    sql = (
        f"SELECT {_COLUMNS} FROM leases{where.sql()} "  # noqa: S608 - fixed clauses, bound values
        "ORDER BY end_at IS NULL, end_at, lease_id LIMIT ?"
    )
    return [lease_from_row(row) for row in _rows(store, sql, [*where.params, limit])]


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def held_interval(lease: Mapping[str, Any], now: datetime) -> tuple[datetime, datetime] | None:
    """When a lease's access was held: from its start until release, expiry or now, whichever came first.

    A lease that never reached the source (planned, failed before a grant) held nothing."""
    start = _parse(lease.get("start_at"))
    if start is None:
        return None
    end = _parse(lease.get("end_at"))
    state = lease.get("state")
    if state in ("released", "failed"):
        stopped = _parse(lease.get("updated_at"))
        end = min(end, stopped) if end and stopped else (stopped or end)
    elif state in OPEN_STATES:
        end = min(end, now) if end else now
    if end is None or end <= start:
        return None
    return start, end


_GROUP_SQL: Final = {"principal": "principal_id", "role": "role", "scope": "scope"}


def _hours_sql(store: AuditStore) -> str:
    """Hours a lease held access, in SQL, by the rule of `held_interval` (times are ISO text, so they compare
    as text; `?` is now)."""
    least = "LEAST" if _is_postgres(store) else "MIN"
    closed = ", ".join(f"'{s}'" for s in ("released", "failed"))
    opened = ", ".join(f"'{s}'" for s in OPEN_STATES)
    stop = (
        f"CASE WHEN state IN ({closed}) THEN {least}(COALESCE(end_at, updated_at), updated_at) "
        f"WHEN state IN ({opened}) THEN {least}(COALESCE(end_at, ?), ?) ELSE end_at END"
    )
    if _is_postgres(store):
        return f"GREATEST(0, EXTRACT(EPOCH FROM (({stop})::timestamptz - start_at::timestamptz)) / 3600.0)"
    return f"MAX(0, (julianday({stop}) - julianday(start_at)) * 24.0)"


def privilege_hours(
    store: AuditStore, filters: Filters, *, group: Group = "principal", now: datetime | None = None
) -> list[Usage]:
    """Hours of held access per UTC day (the day the lease started) and group key (principal, role, scope or
    repository), summed in the database so a large ledger is never loaded into memory."""
    moment = format_time(now or datetime.now(UTC))
    where = _where(store, replace(filters, page=1))
    where.add("start_at IS NOT NULL")
    key = _json_field(store, "run", "repository") if group == "repository" else _GROUP_SQL[group]
    day = "SUBSTR(start_at, 1, 10)"
    sql = (
        f"SELECT {day} AS day, {key} AS gkey, SUM({_hours_sql(store)}) AS hours "  # noqa: S608 - fixed text
        f"FROM leases{where.sql()} GROUP BY {day}, {key} ORDER BY 1, 2"
    )
    unknown = "(outside CI)" if group == "repository" else "(unknown)"
    out = []
    for row in _rows(store, sql, [moment, moment, *where.params]):
        hours = float(row["hours"] or 0.0)
        if hours > 0:
            out.append(Usage(str(row["day"]), str(row["gkey"] or unknown), round(hours, 6)))
    return out


def stored_lease(store: AuditStore, lease_id: str) -> LeaseRecord | None:
    """The `leases` row as stored (the cache the chain is checked against), not the chain's record."""
    sql = f"SELECT {_COLUMNS} FROM leases WHERE lease_id = ?"  # noqa: S608 - fixed columns, bound value
    rows = _rows(store, sql, [lease_id])
    return lease_from_row(rows[0]) if rows else None


def lease_events(store: AuditStore, lease_id: str) -> list[dict[str, Any]]:
    """A lease's events in chain order (bodies decoded; signatures as stored)."""
    sql = "SELECT seq, lease_id, type, at, schema_version, body, prev_hash, hash, signature FROM events "
    sql += "WHERE lease_id = ? ORDER BY seq"
    out = []
    for row in _rows(store, sql, [lease_id]):
        event = dict(row)
        event["body_text"] = event["body"]
        event["body"] = json.loads(event["body"])
        out.append(event)
    return out


_DECISIONS: Final = ("lease.approval_requested", "lease.approved", "lease.denied")


def approvals(store: AuditStore, filters: Filters, *, limit: int = 200) -> list[Approval]:
    """Requests that needed an approval: when asked, who decided, how, and how long it took."""
    where = _where(store, filters)
    sql = (
        "SELECT e.lease_id, e.type, e.at, e.body, l.role, l.scope, l.principal_id FROM events e "  # noqa: S608
        "JOIN leases l ON l.lease_id = e.lease_id "
        f"WHERE e.type IN (?, ?, ?){_in_leases(where)} ORDER BY e.seq"
    )
    found: dict[str, dict[str, Any]] = {}
    for row in _rows(store, sql, [*_DECISIONS, *where.params]):
        entry = found.setdefault(
            row["lease_id"],
            {"role": row["role"], "scope": row["scope"], "principal_id": row["principal_id"], "requested_at": None},
        )
        body = json.loads(row["body"])
        if row["type"] == "lease.approval_requested":
            entry["requested_at"] = row["at"]
        else:
            entry["decided_at"] = row["at"]
            entry["decision"] = "approved" if row["type"] == "lease.approved" else "denied"
            entry["decided_by"] = _decider(body)
    out = []
    for lease_id, entry in found.items():
        if entry["requested_at"] is None:
            continue
        requested, decided = _parse(entry["requested_at"]), _parse(entry.get("decided_at"))
        wait = (decided - requested).total_seconds() if requested and decided else None
        out.append(
            Approval(
                lease_id,
                entry["role"],
                entry["scope"],
                entry["principal_id"],
                entry["requested_at"],
                entry.get("decided_at"),
                entry.get("decision", "pending"),
                entry.get("decided_by"),
                wait,
            )
        )
    out.sort(key=lambda a: a.requested_at, reverse=True)
    return out[:limit]


def _decider(body: Mapping[str, Any]) -> str | None:
    for holder in (body, body.get("decision") or {}, body.get("grant") or {}):
        if isinstance(holder, Mapping):
            for key in ("approver", "decided_by", "reviewed_by", "approved_by"):
                value = holder.get(key)
                if isinstance(value, str) and value:
                    return value
    return None


_PROBLEM_EVENTS: Final = (
    "lease.grant_failed",
    "lease.denied",
    "lease.release_failed",
    "lease.left_to_expire",
    "lease.expired",
    "lease.failed",
)


def problems(store: AuditStore, filters: Filters, *, limit: int = 200) -> list[Problem]:
    """Failures, releases that failed, grants left to expire at the source, grants the reaper ended, and
    drift that reconcile found, newest first."""
    where = _where(store, filters)
    marks = ", ".join("?" for _ in _PROBLEM_EVENTS)
    sql = (
        "SELECT e.lease_id, e.type, e.at, e.body, l.role, l.scope FROM events e "  # noqa: S608
        "JOIN leases l ON l.lease_id = e.lease_id "
        f"WHERE e.type IN ({marks}){_in_leases(where)} ORDER BY e.seq DESC LIMIT ?"
    )
    out = []
    for row in _rows(store, sql, [*_PROBLEM_EVENTS, *where.params, limit]):
        body = json.loads(row["body"])
        out.append(
            Problem(row["lease_id"], _category(row["type"], body), row["at"], row["role"], row["scope"], _detail(body))
        )
    return out


def _category(event_type: str, body: Mapping[str, Any]) -> str:
    if event_type == "lease.release_failed":
        return "release_failed"
    if event_type == "lease.left_to_expire":
        return "left_to_expire"
    if event_type == "lease.expired":
        source = body.get("source")
        return "drift" if source == "reconcile" else "reaped" if source == "reaper" else "expired"
    if body.get("reaped") or body.get("source") == "reaper":
        return "reaped"
    return "failed"


def _detail(body: Mapping[str, Any]) -> str:
    for key in ("detail", "error", "reason", "outcome"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, Mapping):
            message = value.get("message") or value.get("code")
            if isinstance(message, str):
                return message
    return ""
