"""Role management policies (PIM role settings): one policy per directory role and one per group and access
(`member`/`owner`), each with the 17 rules Graph serves, with their real ids and `@odata.type`s.

Policies are seeded from the scenario's `policies` entries (`kind: entra-role` or `pim-group`), applied in
order over Microsoft's defaults: an entry with `role: "*"` applies to every role (or, for groups, every
group and access), a named entry to that role only, so later entries override earlier ones.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ....core.clock import format_time
from ....core.durations import parse_duration
from ....core.errors import GraphError
from ....core.ids import stable_guid
from ....core.scenario import ScenarioError
from ....core.tokens import Caller
from ....core.world import World
from ..audit.backend import initiator_for
from ..pim.authz import is_directory_admin, is_group_manager, require_scope, unauthorized

__all__ = [
    "APPROVAL_RULE",
    "ENABLEMENT_TYPES",
    "RULE_TYPES",
    "Policy",
    "PolicyStore",
    "approval_setting",
    "default_rules",
    "enabled_rules",
    "expiration_limits",
    "update_rule",
    "update_rules",
]

if TYPE_CHECKING:
    from ..pim.store import GraphState

_NS = "#microsoft.graph.unifiedRoleManagementPolicy"
EXPIRATION = _NS + "ExpirationRule"
ENABLEMENT = _NS + "EnablementRule"
APPROVAL = _NS + "ApprovalRule"
AUTH_CONTEXT = _NS + "AuthenticationContextRule"
NOTIFICATION = _NS + "NotificationRule"
RULE_TYPES = (EXPIRATION, ENABLEMENT, APPROVAL, AUTH_CONTEXT, NOTIFICATION)
ENABLEMENT_TYPES = ("MultiFactorAuthentication", "Justification", "Ticketing")
APPROVAL_RULE = "Approval_EndUser_Assignment"

# (caller, level) per rule-id suffix.
_TARGETS = {
    "Admin_Eligibility": ("Admin", "Eligibility"),
    "Admin_Assignment": ("Admin", "Assignment"),
    "EndUser_Assignment": ("EndUser", "Assignment"),
}


def _target(suffix: str) -> dict[str, Any]:
    caller, level = _TARGETS[suffix]
    return {"caller": caller, "operations": ["all"], "level": level, "inheritableSettings": [], "enforcedSettings": []}


def default_rules(kind: str) -> dict[str, dict[str, Any]]:
    """Microsoft's untouched defaults. Directory roles allow permanent eligible/active assignments; groups
    refuse permanent ones (observed: `ExpirationRule - The policy does not allow permanent assignment`)."""
    groups = kind == "pim-group"
    rules: list[dict[str, Any]] = [
        {
            "@odata.type": EXPIRATION,
            "id": "Expiration_Admin_Eligibility",
            "isExpirationRequired": groups,
            "maximumDuration": "P365D",
        },
        {"@odata.type": ENABLEMENT, "id": "Enablement_Admin_Eligibility", "enabledRules": []},
        {
            "@odata.type": EXPIRATION,
            "id": "Expiration_Admin_Assignment",
            "isExpirationRequired": groups,
            "maximumDuration": "P180D",
        },
        {"@odata.type": ENABLEMENT, "id": "Enablement_Admin_Assignment", "enabledRules": ["Justification"]},
        {
            "@odata.type": EXPIRATION,
            "id": "Expiration_EndUser_Assignment",
            "isExpirationRequired": True,
            "maximumDuration": "PT8H",
        },
        {
            "@odata.type": ENABLEMENT,
            "id": "Enablement_EndUser_Assignment",
            "enabledRules": ["MultiFactorAuthentication", "Justification"],
        },
        {
            "@odata.type": APPROVAL,
            "id": APPROVAL_RULE,
            "setting": {
                "isApprovalRequired": False,
                "isApprovalRequiredForExtension": False,
                "isRequestorJustificationRequired": True,
                "approvalMode": "SingleStage",
                "approvalStages": [
                    {
                        "approvalStageTimeOutInDays": 1,
                        "isApproverJustificationRequired": True,
                        "escalationTimeInMinutes": 0,
                        "isEscalationEnabled": False,
                        "primaryApprovers": [],
                        "escalationApprovers": [],
                    }
                ],
            },
        },
        {
            "@odata.type": AUTH_CONTEXT,
            "id": "AuthenticationContext_EndUser_Assignment",
            "isEnabled": False,
            "claimValue": None,
        },
    ]
    for suffix in _TARGETS:
        for recipient in ("Admin", "Requestor", "Approver"):
            rules.append(
                {
                    "@odata.type": NOTIFICATION,
                    "id": f"Notification_{recipient}_{suffix}",
                    "notificationType": "Email",
                    "recipientType": recipient,
                    "notificationLevel": "All",
                    "isDefaultRecipientsEnabled": True,
                    "notificationRecipients": [],
                }
            )
    out: dict[str, dict[str, Any]] = {}
    for rule in rules:
        suffix = next(s for s in _TARGETS if rule["id"].endswith(s))
        rule["target"] = _target(suffix)
        out[rule["id"]] = rule
    return out


@dataclass
class Policy:
    id: str
    scope_id: str
    scope_type: str  # DirectoryRole | Group
    role_definition_id: str  # a directory role definition id, or `member` / `owner`
    rules: dict[str, dict[str, Any]]
    last_modified: datetime | None = None
    last_modified_by: dict[str, Any] = field(default_factory=lambda: {"displayName": None, "id": None})

    @property
    def kind(self) -> str:
        return "pim-group" if self.scope_type == "Group" else "entra-role"

    @property
    def assignment_id(self) -> str:
        return f"{self.id}_{self.role_definition_id}"

    def rules_json(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(r) for r in self.rules.values()]

    def to_graph(self, *, with_rules: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "displayName": self.scope_type,
            "description": self.scope_type,
            "isOrganizationDefault": False,
            "scopeId": self.scope_id,
            "scopeType": self.scope_type,
            "lastModifiedDateTime": format_time(self.last_modified),
            "lastModifiedBy": dict(self.last_modified_by),
        }
        if with_rules:
            data["rules"] = self.rules_json()
        return data

    def assignment_json(self) -> dict[str, Any]:
        return {
            "id": self.assignment_id,
            "policyId": self.id,
            "scopeId": self.scope_id,
            "scopeType": self.scope_type,
            "roleDefinitionId": self.role_definition_id,
        }


# Readers the rules engine uses -------------------------------------------------------------------------
def expiration_limits(policy: Policy, rule_id: str) -> tuple[bool, timedelta | None]:
    rule = policy.rules[rule_id]
    raw = rule.get("maximumDuration")
    try:
        maximum = parse_duration(raw) if isinstance(raw, str) and raw else None
    except ValueError:
        maximum = None
    return bool(rule.get("isExpirationRequired")), maximum


def enabled_rules(policy: Policy, rule_id: str) -> set[str]:
    return {str(r) for r in policy.rules[rule_id].get("enabledRules") or []}


def approval_setting(policy: Policy) -> dict[str, Any]:
    setting: dict[str, Any] = policy.rules[APPROVAL_RULE].get("setting") or {}
    return setting


class PolicyStore:
    """Policies by id, created on first use for roles and groups that appear after the scenario loaded."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.policies: dict[str, Policy] = {}
        self._by_target: dict[tuple[str, str, str], str] = {}

    # lookup -----------------------------------------------------------------------------------------
    def for_role(self, role_definition_id: str) -> Policy | None:
        role = self.world.directory.role_definitions.get(role_definition_id)
        if role is None:
            return None
        key = ("DirectoryRole", "/", role.id)
        if key not in self._by_target:
            guid = stable_guid(self.world.tenant_id, "policy", role.id)
            self._add(
                Policy(
                    f"DirectoryRole_{self.world.tenant_id}_{guid}",
                    "/",
                    "DirectoryRole",
                    role.id,
                    self._seeded_rules("entra-role", role.id, role.display_name),
                )
            )
        return self.policies[self._by_target[key]]

    def for_group(self, group_id: str, access_id: str) -> Policy | None:
        group = self.world.directory.groups.get(group_id)
        if group is None or access_id not in ("member", "owner"):
            return None
        key = ("Group", group.object_id, access_id)
        if key not in self._by_target:
            guid = stable_guid(self.world.tenant_id, "policy", group.object_id, access_id)
            self._add(
                Policy(
                    f"Group_{group.object_id}_{guid}",
                    group.object_id,
                    "Group",
                    access_id,
                    self._seeded_rules("pim-group", group.object_id, group.display_name, access_id),
                )
            )
        return self.policies[self._by_target[key]]

    def get(self, policy_id: str) -> Policy | None:
        self.ensure_all()
        return self.policies.get(policy_id)

    def ensure_all(self) -> None:
        for role_id in list(self.world.directory.role_definitions):
            self.for_role(role_id)
        for group_id in list(self.world.directory.groups):
            for access in ("member", "owner"):
                self.for_group(group_id, access)

    def all(self) -> list[Policy]:
        self.ensure_all()
        return list(self.policies.values())

    def _add(self, policy: Policy) -> None:
        self.policies[policy.id] = policy
        self._by_target[(policy.scope_type, policy.scope_id, policy.role_definition_id)] = policy.id

    # seeding ------------------------------------------------------------------------------------------
    def _seeded_rules(self, kind: str, object_id: str, name: str, access: str | None = None) -> dict[str, Any]:
        rules = default_rules(kind)
        for entry in self.world.scenario.get("policies") or []:
            if entry.get("kind") != kind or not self._matches(entry, kind, object_id, name, access):
                continue
            self._apply(rules, entry)
        return rules

    def _matches(self, entry: dict[str, Any], kind: str, object_id: str, name: str, access: str | None) -> bool:
        def same(value: Any, *candidates: str) -> bool:
            text = str(value if value is not None else "*")
            return text == "*" or text.lower() in (c.lower() for c in candidates)

        if kind == "entra-role":
            return same(entry.get("role"), object_id, name)
        # Groups: `group` names the group (default every group); `access` (or `role`) is member/owner/*.
        group_ok = same(entry.get("group"), object_id, name, *self._group_aliases(object_id))
        return group_ok and same(entry.get("access", entry.get("role")), access or "member")

    def _group_aliases(self, group_id: str) -> list[str]:
        return [n for n, oid in self.world.principal_names.items() if oid == group_id]

    def _apply(self, rules: dict[str, dict[str, Any]], entry: dict[str, Any]) -> None:
        """Map the scenario's plain settings onto the rules they stand for."""
        end_user = rules["Expiration_EndUser_Assignment"]
        if "max_activation" in entry:
            end_user["maximumDuration"] = str(entry["max_activation"])
            end_user["isExpirationRequired"] = True
        admin_assignment = rules["Expiration_Admin_Assignment"]
        if "max_active_assignment" in entry:
            admin_assignment["maximumDuration"] = str(entry["max_active_assignment"])
        if "allow_permanent_active_assignment" in entry:
            admin_assignment["isExpirationRequired"] = not bool(entry["allow_permanent_active_assignment"])
        eligibility = rules["Expiration_Admin_Eligibility"]
        if "max_eligibility" in entry:
            eligibility["maximumDuration"] = str(entry["max_eligibility"])
        if "allow_permanent_eligibility" in entry:
            eligibility["isExpirationRequired"] = not bool(entry["allow_permanent_eligibility"])
        self._toggle(rules["Enablement_EndUser_Assignment"], "Justification", entry.get("require_justification"))
        self._toggle(rules["Enablement_EndUser_Assignment"], "Ticketing", entry.get("require_ticket"))
        self._toggle(rules["Enablement_EndUser_Assignment"], "MultiFactorAuthentication", entry.get("require_mfa"))
        self._toggle(
            rules["Enablement_Admin_Assignment"], "Justification", entry.get("require_justification_on_assignment")
        )
        self._toggle(
            rules["Enablement_Admin_Assignment"], "MultiFactorAuthentication", entry.get("require_mfa_on_assignment")
        )
        setting = rules[APPROVAL_RULE]["setting"]
        if "require_approval" in entry:
            setting["isApprovalRequired"] = bool(entry["require_approval"])
        if "approvers" in entry:
            setting["approvalStages"][0]["primaryApprovers"] = [
                self._approver(str(a)) for a in entry.get("approvers") or []
            ]
        if "approval_timeout_days" in entry:
            setting["approvalStages"][0]["approvalStageTimeOutInDays"] = int(entry["approval_timeout_days"])
        if entry.get("authentication_context"):
            rules["AuthenticationContext_EndUser_Assignment"].update(
                {"isEnabled": True, "claimValue": str(entry["authentication_context"])}
            )

    @staticmethod
    def _toggle(rule: dict[str, Any], name: str, wanted: Any) -> None:
        if wanted is None:
            return
        enabled = [r for r in rule["enabledRules"] if r != name]
        if wanted:
            enabled.append(name)
        rule["enabledRules"] = enabled

    def _approver(self, name: str) -> dict[str, Any]:
        oid = self.world.principal_id(name)
        if oid is None:
            raise ScenarioError(f"scenario: policy approver {name!r} is not a declared principal")
        directory = self.world.directory
        if oid in directory.groups:
            return {
                "@odata.type": "#microsoft.graph.groupMembers",
                "groupId": oid,
                "description": directory.groups[oid].display_name,
            }
        return {"@odata.type": "#microsoft.graph.singleUser", "userId": oid, "description": directory.display_name(oid)}


_WRITE = {
    "DirectoryRole": ("RoleManagementPolicy.ReadWrite.Directory", "RoleManagement.ReadWrite.Directory"),
    "Group": ("RoleManagementPolicy.ReadWrite.AzureADGroup",),
}


# Properties a PATCH may change, per rule type (anything else in the body is ignored, as Graph does).
_MUTABLE = {
    "ExpirationRule": ("isExpirationRequired", "maximumDuration"),
    "EnablementRule": ("enabledRules",),
    "ApprovalRule": ("setting",),
    "AuthenticationContextRule": ("isEnabled", "claimValue"),
    "NotificationRule": (
        "notificationType",
        "recipientType",
        "notificationLevel",
        "isDefaultRecipientsEnabled",
        "notificationRecipients",
    ),
}


def _authorize_write(state: GraphState, caller: Caller, policy: Policy, now: datetime) -> None:
    require_scope(caller, _WRITE[policy.scope_type])
    if caller.is_app:
        return
    if policy.scope_type == "Group":
        allowed = is_group_manager(state.world, caller.object_id, policy.scope_id, policy.role_definition_id, now)
    else:
        allowed = is_directory_admin(state.world, caller.object_id, now)
    if not allowed:
        raise unauthorized()


def _update_rule(policy: Policy, rule_id: str, body: dict[str, Any]) -> None:
    current = policy.rules[rule_id]
    if str(body.get("@odata.type", "")).lower() != str(current["@odata.type"]).lower():
        # The service answers a body without the concrete rule type this way (observed).
        raise GraphError(500, "", "An error has occurred.")
    short = str(current["@odata.type"]).removeprefix("#microsoft.graph.unifiedRoleManagementPolicy")
    changes = {k: body[k] for k in _MUTABLE[short] if k in body}
    if "maximumDuration" in changes:
        try:
            parse_duration(str(changes["maximumDuration"]))
        except ValueError:
            raise GraphError(
                400,
                "BadRequest",
                f"The value '{changes['maximumDuration']}' is not a valid duration for maximumDuration.",
            ) from None
    if "enabledRules" in changes:
        values = changes["enabledRules"]
        if not isinstance(values, list) or any(v not in ENABLEMENT_TYPES for v in values):
            raise GraphError(400, "BadRequest", f"enabledRules may only contain {', '.join(ENABLEMENT_TYPES)}.")
    if "setting" in changes and not isinstance(changes["setting"], dict):
        raise GraphError(400, "BadRequest", "The approval rule's setting must be an object.")
    current.update(copy.deepcopy(changes))


def _touched(state: GraphState, policy: Policy, caller: Caller, now: datetime, rule_ids: list[str]) -> None:
    policy.last_modified = now
    policy.last_modified_by = {
        "displayName": state.world.directory.display_name(caller.object_id),
        "id": caller.object_id,
    }
    world_ = state.world
    if policy.scope_type == "Group":
        group = world_.directory.groups.get(policy.scope_id)
        target = {"id": policy.scope_id, "displayName": group.display_name if group else None, "type": "Group"}
        category = "GroupManagement"
    else:
        role = world_.directory.role_definitions.get(policy.role_definition_id)
        target = {"id": policy.role_definition_id, "displayName": role.display_name if role else None, "type": "Role"}
        category = "RoleManagement"
    world_.audit.record(
        when=now,
        activity="Update role setting in PIM",
        category=category,
        operation_type="Update",
        initiated_by=initiator_for(world_, caller),
        targets=[{**target, "userPrincipalName": None, "groupType": None, "modifiedProperties": []}],
        details={
            "AuditType": "UpdatePolicy",
            "PolicyId": policy.id,
            "RuleIds": ",".join(rule_ids),
            "tid": world_.tenant_id,
        },
        service="PIM",
    )


def update_rule(
    state: GraphState, caller: Caller, policy: Policy, rule_id: str, body: dict[str, Any], now: datetime
) -> None:
    """PATCH of one rule: what its type lets a PATCH change, validated; audited as an "Update role setting"."""
    _authorize_write(state, caller, policy, now)
    _update_rule(policy, rule_id, body)
    _touched(state, policy, caller, now, [rule_id])


def update_rules(state: GraphState, caller: Caller, policy: Policy, rules: Any, now: datetime) -> None:
    """PATCH of the policy with a `rules` list: each names an existing rule id."""
    _authorize_write(state, caller, policy, now)
    if not isinstance(rules, list) or not all(isinstance(r, dict) and r.get("id") in policy.rules for r in rules):
        raise GraphError(400, "BadRequest", "Each rule must be an object naming an existing rule id.")
    for r in rules:
        _update_rule(policy, str(r["id"]), r)
    _touched(state, policy, caller, now, [str(r["id"]) for r in rules])
