"""Deciding a request before it is sent: a flattened view of the PIM policy, and a pure `evaluate`.

PIM rejects requests late and opaquely (`RoleAssignmentRequestPolicyValidationFailed` naming a rule). jitpim
reads the policy first and decides here: it clamps what it may clamp (with a notice) and refuses what would
fail, naming the same rule PIM would name (ExpirationRule, JustificationRule, TicketingRule, MfaRule,
ApprovalRule, EligibilityRule). `evaluate` takes its clock and facts as arguments, so it is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ..errors import NotEligibleError, PolicyDeniedError, UsageError
from .durations import format_duration, iso8601_duration
from .target import Mode, Target

__all__ = ["MINIMUM_DURATION", "Decision", "PolicyView", "Reason", "ReasonCode", "evaluate"]

# PIM refuses activations shorter than five minutes (and deactivation within the first five).
MINIMUM_DURATION = timedelta(minutes=5)


class ReasonCode(StrEnum):
    CLAMPED_TO_POLICY_MAX = "clamped_to_policy_max"
    RAISED_TO_MINIMUM = "raised_to_minimum"
    EXCEEDS_POLICY_MAX = "exceeds_policy_max"
    JUSTIFICATION_REQUIRED = "justification_required"
    TICKET_REQUIRED = "ticket_required"
    MFA_REQUIRED = "mfa_required"
    APPROVAL_REQUIRED = "approval_required"
    NOT_ELIGIBLE = "not_eligible"
    ALREADY_ACTIVE = "already_active"
    START_MOVED_TO_NOW = "start_moved_to_now"
    POLICY_REFUSED = "policy_refused"  # the API's own validation (isValidationOnly / validate) refused it


_REFUSALS = frozenset(
    {
        ReasonCode.EXCEEDS_POLICY_MAX,
        ReasonCode.JUSTIFICATION_REQUIRED,
        ReasonCode.TICKET_REQUIRED,
        ReasonCode.MFA_REQUIRED,
        ReasonCode.NOT_ELIGIBLE,
        ReasonCode.POLICY_REFUSED,
    }
)


@dataclass(frozen=True)
class Reason:
    """Why a decision came out as it did: a stable `code`, a sentence, and the PIM rule it stems from."""

    code: ReasonCode
    message: str
    rule: str | None = None

    @property
    def refuses(self) -> bool:
        """True when this reason alone makes the request fail (the others are notices)."""
        return self.code in _REFUSALS

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message, "rule": self.rule, "refuses": self.refuses}


@dataclass(frozen=True)
class PolicyView:
    """The parts of a PIM role-management policy (or jitpim's own policy) that decide a request.

    `max_duration` bounds activations (Expiration_EndUser_Assignment); `max_admin_duration` bounds
    time-bound admin assignments (Expiration_Admin_Assignment), which is what direct and broker mode create.
    None means "no limit known". `source` identifies the policy and its version for the audit record.
    """

    max_duration: timedelta | None = None
    require_justification: bool = False
    require_ticket: bool = False
    require_mfa: bool = False
    require_approval: bool = False
    approvers: tuple[str, ...] = ()
    allow_permanent: bool = False
    max_admin_duration: timedelta | None = None
    source: str = ""

    def limit_for(self, mode: Mode) -> timedelta | None:
        """The longest grant the API will accept for a request made in `mode`."""
        if mode is Mode.SELF:
            return self.max_duration
        return self.max_admin_duration or self.max_duration

    def to_json(self) -> dict[str, Any]:
        return {
            "max_duration": iso8601_duration(self.max_duration) if self.max_duration else None,
            "max_admin_duration": iso8601_duration(self.max_admin_duration) if self.max_admin_duration else None,
            "require_justification": self.require_justification,
            "require_ticket": self.require_ticket,
            "require_mfa": self.require_mfa,
            "require_approval": self.require_approval,
            "approvers": list(self.approvers),
            "allow_permanent": self.allow_permanent,
            "source": self.source,
        }


@dataclass(frozen=True)
class Decision:
    """The outcome of `evaluate`: allowed or not, the duration actually to request, and every reason."""

    allowed: bool
    target: Target
    mode: Mode
    requested_duration: timedelta
    duration: timedelta
    start: datetime
    reasons: tuple[Reason, ...] = ()
    policy_source: str = ""

    @property
    def refusals(self) -> list[Reason]:
        return [r for r in self.reasons if r.refuses]

    @property
    def notices(self) -> list[Reason]:
        return [r for r in self.reasons if not r.refuses]

    @property
    def needs_approval(self) -> bool:
        return any(r.code is ReasonCode.APPROVAL_REQUIRED for r in self.reasons)

    @property
    def end(self) -> datetime:
        return self.start + self.duration

    def raise_for_refusal(self) -> None:
        """Raise `NotEligibleError` or `PolicyDeniedError` (naming the rules) when the decision refuses."""
        refusals = self.refusals
        if not refusals:
            return
        target = self.target.describe()
        if any(r.code is ReasonCode.NOT_ELIGIBLE for r in refusals):
            raise NotEligibleError(
                next(r.message for r in refusals if r.code is ReasonCode.NOT_ELIGIBLE), target=target
            )
        rules = [r.rule for r in refusals if r.rule]
        message = "; ".join(r.message for r in refusals)
        raise PolicyDeniedError(
            f"the policy refuses this request: {message}",
            rules=rules,
            hint="Fix the request as described (jitpim checked the policy before asking Azure).",
            target=target,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "target": self.target.to_json(),
            "mode": self.mode.value,
            "requested_duration": iso8601_duration(self.requested_duration),
            "duration": iso8601_duration(self.duration),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "reasons": [r.to_json() for r in self.reasons],
            "policy_source": self.policy_source,
        }


def evaluate(
    target: Target,
    policy: PolicyView,
    *,
    mode: Mode,
    now: datetime,
    default_duration: timedelta,
    has_mfa: bool,
    strict: bool = False,
    eligible: bool = True,
    already_active: bool = False,
) -> Decision:
    """Decide `target` under `policy` at `now`, without any I/O.

    - under five minutes: raised to five (notice `raised_to_minimum`);
    - over the policy maximum: clamped (notice), or refused when `strict` (`exceeds_policy_max`);
    - missing justification / ticket: refused naming JustificationRule / TicketingRule;
    - MFA required: refused naming MfaRule unless a human (self mode) signed in with MFA; app identities
      (direct and broker mode) can never satisfy it;
    - approval required: allowed, with reason `approval_required` (the request will wait for an approver);
    - `eligible=False` refuses (`not_eligible`); `already_active=True` is a notice (the grant is reused).
    """
    if now.tzinfo is None:
        raise UsageError("evaluate() needs an aware 'now' (UTC)")
    reasons: list[Reason] = []
    requested = target.duration or default_duration
    duration = requested

    if duration < MINIMUM_DURATION:
        duration = MINIMUM_DURATION
        reasons.append(
            Reason(
                ReasonCode.RAISED_TO_MINIMUM,
                f"{format_duration(requested)} is shorter than PIM's minimum; requesting "
                f"{format_duration(MINIMUM_DURATION)}",
                "ExpirationRule",
            )
        )
    limit = policy.limit_for(mode)
    if limit is not None and duration > limit:
        if strict:
            reasons.append(
                Reason(
                    ReasonCode.EXCEEDS_POLICY_MAX,
                    f"{format_duration(duration)} exceeds the policy maximum of {format_duration(limit)}",
                    "ExpirationRule",
                )
            )
        else:
            reasons.append(
                Reason(
                    ReasonCode.CLAMPED_TO_POLICY_MAX,
                    f"{format_duration(duration)} exceeds the policy maximum; requesting {format_duration(limit)}",
                    "ExpirationRule",
                )
            )
            duration = limit

    if not eligible:
        reasons.append(
            Reason(
                ReasonCode.NOT_ELIGIBLE,
                "no eligibility (self mode) or right to assign (direct/broker mode) covers this target",
                "EligibilityRule",
            )
        )
    if policy.require_justification and not target.justification:
        reasons.append(
            Reason(
                ReasonCode.JUSTIFICATION_REQUIRED,
                "the policy requires a justification (pass --justification)",
                "JustificationRule",
            )
        )
    if policy.require_ticket and target.ticket is None:
        reasons.append(
            Reason(
                ReasonCode.TICKET_REQUIRED,
                "the policy requires a ticket (pass --ticket SYSTEM:NUMBER)",
                "TicketingRule",
            )
        )
    if policy.require_mfa and (mode is not Mode.SELF or not has_mfa):
        message = (
            "the policy requires multi-factor authentication, which an application identity cannot perform "
            "(use self mode with a person's MFA sign-in, or ask for the MFA requirement to be lifted for this role)"
            if mode is not Mode.SELF
            else "the policy requires multi-factor authentication: sign in again with MFA"
        )
        reasons.append(Reason(ReasonCode.MFA_REQUIRED, message, "MfaRule"))
    if policy.require_approval:
        who = f" ({', '.join(policy.approvers)})" if policy.approvers else ""
        reasons.append(
            Reason(ReasonCode.APPROVAL_REQUIRED, f"the request will wait for an approver{who}", "ApprovalRule")
        )
    if already_active:
        reasons.append(
            Reason(ReasonCode.ALREADY_ACTIVE, "an equivalent grant is already active and will be reused", None)
        )

    start = now
    if target.start is not None:
        if target.start > now:
            start = target.start
        else:
            reasons.append(
                Reason(ReasonCode.START_MOVED_TO_NOW, "the requested start is in the past; starting now", None)
            )

    refused = any(r.refuses for r in reasons)
    return Decision(
        allowed=not refused,
        target=target,
        mode=mode,
        requested_duration=requested,
        duration=duration,
        start=start,
        reasons=tuple(reasons),
        policy_source=policy.source,
    )
