"""Routes of PIM: every entity set of PIM for Microsoft Entra roles and PIM for Groups.

PIM for Microsoft Entra roles under `/roleManagement/directory`: eligibility and assignment schedules,
their instances, and the schedule requests (every action, `isValidationOnly`, cancel,
`filterByCurrentUser(on='principal'|'createdBy'|'approver')`). Assignment instances include standing
(non-PIM) role assignments, as Graph's do.

PIM for Groups under `/identityGovernance/privilegedAccess/group`: eligibility and assignment schedules,
instances and requests for `member` and `owner` access. Lists need a `$filter` on `groupId` or
`principalId` (without one Graph answers an empty collection); `filterByCurrentUser` needs none. An active
assignment is a real group membership (or ownership), which ARM and Key Vault access checks follow.
"""

from __future__ import annotations

from starlette.routing import Route

from .handlers import EntitySet, routes_for

__all__ = ["DIRECTORY_SETS", "GROUP_SETS", "ROUTES"]

_DIRECTORY_BASE = "/roleManagement/directory"

DIRECTORY_SETS = (
    EntitySet(
        "directory",
        "eligibility",
        "schedules",
        f"{_DIRECTORY_BASE}/roleEligibilitySchedules",
        "unifiedRoleEligibilitySchedule",
    ),
    EntitySet(
        "directory",
        "eligibility",
        "instances",
        f"{_DIRECTORY_BASE}/roleEligibilityScheduleInstances",
        "unifiedRoleEligibilityScheduleInstance",
    ),
    EntitySet(
        "directory",
        "eligibility",
        "requests",
        f"{_DIRECTORY_BASE}/roleEligibilityScheduleRequests",
        "unifiedRoleEligibilityScheduleRequest",
    ),
    EntitySet(
        "directory",
        "assignment",
        "schedules",
        f"{_DIRECTORY_BASE}/roleAssignmentSchedules",
        "unifiedRoleAssignmentSchedule",
    ),
    EntitySet(
        "directory",
        "assignment",
        "instances",
        f"{_DIRECTORY_BASE}/roleAssignmentScheduleInstances",
        "unifiedRoleAssignmentScheduleInstance",
    ),
    EntitySet(
        "directory",
        "assignment",
        "requests",
        f"{_DIRECTORY_BASE}/roleAssignmentScheduleRequests",
        "unifiedRoleAssignmentScheduleRequest",
    ),
)


_GROUP_BASE = "/identityGovernance/privilegedAccess/group"

GROUP_SETS = (
    EntitySet(
        "group",
        "eligibility",
        "schedules",
        f"{_GROUP_BASE}/eligibilitySchedules",
        "privilegedAccessGroupEligibilitySchedule",
    ),
    EntitySet(
        "group",
        "eligibility",
        "instances",
        f"{_GROUP_BASE}/eligibilityScheduleInstances",
        "privilegedAccessGroupEligibilityScheduleInstance",
    ),
    EntitySet(
        "group",
        "eligibility",
        "requests",
        f"{_GROUP_BASE}/eligibilityScheduleRequests",
        "privilegedAccessGroupEligibilityScheduleRequest",
    ),
    EntitySet(
        "group",
        "assignment",
        "schedules",
        f"{_GROUP_BASE}/assignmentSchedules",
        "privilegedAccessGroupAssignmentSchedule",
    ),
    EntitySet(
        "group",
        "assignment",
        "instances",
        f"{_GROUP_BASE}/assignmentScheduleInstances",
        "privilegedAccessGroupAssignmentScheduleInstance",
    ),
    EntitySet(
        "group",
        "assignment",
        "requests",
        f"{_GROUP_BASE}/assignmentScheduleRequests",
        "privilegedAccessGroupAssignmentScheduleRequest",
    ),
)

ROUTES: list[Route] = [route for es in (*DIRECTORY_SETS, *GROUP_SETS) for route in routes_for(es)]
