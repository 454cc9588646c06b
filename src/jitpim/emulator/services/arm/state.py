"""State of the emulated ARM PIM: eligibilities, PIM assignment schedules, requests, approvals, policies.

The lifecycle that follows the emulated clock lives here too (`tick`): provisioning delays, future starts,
expiry at `endDateTime`, approval time-outs. Every change happens under `world.lock` (ticks run under it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ...core.audit import SYSTEM, Initiator
from ...core.clock import format_time, parse_time
from ...core.durations import parse_duration
from ...core.ids import new_guid, stable_guid
from ...core.rbac import RoleAssignment
from ...core.scenario import ScenarioError, scope_of
from ...core.tokens import Caller
from ...core.world import World
from .common.context import Scope, parse_scope
from .common.models import Approval, AssignmentSchedule, EligibilitySchedule, ScheduleRequest
from .policies.models import PolicyStore

__all__ = ["ArmState", "attach", "initiator_of"]


def initiator_of(world: World, caller: Caller) -> Initiator:
    if caller.is_app:
        return Initiator("app", caller.object_id, world.directory.display_name(caller.object_id), app_id=caller.app_id)
    user = world.directory.users.get(caller.object_id)
    return Initiator(
        "user", caller.object_id, user.display_name if user else None, user.user_principal_name if user else None
    )


class ArmState:
    def __init__(self, world: World) -> None:
        self.world = world
        self.eligibilities: dict[str, EligibilitySchedule] = {}
        self.schedules: dict[str, AssignmentSchedule] = {}
        self.requests: dict[str, ScheduleRequest] = {}  # roleAssignmentScheduleRequests by name
        self.eligibility_requests: dict[str, ScheduleRequest] = {}
        self.approvals: dict[str, Approval] = {}
        self.policies = PolicyStore(world)

    # seeding ------------------------------------------------------------------------------------
    def seed(self, now: datetime) -> None:
        long_ago = now - timedelta(days=30)
        for i, entry in enumerate(self.world.scenario.get("eligibilities") or []):
            if entry.get("kind") != "azure-role":
                continue
            where = f"azure-role eligibility #{i + 1}"
            principal = self.world.principal_id(str(entry.get("principal", "")))
            if principal is None:
                raise ScenarioError(f"scenario: {where} names unknown principal {entry.get('principal')!r}")
            definition = self.world.rbac.definition(str(entry.get("role", "")))
            if definition is None:
                raise ScenarioError(f"scenario: {where} names unknown Azure role {entry.get('role')!r}")
            raw_scope = scope_of(str(entry.get("scope") or self.world.subscription_scope), self.world)
            scope = parse_scope(self.world, raw_scope)
            if not self.world.scope_exists(scope.path):
                raise ScenarioError(f"scenario: {where} scope {raw_scope} does not exist")
            start = parse_time(str(entry["start"])) if entry.get("start") else long_ago
            end = parse_time(str(entry["end"])) if entry.get("end") else None
            if entry.get("duration"):
                end = now + parse_duration(str(entry["duration"]))
            name = str(
                entry.get("id")
                or stable_guid(
                    self.world.tenant_id, "eligibility", str(i), principal, definition.id, scope.path.lower()
                )
            )
            self.eligibilities[name] = EligibilitySchedule(
                name=name,
                scope=scope,
                role=definition.id,
                principal_id=principal,
                principal_type=self.world.directory.principal_kind(principal) or "User",
                start=start,
                end=end,
                request_name=stable_guid(name, "seed-request"),
                created_on=long_ago,
                updated_on=long_ago,
            )

    # active assignments -------------------------------------------------------------------------
    def materialise(self, schedule: AssignmentSchedule, now: datetime, requestor: str | None) -> RoleAssignment:
        """Create the core role assignment a started schedule stands for."""
        assignment = RoleAssignment(
            name=new_guid(),
            scope=schedule.scope.path,
            role_definition_id=schedule.role,
            principal_id=schedule.principal_id,
            principal_type=schedule.principal_type,
            created_on=now,
            created_by=requestor,
            end=schedule.end,
            schedule_id=schedule.name,
            condition=schedule.condition,
            condition_version=schedule.condition_version,
        )
        self.world.rbac.assignments[assignment.name.lower()] = assignment
        schedule.role_assignment_name = assignment.name
        return assignment

    def end_schedule(self, schedule: AssignmentSchedule, reason: str, now: datetime, initiator: Initiator) -> None:
        """Remove a schedule's role assignment and retire it (`Revoked` or `Expired`)."""
        if schedule.role_assignment_name:
            self.world.rbac.assignments.pop(schedule.role_assignment_name.lower(), None)
        schedule.ended = reason
        schedule.updated_on = now
        activity = (
            "Remove member from role (PIM activation expired)"
            if reason == "Expired" and schedule.assignment_type == "Activated"
            else "Remove member from role (PIM assignment expired)"
            if reason == "Expired"
            else "Remove member from role completed (PIM deactivate)"
            if schedule.assignment_type == "Activated"
            else "Remove member from role completed (timebound)"
        )
        self.audit(activity, schedule.scope, schedule.role, schedule.principal_id, initiator, now)

    def grant(
        self, request: ScheduleRequest, now: datetime, initiator: Initiator, linked_eligibility_id: str | None = None
    ) -> AssignmentSchedule:
        """Carry out an approved/accepted AdminAssign, AdminRenew or SelfActivate: create its schedule, and the
        role assignment when the window has started. Activation windows start when the request is carried out."""
        start = request.start if request.start is not None and request.start > now else now
        if request.expiration_type == "AfterDateTime" and request.end_requested is not None:
            end: datetime | None = request.end_requested
        else:
            end = start + request.window if request.window is not None else None
        if request.request_type == "SelfActivate":
            request.start = start
        name = new_guid()
        schedule = AssignmentSchedule(
            name=name,
            scope=request.scope,
            role=request.role,
            principal_id=request.principal_id,
            principal_type=request.principal_type,
            request_name=request.name,
            assignment_type="Activated" if request.request_type == "SelfActivate" else "Assigned",
            start=start,
            end=end,
            created_on=now,
            updated_on=now,
            linked_eligibility_id=linked_eligibility_id,
            condition=request.condition,
            condition_version=request.condition_version,
        )
        self.schedules[name] = schedule
        request.target_schedule_id = name
        request.target_instance_id = schedule.instance_name
        request.completed_on = now
        if start <= now:
            self.materialise(schedule, now, request.requestor_id)
            request.status = "Provisioned"
        else:
            request.status = "Granted"
        activity = (
            "Add member to role completed (PIM activation)"
            if request.request_type == "SelfActivate"
            else "Add member to role in PIM completed (timebound)"
            if end is not None
            else "Add member to role in PIM completed (permanent)"
        )
        self.audit(
            activity,
            request.scope,
            request.role,
            request.principal_id,
            initiator,
            now,
            justification=request.justification,
        )
        return schedule

    def audit(
        self,
        activity: str,
        scope: Scope,
        role: str,
        principal_id: str,
        initiator: Initiator,
        now: datetime,
        *,
        result: str = "success",
        justification: str | None = None,
    ) -> None:
        definition = self.world.rbac.definitions.get(role)
        directory = self.world.directory
        details = {"RoleDefinitionOriginId": role, "ResourceId": scope.path}
        if justification:
            details["Justification"] = justification
        self.world.audit.record(
            when=now,
            activity=activity,
            category="ResourceManagement",
            operation_type="Assign" if activity.startswith("Add") else "Unassign",
            initiated_by=initiator,
            targets=[
                {
                    "id": role,
                    "displayName": definition.role_name if definition else None,
                    "type": "Role",
                    "userPrincipalName": None,
                    "modifiedProperties": [],
                    "groupType": None,
                },
                {
                    "id": principal_id,
                    "displayName": directory.display_name(principal_id),
                    "type": directory.principal_kind(principal_id) or "User",
                    "userPrincipalName": None,
                    "modifiedProperties": [],
                    "groupType": None,
                },
                {
                    "id": scope.path,
                    "displayName": scope.path.rsplit("/", 1)[-1] or "/",
                    "type": "Other",
                    "userPrincipalName": None,
                    "modifiedProperties": [],
                    "groupType": None,
                },
            ],
            result=result,
            details=details,
        )

    # the clock ----------------------------------------------------------------------------------
    def tick(self, now: datetime) -> None:
        for request in list(self.requests.values()):
            if request.status == "Accepted" and request.provision_at is not None and request.provision_at <= now:
                request.provision_at = None
                self.grant(request, now, SYSTEM, request.linked_eligibility_id)
        for schedule in list(self.schedules.values()):
            if schedule.ended:
                continue
            if schedule.role_assignment_name is None and schedule.start <= now and schedule.live(now):
                self.materialise(schedule, now, None)
                if schedule.request_name in self.requests:
                    self.requests[schedule.request_name].status = "Provisioned"
            elif (
                schedule.role_assignment_name is not None
                and schedule.role_assignment_name.lower() not in self.world.rbac.assignments
                and schedule.live(now)
            ):
                # The role assignment was deleted directly (roleAssignments DELETE): PIM drops the schedule.
                schedule.ended = "Revoked"
                schedule.updated_on = now
            if schedule.ended is None and schedule.end is not None and schedule.end <= now:
                self.end_schedule(schedule, "Expired", now, SYSTEM)
        for eligibility in self.eligibilities.values():
            if eligibility.ended is None and eligibility.end is not None and eligibility.end <= now:
                eligibility.ended = "Expired"
                eligibility.updated_on = now
        for approval in self.approvals.values():
            if approval.stage_status == "InProgress" and approval.expires_on <= now:
                approval.stage_status = "Expired"
                waiting = self.requests.get(approval.request_name)
                if waiting is not None and waiting.status == "PendingApproval":
                    waiting.status = "TimedOut"
                    waiting.completed_on = now

    # the control plane's state dump ---------------------------------------------------------------
    def dump(self, now: datetime) -> dict[str, Any]:
        definitions = self.world.rbac.definitions

        def role(guid: str) -> str | None:
            return definitions[guid].role_name if guid in definitions else None

        return {
            "eligibility_schedules": [
                {
                    "name": e.name,
                    "scope": e.scope.path,
                    "role": role(e.role),
                    "role_definition_id": e.role,
                    "principal_id": e.principal_id,
                    "status": e.status(now),
                    "start": format_time(e.start),
                    "end": format_time(e.end),
                    "active": e.active(now),
                }
                for e in self.eligibilities.values()
            ],
            "assignment_schedules": [
                {
                    "name": s.name,
                    "scope": s.scope.path,
                    "role": role(s.role),
                    "role_definition_id": s.role,
                    "principal_id": s.principal_id,
                    "assignment_type": s.assignment_type,
                    "status": s.status(now),
                    "start": format_time(s.start),
                    "end": format_time(s.end),
                    "role_assignment": s.role_assignment_name,
                    "linked_eligibility_id": s.linked_eligibility_id,
                }
                for s in self.schedules.values()
            ],
            "requests": [
                {
                    "kind": r.kind,
                    "name": r.name,
                    "request_type": r.request_type,
                    "status": r.status,
                    "scope": r.scope.path,
                    "role": role(r.role),
                    "principal_id": r.principal_id,
                    "requestor_id": r.requestor_id,
                    "created_on": format_time(r.created_on),
                    "justification": r.justification,
                    "approval": r.approval_name,
                    "target_schedule": r.target_schedule_id,
                }
                for r in [*self.requests.values(), *self.eligibility_requests.values()]
            ],
            "approvals": [
                {
                    "name": a.name,
                    "request": a.request_name,
                    "status": a.stage_status,
                    "review_result": a.review_result,
                    "reviewed_by": a.reviewed_by,
                    "reviewed_on": format_time(a.reviewed_on),
                    "expires_on": format_time(a.expires_on),
                }
                for a in self.approvals.values()
            ],
            "modified_policies": [
                {
                    "name": p.name,
                    "scope": p.scope.path,
                    "role": role(p.role),
                    "last_modified_by": p.last_modified_by,
                    "last_modified": format_time(p.last_modified),
                }
                for p in self.policies.policies.values()
                if p.last_modified is not None
            ],
        }


def attach(world: World) -> None:
    state = ArmState(world)
    state.seed(world.clock.now())
    world.attach("arm", state)
    world.on_tick(state.tick)
