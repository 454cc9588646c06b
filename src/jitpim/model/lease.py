"""A lease: one piece of access held for a while, and the only ways its state may change.

    planned           -> requested | granted (an equivalent grant already existed: reused) | failed
    requested         -> pending_approval | granted | failed | releasing (cancel) | expired
    pending_approval  -> granted | failed (denied, timed out) | releasing (cancel) | expired
    granted           -> effective | releasing | expired
    effective         -> releasing | expired
    releasing         -> released | release_failed | expired
    release_failed    -> releasing (retry, e.g. by the reaper) | released | expired
    released, expired, failed: terminal

A transition to the state a lease is already in records an event without a change of state (an extension,
a retried release); terminal states take none. `check_transition` is the one judge: the ledger calls it inside
the write transaction that changes the state, so no writer (SQLite or PostgreSQL) can store a forbidden edge.

`failed` means nothing was granted: a request the source accepted but is still provisioning stays
`requested` until it is active (`granted`) or ends in failure (`failed`). Once a grant may exist, the only
ways out are `released` (we took it back) and `expired` (the source ended it); `release_failed` is the most
severe state and is retried.
How a lease ended is its `LeaseOutcome`.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, NewType

from ..errors import InvalidTransitionError
from .durations import iso8601_duration, parse_duration
from .run import RunContext
from .target import Mode, Target, Ticket

__all__ = [
    "ALLOWED_TRANSITIONS",
    "Lease",
    "LeaseId",
    "LeaseOutcome",
    "LeaseState",
    "check_transition",
    "lease_id",
    "new_local_run_key",
]

LeaseId = NewType("LeaseId", str)


class LeaseState(StrEnum):
    PLANNED = "planned"
    REQUESTED = "requested"
    PENDING_APPROVAL = "pending_approval"
    GRANTED = "granted"
    EFFECTIVE = "effective"
    RELEASING = "releasing"
    RELEASED = "released"
    EXPIRED = "expired"
    FAILED = "failed"
    RELEASE_FAILED = "release_failed"

    @property
    def is_terminal(self) -> bool:
        return not ALLOWED_TRANSITIONS[self]

    @property
    def may_hold_access(self) -> bool:
        """True when access may exist at the source (the reaper and `release --all` look at these)."""
        return self in _MAY_HOLD


class LeaseOutcome(StrEnum):
    """How a lease ended, as stored in the ledger's `outcome` column (the values are the stored text)."""

    RELEASED = "released"  # we removed the grant, and verified it is gone
    ALREADY_GONE = "already_gone"  # the grant was gone when we came to remove it
    LEFT_TO_EXPIRE = "left_to_expire"  # PIM refused early removal: the grant ends at its expiry at the source
    REUSED = "reused"  # an equivalent grant existed before us: left in place
    HANDED_OVER = "handed_over"  # jitpim's grant is still held by other leases: its last holder releases it
    RELEASE_FAILED = "release_failed"
    GRANT_FAILED = "grant_failed"
    DENIED = "denied"  # an approver said no
    FAILED = "failed"  # the source ended the request in failure
    CANCELED = "canceled"  # the request was canceled at the source
    NOTHING_GRANTED = "nothing_granted"  # the reaper found no grant for a lease that never recorded one
    EXPIRED = "expired"


_S = LeaseState
ALLOWED_TRANSITIONS: Mapping[LeaseState, frozenset[LeaseState]] = {
    _S.PLANNED: frozenset({_S.REQUESTED, _S.GRANTED, _S.FAILED}),
    _S.REQUESTED: frozenset({_S.PENDING_APPROVAL, _S.GRANTED, _S.FAILED, _S.RELEASING, _S.EXPIRED}),
    _S.PENDING_APPROVAL: frozenset({_S.GRANTED, _S.FAILED, _S.RELEASING, _S.EXPIRED}),
    _S.GRANTED: frozenset({_S.EFFECTIVE, _S.RELEASING, _S.EXPIRED}),
    _S.EFFECTIVE: frozenset({_S.RELEASING, _S.EXPIRED}),
    _S.RELEASING: frozenset({_S.RELEASED, _S.RELEASE_FAILED, _S.EXPIRED}),
    _S.RELEASE_FAILED: frozenset({_S.RELEASING, _S.RELEASED, _S.EXPIRED}),
    _S.RELEASED: frozenset(),
    _S.EXPIRED: frozenset(),
    _S.FAILED: frozenset(),
}
_MAY_HOLD = frozenset({_S.REQUESTED, _S.PENDING_APPROVAL, _S.GRANTED, _S.EFFECTIVE, _S.RELEASING, _S.RELEASE_FAILED})


def check_transition(current: str, new: str, *, lease: str = "", target: str | None = None) -> LeaseState:
    """The state `new` if a lease in `current` may move there (or stay there, recording an event), else
    `InvalidTransitionError` naming both states and the allowed ones. Unknown state names are refused too."""
    try:
        before, after = LeaseState(current), LeaseState(new)
    except ValueError:
        raise InvalidTransitionError(
            f"lease {lease} cannot go from {current!r} to {new!r}: not a lease state "
            f"(states: {', '.join(s.value for s in LeaseState)})",
            current=str(current),
            requested=str(new),
            target=target,
        ) from None
    if after in ALLOWED_TRANSITIONS[before] or (after is before and not before.is_terminal):
        return after
    allowed = ", ".join(sorted(s.value for s in ALLOWED_TRANSITIONS[before])) or "none (terminal)"
    raise InvalidTransitionError(
        f"lease {lease} cannot go from {before.value} to {after.value} (allowed: {allowed})",
        current=before.value,
        requested=after.value,
        target=target,
    )


def new_local_run_key(now: datetime) -> str:
    """A run key for a lease taken outside CI: `local-<UTC timestamp>-<random>`."""
    return f"local-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def lease_id(run_key: str, target: Target) -> LeaseId:
    """`<run-or-local-id>/<kind>/<slug>`: `jitpim release --prefix <run>` then releases a whole run."""
    run = run_key.strip().strip("/")
    if not run or "/" in run:
        raise ValueError(f"run key {run_key!r} must be one non-empty path segment")
    return LeaseId(f"{run}/{target.kind.value}/{target.slug}")


_IMMUTABLE = frozenset({"lease_id", "state"})


@dataclass(frozen=True)
class Lease:
    """One target held by one principal for one run. Change it only through `transition` / `with_changes`."""

    lease_id: LeaseId
    target: Target
    mode: Mode
    principal_id: str | None = None
    tenant_id: str | None = None
    state: LeaseState = LeaseState.PLANNED
    requested_duration: timedelta | None = None
    granted_duration: timedelta | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    justification: str | None = None
    ticket: Ticket | None = None
    request_ids: Mapping[str, str] = field(default_factory=dict)
    run: RunContext = field(default_factory=RunContext)
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Copies, so a caller's dict or list cannot change a lease behind its back.
        object.__setattr__(self, "request_ids", dict(self.request_ids))
        object.__setattr__(self, "notes", tuple(self.notes))

    @classmethod
    def plan(
        cls,
        target: Target,
        *,
        mode: Mode,
        run_key: str,
        run: RunContext | None = None,
        principal_id: str | None = None,
        tenant_id: str | None = None,
        requested_duration: timedelta | None = None,
    ) -> Lease:
        """A new lease in state `planned`, carrying the target's justification and ticket."""
        return cls(
            lease_id=lease_id(run_key, target),
            target=target,
            mode=mode,
            principal_id=principal_id,
            tenant_id=tenant_id or target.tenant,
            requested_duration=requested_duration or target.duration,
            justification=target.justification,
            ticket=target.ticket,
            run=run or RunContext(),
        )

    def can_transition(self, new_state: LeaseState) -> bool:
        return LeaseState(new_state) in ALLOWED_TRANSITIONS[self.state]

    def transition(self, new_state: LeaseState, *, note: str | None = None, **changes: Any) -> Lease:
        """The lease in `new_state` with `changes` applied; raises `InvalidTransitionError` on a forbidden edge."""
        new_state = LeaseState(new_state)
        if not self.can_transition(new_state):
            allowed = ", ".join(sorted(s.value for s in ALLOWED_TRANSITIONS[self.state])) or "none (terminal)"
            raise InvalidTransitionError(
                f"lease {self.lease_id} cannot go from {self.state.value} to {new_state.value} (allowed: {allowed})",
                current=self.state.value,
                requested=new_state.value,
                target=self.target.describe(),
            )
        return self._replace(changes, note, state=new_state)

    def with_changes(self, *, note: str | None = None, **changes: Any) -> Lease:
        """The lease in the same state with `changes` applied (request ids, end time, notes...)."""
        return self._replace(changes, note)

    def _replace(self, changes: dict[str, Any], note: str | None, **forced: Any) -> Lease:
        bad = set(changes) & _IMMUTABLE
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if bad or unknown:
            raise TypeError(f"cannot change {', '.join(sorted(bad | unknown))} of a lease")
        if "request_ids" in changes:
            changes["request_ids"] = {**self.request_ids, **changes["request_ids"]}
        if note:
            changes["notes"] = (*changes.get("notes", self.notes), note)
        return dataclasses.replace(self, **changes, **forced)

    @property
    def run_key(self) -> str:
        return self.lease_id.split("/", 1)[0]

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        def span(value: timedelta | None) -> str | None:
            return iso8601_duration(value) if value is not None else None

        return {
            "lease_id": self.lease_id,
            "state": self.state.value,
            "target": self.target.to_json(),
            "mode": self.mode.value,
            "principal_id": self.principal_id,
            "tenant_id": self.tenant_id,
            "requested_duration": span(self.requested_duration),
            "granted_duration": span(self.granted_duration),
            "start_at": iso(self.start_at),
            "end_at": iso(self.end_at),
            "justification": self.justification,
            "ticket": str(self.ticket) if self.ticket else None,
            "request_ids": dict(self.request_ids),
            "run": self.run.to_json(),
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Lease:
        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value else None

        def span(value: str | None) -> timedelta | None:
            return parse_duration(value) if value else None

        return cls(
            lease_id=LeaseId(data["lease_id"]),
            target=Target.from_json(data["target"]),
            mode=Mode(data["mode"]),
            principal_id=data.get("principal_id"),
            tenant_id=data.get("tenant_id"),
            state=LeaseState(data.get("state", LeaseState.PLANNED)),
            requested_duration=span(data.get("requested_duration")),
            granted_duration=span(data.get("granted_duration")),
            start_at=when(data.get("start_at")),
            end_at=when(data.get("end_at")),
            justification=data.get("justification"),
            ticket=Ticket.parse(data["ticket"]) if data.get("ticket") else None,
            request_ids=dict(data.get("request_ids") or {}),
            run=RunContext.from_json(data.get("run") or {}),
            notes=tuple(data.get("notes") or ()),
        )
