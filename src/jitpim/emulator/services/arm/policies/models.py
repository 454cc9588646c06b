"""PIM role settings for Azure resources: one roleManagementPolicy per (scope, role), with the 17 real rules.

Policies are materialised on first use from the scenario's `policies` entries of `kind: azure-role`
(`role: "*"` is the default; later entries override earlier ones; an entry may name a `scope` and then
applies at that scope and below). A PATCH changes the stored rules of that one policy, as in Azure.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ....core.clock import format_time
from ....core.durations import parse_duration
from ....core.errors import ArmError
from ....core.ids import stable_guid
from ....core.rbac import is_same_or_parent_scope
from ....core.scenario import ScenarioError, scope_of
from ....core.world import World
from ..common.context import Scope, guid_of, principal_display, role_definition_id, scope_display_name

__all__ = ["RULE_TYPES", "PolicySettings", "PolicyStore", "RolePolicy", "merge_rules"]

_EXPIRATION = "RoleManagementPolicyExpirationRule"
_ENABLEMENT = "RoleManagementPolicyEnablementRule"
_APPROVAL = "RoleManagementPolicyApprovalRule"
_AUTH_CONTEXT = "RoleManagementPolicyAuthenticationContextRule"
_NOTIFICATION = "RoleManagementPolicyNotificationRule"

# Rule id -> ruleType, in the order the service lists them.
RULE_TYPES: dict[str, str] = {
    "Expiration_Admin_Eligibility": _EXPIRATION,
    "Enablement_Admin_Eligibility": _ENABLEMENT,
    "Notification_Admin_Admin_Eligibility": _NOTIFICATION,
    "Notification_Requestor_Admin_Eligibility": _NOTIFICATION,
    "Notification_Approver_Admin_Eligibility": _NOTIFICATION,
    "Expiration_Admin_Assignment": _EXPIRATION,
    "Enablement_Admin_Assignment": _ENABLEMENT,
    "Notification_Admin_Admin_Assignment": _NOTIFICATION,
    "Notification_Requestor_Admin_Assignment": _NOTIFICATION,
    "Notification_Approver_Admin_Assignment": _NOTIFICATION,
    "Approval_EndUser_Assignment": _APPROVAL,
    "AuthenticationContext_EndUser_Assignment": _AUTH_CONTEXT,
    "Enablement_EndUser_Assignment": _ENABLEMENT,
    "Expiration_EndUser_Assignment": _EXPIRATION,
    "Notification_Admin_EndUser_Assignment": _NOTIFICATION,
    "Notification_Requestor_EndUser_Assignment": _NOTIFICATION,
    "Notification_Approver_EndUser_Assignment": _NOTIFICATION,
}
_ENABLEMENT_VALUES = {"MultiFactorAuthentication", "Justification", "Ticketing"}


@dataclass
class PolicySettings:
    """The scenario's view of a policy (the fields `policies` entries may set)."""

    max_activation: str = "PT8H"
    require_justification: bool = True
    require_ticket: bool = False
    require_mfa: bool = False
    require_approval: bool = False
    approvers: list[str] = field(default_factory=list)  # object ids
    max_active_assignment: str = "P180D"
    allow_permanent_active_assignment: bool = True
    max_eligibility: str = "P365D"
    allow_permanent_eligibility: bool = True
    require_justification_on_assignment: bool = True
    require_mfa_on_assignment: bool = False
    approval_timeout_days: int = 1
    authentication_context: str | None = None  # stored and served; not enforced on ARM


def _target(caller: str, level: str) -> dict[str, Any]:
    return {
        "caller": caller,
        "operations": ["All"],
        "level": level,
        "targetObjects": None,
        "inheritableSettings": None,
        "enforcedSettings": None,
    }


def _rules(settings: PolicySettings, world: World) -> list[dict[str, Any]]:
    def expiration(rule_id: str, caller: str, level: str, required: bool, maximum: str) -> dict[str, Any]:
        return {
            "isExpirationRequired": required,
            "maximumDuration": maximum,
            "id": rule_id,
            "ruleType": _EXPIRATION,
            "target": _target(caller, level),
        }

    def enablement(rule_id: str, caller: str, level: str, enabled: list[str]) -> dict[str, Any]:
        return {"enabledRules": enabled, "id": rule_id, "ruleType": _ENABLEMENT, "target": _target(caller, level)}

    def notifications(caller: str, level: str) -> list[dict[str, Any]]:
        return [
            {
                "notificationType": "Email",
                "recipientType": who,
                "isDefaultRecipientsEnabled": True,
                "notificationLevel": "All",
                "notificationRecipients": None,
                "id": f"Notification_{who}_{caller}_{level}",
                "ruleType": _NOTIFICATION,
                "target": _target(caller, level),
            }
            for who in ("Admin", "Requestor", "Approver")
        ]

    approvers = []
    for oid in settings.approvers:
        kind = world.directory.principal_kind(oid)
        approvers.append(
            {
                "id": oid,
                "description": world.directory.display_name(oid),
                "isBackup": False,
                "userType": "Group" if kind == "Group" else "User",
            }
        )
    end_user = [
        name
        for name, on in (
            ("MultiFactorAuthentication", settings.require_mfa),
            ("Justification", settings.require_justification),
            ("Ticketing", settings.require_ticket),
        )
        if on
    ]
    admin_assignment = [
        name
        for name, on in (
            ("MultiFactorAuthentication", settings.require_mfa_on_assignment),
            ("Justification", settings.require_justification_on_assignment),
        )
        if on
    ]
    return [
        expiration(
            "Expiration_Admin_Eligibility",
            "Admin",
            "Eligibility",
            not settings.allow_permanent_eligibility,
            settings.max_eligibility,
        ),
        enablement("Enablement_Admin_Eligibility", "Admin", "Eligibility", []),
        *notifications("Admin", "Eligibility"),
        expiration(
            "Expiration_Admin_Assignment",
            "Admin",
            "Assignment",
            not settings.allow_permanent_active_assignment,
            settings.max_active_assignment,
        ),
        enablement("Enablement_Admin_Assignment", "Admin", "Assignment", admin_assignment),
        *notifications("Admin", "Assignment"),
        {
            "setting": {
                "isApprovalRequired": settings.require_approval,
                "isApprovalRequiredForExtension": False,
                "isRequestorJustificationRequired": True,
                "approvalMode": "SingleStage",
                "approvalStages": [
                    {
                        "approvalStageTimeOutInDays": settings.approval_timeout_days,
                        "isApproverJustificationRequired": True,
                        "escalationTimeInMinutes": 0,
                        "primaryApprovers": approvers,
                        "isEscalationEnabled": False,
                        "escalationApprovers": None,
                    }
                ],
            },
            "id": "Approval_EndUser_Assignment",
            "ruleType": _APPROVAL,
            "target": _target("EndUser", "Assignment"),
        },
        {
            "isEnabled": bool(settings.authentication_context),
            "claimValue": settings.authentication_context or "",
            "id": "AuthenticationContext_EndUser_Assignment",
            "ruleType": _AUTH_CONTEXT,
            "target": _target("EndUser", "Assignment"),
        },
        enablement("Enablement_EndUser_Assignment", "EndUser", "Assignment", end_user),
        expiration("Expiration_EndUser_Assignment", "EndUser", "Assignment", True, settings.max_activation),
        *notifications("EndUser", "Assignment"),
    ]


@dataclass
class RolePolicy:
    name: str
    scope: Scope
    role: str
    rules: list[dict[str, Any]]
    last_modified_by: str | None = None
    last_modified: datetime | None = None

    @property
    def id(self) -> str:
        return f"{self.scope.prefix}/providers/Microsoft.Authorization/roleManagementPolicies/{self.name}"

    @property
    def assignment_name(self) -> str:
        return f"{self.name}_{self.role}"

    # rule accessors used by request validation -------------------------------------------------
    def rule(self, rule_id: str) -> dict[str, Any]:
        return next(r for r in self.rules if r["id"] == rule_id)

    def expiration(self, rule_id: str) -> tuple[bool, timedelta | None]:
        rule = self.rule(rule_id)
        maximum = rule.get("maximumDuration")
        return bool(rule.get("isExpirationRequired")), parse_duration(maximum) if maximum else None

    def enabled(self, rule_id: str) -> set[str]:
        return set(self.rule(rule_id).get("enabledRules") or [])

    def approval(self) -> tuple[bool, list[dict[str, Any]], int]:
        setting = self.rule("Approval_EndUser_Assignment").get("setting") or {}
        stages = setting.get("approvalStages") or [{}]
        approvers = list(stages[0].get("primaryApprovers") or [])
        return bool(setting.get("isApprovalRequired")), approvers, int(stages[0].get("approvalStageTimeOutInDays") or 1)

    # wire shapes --------------------------------------------------------------------------------
    def _modified_by(self, world: World) -> dict[str, Any] | None:
        if not self.last_modified_by:
            return None
        shown = principal_display(world, self.last_modified_by)
        return {"id": shown["id"], "displayName": shown["displayName"], "type": shown["type"], "email": shown["email"]}

    def to_arm(self, world: World) -> dict[str, Any]:
        rules = copy.deepcopy(self.rules)
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Authorization/RoleManagementPolicies",
            "properties": {
                "scope": self.scope.path,
                "displayName": "Default",
                "description": "Default",
                "isOrganizationDefault": False,
                "lastModifiedBy": self._modified_by(world),
                "lastModifiedDateTime": format_time(self.last_modified),
                "rules": rules,
                "effectiveRules": copy.deepcopy(rules),
                "policyProperties": {
                    "scope": {
                        "id": self.scope.path,
                        "displayName": scope_display_name(world, self.scope),
                        "type": self.scope.display_type(),
                    }
                },
            },
        }

    def assignment_to_arm(self, world: World) -> dict[str, Any]:
        definition = world.rbac.definitions.get(self.role)
        role_id = role_definition_id(self.scope, self.role)
        # The service spells this id with the singular segment (see the 2020-10-01 examples).
        return {
            "id": f"{self.scope.prefix}/providers/Microsoft.Authorization/roleManagementPolicyAssignment/"
            f"{self.assignment_name}",
            "name": self.assignment_name,
            "type": "Microsoft.Authorization/RoleManagementPolicyAssignment",
            "properties": {
                "scope": self.scope.path,
                "roleDefinitionId": role_id,
                "policyId": self.id,
                "effectiveRules": copy.deepcopy(self.rules),
                "policyAssignmentProperties": {
                    "scope": {
                        "id": self.scope.path,
                        "displayName": scope_display_name(world, self.scope),
                        "type": self.scope.display_type(),
                    },
                    "roleDefinition": {
                        "id": role_id,
                        "displayName": definition.role_name if definition else None,
                        "type": definition.role_type if definition else None,
                    },
                    "policy": {
                        "id": self.id,
                        "lastModifiedBy": self._modified_by(world),
                        "lastModifiedDateTime": format_time(self.last_modified),
                    },
                },
            },
        }


def _invalid(detail: str) -> ArmError:
    return ArmError(400, "InvalidPolicy", f"The policy is invalid. {detail}")


def _check_rule(rule: dict[str, Any]) -> None:
    rule_id = rule["id"]
    if "maximumDuration" in rule and rule["maximumDuration"] is not None:
        try:
            if parse_duration(str(rule["maximumDuration"])) <= timedelta(0):
                raise ValueError
        except ValueError:
            raise _invalid(f"Rule '{rule_id}' has an invalid maximumDuration.") from None
    if "enabledRules" in rule:
        enabled = rule["enabledRules"] or []
        if not isinstance(enabled, list) or any(e not in _ENABLEMENT_VALUES for e in enabled):
            raise _invalid(f"Rule '{rule_id}' may only enable {', '.join(sorted(_ENABLEMENT_VALUES))}.")
    setting = rule.get("setting")
    if setting is not None:
        stages = setting.get("approvalStages") if isinstance(setting, dict) else None
        if not isinstance(stages, list):
            raise _invalid(f"Rule '{rule_id}' needs setting.approvalStages.")
        for stage in stages:
            for approver in (stage or {}).get("primaryApprovers") or []:
                if not isinstance(approver, dict) or guid_of(str(approver.get("id", ""))) is None:
                    raise _invalid(f"Rule '{rule_id}' names an approver without a valid id.")


def merge_rules(current: list[dict[str, Any]], patch: Any) -> list[dict[str, Any]]:
    """Apply a PATCH's `rules` to a policy's rules (each patched rule replaces the fields it carries)."""
    if not isinstance(patch, list):
        raise _invalid("'properties.rules' must be an array of rules.")
    merged = copy.deepcopy(current)
    for raw in patch:
        if not isinstance(raw, dict) or raw.get("id") not in RULE_TYPES:
            raise _invalid(f"Unknown rule id {raw.get('id') if isinstance(raw, dict) else raw!r}.")
        rule_type = raw.get("ruleType")
        if rule_type != RULE_TYPES[raw["id"]]:
            raise _invalid(f"Rule '{raw['id']}' must have ruleType '{RULE_TYPES[raw['id']]}'.")
        target = next(r for r in merged if r["id"] == raw["id"])
        updated = {**target, **{k: v for k, v in raw.items() if k != "target"}}
        if isinstance(raw.get("target"), dict):
            updated["target"] = {**target["target"], **raw["target"]}
        _check_rule(updated)
        target.clear()
        target.update(updated)
    return merged


class PolicyStore:
    """Policies by (scope, role), created from the scenario when first needed."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.policies: dict[tuple[str, str], RolePolicy] = {}
        self.entries = [p for p in (world.scenario.get("policies") or []) if p.get("kind") == "azure-role"]
        for entry in self.entries:
            self._settings_fields(entry)  # fail at scenario load, not at the first request

    def _settings_fields(self, entry: dict[str, Any]) -> dict[str, Any]:
        known = PolicySettings.__dataclass_fields__
        values: dict[str, Any] = {}
        for key, value in entry.items():
            if key in ("kind", "role", "scope"):
                continue
            if key not in known:
                raise ScenarioError(f"scenario: azure-role policy field {key!r} is unknown")
            if key == "approvers":
                ids = []
                for name in value or []:
                    oid = self.world.principal_id(str(name))
                    if oid is None:
                        raise ScenarioError(f"scenario: policy approver {name!r} is not a declared principal")
                    ids.append(oid)
                value = ids
            elif key.startswith("max_"):
                try:
                    parse_duration(str(value))
                except ValueError:
                    raise ScenarioError(
                        f"scenario: azure-role policy {key} {value!r} is not an ISO-8601 duration"
                    ) from None
                value = str(value)
            values[key] = value
        return values

    def _applies(self, entry: dict[str, Any], scope: Scope, role: str) -> bool:
        wanted = str(entry.get("role", "*"))
        if wanted != "*":
            definition = self.world.rbac.definition(wanted)
            if definition is None or definition.id != role:
                return False
        where = entry.get("scope")
        return where is None or is_same_or_parent_scope(scope_of(str(where), self.world), scope.path)

    def settings_for(self, scope: Scope, role: str) -> PolicySettings:
        settings = PolicySettings()
        for entry in self.entries:
            if self._applies(entry, scope, role):
                for key, value in self._settings_fields(entry).items():
                    setattr(settings, key, value)
        return settings

    def get(self, scope: Scope, role: str) -> RolePolicy:
        key = (scope.path.lower(), role)
        policy = self.policies.get(key)
        if policy is None:
            name = stable_guid(self.world.tenant_id, "azure-role-policy", scope.path.lower(), role)
            policy = RolePolicy(name, scope, role, _rules(self.settings_for(scope, role), self.world))
            self.policies[key] = policy
        return policy

    def roles_at(self, scope: Scope) -> list[str]:
        """Role definitions assignable at the scope (each has a policy there)."""
        return [
            d.id
            for d in self.world.rbac.definitions.values()
            if any(is_same_or_parent_scope(s, scope.path) for s in d.assignable_scopes)
        ]

    def at(self, scope: Scope) -> list[RolePolicy]:
        return [self.get(scope, role) for role in self.roles_at(scope)]

    def by_name(self, scope: Scope, name: str) -> RolePolicy | None:
        lowered = name.lower()
        return next((p for p in self.at(scope) if p.name == lowered), None)
