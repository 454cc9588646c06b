"""What the policy decided, and why: the outcome, the deciding policy, and the claims it looked at."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from ..model import iso8601_duration

__all__ = ["ApprovalRule", "Outcome", "PolicyDecision"]


class Outcome(StrEnum):
    PERMIT = "permit"  # granted at once (auto-approved)
    APPROVAL_REQUIRED = "approval_required"  # granted once enough approvers from the group said yes
    BREAK_GLASS = "break_glass"  # an emergency principal: granted at once, announced loudly, reviewed after
    FORBID = "forbid"  # never granted

    @property
    def grants_now(self) -> bool:
        return self in (Outcome.PERMIT, Outcome.BREAK_GLASS)


@dataclass(frozen=True)
class ApprovalRule:
    """`count` distinct approvers from `group` (never the requester), within `timeout`."""

    count: int
    group: str
    timeout: timedelta

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "group": self.group, "timeout": iso8601_duration(self.timeout)}


@dataclass(frozen=True)
class PolicyDecision:
    """The outcome with its explanation. `policy_id` is the deciding policy (None only for the default deny,
    when no policy permits); `claims` maps each attribute the deciding policy reads (`principal.ref`,
    `context.duration_minutes`, ...) to the value it had in this request."""

    outcome: Outcome
    policy_id: str | None
    claims: dict[str, Any]
    message: str
    policy_ids: tuple[str, ...] = ()  # every policy that was satisfied and determined the outcome
    approval: ApprovalRule | None = None
    errors: tuple[str, ...] = ()  # policies skipped because they failed to evaluate (a missing attribute)
    policy_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        return self.outcome is not Outcome.FORBID

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "policy_id": self.policy_id,
            "policy_ids": list(self.policy_ids),
            "claims": dict(self.claims),
            "message": self.message,
            "approval": self.approval.to_json() if self.approval else None,
            "errors": list(self.errors),
            "policy_version": self.policy_version,
        }
