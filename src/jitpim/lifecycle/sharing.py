"""Grants held by more than one lease, and whether an existing grant may stand in for a new one.

**Reuse covers the window.** An existing grant is reused only if it covers the whole requested window
(`start..end`). Otherwise, if jitpim made it for the same principal (its marker says so) and the API can
lengthen it, it is extended to the new end; if it ends before the window opens, a new grant is asked for; and
if it is someone else's (a standing assignment, a person's own activation) it is neither reused nor changed:
`plan` refuses with the reason (`reuse_choice`).

**The last holder releases.** Several leases may hold one grant (four parallel jobs of one identity on one
target: the first grants, the others join). A lease that ends while another still holds the grant leaves it in
place (`handed_over`) and removes its own marker where the API keeps one (`rbac`); the last one releases it.
Holders are counted in the ledger (open leases with the same grant key: kind, principal, role, scope) and at
the source (markers whose end has not passed and whose lease the ledger does not know as closed), so runners
that share no ledger still see each other through `rbac` descriptions and PIM justifications.

**Access that disappears mid-run is not success.** Before a lease is released, its grant is looked up once more
(`access_lost`): a grant gone at the source before its end (someone removed it, or a holder that could not see
this one released it) fails the run with exit code 77 instead of exit 0, and the record says `lease.access_lost`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from ..audit.records import TERMINAL_STATES, LeaseRecord
from ..audit.store import AuditStore
from ..errors import JitError, ProviderError
from ..model import Decision, TargetKind
from ..providers import Grant, GrantMarker, GrantStatus, Provider, ProviderContext, ResolvedTarget, grant_markers

__all__ = [
    "ReuseChoice",
    "access_lost",
    "adopt_existing_answer",
    "grant_key",
    "is_jitpim_grant",
    "join_grant",
    "ledger_holders",
    "other_holders",
    "reuse_choice",
]

# PIM starts a grant on receipt, a little after the lease asked for "now".
_START_SLACK = timedelta(minutes=1)
# States in which a lease no longer needs its grant (it is ending, or its release failed and the reaper owns it).
_NOT_HOLDING = frozenset({"releasing", "release_failed", "failed", *TERMINAL_STATES})


class ReuseChoice(StrEnum):
    GRANT = "grant"  # nothing usable exists: ask for a new grant
    REUSE = "reuse"  # it covers the whole window: use it as it is
    EXTEND = "extend"  # jitpim's own grant for this principal, ending too soon: lengthen it, then use it
    CONFLICT = "conflict"  # someone else's grant overlaps the window without covering it: refuse


def is_jitpim_grant(grant: Grant, principal_id: str) -> bool:
    """jitpim made this grant for `principal_id` (some lease's marker at the source says so)."""
    return any(m.held_by(principal_id) for m in grant_markers(grant))


def reuse_choice(
    existing: Grant | None,
    *,
    start: datetime,
    end: datetime,
    principal_id: str,
    can_extend: bool,
    kind: TargetKind | None = None,
) -> tuple[ReuseChoice, str]:
    """What to do with `existing` for a window `start..end`, and why (a sentence for the plan).

    `can_extend` is whether the caller may lengthen jitpim's own grant here (direct mode, or `rbac`, whose end
    lives in jitpim's marker); PIM cannot extend a person's activation."""
    if existing is None:
        return ReuseChoice.GRANT, "no equivalent grant exists"
    if existing.status is not GrantStatus.ACTIVE:
        return ReuseChoice.GRANT, f"the existing grant is {existing.status}"
    ours = is_jitpim_grant(existing, principal_id)
    until = existing.end_at
    starts_in_time = existing.start_at is None or existing.start_at <= start + _START_SLACK
    if starts_in_time and (until is None or until >= end):
        what = "jitpim's own grant" if ours else "an equivalent grant"
        return ReuseChoice.REUSE, f"{what} covers the window (until {_time(until)})"
    assert until is not None  # an unending grant covers every window
    if ours and kind is TargetKind.RBAC:
        # One assignment per principal, role and scope: its end is jitpim's marker, so it is moved.
        return ReuseChoice.EXTEND, f"jitpim's own assignment ends at {_time(until)}: its marker moves to {_time(end)}"
    if ours and can_extend:
        # Also when it ends before the window opens: PIM keeps one assignment per principal, role and scope and
        # refuses a second, later one beside it, so lengthening jitpim's own is the way to cover the window.
        return ReuseChoice.EXTEND, f"jitpim's own grant ends at {_time(until)}: it is extended to {_time(end)}"
    if until <= start:
        return ReuseChoice.GRANT, f"the existing grant ends at {_time(until)}, before the window opens"
    return (
        ReuseChoice.CONFLICT,
        f"an existing grant ends at {_time(until)}, before the requested end {_time(end)}, and jitpim may not "
        "lengthen it (it is not jitpim's, or PIM cannot extend an activation); ask for a window that ends by then, "
        "or wait until it ends",
    )


def join_grant(
    existing: Grant,
    provider: Provider,
    resolved: ResolvedTarget,
    ctx: ProviderContext,
    decision: Decision,
    marker: GrantMarker,
    extend: Grant | None = None,
) -> Grant:
    """The grant a joining lease holds: jitpim's own (not `reused`, so its last holder releases it), with the
    joiner's marker added at the source where the API keeps one. `extend` is the provider's extended grant when
    the choice was EXTEND. A grant that is not jitpim's stays `reused` (never released by jitpim)."""
    if not is_jitpim_grant(existing, resolved.principal_id):
        return existing
    grant = extend if extend is not None else existing
    if extend is None and existing.kind is TargetKind.RBAC:
        # Record this holder at the source too, so a runner without this ledger sees it.
        grant = provider.extend(existing, resolved, decision, ctx, marker=marker)
    data = {**grant.data, "shared": True, "joined_by": marker.lease_id}
    return dataclasses.replace(grant, reused=False, data=data)


def grant_key(kind: str, principal_id: str | None, role_id: str | None, scope: str | None) -> tuple[str, str, str, str]:
    """What makes two leases hold the same grant: the same principal, role and scope of one kind."""
    return (
        str(kind),
        (principal_id or "").lower(),
        (role_id or "").rstrip("/").rsplit("/", 1)[-1].lower(),
        (scope or "").rstrip("/").lower() or "/",
    )


def _record_key(record: LeaseRecord) -> tuple[str, str, str, str]:
    return grant_key(record["kind"], record["principal_id"], record["role_id"], record["scope"])


def adopt_existing_answer(
    grant: Grant,
    provider: Provider,
    resolved: ResolvedTarget,
    ctx: ProviderContext,
    decision: Decision,
    marker: GrantMarker,
    *,
    can_extend: bool,
) -> tuple[Grant, str]:
    """The API answered the grant with "this access already exists" (a parallel lease of this identity was a
    moment faster, or PIM refuses a second, later window beside the current one) and the provider returned the
    existing grant (`reused`). Use it only as `reuse_choice` allows: joined when it covers the window, extended
    first when it is jitpim's own and ends too soon; otherwise the lease fails, naming why."""
    described = resolved.describe()
    choice, why = reuse_choice(
        grant,
        start=decision.start,
        end=decision.end,
        principal_id=resolved.principal_id,
        can_extend=can_extend,
        kind=resolved.kind,
    )
    ours = is_jitpim_grant(grant, resolved.principal_id)
    if choice is ReuseChoice.REUSE:
        if not ours:
            return grant, f"reusing an existing grant of {described} (not jitpim's: it is left in place)"
        joined = join_grant(grant, provider, resolved, ctx, decision, marker)
        return joined, f"joined jitpim's own grant of {described}, made a moment ago by a parallel lease"
    if choice is ReuseChoice.EXTEND and ours:
        own = dataclasses.replace(grant, reused=False)
        extended = provider.extend(own, resolved, decision, ctx, marker=marker)
        joined = join_grant(grant, provider, resolved, ctx, decision, marker, extend=extended)
        return joined, f"extended and joined jitpim's own grant of {described} until {_time(joined.end_at)}"
    raise ProviderError(
        f"the access already exists for this principal and the API refuses a second grant beside it: {why}",
        hint="Ask for a window within the existing grant, wait until it ends, or release it first.",
        target=described,
    )


def _grant_identity(record: LeaseRecord) -> str | None:
    """Which grant at the source a lease holds: the assignment's name (rbac) or the PIM schedule; None before
    its grant is recorded."""
    grant = (record.get("data") or {}).get("grant")
    if not isinstance(grant, dict):
        return None
    if record["kind"] == str(TargetKind.RBAC):
        value = grant.get("request_id")
    else:
        value = (grant.get("data") or {}).get("schedule_id")
    return str(value).lower() if value else None


def ledger_holders(ledger: AuditStore, lease_id: str) -> list[LeaseRecord]:
    """Other open leases in the ledger that hold the same grant as `lease_id` (one query over open leases): the
    same kind, principal, role and scope, and the same assignment or schedule when both have recorded theirs
    (a later, separate PIM grant of the same role, e.g. a scheduled window, is not the same grant)."""
    me = ledger.get(lease_id)
    key = _record_key(me)
    mine = _grant_identity(me)
    holders: list[LeaseRecord] = []
    for record in _open(ledger):
        if record["lease_id"] == lease_id or record["state"] in _NOT_HOLDING or _record_key(record) != key:
            continue
        theirs = _grant_identity(record)
        if mine is not None and theirs is not None and mine != theirs:
            continue
        holders.append(record)
    return holders


def _open(ledger: AuditStore) -> Iterable[LeaseRecord]:
    opener = getattr(ledger, "open_leases", None)
    if callable(opener):
        records: list[LeaseRecord] = opener()
        return records
    return [r for r in ledger.list() if r["state"] not in TERMINAL_STATES]


def other_holders(
    ledger: AuditStore | None,
    lease_id: str,
    provider: Provider,
    grant: Grant,
    resolved: ResolvedTarget,
    ctx: ProviderContext,
    now: datetime,
) -> list[str]:
    """The lease ids, other than `lease_id`, that still hold `grant`: open leases in the ledger, and markers at
    the source whose end has not passed and whose lease the ledger does not know as ended."""
    holders: dict[str, str] = {}
    if ledger is not None:
        for record in ledger_holders(ledger, lease_id):
            holders[record["lease_id"]] = "ledger"
    try:
        markers = provider.holders(grant, resolved, ctx)
    except JitError:
        markers = []  # the source cannot be read now: the ledger's count stands
    for marker in markers:
        if marker.lease_id == lease_id or marker.lease_id in holders or marker.ended(now):
            continue
        if not marker.held_by(resolved.principal_id):
            continue
        known = ledger.find(marker.lease_id) if ledger is not None else None
        if known is not None and known["state"] in _NOT_HOLDING:
            continue
        holders[marker.lease_id] = "source"
    return sorted(holders)


def access_lost(provider: Provider, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext, now: datetime) -> str:
    """Why the grant is gone before its end ("" while it is still there, has simply ended, or cannot be read).

    The grant itself is polled (`refresh`: the assignment by name, the PIM request and its schedule); for PIM
    kinds, whose request may still read "Provisioned" after someone removed the assignment, the live instances
    are asked too (`find_existing`)."""
    if grant.status is not GrantStatus.ACTIVE:
        return ""
    end = grant.end_at
    if end is not None and end <= now:
        return ""
    try:
        fresh = provider.refresh(grant, resolved, ctx)
        gone = fresh.status in (GrantStatus.REVOKED, GrantStatus.EXPIRED)
    except JitError:
        gone = False
    if not gone and grant.kind is not TargetKind.RBAC:
        try:
            gone = provider.find_existing(resolved, ctx) is None
        except JitError:
            return ""
    if not gone:
        return ""
    return f"the grant was removed at the source before its end ({_time(end)})"


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else "no end"
