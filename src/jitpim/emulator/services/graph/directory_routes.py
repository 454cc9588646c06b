"""Graph directory objects: applications and their credentials, service principals, users, groups,
directory objects, the organization, directory role definitions and raw role assignments.

Reference: docs/reference/emulator-graph-directory.md.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from . import applications, directory_objects, directory_roles, federated_credentials, groups, service_principals, users

__all__ = ["ROUTES"]

ROUTES: list[BaseRoute] = [
    *applications.ROUTES,
    *federated_credentials.ROUTES,
    *service_principals.ROUTES,
    *users.ROUTES,
    *groups.ROUTES,
    *directory_objects.ROUTES,
    *directory_roles.ROUTES,
]
