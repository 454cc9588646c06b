"""`evaluate`: clamps and refusals, each naming the PIM rule it stems from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jitpim.errors import NotEligibleError, PolicyDeniedError, UsageError
from jitpim.model import Mode, PolicyView, ReasonCode, Target, evaluate

NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
RG = "/subscriptions/1b2c3d4e-5f60-4718-9a0b-c1d2e3f40516/resourceGroups/rg-payments"
POLICY = PolicyView(max_duration=timedelta(hours=8), source="policy-1@v3")


def _target(**kwargs: object) -> Target:
    return Target.from_flags(kind="azure-role", role="Contributor", scope=RG, **kwargs)  # type: ignore[arg-type]


def test_evaluate_allows_plain_request_when_within_policy() -> None:
    """No reasons, the default duration, starting now."""
    decision = evaluate(_target(), POLICY, mode=Mode.SELF, now=NOW, default_duration=timedelta(hours=1), has_mfa=False)
    assert decision.allowed and decision.reasons == ()
    assert decision.duration == decision.requested_duration == timedelta(hours=1)
    assert (decision.start, decision.end) == (NOW, NOW + timedelta(hours=1))
    assert decision.policy_source == "policy-1@v3"
    decision.raise_for_refusal()


def test_evaluate_raises_to_five_minutes_when_request_is_shorter() -> None:
    """Requests under PIM's 5-minute minimum are raised, with a notice naming ExpirationRule."""
    decision = evaluate(
        _target(duration="2m"), POLICY, mode=Mode.DIRECT, now=NOW, default_duration=timedelta(hours=1), has_mfa=False
    )
    assert decision.allowed
    assert decision.duration == timedelta(minutes=5) and decision.requested_duration == timedelta(minutes=2)
    (reason,) = decision.reasons
    assert (reason.code, reason.rule, reason.refuses) == (ReasonCode.RAISED_TO_MINIMUM, "ExpirationRule", False)


def test_evaluate_clamps_to_policy_max_when_request_is_longer() -> None:
    """Too long is clamped to the maximum with a notice."""
    decision = evaluate(
        _target(duration="12h"), POLICY, mode=Mode.SELF, now=NOW, default_duration=timedelta(hours=1), has_mfa=True
    )
    assert decision.allowed and decision.duration == timedelta(hours=8)
    assert [r.code for r in decision.notices] == [ReasonCode.CLAMPED_TO_POLICY_MAX]


def test_evaluate_refuses_overlong_request_when_strict() -> None:
    """strict=True turns the clamp into a refusal naming ExpirationRule."""
    decision = evaluate(
        _target(duration="12h"),
        POLICY,
        mode=Mode.SELF,
        now=NOW,
        default_duration=timedelta(hours=1),
        has_mfa=True,
        strict=True,
    )
    assert not decision.allowed
    assert [(r.code, r.rule) for r in decision.refusals] == [(ReasonCode.EXCEEDS_POLICY_MAX, "ExpirationRule")]
    with pytest.raises(PolicyDeniedError) as info:
        decision.raise_for_refusal()
    assert info.value.rules == ["ExpirationRule"]


def test_evaluate_uses_admin_maximum_when_mode_assigns() -> None:
    """direct/broker create admin assignments: Expiration_Admin_Assignment's maximum applies."""
    policy = PolicyView(max_duration=timedelta(hours=1), max_admin_duration=timedelta(hours=4))
    decision = evaluate(
        _target(duration="3h"), policy, mode=Mode.DIRECT, now=NOW, default_duration=timedelta(hours=1), has_mfa=False
    )
    assert decision.duration == timedelta(hours=3) and decision.allowed
    self_decision = evaluate(
        _target(duration="3h"), policy, mode=Mode.SELF, now=NOW, default_duration=timedelta(hours=1), has_mfa=True
    )
    assert self_decision.duration == timedelta(hours=1)


@pytest.mark.parametrize(
    ("policy", "kwargs", "code", "rule"),
    [
        (PolicyView(require_justification=True), {}, ReasonCode.JUSTIFICATION_REQUIRED, "JustificationRule"),
        (PolicyView(require_ticket=True), {"justification": "x"}, ReasonCode.TICKET_REQUIRED, "TicketingRule"),
    ],
)
def test_evaluate_refuses_when_required_field_is_missing(
    policy: PolicyView, kwargs: dict[str, str], code: ReasonCode, rule: str
) -> None:
    """Missing justification/ticket are refused naming JustificationRule/TicketingRule."""
    decision = evaluate(
        _target(**kwargs), policy, mode=Mode.DIRECT, now=NOW, default_duration=timedelta(hours=1), has_mfa=False
    )
    assert not decision.allowed
    assert [(r.code, r.rule) for r in decision.refusals] == [(code, rule)]
    satisfied = _target(justification="j", ticket="JIRA:1")
    assert evaluate(
        satisfied, policy, mode=Mode.DIRECT, now=NOW, default_duration=timedelta(hours=1), has_mfa=False
    ).allowed


def test_evaluate_refuses_mfa_when_identity_is_an_application() -> None:
    """MfaRule can never be met by an app identity (direct/broker), whatever has_mfa says."""
    policy = PolicyView(require_mfa=True)
    for mode in (Mode.DIRECT, Mode.BROKER):
        decision = evaluate(_target(), policy, mode=mode, now=NOW, default_duration=timedelta(hours=1), has_mfa=True)
        assert [(r.code, r.rule) for r in decision.refusals] == [(ReasonCode.MFA_REQUIRED, "MfaRule")]
        assert "application identity" in decision.refusals[0].message


def test_evaluate_checks_sign_in_when_mfa_required_in_self_mode() -> None:
    """A person passes MfaRule only with an MFA sign-in."""
    policy = PolicyView(require_mfa=True)
    without = evaluate(_target(), policy, mode=Mode.SELF, now=NOW, default_duration=timedelta(hours=1), has_mfa=False)
    assert [r.code for r in without.refusals] == [ReasonCode.MFA_REQUIRED]
    with_mfa = evaluate(_target(), policy, mode=Mode.SELF, now=NOW, default_duration=timedelta(hours=1), has_mfa=True)
    assert with_mfa.allowed


def test_evaluate_allows_with_reason_when_approval_required() -> None:
    """Approval is not a refusal: the request waits for an approver, who is named."""
    policy = PolicyView(require_approval=True, approvers=("alice@contoso.com",))
    decision = evaluate(_target(), policy, mode=Mode.SELF, now=NOW, default_duration=timedelta(hours=1), has_mfa=True)
    assert decision.allowed and decision.needs_approval
    (reason,) = decision.reasons
    assert (reason.code, reason.rule) == (ReasonCode.APPROVAL_REQUIRED, "ApprovalRule")
    assert "alice@contoso.com" in reason.message


def test_evaluate_refuses_as_not_eligible_when_no_eligibility() -> None:
    """not_eligible raises NotEligibleError (its own exit code), before other refusals."""
    decision = evaluate(
        _target(),
        PolicyView(require_justification=True),
        mode=Mode.SELF,
        now=NOW,
        default_duration=timedelta(hours=1),
        has_mfa=True,
        eligible=False,
    )
    assert {r.code for r in decision.refusals} == {ReasonCode.NOT_ELIGIBLE, ReasonCode.JUSTIFICATION_REQUIRED}
    with pytest.raises(NotEligibleError):
        decision.raise_for_refusal()


def test_evaluate_collects_every_refusal_when_several_rules_fail() -> None:
    """All failing rules are reported at once, so one fix-up round suffices."""
    policy = PolicyView(require_justification=True, require_ticket=True, require_mfa=True)
    decision = evaluate(
        _target(), policy, mode=Mode.DIRECT, now=NOW, default_duration=timedelta(hours=1), has_mfa=False
    )
    with pytest.raises(PolicyDeniedError) as info:
        decision.raise_for_refusal()
    assert info.value.rules == ["JustificationRule", "TicketingRule", "MfaRule"]
    data = decision.to_json()
    assert data["allowed"] is False and [r["rule"] for r in data["reasons"]] == info.value.rules
    assert data["duration"] == "PT1H"


def test_evaluate_handles_start_and_reuse_when_given() -> None:
    """A future start is kept; a past one moves to now (notice); an active grant is a reuse notice."""
    future = evaluate(
        _target(start="2026-05-01T09:00:00Z"),
        POLICY,
        mode=Mode.SELF,
        now=NOW,
        default_duration=timedelta(hours=1),
        has_mfa=True,
    )
    assert future.start == datetime(2026, 5, 1, 9, tzinfo=UTC)
    past = evaluate(
        _target(start="2026-05-01T07:00:00Z"),
        POLICY,
        mode=Mode.SELF,
        now=NOW,
        default_duration=timedelta(hours=1),
        has_mfa=True,
        already_active=True,
    )
    assert past.start == NOW
    assert {r.code for r in past.notices} == {ReasonCode.START_MOVED_TO_NOW, ReasonCode.ALREADY_ACTIVE}
    assert past.allowed


def test_evaluate_refuses_naive_now_when_clock_has_no_zone() -> None:
    """A naive clock is a programming error surfaced as UsageError."""
    with pytest.raises(UsageError):
        evaluate(
            _target(),
            POLICY,
            mode=Mode.SELF,
            now=NOW.replace(tzinfo=None),
            default_duration=timedelta(hours=1),
            has_mfa=True,
        )
