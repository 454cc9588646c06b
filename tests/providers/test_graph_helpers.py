"""The pure parts the Graph PIM providers share: rule names out of PIM's messages, status mapping, Graph
times and windows, policy rules -> PolicyView per mode, and refusals -> jitpim errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jitpim.errors import NotEligibleError, PolicyDeniedError, ProviderApiError
from jitpim.model import Mode
from jitpim.providers import GrantStatus
from jitpim.providers._graph import (
    failed_rules,
    grant_status,
    odata_literal,
    parse_time,
    policy_view,
    request_refusal,
    request_window,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("message", "rules"),
    [
        ('The following policy rules failed: ["JustificationRule"]', ["JustificationRule"]),
        (
            'The following policy rules failed: ["ExpirationRule","MfaRule","TicketingRule"]',
            ["ExpirationRule", "MfaRule", "TicketingRule"],
        ),
        (
            "The following policy rules failed: ExpirationRule - The policy does not allow permanent assignment",
            ["ExpirationRule"],
        ),
        (
            "The following policy rules failed: JustificationRule - A justification is required; "
            "TicketingRule - Ticket information is required",
            ["JustificationRule", "TicketingRule"],
        ),
        ('The following policy rules failed: ["EligibilityRule","EligibilityRule"]', ["EligibilityRule"]),
        ("", []),
    ],
)
def test_failed_rules_reads_both_message_shapes(message: str, rules: list[str]) -> None:
    assert failed_rules(message) == rules


@pytest.mark.parametrize(
    ("status", "start", "end", "expected"),
    [
        ("Provisioned", NOW - timedelta(minutes=1), NOW + timedelta(hours=1), GrantStatus.ACTIVE),
        ("Provisioned", NOW - timedelta(hours=2), NOW - timedelta(hours=1), GrantStatus.EXPIRED),
        ("Granted", NOW + timedelta(hours=1), NOW + timedelta(hours=2), GrantStatus.SCHEDULED),
        ("Granted", NOW - timedelta(seconds=5), NOW + timedelta(hours=1), GrantStatus.PROVISIONING),
        ("PendingApproval", NOW, None, GrantStatus.PENDING_APPROVAL),
        ("PendingApprovalProvisioning", NOW + timedelta(hours=1), None, GrantStatus.PENDING_APPROVAL),
        ("PendingAdminDecision", NOW, None, GrantStatus.PENDING_APPROVAL),
        ("PendingProvisioning", NOW, None, GrantStatus.PROVISIONING),
        ("Denied", NOW, None, GrantStatus.DENIED),
        ("Failed", NOW, None, GrantStatus.FAILED),
        ("Canceled", NOW, None, GrantStatus.CANCELED),
        ("Revoked", NOW, None, GrantStatus.REVOKED),
        ("SomethingNew", NOW, None, GrantStatus.PROVISIONING),  # unknown: still in progress, not a failure
    ],
)
def test_grant_status(status: str, start: datetime, end: datetime | None, expected: GrantStatus) -> None:
    assert grant_status(status, start, end, NOW) is expected


def test_times_and_windows() -> None:
    assert parse_time("2026-03-01T12:00:03.9014347Z") == datetime(2026, 3, 1, 12, 0, 3, 901434, tzinfo=UTC)
    assert parse_time("2026-03-01T13:00:00+01:00") == NOW
    assert parse_time("0001-01-01T00:00:00Z") is None and parse_time(None) is None and parse_time("soon") is None
    by_duration = {
        "createdDateTime": "2026-03-01T11:59:59Z",
        "scheduleInfo": {
            "startDateTime": "2026-03-01T12:00:00Z",
            "expiration": {"type": "afterDuration", "duration": "PT1H30M"},
        },
    }
    assert request_window(by_duration) == (NOW, NOW + timedelta(minutes=90))
    by_date = {
        "scheduleInfo": {
            "startDateTime": None,
            "expiration": {"type": "afterDateTime", "endDateTime": "2026-03-02T12:00:00Z"},
        },
        "createdDateTime": "2026-03-01T12:00:00Z",
    }
    assert request_window(by_date) == (NOW, NOW + timedelta(days=1))
    assert request_window({"scheduleInfo": None, "createdDateTime": None}) == (None, None)
    assert odata_literal("O'Brien's group") == "'O''Brien''s group'"


def _rules(**overrides: Any) -> list[dict[str, Any]]:
    rules: dict[str, dict[str, Any]] = {
        "Expiration_EndUser_Assignment": {"isExpirationRequired": True, "maximumDuration": "PT2H"},
        "Enablement_EndUser_Assignment": {"enabledRules": ["MultiFactorAuthentication", "Justification", "Ticketing"]},
        "Approval_EndUser_Assignment": {
            "setting": {
                "isApprovalRequired": True,
                "approvalStages": [
                    {
                        "primaryApprovers": [
                            {"@odata.type": "#microsoft.graph.singleUser", "userId": "u-1", "description": "Bob"},
                            {"@odata.type": "#microsoft.graph.groupMembers", "groupId": "g-1"},
                        ]
                    }
                ],
            }
        },
        "Expiration_Admin_Assignment": {"isExpirationRequired": False, "maximumDuration": "P180D"},
        "Enablement_Admin_Assignment": {"enabledRules": ["Justification"]},
    }
    for rule_id, value in overrides.items():
        rules[rule_id] = value
    return [{"id": rule_id, **body} for rule_id, body in rules.items()]


def test_policy_view_reads_the_rules_of_the_mode_that_asks() -> None:
    own = policy_view(_rules(), Mode.SELF, "graph:p1")
    assert (own.max_duration, own.max_admin_duration) == (timedelta(hours=2), timedelta(days=180))
    assert own.require_mfa and own.require_justification and own.require_ticket
    assert own.require_approval and own.approvers == ("Bob", "g-1") and not own.allow_permanent
    assert own.limit_for(Mode.SELF) == timedelta(hours=2) and own.source == "graph:p1"

    admin = policy_view(_rules(), Mode.DIRECT, "graph:p1")
    assert admin.require_justification and not admin.require_mfa and not admin.require_ticket
    assert not admin.require_approval and admin.approvers == () and admin.allow_permanent
    assert admin.limit_for(Mode.DIRECT) == timedelta(days=180)

    broker = policy_view(
        _rules(Enablement_Admin_Assignment={"enabledRules": ["MultiFactorAuthentication"]}), Mode.BROKER, ""
    )
    assert broker.require_mfa and not broker.require_justification
    assert policy_view([], Mode.DIRECT, "").max_duration is None


def _error(status: int, code: str, message: str) -> ProviderApiError:
    return ProviderApiError(
        f"POST https://graph/v1.0/x failed with {status} {code}: {message}", status=status, code=code
    )


def test_refusals_become_jitpim_errors_naming_the_rule() -> None:
    refused = request_refusal(
        _error(
            400, "RoleAssignmentRequestPolicyValidationFailed", 'The following policy rules failed: ["TicketingRule"]'
        ),
        target="entra-role 'X' on /",
        doing="the request",
        permission_hint="grant it",
    )
    assert isinstance(refused, PolicyDeniedError) and refused.rules == ["TicketingRule"]
    assert "--ticket" in refused.hint and refused.target == "entra-role 'X' on /"

    eligibility = request_refusal(
        _error(
            400, "RoleAssignmentRequestPolicyValidationFailed", 'The following policy rules failed: ["EligibilityRule"]'
        ),
        target="t",
        doing="the request",
        permission_hint="grant it",
    )
    assert isinstance(eligibility, NotEligibleError)

    scope = request_refusal(
        _error(403, "PermissionScopeNotGranted", "Authorization failed due to missing permission scope X."),
        target="t",
        doing="the request",
        permission_hint="grant RoleAssignmentSchedule.ReadWrite.Directory",
    )
    assert isinstance(scope, NotEligibleError) and scope.hint == "grant RoleAssignmentSchedule.ReadWrite.Directory"

    removal = request_refusal(
        _error(403, "UnauthorizedAccessException", "no"), target="t", doing="d", permission_hint="h", removal=True
    )
    assert type(removal) is ProviderApiError and removal.target == "t"

    acrs = request_refusal(
        _error(400, "RoleAssignmentRequestAcrsValidationFailed", "claims=..."),
        target="t",
        doing="d",
        permission_hint="h",
    )
    assert isinstance(acrs, PolicyDeniedError) and acrs.rules == ["AuthenticationContextRule"]
