"""The reaper: releases leases whose job is gone (the runner was killed, even with SIGKILL) or whose end
has passed, working only from the ledger.

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

from ..audit.ledger import Ledger
from ..audit.owner import owner_is_alive
from ..audit.records import LeaseRecord
from ..errors import JitError
from ..providers import ResolvedTarget, get_provider
from .elevation import HeldLease
from .planning import ContextFactory, LifecycleOptions
from .recorded import held_from_record
from .release import Releaser, ReleaseReport
from .reporting import Reporter, Step
from .waiting import Clock

__all__ = ["Orphan", "find_orphans", "reap"]


@dataclass(frozen=True)
class Orphan:
    record: LeaseRecord
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"lease_id": self.record["lease_id"], "state": self.record["state"], "reason": self.reason}


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def find_orphans(ledger: Ledger, now: datetime, *, host: str | None = None) -> list[Orphan]:
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
        elif record["state"] == "release_failed" and not alive:
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
    return HeldLease(record["lease_id"], provider, resolved, ctx, grant, record["state"])


def reap(
    ledger: Ledger,
    contexts: ContextFactory,
    *,
    clock: Clock,
    options: LifecycleOptions,
    reporter: Reporter,
    dry_run: bool = False,
) -> list[tuple[Orphan, ReleaseReport | None]]:
    results: list[tuple[Orphan, ReleaseReport | None]] = []
    releaser = Releaser(ledger, clock, options, reporter)
    for orphan in find_orphans(ledger, clock.now()):
        lease = orphan.record["lease_id"]
        reporter.step(Step(clock.now(), "reap", f"{lease}: {orphan.reason}", lease))
        if dry_run:
            results.append((orphan, None))
            continue
        created = _time(orphan.record.get("created_at")) or clock.now()
        try:
            held = _held(orphan.record, contexts, created)
        except JitError as exc:
            results.append((orphan, ReleaseReport(lease, "failed", exc.message)))
            continue
        if held is None:
            ledger.transition(
                lease, "failed", "lease.grant_failed", {"reason": "no grant was found"}, outcome="nothing_granted"
            )
            results.append((orphan, ReleaseReport(lease, "already_gone", "no grant was ever made")))
            continue
        results.append((orphan, releaser.release(held)))
    return results
