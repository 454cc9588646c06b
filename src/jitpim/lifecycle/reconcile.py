"""Reconcile the ledger with what Entra and Azure say happened and hold now (`jitpim audit reconcile`).

It sits beside the reaper: both compare the ledger with the source, and both go through the providers, which
alone know the APIs' paths. Three questions:

* **Elevations outside jitpim**: Entra's `auditLogs/directoryAudits` rows that record access being added
  (PIM activations and assignments completed, role or group changes made outside PIM, Azure-resource PIM
  grants) that no lease in the ledger accounts for, by the request id Azure gave jitpim
  (`RoleAssignmentRequestId`) or by principal, role/group, scope and time.
* **Released but still active**: leases the ledger records as released (or expired) whose grant the provider
  still finds live (`find_existing`: Graph and PIM-for-Groups schedule instances, ARM PIM instances, ARM role
  assignments), unless another open lease holds the same grant (a shared grant its last holder keeps).
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

from ..audit.records import TERMINAL_STATES, LeaseRecord, format_time
from ..audit.store import AuditStore
from ..errors import JitError
from ..model import Target, TargetKind
from ..providers import ProviderContext, ResolvedTarget, directory_audits, get_provider
from .planning import ContextFactory
from .sharing import grant_key

__all__ = ["Finding", "ReconcileReport", "reconcile"]

MS_PIM_APP_ID: Final = "01fc33a7-78ba-4d2f-a4b7-768e336e890e"
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


def _resolved(lease: LeaseRecord) -> ResolvedTarget:
    """The target as the lease recorded it (its resolved form when it has one; else from its columns)."""
    data = lease.get("data") or {}
    if isinstance(data.get("resolved"), dict):
        return ResolvedTarget.from_json(data["resolved"])
    kind = TargetKind(lease["kind"])
    role_id = lease["role_id"] or lease["role"]
    if kind is TargetKind.PIM_GROUP:
        target = Target.from_flags(kind=kind, scope=lease["scope"], access=role_id or "member")
    else:
        role_id = _role_guid(role_id) if kind in (TargetKind.AZURE_ROLE, TargetKind.RBAC) else role_id
        target = Target.from_flags(kind=kind, role=role_id, scope=lease["scope"])
    return ResolvedTarget(
        target=target,
        role_id=role_id,
        role_name=lease["role"],
        scope=lease["scope"],
        scope_name=lease["scope"],
        principal_id=lease["principal_id"] or "",
        tenant_id=lease["tenant_id"] or "",
    )


class _Live:
    """Is a lease's grant live at the source? Asked of its provider (`find_existing`), cached per target."""

    def __init__(self, contexts: ContextFactory, now: datetime) -> None:
        self.contexts, self.now = contexts, now
        self._ctx: dict[str | None, ProviderContext] = {}
        self._cache: dict[tuple[str, str, str, str], bool] = {}

    def _context(self, tenant: str | None) -> ProviderContext:
        if tenant not in self._ctx:
            self._ctx[tenant] = self.contexts(tenant)
        return self._ctx[tenant]

    def active(self, lease: LeaseRecord) -> bool:
        key = grant_key(lease["kind"], lease["principal_id"], lease["role_id"] or lease["role"], lease["scope"])
        if key not in self._cache:
            resolved = _resolved(lease)
            provider = get_provider(resolved.kind)
            found = provider.find_existing(resolved, self._context(resolved.target.tenant))
            # A plain assignment has no end at the source: listed means active. Elsewhere the end is the source's.
            ends = found.end_at if found is not None and resolved.kind is not TargetKind.RBAC else None
            self._cache[key] = found is not None and (ends is None or ends > self.now)
        return self._cache[key]


def _still_held(lease: LeaseRecord, leases: list[LeaseRecord]) -> bool:
    """Another open lease holds the same grant (a shared grant: its last holder releases it)."""
    key = grant_key(lease["kind"], lease["principal_id"], lease["role_id"], lease["scope"])
    return any(
        other["lease_id"] != lease["lease_id"]
        and other["state"] not in TERMINAL_STATES
        and grant_key(other["kind"], other["principal_id"], other["role_id"], other["scope"]) == key
        for other in leases
    )


def _relevant(leases: Iterable[LeaseRecord], since: datetime) -> list[LeaseRecord]:
    cutoff = format_time(since - _SLACK)
    return [lease for lease in leases if lease["state"] not in TERMINAL_STATES or lease["updated_at"] >= cutoff]


def _audit_findings(
    ctx: ProviderContext, leases: list[LeaseRecord], since: datetime, now: datetime, report: ReconcileReport
) -> None:
    try:
        rows = directory_audits(ctx, since)
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
    everything: list[LeaseRecord],
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

        if ended and active and _still_held(lease, everything):
            continue  # handed over to a lease that still holds the shared grant
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
    contexts: ContextFactory,
    *,
    now: datetime,
    since: datetime,
    record_expiries: bool = False,
) -> ReconcileReport:
    """Compare the ledger with directoryAudits and the live grants since `since` (see the module doc).
    `contexts` gives the provider context (API clients, identity) for a tenant, None for the default one."""
    report = ReconcileReport(since=format_time(since), now=format_time(now))
    leases = store.list()
    try:
        ctx = contexts(None)
    except JitError as exc:
        report.errors.append(f"cannot reach the source: {exc.message}")
        return report
    _audit_findings(ctx, leases, since, now, report)
    relevant = _relevant(leases, since)
    report.leases = len(relevant)
    _lease_findings(store, _Live(contexts, now), relevant, now, record_expiries, report, leases)
    return report
