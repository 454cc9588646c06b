"""PIM for Azure resources: eligibility schedules, assignment schedules, schedule requests and approvals, and
their ARM wire shapes (api-version 2020-10-01; approvals 2021-01-01-preview).

Active assignments themselves are plain core `RoleAssignment`s in `world.rbac.assignments` (that is what
ARM and Key Vault authorize against); an `AssignmentSchedule` is PIM's record of why one exists and until
when. Ids and types use the PascalCase segments the service returns (`RoleAssignmentScheduleRequests`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ....core.clock import format_time
from ....core.ids import stable_guid
from ....core.world import World
from .context import Scope, expanded_properties, role_definition_id

__all__ = [
    "ADMIN_TYPES",
    "ASSIGNMENT_REQUEST_TYPES",
    "PENDING_STATUSES",
    "Approval",
    "AssignmentSchedule",
    "EligibilitySchedule",
    "ScheduleRequest",
    "approval_id",
    "resource_id",
]

ASSIGNMENT_REQUEST_TYPES = (
    "AdminAssign",
    "AdminRemove",
    "AdminUpdate",
    "AdminExtend",
    "AdminRenew",
    "SelfActivate",
    "SelfDeactivate",
    "SelfExtend",
    "SelfRenew",
)
ADMIN_TYPES = frozenset(t for t in ASSIGNMENT_REQUEST_TYPES if t.startswith("Admin"))
# Requests a caller may still cancel, and that block a duplicate (`PendingRoleAssignmentRequest`).
PENDING_STATUSES = frozenset(
    {
        "Accepted",
        "PendingApproval",
        "PendingAdminDecision",
        "PendingProvisioning",
        "PendingApprovalProvisioning",
        "Granted",
        "PendingEvaluation",
    }
)


def resource_id(scope: Scope, type_segment: str, name: str) -> str:
    return f"{scope.prefix}/providers/Microsoft.Authorization/{type_segment}/{name}"


def approval_id(name: str) -> str:
    return f"/providers/Microsoft.Authorization/roleAssignmentApprovals/{name}"


@dataclass
class EligibilitySchedule:
    name: str
    scope: Scope
    role: str  # role definition GUID
    principal_id: str
    principal_type: str
    start: datetime
    end: datetime | None
    request_name: str
    created_on: datetime
    updated_on: datetime
    member_type: str = "Direct"
    condition: str | None = None
    condition_version: str | None = None
    ended: str | None = None  # "Revoked" (AdminRemove) or "Expired"; the schedule is gone from reads

    @property
    def id(self) -> str:
        return resource_id(self.scope, "RoleEligibilitySchedules", self.name)

    @property
    def instance_name(self) -> str:
        return stable_guid("eligibility-instance", self.name)

    def status(self, now: datetime) -> str:
        return self.ended or ("Provisioned" if self.start <= now else "Granted")

    def live(self, now: datetime) -> bool:
        """Listed by the schedule reads (not removed, not expired)."""
        return self.ended is None and (self.end is None or now < self.end)

    def active(self, now: datetime) -> bool:
        return self.live(now) and self.start <= now

    def _common(self, world: World, now: datetime) -> dict[str, Any]:
        return {
            "scope": self.scope.path,
            "roleDefinitionId": role_definition_id(self.scope, self.role),
            "principalId": self.principal_id,
            "principalType": self.principal_type,
            "status": self.status(now),
            "startDateTime": format_time(self.start),
            "endDateTime": format_time(self.end),
            "memberType": self.member_type,
            "condition": self.condition,
            "conditionVersion": self.condition_version,
            "createdOn": format_time(self.created_on),
            "expandedProperties": expanded_properties(world, self.scope, self.role, self.principal_id),
        }

    def to_arm(self, world: World, now: datetime) -> dict[str, Any]:
        props = self._common(world, now)
        props["roleEligibilityScheduleRequestId"] = resource_id(
            self.scope, "RoleEligibilityScheduleRequests", self.request_name
        )
        props["updatedOn"] = format_time(self.updated_on)
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Authorization/RoleEligibilitySchedules",
            "properties": props,
        }

    def instance_to_arm(self, world: World, now: datetime) -> dict[str, Any]:
        props = self._common(world, now)
        props["roleEligibilityScheduleId"] = self.id
        return {
            "id": resource_id(self.scope, "RoleEligibilityScheduleInstances", self.instance_name),
            "name": self.instance_name,
            "type": "Microsoft.Authorization/RoleEligibilityScheduleInstances",
            "properties": props,
        }


@dataclass
class AssignmentSchedule:
    """PIM's record of a time-bound (or permanent) active assignment it created."""

    name: str
    scope: Scope
    role: str
    principal_id: str
    principal_type: str
    request_name: str | None
    assignment_type: str  # "Activated" (from an eligibility) or "Assigned" (admin)
    start: datetime
    end: datetime | None
    created_on: datetime
    updated_on: datetime
    linked_eligibility_id: str | None = None
    role_assignment_name: str | None = None  # the core RoleAssignment once it exists
    member_type: str = "Direct"
    condition: str | None = None
    condition_version: str | None = None
    ended: str | None = None  # "Revoked" or "Expired"

    @property
    def id(self) -> str:
        return resource_id(self.scope, "RoleAssignmentSchedules", self.name)

    @property
    def instance_name(self) -> str:
        return stable_guid("assignment-instance", self.name)

    def status(self, now: datetime) -> str:
        return self.ended or ("Provisioned" if self.start <= now else "Granted")

    def live(self, now: datetime) -> bool:
        return self.ended is None and (self.end is None or now < self.end)

    def _common(self, world: World, now: datetime) -> dict[str, Any]:
        return {
            "scope": self.scope.path,
            "roleDefinitionId": role_definition_id(self.scope, self.role),
            "principalId": self.principal_id,
            "principalType": self.principal_type,
            "status": self.status(now),
            "startDateTime": format_time(self.start),
            "endDateTime": format_time(self.end),
            "linkedRoleEligibilityScheduleId": self.linked_eligibility_id,
            "assignmentType": self.assignment_type,
            "memberType": self.member_type,
            "condition": self.condition,
            "conditionVersion": self.condition_version,
            "createdOn": format_time(self.created_on),
            "expandedProperties": expanded_properties(world, self.scope, self.role, self.principal_id),
        }

    def to_arm(self, world: World, now: datetime) -> dict[str, Any]:
        props = self._common(world, now)
        props["roleAssignmentScheduleRequestId"] = (
            resource_id(self.scope, "RoleAssignmentScheduleRequests", self.request_name) if self.request_name else None
        )
        props["updatedOn"] = format_time(self.updated_on)
        return {
            "id": self.id,
            "name": self.name,
            "type": "Microsoft.Authorization/RoleAssignmentSchedules",
            "properties": props,
        }

    def instance_to_arm(self, world: World, now: datetime, origin_id: str | None) -> dict[str, Any]:
        props = self._common(world, now)
        props["roleAssignmentScheduleId"] = self.id
        props["originRoleAssignmentId"] = origin_id
        props["linkedRoleEligibilityScheduleInstanceId"] = None
        if self.linked_eligibility_id:
            eligibility_name = self.linked_eligibility_id.rsplit("/", 1)[-1]
            props["linkedRoleEligibilityScheduleInstanceId"] = (
                self.linked_eligibility_id.rsplit("/", 2)[0]
                + "/RoleEligibilityScheduleInstances/"
                + stable_guid("eligibility-instance", eligibility_name)
            )
        return {
            "id": resource_id(self.scope, "RoleAssignmentScheduleInstances", self.instance_name),
            "name": self.instance_name,
            "type": "Microsoft.Authorization/RoleAssignmentScheduleInstances",
            "properties": props,
        }


@dataclass
class ScheduleRequest:
    """A roleAssignmentScheduleRequest (`kind="assignment"`) or roleEligibilityScheduleRequest."""

    kind: str
    name: str
    scope: Scope
    role: str
    principal_id: str
    principal_type: str
    request_type: str
    status: str
    requestor_id: str
    created_on: datetime
    justification: str | None = None
    ticket_info: dict[str, Any] | None = None
    start: datetime | None = None
    expiration_type: str | None = None
    duration: str | None = None
    end_requested: datetime | None = None
    # The window to grant when the request is carried out (activation starts at approval, not at request).
    window: timedelta | None = None
    linked_eligibility_id: str | None = None
    target_schedule_id: str | None = None
    target_instance_id: str | None = None
    condition: str | None = None
    condition_version: str | None = None
    approval_name: str | None = None
    provision_at: datetime | None = None
    completed_on: datetime | None = None

    @property
    def type_segment(self) -> str:
        return "RoleAssignmentScheduleRequests" if self.kind == "assignment" else "RoleEligibilityScheduleRequests"

    @property
    def id(self) -> str:
        return resource_id(self.scope, self.type_segment, self.name)

    def to_arm(self, world: World) -> dict[str, Any]:
        schedule_info: dict[str, Any] | None = None
        if self.start is not None or self.expiration_type is not None:
            schedule_info = {
                "startDateTime": format_time(self.start),
                "expiration": {
                    "type": self.expiration_type,
                    "endDateTime": format_time(self.end_requested),
                    "duration": self.duration,
                },
            }
        props: dict[str, Any] = {
            "scope": self.scope.path,
            "roleDefinitionId": role_definition_id(self.scope, self.role),
            "principalId": self.principal_id,
            "principalType": self.principal_type,
            "requestType": self.request_type,
            "status": self.status,
            "approvalId": approval_id(self.approval_name) if self.approval_name else None,
            "scheduleInfo": schedule_info,
            "justification": self.justification,
            "ticketInfo": self.ticket_info,
            "condition": self.condition,
            "conditionVersion": self.condition_version,
            "createdOn": format_time(self.created_on),
            "requestorId": self.requestor_id,
            "expandedProperties": expanded_properties(world, self.scope, self.role, self.principal_id),
        }
        if self.kind == "assignment":
            props["targetRoleAssignmentScheduleId"] = self.target_schedule_id
            props["targetRoleAssignmentScheduleInstanceId"] = self.target_instance_id
            props["linkedRoleEligibilityScheduleId"] = self.linked_eligibility_id
        else:
            props["targetRoleEligibilityScheduleId"] = self.target_schedule_id
            props["targetRoleEligibilityScheduleInstanceId"] = self.target_instance_id
        return {
            "id": self.id,
            "name": self.name,
            "type": f"Microsoft.Authorization/{self.type_segment}",
            "properties": props,
        }


@dataclass
class Approval:
    """The single-stage approval of a PendingApproval activation; its id and stage id equal the request name."""

    name: str
    request_name: str
    scope: Scope
    approvers: list[dict[str, Any]]  # primaryApprovers of the policy: {id, userType, ...}
    created_on: datetime
    expires_on: datetime
    stage_status: str = "InProgress"
    review_result: str = "NotReviewed"
    reviewed_by: str | None = None
    reviewed_on: datetime | None = None
    justification: str | None = None

    @property
    def stage_name(self) -> str:
        return self.name

    def stage_to_arm(self, world: World, assigned_to_me: bool) -> dict[str, Any]:
        reviewer: dict[str, Any] | None = None
        if self.reviewed_by:
            kind = world.directory.principal_kind(self.reviewed_by)
            user = world.directory.users.get(self.reviewed_by)
            reviewer = {
                "principalId": self.reviewed_by,
                "principalType": "user" if kind == "User" else "servicePrincipal",
                "principalName": world.directory.display_name(self.reviewed_by),
                "userPrincipalName": user.user_principal_name if user else None,
            }
        return {
            "id": f"{approval_id(self.name)}/stages/{self.stage_name}",
            "name": self.stage_name,
            "type": "Microsoft.Authorization/roleAssignmentApprovals/stages",
            "properties": {
                "displayName": "Approval stage 1",
                "status": self.stage_status,
                "assignedToMe": assigned_to_me,
                "reviewedBy": reviewer,
                "reviewedDateTime": format_time(self.reviewed_on),
                "reviewResult": self.review_result,
                "justification": self.justification or "",
            },
        }

    def to_arm(self, world: World, assigned_to_me: bool) -> dict[str, Any]:
        return {
            "id": approval_id(self.name),
            "name": self.name,
            "type": "Microsoft.Authorization/roleAssignmentApprovals",
            "properties": {"stages": [self.stage_to_arm(world, assigned_to_me)]},
        }
