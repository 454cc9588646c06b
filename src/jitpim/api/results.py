"""The typed results of the `jitpim.api` calls (each with `to_json()` for machines)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..auth import Identity
from ..errors import ProviderError, ReleaseFailedError
from ..lifecycle import Evidence, HeldLease, Orphan, ReleaseReport, SourceReap
from ..model import LeaseState
from ..providers import Grant

__all__ = [
    "ElevateResult",
    "EligibleResult",
    "ExtendResult",
    "LeaseStatus",
    "ReapResult",
    "ReleaseResult",
    "ReleaseRow",
    "SourceReapResult",
    "StatusResult",
]


@dataclass(frozen=True)
class ElevateResult:
    """Leases granted and effective, left in place (end them with `release`)."""

    held: list[HeldLease]

    @property
    def lease_ids(self) -> list[str]:
        return [h.lease_id for h in self.held]

    @property
    def leases(self) -> list[dict[str, Any]]:
        return [h.to_json() for h in self.held]

    def to_json(self) -> dict[str, Any]:
        return {"leases": self.leases}


@dataclass(frozen=True)
class ReleaseRow:
    """One lease a release named: its release, or the state it had already ended in."""

    lease_id: str
    report: ReleaseReport | None = None
    ended_as: str | None = None

    @property
    def failed(self) -> bool:
        return self.report is not None and self.report.still_held

    def to_json(self) -> dict[str, Any]:
        if self.report is not None:
            return self.report.to_json()
        return {"lease_id": self.lease_id, "outcome": f"already {self.ended_as}"}


@dataclass(frozen=True)
class ReleaseResult:
    rows: list[ReleaseRow]
    evidence: Evidence | None = None

    @property
    def failed(self) -> list[str]:
        return [row.lease_id for row in self.rows if row.failed]

    def raise_for_failure(self) -> None:
        if self.failed:
            raise ReleaseFailedError("release failed for " + ", ".join(self.failed))

    def to_json(self) -> dict[str, Any]:
        return {
            "releases": [row.to_json() for row in self.rows],
            "audit": self.evidence.to_json() if self.evidence else None,
        }


@dataclass(frozen=True)
class ExtendResult:
    lease_id: str
    grant: Grant

    def to_json(self) -> dict[str, Any]:
        return {"lease_id": self.lease_id, "grant": self.grant.to_json()}


@dataclass(frozen=True)
class ReapResult:
    reaped: list[tuple[Orphan, ReleaseReport | None]]
    dry_run: bool
    evidence: Evidence | None = None

    @property
    def failed(self) -> list[str]:
        return [orphan.record["lease_id"] for orphan, report in self.reaped if report and report.still_held]

    def raise_for_failure(self) -> None:
        if self.failed:
            raise ReleaseFailedError("reaping failed for " + ", ".join(self.failed))

    def rows(self) -> list[dict[str, Any]]:
        return [{**orphan.to_json(), "release": report.to_json() if report else None} for orphan, report in self.reaped]

    def to_json(self) -> dict[str, Any]:
        return {
            "reaped": self.rows(),
            "dry_run": self.dry_run,
            "audit": self.evidence.to_json() if self.evidence else None,
        }


@dataclass(frozen=True)
class SourceReapResult:
    report: SourceReap
    dry_run: bool
    ledger_consulted: bool
    # Scopes or kinds were named: not being able to search one of them is an error, not a note.
    searched_on_request: bool = False

    def raise_for_failure(self) -> None:
        if self.report.failed:
            raise ReleaseFailedError(
                "reaping at the source failed for " + ", ".join(f.found.resolved.describe() for f in self.report.failed)
            )
        if self.report.errors and self.searched_on_request:
            raise ProviderError(
                "could not search everything asked for: " + "; ".join(self.report.errors),
                hint="The identity needs read access to role assignments (ARM) or PIM requests (Graph) there.",
            )

    def to_json(self) -> dict[str, Any]:
        return {**self.report.to_json(), "dry_run": self.dry_run, "ledger": self.ledger_consulted}


@dataclass(frozen=True)
class LeaseStatus:
    lease_id: str
    state: LeaseState
    kind: str
    role: str
    scope: str
    principal_id: str | None
    end_at: str | None
    outcome: str | None
    owner_pid: int | None
    live: str | None = None  # with `live`: active | gone | unknown (...)

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "lease_id": self.lease_id,
            "state": self.state,
            "kind": self.kind,
            "role": self.role,
            "scope": self.scope,
            "principal_id": self.principal_id,
            "end_at": self.end_at,
            "outcome": self.outcome,
            "owner_pid": self.owner_pid,
        }
        if self.live is not None:
            row["live"] = self.live
        return row


@dataclass(frozen=True)
class StatusResult:
    ledger: str
    leases: list[LeaseStatus]
    # The latest finished leases, newest first (not with all_leases, where `leases` already holds them).
    recent: list[LeaseStatus] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "ledger": self.ledger,
            "leases": [lease.to_json() for lease in self.leases],
            "recent": [lease.to_json() for lease in self.recent],
        }


@dataclass(frozen=True)
class EligibleResult:
    identity: Identity
    eligible: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"identity": self.identity.to_json(), "eligible": self.eligible, "errors": self.errors}
