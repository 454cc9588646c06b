"""Settings ↔ policy rules, in both dialects: Microsoft Graph (`@odata.type` discriminates a rule; approvers
are `singleUser`/`groupMembers` subject sets) and ARM (`ruleType`; approvers are `{id, userType}`).

`settings_from_rules` reads every setting a policy holds; `rules_for` writes back only the rules whose managed
settings differ, each starting from the live rule so that what the file does not manage stays as it was.
Rule ids and shapes: shared/reference/graph-pim.md §4.2 and arm-pim-rbac-keyvault-oidc.md §1.6.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Final, Literal, cast

from ..model.durations import iso8601_duration
from .settings import EVENTS, RECIPIENTS, REQUIREMENTS, Approver, Expiry, Notice, RoleSettings

__all__ = ["Dialect", "rules_for", "settings_from_rules"]

Dialect = Literal["graph", "arm"]
_ISO: Final = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$", re.IGNORECASE)
_API_TO_WORD: Final = {v: k for k, v in REQUIREMENTS.items()}
_GRAPH_TYPE: Final = {
    "Expiration": "#microsoft.graph.unifiedRoleManagementPolicyExpirationRule",
    "Enablement": "#microsoft.graph.unifiedRoleManagementPolicyEnablementRule",
    "Approval": "#microsoft.graph.unifiedRoleManagementPolicyApprovalRule",
    "Notification": "#microsoft.graph.unifiedRoleManagementPolicyNotificationRule",
}
_ARM_TYPE: Final = {
    "Expiration": "RoleManagementPolicyExpirationRule",
    "Enablement": "RoleManagementPolicyEnablementRule",
    "Approval": "RoleManagementPolicyApprovalRule",
    "Notification": "RoleManagementPolicyNotificationRule",
}
_TARGETS: Final = {
    "Admin_Eligibility": ("Admin", "Eligibility"),
    "Admin_Assignment": ("Admin", "Assignment"),
    "EndUser_Assignment": ("EndUser", "Assignment"),
}


def _duration(value: Any) -> timedelta | None:
    if not isinstance(value, str):
        return None
    match = _ISO.match(value.strip())
    if match is None:
        return None
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _by_id(rules: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {str(r.get("id")): r for r in rules if isinstance(r, Mapping)}


def _approvers(setting: Mapping[str, Any]) -> tuple[Approver, ...]:
    found: list[Approver] = []
    for stage in setting.get("approvalStages") or []:
        for who in (stage or {}).get("primaryApprovers") or []:
            odata = str(who.get("@odata.type", ""))
            if odata.endswith("groupMembers") and who.get("groupId"):
                found.append(Approver("group", str(who["groupId"])))
            elif odata.endswith("singleUser") and who.get("userId"):
                found.append(Approver("user", str(who["userId"])))
            elif who.get("id"):  # ARM
                found.append(Approver("group" if who.get("userType") == "Group" else "user", str(who["id"])))
    return tuple(sorted(set(found)))


def _expiry(rule: Mapping[str, Any] | None) -> Expiry | None:
    if rule is None:
        return None
    return Expiry(permanent=not bool(rule.get("isExpirationRequired")), maximum=_duration(rule.get("maximumDuration")))


def settings_from_rules(rules: Sequence[Mapping[str, Any]]) -> RoleSettings:
    """Everything a policy's rules say, as settings (fields whose rule is missing stay None)."""
    by_id = _by_id(rules)
    activation = by_id.get("Expiration_EndUser_Assignment")
    enable = by_id.get("Enablement_EndUser_Assignment")
    approval = by_id.get("Approval_EndUser_Assignment")
    setting = (approval or {}).get("setting") or {}
    stages = setting.get("approvalStages") or [{}]
    admin_enable = by_id.get("Enablement_Admin_Assignment")
    notifications: dict[tuple[str, str], Notice] = {}
    for event, part in EVENTS.items():
        for recipient, who in RECIPIENTS.items():
            rule = by_id.get(f"Notification_{who}_{part}")
            if rule is not None:
                notifications[(event, recipient)] = Notice(
                    level=cast(Any, str(rule.get("notificationLevel", "All")).lower()),
                    default_recipients=bool(rule.get("isDefaultRecipientsEnabled", True)),
                    recipients=tuple(str(r) for r in rule.get("notificationRecipients") or []),
                )
    return RoleSettings(
        activation_maximum=_duration((activation or {}).get("maximumDuration")) if activation else None,
        activation_require=(
            frozenset(_API_TO_WORD[r] for r in enable.get("enabledRules") or [] if r in _API_TO_WORD)
            if enable is not None
            else None
        ),
        approval_required=bool(setting.get("isApprovalRequired")) if approval is not None else None,
        approvers=_approvers(setting) if approval is not None else None,
        approval_timeout_days=(int(stages[0].get("approvalStageTimeOutInDays") or 1) if approval is not None else None),
        eligible_assignment=_expiry(by_id.get("Expiration_Admin_Eligibility")),
        active_assignment=_expiry(by_id.get("Expiration_Admin_Assignment")),
        active_assignment_require=(
            frozenset(_API_TO_WORD[r] for r in admin_enable.get("enabledRules") or [] if r in _API_TO_WORD)
            if admin_enable is not None
            else None
        ),
        notifications=notifications,
    )


def _base(rule_id: str, family: str, live: Mapping[str, Any] | None, dialect: Dialect) -> dict[str, Any]:
    """The live rule to start from (so unmanaged properties keep their values), or a minimal new one."""
    if live is not None:
        rule = copy.deepcopy(dict(live))
    else:
        caller, level = _TARGETS[rule_id.split("_", 1)[1]]
        rule = {"id": rule_id, "target": {"caller": caller, "operations": ["All"], "level": level}}
    if dialect == "graph":
        rule["@odata.type"] = _GRAPH_TYPE[family]
        rule.pop("ruleType", None)
    else:
        rule["ruleType"] = _ARM_TYPE[family]
        rule.pop("@odata.type", None)
    return rule


def _approver_wire(approver: Approver, dialect: Dialect) -> dict[str, Any]:
    if dialect == "arm":
        return {"id": approver.id, "userType": "Group" if approver.kind == "group" else "User", "isBackup": False}
    if approver.kind == "group":
        return {"@odata.type": "#microsoft.graph.groupMembers", "groupId": approver.id}
    return {"@odata.type": "#microsoft.graph.singleUser", "userId": approver.id}


def rules_for(desired: RoleSettings, live_rules: Sequence[Mapping[str, Any]], dialect: Dialect) -> list[dict[str, Any]]:
    """The rules to write so the policy says what `desired` manages; only rules that change are returned."""
    by_id = _by_id(live_rules)
    current = settings_from_rules(live_rules)
    changed = {name.split(".")[0] for name, _, _ in desired.differences(current)}
    out: list[dict[str, Any]] = []

    def differs(*names: str) -> bool:
        return any(n in changed for n in names)

    if differs("activation_maximum") and desired.activation_maximum is not None:
        rule = _base("Expiration_EndUser_Assignment", "Expiration", by_id.get("Expiration_EndUser_Assignment"), dialect)
        rule.update(isExpirationRequired=True, maximumDuration=iso8601_duration(desired.activation_maximum))
        out.append(rule)
    if differs("activation_require") and desired.activation_require is not None:
        rule = _base("Enablement_EndUser_Assignment", "Enablement", by_id.get("Enablement_EndUser_Assignment"), dialect)
        rule["enabledRules"] = [REQUIREMENTS[w] for w in sorted(desired.activation_require)]
        out.append(rule)
    if differs("approval_required", "approvers", "approval_timeout_days"):
        rule = _base("Approval_EndUser_Assignment", "Approval", by_id.get("Approval_EndUser_Assignment"), dialect)
        setting = dict(rule.get("setting") or {})
        required = desired.approval_required
        if required is None:
            required = bool(current.approval_required)
        setting["isApprovalRequired"] = required
        setting.setdefault("isApprovalRequiredForExtension", False)
        setting.setdefault("isRequestorJustificationRequired", True)
        setting["approvalMode"] = "SingleStage" if required else setting.get("approvalMode", "SingleStage")
        stages = [dict(s) for s in setting.get("approvalStages") or []] or [
            {
                "isApproverJustificationRequired": True,
                "escalationTimeInMinutes": 0,
                "isEscalationEnabled": False,
                "escalationApprovers": [],
            }
        ]
        if desired.approval_timeout_days is not None:
            stages[0]["approvalStageTimeOutInDays"] = desired.approval_timeout_days
        stages[0].setdefault("approvalStageTimeOutInDays", 1)
        if desired.approvers is not None:
            stages[0]["primaryApprovers"] = [_approver_wire(a, dialect) for a in sorted(desired.approvers)]
        stages[0].setdefault("primaryApprovers", [])
        setting["approvalStages"] = stages[:1]
        rule["setting"] = setting
        out.append(rule)
    for name, rule_id in (
        ("eligible_assignment", "Expiration_Admin_Eligibility"),
        ("active_assignment", "Expiration_Admin_Assignment"),
    ):
        expiry: Expiry | None = getattr(desired, name)
        if expiry is not None and differs(name):
            rule = _base(rule_id, "Expiration", by_id.get(rule_id), dialect)
            rule["isExpirationRequired"] = not expiry.permanent
            if expiry.maximum is not None:
                rule["maximumDuration"] = iso8601_duration(expiry.maximum)
            out.append(rule)
    if differs("active_assignment_require") and desired.active_assignment_require is not None:
        rule = _base("Enablement_Admin_Assignment", "Enablement", by_id.get("Enablement_Admin_Assignment"), dialect)
        rule["enabledRules"] = [REQUIREMENTS[w] for w in sorted(desired.active_assignment_require)]
        out.append(rule)
    for (event, recipient), notice in sorted(desired.notifications.items()):
        if current.notifications.get((event, recipient)) == notice:
            continue
        rule_id = f"Notification_{RECIPIENTS[recipient]}_{EVENTS[event]}"
        rule = _base(rule_id, "Notification", by_id.get(rule_id), dialect)
        rule.update(
            notificationType="Email",
            recipientType=RECIPIENTS[recipient],
            notificationLevel=notice.level.capitalize(),
            isDefaultRecipientsEnabled=notice.default_recipients,
            notificationRecipients=list(notice.recipients),
        )
        out.append(rule)
    return out
