"""What the Graph PIM providers (`entra-role`, `pim-group`) share besides the request flow itself.

- Graph's times and schedule windows (`scheduleInfo`, instance start/end) as aware datetimes;
- request `status` strings -> `GrantStatus` (unknown strings are treated as still in progress, as the
  reference advises: the PIM backend knows more statuses than Graph documents);
- PIM's refusals -> jitpim errors naming the rule: `RoleAssignmentRequestPolicyValidationFailed` carries the
  failed rule names in its message, either as a JSON array (directory roles:
  `The following policy rules failed: ["JustificationRule"]`) or as `Rule - reason` pairs (groups:
  `...failed: ExpirationRule - The policy does not allow permanent assignment`);
- a role-management policy's rules -> `PolicyView`, for the mode that will make the request;
- cached lookups by name or id: directory role definitions and groups.
"""

from __future__ import annotations

import difflib
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import JitError, NotEligibleError, PolicyDeniedError, ProviderApiError, UsageError
from ..model import GroupAccess, Mode, PolicyView, is_guid, parse_duration
from .base import GrantStatus

if TYPE_CHECKING:
    from .base import ProviderContext

__all__ = [
    "CUSTOM_DATA_PREFIX",
    "V1",
    "access_of",
    "annotate",
    "custom_data",
    "directory_audits",
    "failed_rules",
    "format_time",
    "grant_status",
    "group_object",
    "instance_window",
    "odata_literal",
    "parse_time",
    "policy_view",
    "read_policy_rules",
    "request_refusal",
    "request_window",
    "role_definition",
]

V1 = "/v1.0"
# Written into each request's `customData`, so a request whose response was lost can be found again.
CUSTOM_DATA_PREFIX = "jitpim:"

_FRACTION = re.compile(r"\.(\d+)")
_RULE = re.compile(r"\b([A-Z][A-Za-z]*Rule)\b")
_API_MESSAGE = re.compile(r"^\S+ \S+ failed with \d{3} [^:]*: (.*)$", re.DOTALL)
_RULE_HINTS = {
    "ExpirationRule": "ask for a shorter --duration (`jitpim plan` shows the policy's maximum)",
    "JustificationRule": "pass --justification",
    "TicketingRule": "pass --ticket SYSTEM:NUMBER",
    "MfaRule": "sign in with multi-factor authentication; an application identity never can, so ask for the "
    "MFA requirement on this role's assignments to be lifted, or use self mode",
    "EligibilityRule": "ask an administrator for an eligibility for exactly this role and scope",
    "AuthenticationContextRule": "sign in again satisfying the role's authentication context (Conditional Access)",
    "ApprovalRule": "wait for an approver, or ask for the approval requirement to change",
}
_ACTIVE = frozenset({"Provisioned"})
_GRANTED = frozenset({"Granted", "ScheduleCreated"})
_PENDING_APPROVAL = frozenset({"PendingApproval", "PendingApprovalProvisioning", "PendingAdminDecision"})
_DENIED = frozenset({"Denied", "AdminDenied"})
_FAILED = frozenset({"Failed", "FailedAsResourceIsLocked", "Invalid"})
_CANCELED = frozenset({"Canceled", "TimedOut"})
_REVOKED = frozenset({"Revoked"})


# values --------------------------------------------------------------------------------------------------
def odata_literal(value: str) -> str:
    """A quoted OData string literal (`'it''s'`)."""
    return "'" + value.replace("'", "''") + "'"


def custom_data(request_name: str) -> str:
    return f"{CUSTOM_DATA_PREFIX}{request_name}"


def parse_time(value: Any) -> datetime | None:
    """Graph's ISO-8601 times (`Z` or an offset, up to 7 fractional digits) as aware UTC datetimes."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # The SDKs' "no value" for a non-nullable DateTimeOffset.
    return None if parsed.year <= 1 else parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(value: Any) -> timedelta | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_duration(value)
    except JitError:  # PT0S and other values a window cannot use
        return None


def request_window(row: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """(start, end) a schedule request asks for, from its `scheduleInfo` (start defaults to its creation)."""
    info = row.get("scheduleInfo") or {}
    start = parse_time(info.get("startDateTime")) or parse_time(row.get("createdDateTime"))
    expiration = info.get("expiration") or {}
    kind = str(expiration.get("type") or "").lower()
    end = parse_time(expiration.get("endDateTime"))
    if end is None and kind in ("afterduration", "notspecified", ""):
        span = _duration(expiration.get("duration"))
        end = start + span if start is not None and span is not None else None
    return start, end


def instance_window(row: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    return parse_time(row.get("startDateTime")), parse_time(row.get("endDateTime"))


def grant_status(api_status: str | None, start: datetime | None, end: datetime | None, now: datetime) -> GrantStatus:
    """The lifecycle's view of a request's `status`. `Granted` with its start still ahead is SCHEDULED; once the
    start has come PIM is about to provision it (PROVISIONING). A provisioned grant past its end is EXPIRED."""
    value = api_status or ""
    if value in _ACTIVE or value in _GRANTED:
        if end is not None and now >= end:
            return GrantStatus.EXPIRED
        if start is not None and start > now:
            return GrantStatus.SCHEDULED
        return GrantStatus.ACTIVE if value in _ACTIVE else GrantStatus.PROVISIONING
    for statuses, mapped in (
        (_PENDING_APPROVAL, GrantStatus.PENDING_APPROVAL),
        (_DENIED, GrantStatus.DENIED),
        (_FAILED, GrantStatus.FAILED),
        (_CANCELED, GrantStatus.CANCELED),
        (_REVOKED, GrantStatus.REVOKED),
    ):
        if value in statuses:
            return mapped
    return GrantStatus.PROVISIONING  # PendingProvisioning, PendingScheduleCreation, Accepted, ... or unknown


# errors --------------------------------------------------------------------------------------------------
def failed_rules(message: str) -> list[str]:
    """The rule names in a `RoleAssignmentRequestPolicyValidationFailed` message, in order, without repeats."""
    names: list[str] = []
    for name in _RULE.findall(message or ""):
        if name not in names:
            names.append(name)
    return names


def annotate(exc: ProviderApiError, target: str, hint: str | None = None) -> ProviderApiError:
    """The same error, naming the target (and a better hint when given)."""
    exc.target = exc.target or target
    if hint:
        exc.hint = hint
    return exc


def _original_message(exc: ProviderApiError) -> str:
    # "POST https://.../roleAssignmentScheduleRequests failed with 400 CODE[/INNER]: message" -> "message"
    found = _API_MESSAGE.match(exc.message)
    return found.group(1) if found else exc.message


def request_refusal(
    exc: ProviderApiError, *, target: str, doing: str, permission_hint: str, removal: bool = False
) -> JitError:
    """The jitpim error for PIM refusing a schedule request: `PolicyDeniedError` naming the rules,
    `NotEligibleError` for a missing eligibility or right to assign (403), else the annotated API error.
    Removals keep 403s as API errors: "not eligible" makes no sense for taking access back."""
    code = exc.code or ""
    message = _original_message(exc)
    if code == "RoleAssignmentRequestPolicyValidationFailed":
        rules = failed_rules(message)
        hint = "; ".join(_RULE_HINTS[r] for r in rules if r in _RULE_HINTS) or None
        if "EligibilityRule" in rules:
            return NotEligibleError(f"{doing} was refused: {message}", target=target, hint=hint)
        return PolicyDeniedError(f"PIM refused {doing}: {message}", rules=rules, hint=hint, target=target)
    if code == "RoleAssignmentRequestAcrsValidationFailed":
        return PolicyDeniedError(
            f"PIM refused {doing}: the role requires an authentication context the token does not carry",
            rules=["AuthenticationContextRule"],
            hint=_RULE_HINTS["AuthenticationContextRule"],
            target=target,
        )
    if exc.status == 403 and not removal:
        if code == "PermissionScopeNotGranted":
            hint = permission_hint
        else:
            hint = (
                "The identity may not make this request: an application needs the Graph permission "
                f"({permission_hint.rstrip('.')}); a person needs an eligibility (self mode) or an administrator "
                "role (direct mode)."
            )
        return NotEligibleError(f"{doing} was refused ({code or 'HTTP 403'}): {message}", target=target, hint=hint)
    if code == "AadPremiumLicenseRequired":
        return annotate(exc, target, "PIM needs a Microsoft Entra ID P2 or Entra ID Governance license in the tenant.")
    if code in ("SubjectNotFound", "RoleNotFound", "GroupNotFound"):
        return annotate(exc, target, "Check the role or group and the tenant; ids must exist in the target's tenant.")
    return annotate(exc, target)


# policy --------------------------------------------------------------------------------------------------
def _rule(rules: dict[str, dict[str, Any]], rule_id: str) -> dict[str, Any]:
    return rules.get(rule_id) or {}


def _enabled(rules: dict[str, dict[str, Any]], rule_id: str) -> set[str]:
    return {str(v) for v in _rule(rules, rule_id).get("enabledRules") or []}


def _approvers(setting: dict[str, Any]) -> tuple[str, ...]:
    stages = setting.get("approvalStages") or []
    names: list[str] = []
    for stage in stages[:1]:
        for approver in stage.get("primaryApprovers") or []:
            if isinstance(approver, dict):
                name = approver.get("description") or approver.get("userId") or approver.get("groupId")
                if name:
                    names.append(str(name))
    return tuple(names)


def policy_view(rule_list: list[dict[str, Any]], mode: Mode, source: str) -> PolicyView:
    """A policy's rules as they apply to a request made in `mode`.

    Self mode activates an eligibility: the `*_EndUser_Assignment` rules apply (justification, ticket, MFA,
    approval, maximum activation). Direct and broker mode create a time-bound active assignment with
    `adminAssign`: the `*_Admin_Assignment` rules apply, and admin assignments are never approval-gated.
    Both maxima are reported; `PolicyView.limit_for(mode)` picks the one that binds.
    """
    rules = {str(r.get("id")): r for r in rule_list if isinstance(r, dict)}
    end_user = _rule(rules, "Expiration_EndUser_Assignment")
    admin = _rule(rules, "Expiration_Admin_Assignment")
    if mode is Mode.SELF:
        enabled = _enabled(rules, "Enablement_EndUser_Assignment")
        setting = _rule(rules, "Approval_EndUser_Assignment").get("setting") or {}
        approval = bool(setting.get("isApprovalRequired"))
        approvers = _approvers(setting) if approval else ()
        permanent = not end_user.get("isExpirationRequired", True)
    else:
        enabled = _enabled(rules, "Enablement_Admin_Assignment")
        approval, approvers = False, ()
        permanent = not admin.get("isExpirationRequired", False)
    return PolicyView(
        max_duration=_duration(end_user.get("maximumDuration")),
        require_justification="Justification" in enabled,
        require_ticket="Ticketing" in enabled,
        require_mfa="MultiFactorAuthentication" in enabled,
        require_approval=approval,
        approvers=approvers,
        allow_permanent=permanent,
        max_admin_duration=_duration(admin.get("maximumDuration")),
        source=source,
    )


def read_policy_rules(
    ctx: ProviderContext, *, scope_id: str, scope_type: str, role_definition_id: str, target: str
) -> tuple[list[dict[str, Any]], str]:
    """(rules, source) of the policy assigned to a role (`DirectoryRole`, scope `/`) or a group's access
    (`Group`, scope = group id, role = member/owner). `source` names the policy and its last change."""
    flt = (
        f"scopeId eq {odata_literal(scope_id)} and scopeType eq {odata_literal(scope_type)} "
        f"and roleDefinitionId eq {odata_literal(role_definition_id)}"
    )
    try:
        rows = list(
            ctx.graph.paged(
                f"{V1}/policies/roleManagementPolicyAssignments",
                {"$filter": flt, "$expand": "policy($expand=rules)"},
            )
        )
    except ProviderApiError as exc:
        raise annotate(
            exc,
            target,
            "Reading PIM settings needs RoleManagementPolicy.Read.Directory (roles) or "
            "RoleManagementPolicy.Read.AzureADGroup (groups).",
        ) from None
    row = next((r for r in rows if str(r.get("roleDefinitionId", "")).lower() == role_definition_id.lower()), None)
    if row is None:
        raise ProviderApiError(
            f"no PIM policy is assigned to {role_definition_id} at {scope_type} scope {scope_id}",
            code="PolicyNotFound",
            target=target,
            hint="Check the role or group; PIM creates a policy for every role and for groups on first use.",
        )
    policy = row.get("policy") or {}
    policy_id = str(row.get("policyId") or policy.get("id") or "")
    rules = policy.get("rules")
    if not isinstance(rules, list):
        rules = list(ctx.graph.paged(f"{V1}/policies/roleManagementPolicies/{policy_id}/rules"))
    modified = policy.get("lastModifiedDateTime")
    source = f"graph:{policy_id}" + (f"@{modified}" if modified else "")
    return [r for r in rules if isinstance(r, dict)], source


# lookups -------------------------------------------------------------------------------------------------
def _remember(ctx: ProviderContext, prefix: str, item: dict[str, Any], *keys: Any) -> None:
    for key in keys:
        if isinstance(key, str) and key:
            ctx.cache[f"{prefix}{key.lower()}"] = item


def role_definition(ctx: ProviderContext, name_or_id: str, *, target: str) -> dict[str, Any]:
    """A directory role definition by display name or id (or template id), cached in `ctx.cache`."""
    value = name_or_id.strip()
    prefix = "graph:roleDefinition:"
    cached = ctx.cache.get(prefix + value.lower())
    if isinstance(cached, dict):
        return cached
    path = f"{V1}/roleManagement/directory/roleDefinitions"
    found: dict[str, Any] | None = None
    try:
        if is_guid(value):
            try:
                found = ctx.graph.get(f"{path}/{value}", expected=(200,)).json
            except ProviderApiError as exc:
                if exc.status != 404:
                    raise
                found = next(iter(ctx.graph.paged(path, {"$filter": f"templateId eq {odata_literal(value)}"})), None)
        else:
            found = next(iter(ctx.graph.paged(path, {"$filter": f"displayName eq {odata_literal(value)}"})), None)
    except ProviderApiError as exc:
        raise annotate(
            exc, target, "Reading role definitions needs RoleManagement.Read.Directory (or Directory.Read.All)."
        ) from None
    if not isinstance(found, dict) or not found.get("id"):
        close = [] if is_guid(value) else _close_role_names(ctx, path, value)
        hint = (
            f"Did you mean {' or '.join(repr(c) for c in close)}?"
            if close
            else "Give a directory role's display name (e.g. 'User Administrator') or its template id."
        )
        raise UsageError(f"no directory role named or with id {value!r}", hint=hint, target=target)
    _remember(ctx, prefix, found, value, found.get("id"), found.get("templateId"), found.get("displayName"))
    return found


def _close_role_names(ctx: ProviderContext, path: str, name: str) -> list[str]:
    """Up to three role display names close to a misspelled `name` (as for Azure roles); none when the
    definitions cannot be listed, since the suggestion only decorates the error the caller already gets."""
    try:
        names = [
            str(item.get("displayName"))
            for item in ctx.graph.paged(path, {"$select": "displayName"})
            if isinstance(item, dict) and item.get("displayName")
        ]
    except ProviderApiError:
        return []
    by_lower = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    return [by_lower[c] for c in close]


def group_object(ctx: ProviderContext, name_or_id: str, *, target: str) -> dict[str, Any]:
    """A group by object id or display name (which must name exactly one group), cached in `ctx.cache`."""
    value = name_or_id.strip()
    prefix = "graph:group:"
    cached = ctx.cache.get(prefix + value.lower())
    if isinstance(cached, dict):
        return cached
    try:
        if is_guid(value):
            try:
                rows = [ctx.graph.get(f"{V1}/groups/{value}", expected=(200,)).json]
            except ProviderApiError as exc:
                if exc.status != 404:
                    raise
                rows = []
        else:
            rows = list(ctx.graph.paged(f"{V1}/groups", {"$filter": f"displayName eq {odata_literal(value)}"}))
    except ProviderApiError as exc:
        raise annotate(exc, target, "Looking groups up needs Group.Read.All (or Directory.Read.All).") from None
    rows = [r for r in rows if isinstance(r, dict) and r.get("id")]
    if not rows:
        raise UsageError(
            f"no group named or with id {value!r}",
            hint="Give the group's object id or its exact display name.",
            target=target,
        )
    if len(rows) > 1:
        ids = ", ".join(str(r["id"]) for r in rows[:5])
        raise UsageError(
            f"{len(rows)} groups are named {value!r} ({ids})",
            hint="Name the group by its object id.",
            target=target,
        )
    found: dict[str, Any] = rows[0]
    _remember(ctx, prefix, found, value, found.get("id"))
    return found


def access_of(role_id: str) -> GroupAccess:
    return GroupAccess.OWNER if role_id.lower() == "owner" else GroupAccess.MEMBER


def directory_audits(ctx: ProviderContext, since: datetime) -> list[dict[str, Any]]:
    """Entra's `auditLogs/directoryAudits` rows since `since` (needs AuditLog.Read.All)."""
    return list(
        ctx.graph.paged(f"{V1}/auditLogs/directoryAudits", {"$filter": f"activityDateTime ge {format_time(since)}"})
    )
