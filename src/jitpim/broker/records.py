"""A broker request as stored and as returned to callers, and its states.

    pending_approval -> approved -> granting -> granted -> releasing -> released
                     -> denied | timed_out            granting -> failed   granted -> expired (reaped)
    permitted -> granting ...      forbidden (never granted)

Every move between states is a compare-and-set on the stored row, so two replicas can never both take the
same step (two grants, two reaps).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

__all__ = ["ApprovalRecord", "BrokerRequest", "RequestState"]


class RequestState(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    PERMITTED = "permitted"
    GRANTING = "granting"
    GRANTED = "granted"
    RELEASING = "releasing"
    RELEASED = "released"
    EXPIRED = "expired"
    FAILED = "failed"
    FORBIDDEN = "forbidden"
    DENIED = "denied"
    TIMED_OUT = "timed_out"

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    @property
    def may_hold_access(self) -> bool:
        return self in (RequestState.GRANTING, RequestState.GRANTED, RequestState.RELEASING)


_FINAL = frozenset(
    {
        RequestState.RELEASED,
        RequestState.EXPIRED,
        RequestState.FAILED,
        RequestState.FORBIDDEN,
        RequestState.DENIED,
        RequestState.TIMED_OUT,
    }
)


@dataclass(frozen=True)
class ApprovalRecord:
    approver_id: str  # the approver's Entra object id
    approver_name: str  # their UPN
    decision: str  # "approve" | "deny"
    reason: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "approver_id": self.approver_id,
            "approver": self.approver_name,
            "decision": self.decision,
            "reason": self.reason,
            "at": self.at.isoformat(),
        }


@dataclass(frozen=True)
class BrokerRequest:
    """One request for access by a job (never holds a token or a secret)."""

    request_id: str
    client_request_id: str
    subject: str  # the job's OIDC `sub`
    repository: str
    state: RequestState
    claims: dict[str, Any]  # the verified claims (provenance), minus the token itself
    target: dict[str, Any]  # kind, role, scope, tenant, duration, justification, ticket
    decision: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None = None  # approval deadline while pending; lease end once granted
    principal_id: str = ""  # who receives the access (the job's Azure identity)
    lease: dict[str, Any] = field(default_factory=dict)
    approvals: tuple[ApprovalRecord, ...] = ()
    review: bool = False  # break-glass: marked for review after the fact
    error: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "client_request_id": self.client_request_id,
            "state": self.state.value,
            "subject": self.subject,
            "repository": self.repository,
            "claims": self.claims,
            "target": self.target,
            "decision": self.decision,
            "principal_id": self.principal_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "lease": self.lease,
            "approvals": [a.to_json() for a in self.approvals],
            "review": self.review,
            "error": self.error,
        }
