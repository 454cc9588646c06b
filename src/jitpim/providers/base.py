"""The interface every target kind implements, and the values that cross it.

A provider turns a `Target` into access and back, through one API family:

    resolve      names -> ids (role by name or id, group by name, the principal that receives access)
    read_policy  the PIM settings that apply (max duration, justification, ticket, MFA, approval)
    check        pre-flight refusals before anything is sent (eligibility, right to assign,
                 `isValidationOnly` where the API has it)
    find_existing an equivalent active grant to reuse instead of granting twice, with its window (start/end) and
                 the markers of the jitpim leases that hold it (`providers.marker`)
    grant        send the request; idempotent through `request_name` (a client-chosen GUID)
    recover      after a lost response: look the request up by `request_name`/time instead of re-sending
    refresh      poll the grant's status (approval, provisioning)
    probe        does the access really work now?
    release      take it back; "already gone" is success; PIM's 5-minute floor is `TOO_EARLY`
    extend       lengthen an active grant within the policy (or add a holder's marker to a shared one)
    holders      the markers at the source of the leases that hold a grant (shared grants)
    leave        stop holding a shared grant without ending it: remove this lease's marker where the API keeps
                 it (the last holder releases instead)
    marked       every jitpim-marked grant the caller can see, for `jitpim reap --source` (no ledger needed)

Every grant jitpim makes carries a `GrantMarker` (lease id, holder, end) at the source: see `providers.marker`.

Providers are synchronous and do all their I/O through `ProviderContext` (injected API clients and clock),
so tests swap what sits behind them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..model import Decision, Mode, PolicyView, Reason, Target, TargetKind
from .marker import GrantMarker

if TYPE_CHECKING:
    from ..auth import Identity
    from ..cloud import CloudProfile
    from ..http import ApiClient

__all__ = [
    "Grant",
    "GrantStatus",
    "Provider",
    "ProviderContext",
    "ReleaseOutcome",
    "ReleaseResult",
    "ResolvedTarget",
    "SourceGrant",
    "grant_markers",
]


@dataclass(frozen=True)
class ResolvedTarget:
    """A target with every name resolved to the id the API wants."""

    target: Target
    role_id: str  # directory role template id, ARM role definition GUID, or "member"/"owner" for pim-group
    role_name: str
    scope: str  # directory scope id, ARM scope id, or group object id
    scope_name: str  # what people call the scope (vault name, group name, "/" = tenant)
    principal_id: str  # the object id that receives access
    tenant_id: str

    @property
    def kind(self) -> TargetKind:
        return self.target.kind

    def describe(self) -> str:
        return f"{self.kind} {self.role_name!r} on {self.scope_name}"

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target.to_json(),
            "role_id": self.role_id,
            "role_name": self.role_name,
            "scope": self.scope,
            "scope_name": self.scope_name,
            "principal_id": self.principal_id,
            "tenant_id": self.tenant_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResolvedTarget:
        return cls(
            target=Target.from_json(data["target"]),
            role_id=data["role_id"],
            role_name=data["role_name"],
            scope=data["scope"],
            scope_name=data["scope_name"],
            principal_id=data["principal_id"],
            tenant_id=data["tenant_id"],
        )


class GrantStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    PROVISIONING = "provisioning"  # accepted, not yet active
    SCHEDULED = "scheduled"  # granted with a start in the future
    ACTIVE = "active"
    DENIED = "denied"
    FAILED = "failed"
    CANCELED = "canceled"
    REVOKED = "revoked"
    EXPIRED = "expired"

    @property
    def is_final_failure(self) -> bool:
        return self in (GrantStatus.DENIED, GrantStatus.FAILED, GrantStatus.CANCELED)


@dataclass(frozen=True)
class Grant:
    """Everything needed to poll, probe and release a grant later, possibly from another process (the
    reaper): it is stored in the ledger as JSON, and holds ids only, never tokens or secrets."""

    kind: TargetKind
    status: GrantStatus
    request_id: str | None  # the schedule request id (Graph/ARM PIM) or role assignment name (rbac)
    resource_id: str | None  # ARM id or Graph URL of the request/assignment, when it has one
    start_at: datetime | None
    end_at: datetime | None
    reused: bool = False
    api_status: str | None = None  # the API's own status string (e.g. "PendingApproval", "Provisioned")
    data: dict[str, Any] = field(default_factory=dict)  # provider-specific ids (schedule, approval, ...)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "status": str(self.status),
            "request_id": self.request_id,
            "resource_id": self.resource_id,
            "start_at": self.start_at.isoformat() if self.start_at else None,
            "end_at": self.end_at.isoformat() if self.end_at else None,
            "reused": self.reused,
            "api_status": self.api_status,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Grant:
        return cls(
            kind=TargetKind(data["kind"]),
            status=GrantStatus(data["status"]),
            request_id=data.get("request_id"),
            resource_id=data.get("resource_id"),
            start_at=datetime.fromisoformat(data["start_at"]) if data.get("start_at") else None,
            end_at=datetime.fromisoformat(data["end_at"]) if data.get("end_at") else None,
            reused=bool(data.get("reused", False)),
            api_status=data.get("api_status"),
            data=dict(data.get("data") or {}),
        )


def grant_markers(grant: Grant) -> list[GrantMarker]:
    """The markers a provider found at the source on `grant` (`data["markers"]`)."""
    return [GrantMarker.from_json(m) for m in grant.data.get("markers") or [] if isinstance(m, dict)]


@dataclass(frozen=True)
class SourceGrant:
    """A grant found at the source carrying jitpim markers (for `jitpim reap --source`)."""

    resolved: ResolvedTarget
    grant: Grant
    markers: tuple[GrantMarker, ...]

    def end(self) -> datetime | None:
        """When the last holder's window ends (the grant's own end at the source, if it has one, when sooner)."""
        ends = [m.end for m in self.markers]
        marked = max(ends) if ends else None
        if self.grant.end_at is not None and (marked is None or self.grant.end_at < marked):
            return self.grant.end_at
        return marked

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.resolved.kind),
            "role_id": self.resolved.role_id,
            "scope": self.resolved.scope,
            "principal_id": self.resolved.principal_id,
            "grant": self.grant.to_json(),
            "markers": [m.to_json() for m in self.markers],
        }


class ReleaseOutcome(StrEnum):
    RELEASED = "released"
    ALREADY_GONE = "already_gone"  # nothing to release: success
    TOO_EARLY = "too_early"  # PIM refuses removal in the first 5 minutes (ActiveDurationTooShort)


@dataclass(frozen=True)
class ReleaseResult:
    outcome: ReleaseOutcome
    retry_at: datetime | None = None  # when TOO_EARLY: when the window opens
    detail: str = ""


@dataclass
class ProviderContext:
    """What a provider may use: API clients for the target's tenant, who is calling, and the clock."""

    cloud: CloudProfile
    graph: ApiClient
    arm: ApiClient
    identity: Identity
    mode: Mode
    now: Callable[[], datetime]
    # An API client for a Key Vault data plane URL (probes of Key Vault data roles).
    keyvault: Callable[[str], ApiClient]
    # A fresh access token's claims for a scope, bypassing caches (for `wids`-based probes). Never the token.
    fresh_claims: Callable[[str], dict[str, Any]]
    cache: dict[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    """One target kind. Implementations live one per module and register in `jitpim.providers`."""

    kind: ClassVar[TargetKind]

    def resolve(self, target: Target, ctx: ProviderContext) -> ResolvedTarget: ...

    def read_policy(self, resolved: ResolvedTarget, ctx: ProviderContext) -> PolicyView: ...

    def check(self, resolved: ResolvedTarget, decision: Decision, ctx: ProviderContext) -> list[Reason]: ...

    def find_existing(self, resolved: ResolvedTarget, ctx: ProviderContext) -> Grant | None: ...

    def grant(
        self,
        resolved: ResolvedTarget,
        decision: Decision,
        ctx: ProviderContext,
        *,
        request_name: str,
        marker: GrantMarker | None = None,
    ) -> Grant: ...

    def recover(
        self, resolved: ResolvedTarget, ctx: ProviderContext, *, request_name: str, since: datetime
    ) -> Grant | None: ...

    def refresh(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> Grant: ...

    def probe(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> bool: ...

    def release(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> ReleaseResult: ...

    def extend(
        self,
        grant: Grant,
        resolved: ResolvedTarget,
        decision: Decision,
        ctx: ProviderContext,
        *,
        marker: GrantMarker | None = None,
    ) -> Grant: ...

    def holders(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> list[GrantMarker]: ...

    def leave(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext, *, lease_id: str) -> None: ...

    def marked(self, ctx: ProviderContext, scopes: list[str]) -> list[SourceGrant]: ...

    def eligible(self, ctx: ProviderContext) -> list[Target]: ...
