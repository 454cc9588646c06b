"""Graph PIM routes: directory-role PIM, PIM for Groups, approvals, role-management policies and the
directory audit log. Reference: docs/reference/emulator-graph-pim.md.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from . import approvals, audit_routes, pim_directory, pim_groups, policy_routes

__all__ = ["ROUTES"]

# Approvals first: their v1.0 "segment not found" catch-all must win over nothing else, and the
# `filterByCurrentUser(...)` keys of the entity sets are matched inside their `/{key}` handlers.
ROUTES: list[BaseRoute] = [
    *approvals.ROUTES,
    *pim_directory.ROUTES,
    *pim_groups.ROUTES,
    *policy_routes.ROUTES,
    *audit_routes.ROUTES,
]
