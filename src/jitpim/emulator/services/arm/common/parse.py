"""Reading a PIM schedule request body and checking it against a policy's rules.

Error codes and messages follow what the service answers (see docs/reference/emulator-arm.md): rule failures
are one 400 `RoleAssignmentRequestPolicyValidationFailed` whose message lists the failed rule names as a
JSON array; the 5-minute floor is `ActiveDurationTooShort` (message verbatim, typo included).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ....core.clock import parse_time
from ....core.durations import parse_duration
from ....core.errors import ArmError
from ....core.ids import is_guid
from ....core.rbac import is_same_or_parent_scope
from ..policies.models import RolePolicy
from .context import Ctx, guid_of, role_guid_from_id
from .models import ASSIGNMENT_REQUEST_TYPES

__all__ = [
    "MINIMUM_WINDOW",
    "Parsed",
    "admin_rule_failures",
    "does_not_exist",
    "enablement_failures",
    "end_user_rule_failures",
    "exists",
    "expiration_failures",
    "parse_request",
    "pending_exists",
    "policy_failed",
    "too_short",
]

MINIMUM_WINDOW = timedelta(minutes=5)


def _bad(message: str) -> ArmError:
    return ArmError(
        400, "InvalidRequestContent", f"The request content was invalid and could not be processed: {message}"
    )


def policy_failed(rules: list[str]) -> ArmError:
    return ArmError(
        400,
        "RoleAssignmentRequestPolicyValidationFailed",
        "The following policy rules failed: " + json.dumps(rules, separators=(",", ":")),
    )


def too_short() -> ArmError:
    return ArmError(400, "ActiveDurationTooShort", "The Active duration is too short. Miniumum Required is 5 minutes.")


def exists() -> ArmError:
    return ArmError(400, "RoleAssignmentExists", "The Role assignment already exists.")


def does_not_exist() -> ArmError:
    return ArmError(400, "RoleAssignmentDoesNotExist", "The Role assignment does not exist.")


def pending_exists() -> ArmError:
    return ArmError(
        400,
        "PendingRoleAssignmentRequest",
        "There already exists a pending role assignment request for this principal, role and scope.",
    )


@dataclass
class Parsed:
    name: str
    request_type: str
    role: str
    principal_id: str
    principal_type: str
    start: datetime | None
    expiration_type: str | None
    duration: str | None
    window: timedelta | None
    end_requested: datetime | None
    justification: str | None
    ticket_info: dict[str, Any] | None
    linked_eligibility_id: str | None
    condition: str | None
    condition_version: str | None

    def has_ticket(self) -> bool:
        info = self.ticket_info or {}
        return bool(str(info.get("ticketNumber") or "").strip()) and bool(str(info.get("ticketSystem") or "").strip())

    def has_justification(self) -> bool:
        return bool((self.justification or "").strip())


def _text(props: dict[str, Any], key: str) -> str | None:
    value = props.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"'{key}' must be a string.")
    return value


def parse_request(ctx: Ctx, allowed_types: tuple[str, ...] = ASSIGNMENT_REQUEST_TYPES) -> Parsed:
    """Validate a roleAssignment/roleEligibility ScheduleRequest body (names, formats, the role, the principal)."""
    name = ctx.names[0]
    if not is_guid(name):
        raise ArmError(400, "InvalidResourceName", f"The request name '{name}' is not valid. It must be a GUID.")
    props = ctx.body.get("properties")
    if not isinstance(props, dict):
        raise _bad("the 'properties' object is required.")
    request_type_raw = _text(props, "requestType")
    if not request_type_raw:
        raise _bad("'properties.requestType' is required.")
    request_type = next((t for t in allowed_types if t.lower() == request_type_raw.lower()), None)
    if request_type is None:
        raise _bad(
            f"the requestType '{request_type_raw}' is not supported here; use one of {', '.join(allowed_types)}."
        )
    role_raw = _text(props, "roleDefinitionId")
    if not role_raw:
        raise _bad("'properties.roleDefinitionId' is required.")
    role = role_guid_from_id(role_raw)
    if role is None:
        raise ArmError(400, "InvalidRoleDefinitionId", f"The role definition ID '{role_raw}' is not valid.")
    definition = ctx.world.rbac.definitions.get(role)
    if definition is None or not any(is_same_or_parent_scope(s, ctx.scope.path) for s in definition.assignable_scopes):
        raise ArmError(
            400, "RoleDefinitionDoesNotExist", f"The specified role definition with ID '{role}' does not exist."
        )
    principal_raw = _text(props, "principalId")
    if not principal_raw:
        raise _bad("'properties.principalId' is required.")
    principal = guid_of(principal_raw)
    kind = ctx.world.directory.principal_kind(principal) if principal else None
    if principal is None or kind is None:
        raise ArmError(400, "SubjectNotFound", f"The subject '{principal_raw}' is not found.")

    start = None
    expiration_type = duration = None
    window = None
    end_requested = None
    info = props.get("scheduleInfo")
    if info is not None:
        if not isinstance(info, dict):
            raise _bad("'scheduleInfo' must be an object.")
        if info.get("startDateTime"):
            try:
                start = parse_time(str(info["startDateTime"]))
            except ValueError:
                raise _bad("'scheduleInfo.startDateTime' is not an ISO-8601 date-time.") from None
        expiration = info.get("expiration") or {}
        if not isinstance(expiration, dict):
            raise _bad("'scheduleInfo.expiration' must be an object.")
        raw_type = expiration.get("type")
        duration = expiration.get("duration")
        end_text = expiration.get("endDateTime")
        if raw_type is not None:
            expiration_type = next(
                (t for t in ("AfterDuration", "AfterDateTime", "NoExpiration") if t.lower() == str(raw_type).lower()),
                None,
            )
            if expiration_type is None:
                raise _bad(f"the expiration type '{raw_type}' is not valid.")
        elif duration:
            expiration_type = "AfterDuration"
        elif end_text:
            expiration_type = "AfterDateTime"
        begin = start or ctx.now
        if expiration_type == "AfterDuration" and duration:
            try:
                window = parse_duration(str(duration))
            except ValueError:
                raise _bad(f"'{duration}' is not an ISO-8601 duration.") from None
        elif expiration_type == "AfterDateTime" and end_text:
            try:
                end_requested = parse_time(str(end_text))
            except ValueError:
                raise _bad("'scheduleInfo.expiration.endDateTime' is not an ISO-8601 date-time.") from None
            window = end_requested - begin
    ticket = props.get("ticketInfo")
    if ticket is not None and not isinstance(ticket, dict):
        raise _bad("'ticketInfo' must be an object.")
    condition = _text(props, "condition")
    return Parsed(
        name=name.lower(),
        request_type=request_type,
        role=role,
        principal_id=principal,
        principal_type=kind,
        start=start,
        expiration_type=expiration_type,
        duration=str(duration) if duration else None,
        window=window,
        end_requested=end_requested,
        justification=_text(props, "justification"),
        ticket_info={"ticketNumber": ticket.get("ticketNumber"), "ticketSystem": ticket.get("ticketSystem")}
        if isinstance(ticket, dict)
        else None,
        linked_eligibility_id=_text(props, "linkedRoleEligibilityScheduleId"),
        condition=condition,
        condition_version=_text(props, "conditionVersion") or ("2.0" if condition else None),
    )


def expiration_failures(parsed: Parsed, policy: RolePolicy, rule_id: str) -> list[str]:
    """ExpirationRule: a required expiration is missing, or the window is longer than the maximum."""
    required, maximum = policy.expiration(rule_id)
    if parsed.window is None:
        no_expiry = parsed.expiration_type in (None, "NoExpiration")
        return ["ExpirationRule"] if required or not no_expiry else []
    if maximum is not None and parsed.window > maximum:
        return ["ExpirationRule"]
    return []


def enablement_failures(parsed: Parsed, policy: RolePolicy, rule_id: str, has_mfa: bool) -> list[str]:
    enabled = policy.enabled(rule_id)
    failed = []
    if "Justification" in enabled and not parsed.has_justification():
        failed.append("JustificationRule")
    if "Ticketing" in enabled and not parsed.has_ticket():
        failed.append("TicketingRule")
    if "MultiFactorAuthentication" in enabled and not has_mfa:
        failed.append("MfaRule")
    return failed


def end_user_rule_failures(parsed: Parsed, policy: RolePolicy, has_mfa: bool) -> list[str]:
    return expiration_failures(parsed, policy, "Expiration_EndUser_Assignment") + enablement_failures(
        parsed, policy, "Enablement_EndUser_Assignment", has_mfa
    )


def admin_rule_failures(parsed: Parsed, policy: RolePolicy, has_mfa: bool, level: str) -> list[str]:
    return expiration_failures(parsed, policy, f"Expiration_Admin_{level}") + enablement_failures(
        parsed, policy, f"Enablement_Admin_{level}", has_mfa
    )
