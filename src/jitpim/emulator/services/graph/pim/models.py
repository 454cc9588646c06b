"""What Graph PIM keeps: schedules (eligible or active, for a directory role or a group membership), the
requests that create and end them, and their JSON shapes.

Directory roles and PIM for Groups share one model: a `Target` names the principal, the resource (a role
definition id or a group id) and the scope (a directory scope id such as `/`, or a group access id,
`member` or `owner`). Only the JSON shapes and the id formats differ between the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ....core.clock import format_time

__all__ = [
    "ACTIONS",
    "CANCELLABLE",
    "PENDING",
    "Approval",
    "Creator",
    "Kind",
    "Level",
    "Schedule",
    "ScheduleRequest",
    "Target",
    "group_instance_id",
    "request_json",
    "schedule_info_json",
]

Kind = Literal["directory", "group"]
Level = Literal["eligibility", "assignment"]

# `unifiedRoleScheduleRequestActions` / `scheduleRequestActions`, in the camelCase the service emits.
ACTIONS = (
    "adminAssign",
    "adminUpdate",
    "adminRemove",
    "selfActivate",
    "selfDeactivate",
    "adminExtend",
    "adminRenew",
    "selfExtend",
    "selfRenew",
)
# Request statuses that still wait for someone (an approver, an administrator, the clock).
PENDING = frozenset(
    {
        "PendingApproval",
        "PendingApprovalProvisioning",
        "PendingAdminDecision",
        "PendingProvisioning",
        "PendingScheduleCreation",
    }
)
# Cancel is allowed from these; `Provisioned`, `Failed`, `Revoked`, ... answer 400.
CANCELLABLE = PENDING | {"Granted"}


@dataclass(frozen=True)
class Target:
    """What a schedule grants: principal + role definition + directory scope, or principal + group + access."""

    kind: Kind
    principal_id: str
    resource_id: str  # role definition id (directory) or group id (group)
    scope: str  # directory scope id (directory) or access id `member`/`owner` (group)

    def same(self, other: Target) -> bool:
        return (
            self.kind == other.kind
            and self.principal_id.lower() == other.principal_id.lower()
            and self.resource_id.lower() == other.resource_id.lower()
            and self.scope.lower() == other.scope.lower()
        )


@dataclass(frozen=True)
class Creator:
    """The caller that created a request (`createdBy`)."""

    object_id: str
    is_app: bool
    app_id: str | None
    display_name: str | None = None

    def to_graph(self) -> dict[str, Any]:
        if self.is_app:
            return {
                "application": {"displayName": self.display_name, "id": self.app_id},
                "device": None,
                "user": None,
            }
        return {"application": None, "device": None, "user": {"displayName": None, "id": self.object_id}}


@dataclass
class Schedule:
    """An eligible or active assignment over time. `state` follows the clock: scheduled (future start) ->
    active -> ended (expired, revoked or canceled); ended schedules leave the read models."""

    id: str
    level: Level
    target: Target
    start: datetime
    end: datetime | None
    expiration_type: str  # noExpiration | afterDateTime | afterDuration
    duration: str | None
    created: datetime
    created_using: str
    modified: datetime | None = None
    assignment_type: Literal["Assigned", "Activated"] = "Assigned"
    activated_using: str | None = None  # eligibility schedule id of an activation
    state: Literal["scheduled", "active", "ended"] = "scheduled"
    ended_reason: str | None = None  # expired | revoked | canceled | replaced
    ended_at: datetime | None = None
    request_id: str | None = None

    def live(self, now: datetime) -> bool:
        """Scheduled or active and not yet past its end (what `RoleAssignmentExists` looks at)."""
        return self.state != "ended" and (self.end is None or now < self.end)

    def active_at(self, now: datetime) -> bool:
        return self.state != "ended" and self.start <= now and (self.end is None or now < self.end)

    def status(self) -> str:
        return "Provisioned" if self.state == "active" else "Granted" if self.state == "scheduled" else "Expired"


@dataclass
class ScheduleRequest:
    id: str
    level: Level
    target: Target
    action: str
    status: str
    created: datetime
    created_by: Creator
    completed: datetime | None = None
    justification: str | None = None
    ticket_info: dict[str, Any] | None = None
    schedule_info: dict[str, Any] | None = None  # as echoed back (normalised)
    is_validation_only: bool = False
    target_schedule_id: str | None = None
    approval_id: str | None = None
    custom_data: str | None = None
    app_scope_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    correlation_id: str = ""
    activated_using: str | None = None
    had_mfa: bool = False
    details: dict[str, str] = field(default_factory=dict)

    @property
    def time_bound(self) -> bool:
        return self.end is not None


def group_instance_id(group_id: str, access_id: str, principal_id: str) -> str:
    return f"{group_id}_{access_id}_{principal_id}"


def schedule_info_json(
    start: datetime | None, expiration_type: str, end: datetime | None, duration: str | None
) -> dict[str, Any]:
    return {
        "startDateTime": format_time(start),
        "recurrence": None,
        "expiration": {
            "type": expiration_type,
            "endDateTime": format_time(end) if expiration_type == "afterDateTime" else None,
            "duration": duration if expiration_type == "afterDuration" else None,
        },
    }


def request_json(req: ScheduleRequest) -> dict[str, Any]:
    """A directory `unifiedRole*ScheduleRequest` or a group `privilegedAccessGroup*ScheduleRequest`."""
    data: dict[str, Any] = {
        "id": req.id,
        "status": req.status,
        "createdDateTime": format_time(req.created),
        "completedDateTime": format_time(req.completed),
        "approvalId": req.approval_id,
        "customData": req.custom_data,
        "createdBy": req.created_by.to_graph(),
        "action": req.action,
        "principalId": req.target.principal_id,
    }
    if req.target.kind == "directory":
        data["roleDefinitionId"] = req.target.resource_id
        data["directoryScopeId"] = req.target.scope
        data["appScopeId"] = req.app_scope_id
    else:
        data["accessId"] = req.target.scope
        data["groupId"] = req.target.resource_id
    data.update(
        {
            "isValidationOnly": req.is_validation_only,
            "targetScheduleId": req.target_schedule_id,
            "justification": req.justification,
            "scheduleInfo": req.schedule_info,
            "ticketInfo": req.ticket_info or {"ticketNumber": None, "ticketSystem": None},
        }
    )
    return data


@dataclass
class Approval:
    """A single-stage approval of a request; its id, and its stage's id, equal the request id."""

    id: str
    kind: Kind
    approvers: frozenset[str] | None  # lower-case object ids; None = the default approvers (PRA / GA)
    deadline: datetime
    status: str = "InProgress"  # InProgress | Completed | Expired
    review_result: str = "NotReviewed"  # NotReviewed | Approve | Deny
    justification: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None

    @property
    def decided(self) -> bool:
        return self.status != "InProgress"
