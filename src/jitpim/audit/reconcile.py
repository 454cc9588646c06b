"""Reconcile the ledger with what Entra and Azure say happened and hold now.

Three questions, each answered from the source of truth through jitpim's own HTTP client:

* **Elevations outside jitpim**: Entra's `auditLogs/directoryAudits` rows that record access being added
  (PIM activations and assignments completed, role or group changes made outside PIM, Azure-resource PIM
  grants) that no lease in the ledger accounts for, by the request id Azure gave jitpim
  (`RoleAssignmentRequestId`) or by principal, role/group, scope and time.
* **Released but still active**: leases the ledger records as released (or expired) whose assignment is
  still listed live (Graph `roleAssignmentScheduleInstances`, PIM-for-Groups `assignmentScheduleInstances`,
  ARM `roleAssignments`).
* **Expiries**: open leases whose end has passed: gone at the source (`expired_at_source`; with
  `record_expiries=True` the lease moves to `expired` with a `lease.expired` event), or still active after
  their end (`overdue_active`, e.g. a plain RBAC assignment the reaper has not removed yet).

The caller needs AuditLog.Read.All (Graph) and read access to the role assignments it checks; anything it
cannot read is reported in `errors`, never silently skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from jitpim.audit.records import TERMINAL_STATES, LeaseRecord, format_time
from jitpim.audit.store import AuditStore
from jitpim.errors import JitError
from jitpim.http import ApiClient

__all__ = ["Finding", "ReconcileReport", "reconcile"]

MS_PIM_APP_ID: Final = "01fc33a7-78ba-4d2f-a4b7-768e336e890e"
ARM_ROLE_ASSIGNMENTS_API: Final = "2022-04-01"
# Clock skew and provisioning delay between the ledger's times and Entra's.
_SLACK: Final = timedelta(minutes=5)
_GRANT_PREFIXES: Final = ("Add member to role", "Add member to group", "Add owner to group")
_PRINCIPAL_TYPES: Final = frozenset({"user", "serviceprincipal"})


@dataclass(frozen=True)
class Finding:
    kind: str  # outside_jitpim | released_but_active | expired_at_source | overdue_active
    message: str
    source: str  # directoryAudits | assignments
    lease_id: str | None = None
    principal_id: str | None = None
    role_id: str | None = None
    scope: str | None = None
    at: str | None = None
    audit_id: str | None = None
    request_id: str | None = None
    activity: str | None = None
    recorded: bool = False

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class ReconcileReport:
    since: str
    now: str
    audit_rows: int = 0
    leases: int = 0
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings and not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "now": self.now,
            "audit_rows": self.audit_rows,
            "leases": self.leases,
            "clean": self.clean,
            "findings": [f.to_json() for f in self.findings],
            "errors": self.errors,
        }


@dataclass(frozen=True)
class _Grant:
    """An elevation as Entra's audit log records it."""

    audit_id: str
    at: str
    activity: str
    principal_id: str
    resource_id: str  # directory role template id, group id, or ARM role definition GUID
    scope: str | None  # ARM scope for Azure-resource rows
    request_id: str | None
    principal_name: str | None = None
    resource_name: str | None = None


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _details(row: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(d.get("key")): str(d.get("value"))
        for d in row.get("additionalDetails") or []
        if isinstance(d, Mapping) and d.get("key")
    }


def _is_grant(row: Mapping[str, Any]) -> bool:
    text = str(row.get("activityDisplayName") or "")
    if not text.startswith(_GRANT_PREFIXES) or row.get("result") != "success":
        return False
    if row.get("loggedByService") == "Core Directory":
        app = (row.get("initiatedBy") or {}).get("app") or {}
        # PIM's own directory change duplicates its PIM row; a change made directly is an elevation.
        return app.get("appId") != MS_PIM_APP_ID and app.get("displayName") != "MS-PIM"
    return "completed" in text or "outside of PIM" in text


def _grant_of(row: Mapping[str, Any]) -> _Grant | None:
    targets = [t for t in row.get("targetResources") or [] if isinstance(t, Mapping)]
    details = _details(row)
    role = next((t for t in targets if str(t.get("type")).lower() == "role"), None)
    principal = next((t for t in targets if str(t.get("type")).lower() in _PRINCIPAL_TYPES), None)
    resource: Mapping[str, Any] | None = role
    if role is not None:
        if principal is None:  # a group made member of a role
            principal = next((t for t in targets if str(t.get("type")).lower() == "group"), None)
    else:
        groups = [t for t in targets if str(t.get("type")).lower() == "group"]
        resource = groups[-1] if principal is not None and groups else (groups[0] if groups else None)
        if principal is None and len(groups) > 1:
            principal = groups[0]
    if resource is None or principal is None or not principal.get("id") or not resource.get("id"):
        return None
    return _Grant(
        audit_id=str(row.get("id")),
        at=str(row.get("activityDateTime")),
        activity=str(row.get("activityDisplayName")),
        principal_id=str(principal["id"]).lower(),
        resource_id=str(resource["id"]).lower(),
        scope=details.get("ResourceId"),
        request_id=details.get("RoleAssignmentRequestId"),
        principal_name=principal.get("displayName") or principal.get("userPrincipalName"),
        resource_name=resource.get("displayName"),
    )


def _named(name: str | None, object_id: str) -> str:
    return f"{name} ({object_id})" if name else object_id


def _role_guid(role_id: str | None) -> str:
    return (role_id or "").rsplit("/", 1)[-1].lower()


def _lease_window(lease: LeaseRecord, now: datetime) -> tuple[datetime, datetime]:
    start = _parse(lease["created_at"]) - _SLACK
    end = _parse(lease["updated_at"]) if lease["state"] in TERMINAL_STATES else now
    return start, end + _SLACK


def _accounts_for(lease: LeaseRecord, grant: _Grant, now: datetime) -> bool:
    ids = {str(v).lower() for v in lease["request_ids"].values() if v}
    if grant.request_id and grant.request_id.lower() in ids:
        return True
    if (lease["principal_id"] or "").lower() != grant.principal_id:
        return False
    kind = lease["kind"]
    if kind == "entra-role" and (lease["role_id"] or "").lower() != grant.resource_id:
        return False
    if kind == "pim-group" and lease["scope"].lower() != grant.resource_id:
        return False
    if kind in ("azure-role", "rbac"):
        if _role_guid(lease["role_id"]) != grant.resource_id:
            return False
        if grant.scope is not None and grant.scope.lower().rstrip("/") != lease["scope"].lower().rstrip("/"):
            return False
    start, end = _lease_window(lease, now)
    return start <= _parse(grant.at) <= end


class _Live:
    """Live assignment lookups, cached per (kind, principal, scope)."""

    def __init__(self, graph: ApiClient, arm: ApiClient | None, now: datetime) -> None:
        self.graph, self.arm, self.now = graph, arm, now
        self._cache: dict[tuple[str, str, str], list[dict[str, Any]]] = {}

    def _items(self, lease: LeaseRecord) -> list[dict[str, Any]]:
        principal = lease["principal_id"] or ""
        key = (lease["kind"], principal.lower(), lease["scope"].lower())
        if key in self._cache:
            return self._cache[key]
        kind = lease["kind"]
        if kind == "entra-role":
            items = list(
                self.graph.paged(
                    "/v1.0/roleManagement/directory/roleAssignmentScheduleInstances",
                    {"$filter": f"principalId eq '{principal}'"},
                )
            )
        elif kind == "pim-group":
            items = list(
                self.graph.paged(
                    "/v1.0/identityGovernance/privilegedAccess/group/assignmentScheduleInstances",
                    {"$filter": f"groupId eq '{lease['scope']}' and principalId eq '{principal}'"},
                )
            )
        else:
            if self.arm is None:
                raise JitError("no ARM client to read role assignments")
            items = list(
                self.arm.paged(
                    f"{lease['scope'].rstrip('/')}/providers/Microsoft.Authorization/roleAssignments",
                    {"api-version": ARM_ROLE_ASSIGNMENTS_API, "$filter": f"principalId eq '{principal}'"},
                )
            )
        self._cache[key] = items
        return items

    def active(self, lease: LeaseRecord) -> bool:
        kind = lease["kind"]
        for item in self._items(lease):
            if kind == "entra-role":
                if str(item.get("roleDefinitionId", "")).lower() != (lease["role_id"] or "").lower():
                    continue
                if str(item.get("directoryScopeId") or "/") != (lease["scope"] or "/"):
                    continue
            elif kind == "pim-group":
                if str(item.get("accessId", "")).lower() != (lease["role_id"] or "member").lower():
                    continue
            else:
                props = item.get("properties") or {}
                if _role_guid(props.get("roleDefinitionId")) != _role_guid(lease["role_id"]):
                    continue
                if str(props.get("scope", "")).lower().rstrip("/") != lease["scope"].lower().rstrip("/"):
                    continue
            end = item.get("endDateTime")
            if isinstance(end, str) and end and _parse(end) <= self.now:
                continue
            return True
        return False


def _relevant(leases: Iterable[LeaseRecord], since: datetime) -> list[LeaseRecord]:
    cutoff = format_time(since - _SLACK)
    return [lease for lease in leases if lease["state"] not in TERMINAL_STATES or lease["updated_at"] >= cutoff]


def _audit_findings(
    graph: ApiClient, leases: list[LeaseRecord], since: datetime, now: datetime, report: ReconcileReport
) -> None:
    try:
        rows = list(
            graph.paged("/v1.0/auditLogs/directoryAudits", {"$filter": f"activityDateTime ge {format_time(since)}"})
        )
    except JitError as exc:
        report.errors.append(f"cannot read directoryAudits: {exc.message} (needs AuditLog.Read.All)")
        return
    report.audit_rows = len(rows)
    seen: set[tuple[str, str, str]] = set()
    for row in sorted(rows, key=lambda r: str(r.get("activityDateTime"))):
        if not _is_grant(row):
            continue
        grant = _grant_of(row)
        if grant is None:
            continue
        duplicate = (grant.principal_id, grant.resource_id, grant.at[:19])
        if duplicate in seen:
            continue
        seen.add(duplicate)
        if any(_accounts_for(lease, grant, now) for lease in leases):
            continue
        report.findings.append(
            Finding(
                "outside_jitpim",
                f"{grant.activity}: {_named(grant.principal_name, grant.principal_id)} got "
                f"{_named(grant.resource_name, grant.resource_id)}"
                + (f" on {grant.scope}" if grant.scope else "")
                + f" at {grant.at}, and no jitpim lease accounts for it",
                "directoryAudits",
                principal_id=grant.principal_id,
                role_id=grant.resource_id,
                scope=grant.scope,
                at=grant.at,
                audit_id=grant.audit_id,
                request_id=grant.request_id,
                activity=grant.activity,
            )
        )


def _lease_finding(lease: LeaseRecord, kind: str, message: str, at: str | None, recorded: bool = False) -> Finding:
    return Finding(
        kind,
        message,
        "assignments",
        lease_id=lease["lease_id"],
        principal_id=lease["principal_id"],
        role_id=lease["role_id"],
        scope=lease["scope"],
        at=at,
        recorded=recorded,
    )


def _lease_findings(
    store: AuditStore,
    live: _Live,
    leases: list[LeaseRecord],
    now: datetime,
    record_expiries: bool,
    report: ReconcileReport,
) -> None:
    for lease in leases:
        if not lease["principal_id"] or lease["outcome"] == "reused":
            continue  # nothing jitpim granted (a pre-existing grant it only reused)
        ended = lease["state"] in ("released", "expired")
        end_at = lease["end_at"]
        overdue = lease["state"] not in TERMINAL_STATES and end_at is not None and _parse(end_at) <= now
        if not ended and not overdue:
            continue
        try:
            active = live.active(lease)
        except JitError as exc:
            report.errors.append(f"{lease['lease_id']}: cannot read live assignments: {exc.message}")
            continue

        if ended and active:
            report.findings.append(
                _lease_finding(
                    lease,
                    "released_but_active",
                    f"{lease['lease_id']} is {lease['state']} in the ledger, but {lease['role']} is still active",
                    lease["updated_at"],
                )
            )
        elif overdue and active:
            report.findings.append(
                _lease_finding(
                    lease,
                    "overdue_active",
                    f"{lease['lease_id']} ended at {end_at} and is still active (run `jitpim reap`)",
                    end_at,
                )
            )
        elif overdue:
            recorded = False
            if record_expiries:
                store.transition(
                    lease["lease_id"],
                    "expired",
                    "lease.expired",
                    {"source": "reconcile", "end_at": end_at},
                    outcome=lease["outcome"] or "expired",
                )
                recorded = True
            report.findings.append(
                _lease_finding(
                    lease,
                    "expired_at_source",
                    f"{lease['lease_id']} expired at the source at {end_at}; the ledger still had it {lease['state']}",
                    end_at,
                    recorded,
                )
            )


def reconcile(
    store: AuditStore,
    *,
    graph: ApiClient,
    arm: ApiClient | None,
    now: datetime,
    since: datetime,
    record_expiries: bool = False,
) -> ReconcileReport:
    """Compare the ledger with directoryAudits and live assignments since `since` (see the module doc)."""
    report = ReconcileReport(since=format_time(since), now=format_time(now))
    leases = store.list()
    _audit_findings(graph, leases, since, now, report)
    relevant = _relevant(leases, since)
    report.leases = len(relevant)
    _lease_findings(store, _Live(graph, arm, now), relevant, now, record_expiries, report)
    return report
