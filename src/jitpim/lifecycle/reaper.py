"""The reaper: releases leases whose job is gone (the runner was killed, even with SIGKILL) or whose end
has passed, from the ledger (`reap`), and grants jitpim left at the source, with no ledger at all
(`reap_source`, `jitpim reap --source`: an ephemeral runner loses its ledger with the VM).

Ownership: the reaper ends only what the calling principal holds. A lease or a grant of another principal (a
person's own activation, another pipeline's assignment) is reported and left alone: only that principal, or an
administrator acting as itself, can end it, and trying would fail with 403.

At the source, every grant jitpim made carries markers (`providers.marker`: lease id, holder, end). A marked
grant is removed when no marker still holds it: each marker's end has passed (for `rbac`, which has no expiry at
the source, this is the only end there is), or the ledger, when there is one, knows its lease as closed.

A lease held by `jitpim exec` is orphaned when no process with its owner's PID and start time exists on
this host. A lease from `jitpim elevate` outlives its process by design: it is reaped once its end has
passed (plain RBAC assignments have no expiry at the source, so this is what ends them), or released
explicitly with `jitpim release`. A lease that never recorded its grant (killed between asking and the
answer) is looked up by the request name it recorded before asking.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..audit.owner import owner_is_alive
from ..audit.records import LeaseRecord
from ..audit.store import AuditStore
from ..errors import JitError
from ..model import LeaseOutcome, LeaseState, TargetKind
from ..providers import (
    GrantMarker,
    ProviderContext,
    ReleaseOutcome,
    ResolvedTarget,
    SourceGrant,
    get_provider,
    visible_subscriptions,
)
from .children import end_children
from .held import HeldLease
from .planning import ContextFactory, LifecycleOptions
from .recorded import held_from_record
from .release import Releaser, ReleaseReport, ReleaseStatus
from .reporting import Reporter, Step
from .waiting import Clock

__all__ = ["Orphan", "SourceFinding", "SourceReap", "find_orphans", "reap", "reap_source"]

# Lease states in which a lease no longer holds its grant.
_CLOSED = frozenset(
    {LeaseState.RELEASED, LeaseState.EXPIRED, LeaseState.FAILED, LeaseState.RELEASING, LeaseState.RELEASE_FAILED}
)


@dataclass(frozen=True)
class Orphan:
    record: LeaseRecord
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"lease_id": self.record["lease_id"], "state": self.record["state"], "reason": self.reason}


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def find_orphans(ledger: AuditStore, now: datetime, *, host: str | None = None) -> list[Orphan]:
    host = host or socket.gethostname()
    found: list[Orphan] = []
    for record in ledger.open_leases():
        end = _time(record.get("end_at"))
        held_by = (record.get("data") or {}).get("held_by", "exec")
        pid, owner_host = record.get("owner_pid"), record.get("owner_host")
        same_host = owner_host == host
        alive = bool(same_host and pid is not None and owner_is_alive(pid, host, record.get("owner_started_at")))
        if end is not None and end <= now and not alive:
            found.append(Orphan(record, f"its end ({record.get('end_at')}) has passed"))
        elif held_by == "exec" and same_host and not alive:
            found.append(Orphan(record, f"its owner process {record.get('owner_pid')} is gone"))
        elif record["state"] == LeaseState.RELEASE_FAILED and not alive:
            found.append(Orphan(record, "an earlier release failed"))
    return found


def _held(record: LeaseRecord, contexts: ContextFactory, since: datetime) -> HeldLease | None:
    data = record.get("data") or {}
    if "grant" in data:
        return held_from_record(record, contexts)
    # Killed after asking and before recording the answer: find the request by the name recorded first.
    resolved = ResolvedTarget.from_json(data["resolved"])
    provider = get_provider(resolved.kind)
    ctx = contexts(resolved.target.tenant)
    name = (record.get("request_ids") or {}).get("request_name")
    grant = provider.recover(resolved, ctx, request_name=str(name), since=since) if name else None
    if grant is None:
        return None
    return HeldLease(record["lease_id"], provider, resolved, ctx, grant, LeaseState(record["state"]))


def reap(
    ledger: AuditStore,
    contexts: ContextFactory,
    *,
    clock: Clock,
    options: LifecycleOptions,
    reporter: Reporter,
    dry_run: bool = False,
) -> list[tuple[Orphan, ReleaseReport | None]]:
    results: list[tuple[Orphan, ReleaseReport | None]] = []
    releaser = Releaser(ledger, clock, options, reporter)
    caller: str | None = None
    for orphan in find_orphans(ledger, clock.now()):
        lease = orphan.record["lease_id"]
        if caller is None:
            caller = contexts(None).identity.object_id.lower()
        holder = (orphan.record.get("principal_id") or "").lower()
        if holder and holder != caller:
            # Another principal's lease (e.g. a person's own activation): only it can end it; trying gets 403.
            why = f"held by another principal ({holder}): run `jitpim reap` as that identity"
            reporter.step(Step(clock.now(), "reap", f"{lease}: {orphan.reason}; skipped, {why}", lease))
            results.append((orphan, ReleaseReport(lease, ReleaseStatus.SKIPPED_NOT_OURS, why)))
            continue
        reporter.step(Step(clock.now(), "reap", f"{lease}: {orphan.reason}", lease))
        if dry_run:
            results.append((orphan, None))
            continue
        ended = end_children(ledger, lease)  # nothing of the job keeps running once its access is gone
        if ended:
            reporter.step(Step(clock.now(), "reap", f"{lease}: {ended}", lease))
        created = _time(orphan.record.get("created_at")) or clock.now()
        try:
            held = _held(orphan.record, contexts, created)
        except JitError as exc:
            results.append((orphan, ReleaseReport(lease, ReleaseStatus.FAILED, exc.message)))
            continue
        if held is None:
            ledger.transition(
                lease,
                LeaseState.FAILED,
                "lease.grant_failed",
                {"reason": "no grant was found"},
                outcome=LeaseOutcome.NOTHING_GRANTED,
            )
            results.append((orphan, ReleaseReport(lease, ReleaseStatus.ALREADY_GONE, "no grant was ever made")))
            continue
        results.append((orphan, releaser.release(held)))
    return results


@dataclass(frozen=True)
class SourceFinding:
    """One jitpim-marked grant found at the source, what the reaper did with it, and why."""

    found: SourceGrant
    action: str  # removed | already_gone | left_to_expire | would_remove | kept | skipped_not_ours | failed
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {**self.found.to_json(), "action": self.action, "reason": self.reason}


@dataclass
class SourceReap:
    findings: list[SourceFinding]
    errors: list[str]

    @property
    def failed(self) -> list[SourceFinding]:
        return [f for f in self.findings if f.action == "failed"]

    def to_json(self) -> dict[str, Any]:
        return {"source": [f.to_json() for f in self.findings], "errors": self.errors}


def _live_markers(found: SourceGrant, ledger: AuditStore | None, now: datetime) -> list[GrantMarker]:
    live: list[GrantMarker] = []
    for marker in found.markers:
        if marker.ended(now):
            continue
        record = ledger.find(marker.lease_id) if ledger is not None else None
        if record is not None and record["state"] in _CLOSED:
            continue
        live.append(marker)
    return live


def _judge(found: SourceGrant, caller: str, ledger: AuditStore | None, now: datetime) -> tuple[str, str]:
    if found.resolved.principal_id.lower() != caller:
        return "skipped_not_ours", (
            f"held by another principal ({found.resolved.principal_id}): only it, or an administrator, can end it"
        )
    live = _live_markers(found, ledger, now)
    if live:
        last = max(live, key=lambda m: m.end)
        return "kept", f"held by {', '.join(m.lease_id for m in live)} until {last.end:%Y-%m-%d %H:%M:%SZ}"
    ends = [m.end for m in found.markers]
    return "remove", f"every holder has ended (last marker end {max(ends):%Y-%m-%d %H:%M:%SZ})"


def reap_source(
    contexts: ContextFactory,
    *,
    scopes: list[str],
    kinds: list[TargetKind],
    clock: Clock,
    reporter: Reporter,
    ledger: AuditStore | None = None,
    dry_run: bool = False,
) -> SourceReap:
    """Find jitpim-marked grants at the source (ARM kinds at `scopes` and below; Graph kinds: the caller's
    own) and remove those no marker holds any more. Needs no ledger; with one, closed leases count as ended."""
    ctx = contexts(None)
    caller = ctx.identity.object_id.lower()
    report = SourceReap([], [])
    now = clock.now()
    if not scopes and any(k in (TargetKind.RBAC, TargetKind.AZURE_ROLE) for k in kinds):
        try:
            scopes = visible_subscriptions(ctx)
        except JitError as exc:
            report.errors.append(f"cannot list the subscriptions: {exc.message} (name them with --scope)")
    for kind in kinds:
        provider = get_provider(kind)
        arm_scopes = scopes if kind in (TargetKind.RBAC, TargetKind.AZURE_ROLE) else []
        if kind in (TargetKind.RBAC, TargetKind.AZURE_ROLE) and not scopes:
            continue
        try:
            grants = provider.marked(ctx, arm_scopes)
        except JitError as exc:
            where = f" at {', '.join(arm_scopes)}" if arm_scopes else ""
            report.errors.append(f"{kind}: cannot list grants{where}: {exc.message}")
            continue
        for found in grants:
            action, reason = _judge(found, caller, ledger, now)
            if action == "remove":
                action, reason = _remove(found, ctx, reason, dry_run)
            reporter.step(Step(clock.now(), "reap", f"{found.resolved.describe()}: {action} ({reason})"))
            report.findings.append(SourceFinding(found, action, reason))
    return report


def _remove(found: SourceGrant, ctx: ProviderContext, reason: str, dry_run: bool) -> tuple[str, str]:
    if dry_run:
        return "would_remove", reason
    provider = get_provider(found.resolved.kind)
    try:
        result = provider.release(found.grant, found.resolved, ctx)
    except JitError as exc:
        return "failed", f"{reason}; the removal failed: {exc.message}"
    if result.outcome is ReleaseOutcome.TOO_EARLY:
        end = found.grant.end_at
        when = f"{end:%Y-%m-%d %H:%M:%SZ}" if end else "its end"
        return "left_to_expire", f"{reason}; PIM refuses removal in its first 5 minutes: it ends at {when}"
    if result.outcome is ReleaseOutcome.ALREADY_GONE:
        return "already_gone", reason
    return "removed", reason
