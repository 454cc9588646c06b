"""PIM for Groups under `/identityGovernance/privilegedAccess/group`: eligibility and assignment schedules,
instances and requests for `member` and `owner` access. Lists need a `$filter` on `groupId` or
`principalId` (without one Graph answers an empty collection); `filterByCurrentUser` needs none. An active
assignment is a real group membership (or ownership), which ARM and Key Vault access checks follow.
"""

from __future__ import annotations

from starlette.routing import Route

from .pim_endpoints import EntitySet, routes_for

__all__ = ["ENTITY_SETS", "ROUTES"]

_BASE = "/identityGovernance/privilegedAccess/group"

ENTITY_SETS = (
    EntitySet(
        "group", "eligibility", "schedules", f"{_BASE}/eligibilitySchedules", "privilegedAccessGroupEligibilitySchedule"
    ),
    EntitySet(
        "group",
        "eligibility",
        "instances",
        f"{_BASE}/eligibilityScheduleInstances",
        "privilegedAccessGroupEligibilityScheduleInstance",
    ),
    EntitySet(
        "group",
        "eligibility",
        "requests",
        f"{_BASE}/eligibilityScheduleRequests",
        "privilegedAccessGroupEligibilityScheduleRequest",
    ),
    EntitySet(
        "group", "assignment", "schedules", f"{_BASE}/assignmentSchedules", "privilegedAccessGroupAssignmentSchedule"
    ),
    EntitySet(
        "group",
        "assignment",
        "instances",
        f"{_BASE}/assignmentScheduleInstances",
        "privilegedAccessGroupAssignmentScheduleInstance",
    ),
    EntitySet(
        "group",
        "assignment",
        "requests",
        f"{_BASE}/assignmentScheduleRequests",
        "privilegedAccessGroupAssignmentScheduleRequest",
    ),
)

ROUTES: list[Route] = [route for es in ENTITY_SETS for route in routes_for(es)]
