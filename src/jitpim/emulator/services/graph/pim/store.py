"""The Graph PIM state object (`GraphState`) and the lookups every PIM module shares.

Schedules and requests of both kinds (directory roles, groups) and both levels (eligibility, assignment)
live in one store; what a schedule grants is materialised in the core directory (`world.directory`), so the
read models also show standing (non-PIM) role assignments and group memberships.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ....core.clock import format_time
from ....core.directory import DirectoryRoleAssignment, Membership
from ....core.world import World
from ..policies.backend import PolicyStore
from .models import PENDING, Approval, Level, Schedule, ScheduleRequest, Target

__all__ = ["GraphState", "standing_assignment"]


class GraphState:
    def __init__(self, world: World) -> None:
        self.world = world
        self.schedules: dict[str, Schedule] = {}
        self.requests: dict[str, ScheduleRequest] = {}
        self.approvals: dict[str, Approval] = {}
        self.policies = PolicyStore(world)

    # lookups -------------------------------------------------------------------------------------------
    def live_schedules(self, level: Level, target: Target, now: datetime) -> list[Schedule]:
        return [s for s in self.schedules.values() if s.level == level and s.target.same(target) and s.live(now)]

    def ended_schedules(self, level: Level, target: Target) -> list[Schedule]:
        return [s for s in self.schedules.values() if s.level == level and s.target.same(target) and s.state == "ended"]

    def pending_requests(self, level: Level, target: Target) -> list[ScheduleRequest]:
        return [r for r in self.requests.values() if r.level == level and r.target.same(target) and r.status in PENDING]

    def schedules_of(self, kind: str, level: Level, now: datetime) -> list[Schedule]:
        return [s for s in self.schedules.values() if s.target.kind == kind and s.level == level and s.live(now)]

    def requests_of(self, kind: str, level: Level) -> list[ScheduleRequest]:
        return [r for r in self.requests.values() if r.target.kind == kind and r.level == level]

    def eligibility_for(self, target: Target, now: datetime) -> Schedule | None:
        """The eligibility a selfActivate of `target` uses: same principal, resource and exact scope, valid now."""
        return next((s for s in self.live_schedules("eligibility", target, now) if s.active_at(now)), None)

    # dump ----------------------------------------------------------------------------------------------
    def dump(self, now: datetime) -> dict[str, Any]:
        def target(t: Target) -> dict[str, str]:
            return {"kind": t.kind, "principal_id": t.principal_id, "resource_id": t.resource_id, "scope": t.scope}

        return {
            "schedules": [
                {
                    "id": s.id,
                    "level": s.level,
                    **target(s.target),
                    "state": s.state,
                    "assignment_type": s.assignment_type,
                    "start": format_time(s.start),
                    "end": format_time(s.end),
                    "ended_reason": s.ended_reason,
                    "active": s.active_at(now),
                }
                for s in self.schedules.values()
            ],
            "requests": [
                {
                    "id": r.id,
                    "level": r.level,
                    **target(r.target),
                    "action": r.action,
                    "status": r.status,
                    "created": format_time(r.created),
                    "target_schedule_id": r.target_schedule_id,
                }
                for r in self.requests.values()
            ],
            "approvals": [
                {
                    "id": a.id,
                    "status": a.status,
                    "review_result": a.review_result,
                    "deadline": format_time(a.deadline),
                    "reviewed_by": a.reviewed_by,
                }
                for a in self.approvals.values()
            ],
            "policies": [
                {
                    "id": p.id,
                    "scope_type": p.scope_type,
                    "scope_id": p.scope_id,
                    "role_definition_id": p.role_definition_id,
                    "last_modified": format_time(p.last_modified),
                }
                for p in self.policies.policies.values()
            ],
        }


def standing_assignment(world: World, target: Target, now: datetime) -> DirectoryRoleAssignment | Membership | None:
    """A non-PIM role assignment or group membership that grants exactly `target` now."""
    if target.kind == "directory":
        return next(
            (
                a
                for a in world.directory.role_assignments
                if a.source == "standing"
                and a.principal_id.lower() == target.principal_id.lower()
                and a.role_definition_id.lower() == target.resource_id.lower()
                and a.directory_scope_id == target.scope
                and a.active(now)
            ),
            None,
        )
    group = world.directory.groups.get(target.resource_id)
    if group is None:
        return None
    table = group.owners if target.scope == "owner" else group.members
    membership = table.get(target.principal_id)
    if membership is not None and membership.source == "standing" and membership.active(now):
        return membership
    return None
