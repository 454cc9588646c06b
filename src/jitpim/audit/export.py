"""Reading the audit trail out: filtered summary records or events, as an evidence file (JSON lines) or CSV.

Filters (all optional, combined with AND): `since` / `until` (the lease's creation time, UTC), `principal`
(object id), `target` (matches the kind, role name or id, or scope, case-insensitively, as a substring),
`repository` (`owner/name` of the CI run), `outcome`, `state`, `run_id`.

JSON lines are the chained evidence format (`evidence_file.py`), so an export is itself verifiable with
`jitpim audit verify FILE`. CSV is a flat view for spreadsheets, not evidence: one row per summary, and cells
that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) are prefixed with `'`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import IO, Any, Final

from jitpim.audit.evidence_file import Content, write_evidence
from jitpim.audit.records import EventRecord, LeaseRecord, format_time
from jitpim.audit.signing import Signer
from jitpim.audit.store import AuditStore
from jitpim.audit.summary import SUMMARY_EVENT, distributed_record

__all__ = [
    "CSV_COLUMNS",
    "ExportFilters",
    "chain_head",
    "csv_text",
    "export_events",
    "export_summaries",
    "select_leases",
    "write_csv",
    "write_jsonl",
]

CSV_COLUMNS: Final = (
    "lease_id", "state", "outcome", "exit_code", "kind", "role", "role_id", "scope", "principal_id", "tenant_id",
    "mode", "repository", "ref", "sha", "workflow", "run_id", "run_attempt", "actor", "pr_number", "environment",
    "justification", "ticket", "requested_at", "approved_at", "granted_at", "effective_at", "released_at",
    "expired_at", "start_at", "end_at", "request_id", "secret_version_ids", "ledger_seq", "ledger_hash", "key_id",
    "signature",
)  # fmt: skip
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportFilters:
    since: datetime | None = None
    until: datetime | None = None
    principal: str | None = None
    target: str | None = None
    repository: str | None = None
    outcome: str | None = None
    state: str | None = None
    run_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("since", "until"):
            if data[key] is not None:
                data[key] = format_time(data[key])
        return {k: v for k, v in data.items() if v is not None}

    def matches(self, lease: LeaseRecord) -> bool:
        created = lease["created_at"]
        if self.since is not None and created < format_time(self.since.astimezone(UTC)):
            return False
        if self.until is not None and created > format_time(self.until.astimezone(UTC)):
            return False
        if self.principal is not None and (lease["principal_id"] or "").lower() != self.principal.lower():
            return False
        if self.target is not None:
            needle = self.target.lower()
            haystack = (lease["kind"], lease["role"], lease["role_id"] or "", lease["scope"])
            if not any(needle in part.lower() for part in haystack):
                return False
        run = lease["run"] or {}
        if self.repository is not None and str(run.get("repository") or "").lower() != self.repository.lower():
            return False
        if self.run_id is not None and str(run.get("run_id") or "") != self.run_id:
            return False
        if self.outcome is not None and lease["outcome"] != self.outcome:
            return False
        return not (self.state is not None and lease["state"] != self.state)


def select_leases(store: AuditStore, filters: ExportFilters) -> list[LeaseRecord]:
    """Leases matching the filters, oldest first."""
    return [
        lease for lease in store.list(principal_id=filters.principal, run_id=filters.run_id) if filters.matches(lease)
    ]


def export_summaries(store: AuditStore, filters: ExportFilters) -> tuple[list[dict[str, Any]], list[str]]:
    """(the newest signed summary of each matching lease, ids of matching leases with no summary yet)."""
    leases = select_leases(store, filters)
    wanted = {lease["lease_id"] for lease in leases}
    latest: dict[str, EventRecord] = {}
    for event in store.events():
        if event["type"] == SUMMARY_EVENT and event["lease_id"] in wanted:
            latest[str(event["lease_id"])] = event
    records = [distributed_record(latest[lease["lease_id"]]) for lease in leases if lease["lease_id"] in latest]
    missing = [lease["lease_id"] for lease in leases if lease["lease_id"] not in latest]
    return records, missing


def export_events(store: AuditStore, filters: ExportFilters) -> list[dict[str, Any]]:
    """Every event of the matching leases, in chain order (all events when no filter is set)."""
    if filters == ExportFilters():
        return [dict(event) for event in store.events()]
    wanted = {lease["lease_id"] for lease in select_leases(store, filters)}
    return [dict(event) for event in store.events() if event["lease_id"] in wanted]


def chain_head(store: AuditStore) -> dict[str, Any] | None:
    """The ledger's chain head (`seq`, `hash`) at export time: ties an export to the ledger it came from."""
    with store.read_transaction() as db:
        row = db.execute("SELECT seq, hash FROM chain_head WHERE id = 1", ()).fetchone()
    return {"seq": int(row["seq"]), "hash": str(row["hash"])} if row is not None else None


def write_jsonl(
    records: Sequence[Mapping[str, Any]],
    stream: IO[str],
    *,
    content: Content,
    filters: ExportFilters,
    signer: Signer | None,
    ledger_head: Mapping[str, Any] | None = None,
) -> int:
    return write_evidence(
        records, stream, content=content, signer=signer, filters=filters.to_json(), ledger_head=ledger_head
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_row(record: Mapping[str, Any]) -> dict[str, str]:
    def section(name: str) -> Mapping[str, Any]:
        value = record.get(name)
        return value if isinstance(value, Mapping) else {}

    target, principal, run, times = section("target"), section("principal"), section("run"), section("times")
    ledger, signature, request_ids = section("ledger"), section("signature"), section("request_ids")
    versions = [
        v for entry in record.get("secrets") or [] if isinstance(entry, Mapping) for v in entry.get("version_ids") or []
    ]
    row: dict[str, Any] = {
        "lease_id": record.get("lease_id"),
        "state": record.get("state"),
        "outcome": record.get("outcome"),
        "exit_code": record.get("exit_code"),
        "kind": target.get("kind"),
        "role": target.get("role"),
        "role_id": target.get("role_id"),
        "scope": target.get("scope"),
        "principal_id": principal.get("id"),
        "tenant_id": principal.get("tenant_id"),
        "mode": record.get("mode"),
        "justification": record.get("justification"),
        "ticket": record.get("ticket"),
        "request_id": request_ids.get("request_id"),
        "secret_version_ids": " ".join(str(v) for v in versions),
        "ledger_seq": ledger.get("seq"),
        "ledger_hash": ledger.get("hash"),
        "key_id": signature.get("key_id"),
        "signature": signature.get("sig"),
    }
    for name in ("repository", "ref", "sha", "workflow", "run_id", "run_attempt", "actor", "pr_number", "environment"):
        row[name] = run.get(name)
    for name in (
        "requested_at",
        "approved_at",
        "granted_at",
        "effective_at",
        "released_at",
        "expired_at",
        "start_at",
        "end_at",
    ):
        row[name] = times.get(name)
    return {column: _cell(row.get(column)) for column in CSV_COLUMNS}


def write_csv(records: Sequence[Mapping[str, Any]], stream: IO[str]) -> int:
    """One row per summary record, with a header row; returns the number of rows."""
    writer = csv.DictWriter(stream, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow(_csv_row(record))
    return len(records)


def csv_text(records: Sequence[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    write_csv(records, buffer)
    return buffer.getvalue()
