"""PIM for Microsoft Entra roles under `/roleManagement/directory`: eligibility and assignment schedules,
their instances, and the schedule requests (every action, `isValidationOnly`, cancel,
`filterByCurrentUser(on='principal'|'createdBy'|'approver')`). Assignment instances include standing
(non-PIM) role assignments, as Graph's do.
"""

from __future__ import annotations

from starlette.routing import Route

from .pim_endpoints import EntitySet, routes_for

__all__ = ["ENTITY_SETS", "ROUTES"]

_BASE = "/roleManagement/directory"

ENTITY_SETS = (
    EntitySet(
        "directory", "eligibility", "schedules", f"{_BASE}/roleEligibilitySchedules", "unifiedRoleEligibilitySchedule"
    ),
    EntitySet(
        "directory",
        "eligibility",
        "instances",
        f"{_BASE}/roleEligibilityScheduleInstances",
        "unifiedRoleEligibilityScheduleInstance",
    ),
    EntitySet(
        "directory",
        "eligibility",
        "requests",
        f"{_BASE}/roleEligibilityScheduleRequests",
        "unifiedRoleEligibilityScheduleRequest",
    ),
    EntitySet(
        "directory", "assignment", "schedules", f"{_BASE}/roleAssignmentSchedules", "unifiedRoleAssignmentSchedule"
    ),
    EntitySet(
        "directory",
        "assignment",
        "instances",
        f"{_BASE}/roleAssignmentScheduleInstances",
        "unifiedRoleAssignmentScheduleInstance",
    ),
    EntitySet(
        "directory",
        "assignment",
        "requests",
        f"{_BASE}/roleAssignmentScheduleRequests",
        "unifiedRoleAssignmentScheduleRequest",
    ),
)

ROUTES: list[Route] = [route for es in ENTITY_SETS for route in routes_for(es)]
