"""Microsoft Graph, mounted under `/graph` (so `{graph}/v1.0/...` and `{graph}/beta/...`): every resource's
routes, in the order Starlette must try them."""

from __future__ import annotations

from starlette.routing import BaseRoute

from .app_role_assignments.routes import ROUTES as APP_ROLE_ASSIGNMENTS
from .applications.routes import ROUTES as APPLICATIONS
from .approvals.routes import ROUTES as APPROVALS
from .audit.routes import ROUTES as AUDIT
from .directory_objects.routes import ROUTES as DIRECTORY_OBJECTS
from .directory_roles.routes import ROUTES as DIRECTORY_ROLES
from .federated_credentials.routes import ROUTES as FEDERATED_CREDENTIALS
from .groups.routes import ROUTES as GROUPS
from .pim.routes import ROUTES as PIM
from .policies.routes import ROUTES as POLICIES
from .service_principals.routes import ROUTES as SERVICE_PRINCIPALS
from .users.routes import ROUTES as USERS

__all__ = ["PREFIX", "ROUTES"]

PREFIX = "/graph"

# PIM (reference: docs/reference/emulator-graph-pim.md) before the directory (emulator-graph-directory.md).
# Approvals first: their v1.0 "segment not found" catch-all must win over nothing else, and the
# `filterByCurrentUser(...)` keys of the entity sets are matched inside their `/{key}` handlers.
ROUTES: list[BaseRoute] = [
    *APPROVALS,
    *PIM,
    *POLICIES,
    *AUDIT,
    *APPLICATIONS,
    *FEDERATED_CREDENTIALS,
    *APP_ROLE_ASSIGNMENTS,
    *SERVICE_PRINCIPALS,
    *USERS,
    *GROUPS,
    *DIRECTORY_OBJECTS,
    *DIRECTORY_ROLES,
]
