"""Policy rules as PIM enforces them at request time, shared by directory-role and group requests.

Which rules apply depends on who acts and at which level: self actions (selfActivate, selfExtend,
selfRenew) answer to the `*_EndUser_Assignment` rules, admin actions on active assignments to
`*_Admin_Assignment`, admin actions on eligibilities to `*_Admin_Eligibility`. Removals check no rule.
A violated rule fails the request with 400 `RoleAssignmentRequestPolicyValidationFailed` whose message names
every failed rule; an approval rule does not fail it but parks it in `PendingApproval`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from ....core.durations import format_duration
from ....core.errors import GraphError
from ....core.tokens import Caller
from ....core.world import World
from ..policies.backend import Policy, approval_setting, enabled_rules, expiration_limits
from .models import Kind, Level

__all__ = [
    "MIN_DURATION",
    "RuleCheck",
    "acrs_error",
    "approval_timeout",
    "approver_ids",
    "policy_error",
    "policy_failures",
    "requires_approval",
    "rule_suffix",
]

# PIM refuses assignments shorter than this, and removals within this long of the start.
MIN_DURATION = timedelta(minutes=5)

_SELF = ("selfActivate", "selfExtend", "selfRenew")
_REMOVALS = ("adminRemove", "selfDeactivate")


@dataclass(frozen=True)
class RuleCheck:
    """What a request asks for, as the rules see it."""

    kind: Kind
    level: Level
    action: str
    caller: Caller
    justification: str | None
    ticket_number: str | None
    start: datetime
    end: datetime | None


def rule_suffix(action: str, level: Level) -> str | None:
    if action in _REMOVALS:
        return None
    if action in _SELF:
        return "EndUser_Assignment"
    return "Admin_Assignment" if level == "assignment" else "Admin_Eligibility"


def policy_failures(policy: Policy, check: RuleCheck) -> list[tuple[str, str]]:
    """(rule name, reason) for each violated rule, in the order PIM evaluates them."""
    suffix = rule_suffix(check.action, check.level)
    if suffix is None:
        return []
    failures: list[tuple[str, str]] = []
    required, maximum = expiration_limits(policy, f"Expiration_{suffix}")
    if check.end is None and required:
        failures.append(("ExpirationRule", "The policy does not allow permanent assignment"))
    elif check.end is not None and maximum is not None and check.end - check.start > maximum:
        failures.append(
            ("ExpirationRule", f"The requested duration exceeds the maximum allowed ({format_duration(maximum)})")
        )
    enabled = enabled_rules(policy, f"Enablement_{suffix}")
    if "Justification" in enabled and not (check.justification or "").strip():
        failures.append(("JustificationRule", "A justification is required"))
    if "Ticketing" in enabled and not (check.ticket_number or "").strip():
        failures.append(("TicketingRule", "Ticket information is required"))
    if "MultiFactorAuthentication" in enabled and (check.caller.is_app or not check.caller.has_mfa):
        failures.append(("MfaRule", "Multi-factor authentication is required"))
    return failures


def policy_error(kind: Kind, failures: list[tuple[str, str]]) -> GraphError:
    """Directory roles name the rules as a JSON array; groups have been observed to answer `Rule - reason`."""
    if kind == "directory":
        names = json.dumps([name for name, _ in failures], separators=(",", ":"))
        message = f"The following policy rules failed: {names}"
    else:
        message = "The following policy rules failed: " + "; ".join(f"{n} - {r}" for n, r in failures)
    return GraphError(400, "RoleAssignmentRequestPolicyValidationFailed", message)


def requires_approval(policy: Policy, action: str) -> bool:
    setting = approval_setting(policy)
    if action == "selfActivate":
        return bool(setting.get("isApprovalRequired"))
    return False


def approval_timeout(policy: Policy) -> timedelta:
    stages = approval_setting(policy).get("approvalStages") or [{}]
    try:
        days = float(stages[0].get("approvalStageTimeOutInDays", 1))
    except (TypeError, ValueError):
        days = 1.0
    return timedelta(days=max(days, 1 / 24))


def approver_ids(world: World, policy: Policy, now: datetime) -> set[str] | None:
    """The users who may decide, or None when the policy names none (then Privileged Role Administrators and
    Global Administrators decide)."""
    stages = approval_setting(policy).get("approvalStages") or []
    wanted: set[str] = set()
    for stage in stages[:1]:
        for approver in stage.get("primaryApprovers") or []:
            kind = str(approver.get("@odata.type", "")).lower()
            if kind.endswith("singleuser") and approver.get("userId"):
                wanted.add(str(approver["userId"]).lower())
            elif kind.endswith("groupmembers") and approver.get("groupId"):
                group = world.directory.groups.get(str(approver["groupId"]))
                if group is not None:
                    wanted.update(p.lower() for p, m in group.members.items() if m.active(now))
    return wanted or None


def acrs_error(policy: Policy, caller: Caller, action: str) -> GraphError | None:
    """An authentication-context rule the token does not satisfy: the client must get a token with `acrs`."""
    if action not in _SELF:
        return None
    rule = policy.rules.get("AuthenticationContext_EndUser_Assignment") or {}
    claim = rule.get("claimValue")
    if not rule.get("isEnabled") or not claim:
        return None
    presented = caller.claims.get("acrs") or []
    if isinstance(presented, str):
        presented = [presented]
    if str(claim) in {str(p) for p in presented}:
        return None
    challenge = json.dumps({"access_token": {"acrs": {"essential": True, "value": str(claim)}}}, separators=(",", ":"))
    return GraphError(
        400,
        "RoleAssignmentRequestAcrsValidationFailed",
        f"The request requires authentication context '{claim}'. "
        f"Reauthenticate with claims={quote(challenge, safe='')}",
    )
