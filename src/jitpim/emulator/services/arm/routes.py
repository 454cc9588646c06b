"""Routes of the emulated Azure Resource Manager, rooted at `/subscriptions/...` and `/providers/...`: every
resource's operations (its `routes.py`), classified by `common/routing.py`, then ARM's catch-all."""

from __future__ import annotations

from starlette.routing import BaseRoute

from .approvals.routes import OPERATIONS as APPROVALS
from .assignment_requests.routes import OPERATIONS as ASSIGNMENT_REQUESTS
from .common.routing import arm_routes
from .deployments.routes import OPERATIONS as DEPLOYMENTS
from .eligibility_requests.routes import OPERATIONS as ELIGIBILITY_REQUESTS
from .policies.routes import OPERATIONS as POLICIES
from .provider_resources.routes import OPERATIONS as PROVIDER_RESOURCES
from .resources.routes import OPERATIONS as RESOURCES
from .role_assignments.routes import OPERATIONS as ROLE_ASSIGNMENTS
from .role_definitions.routes import OPERATIONS as ROLE_DEFINITIONS
from .schedules.routes import OPERATIONS as SCHEDULES

__all__ = ["ROUTES"]

ROUTES: list[BaseRoute] = arm_routes(
    [
        *ROLE_DEFINITIONS,
        *ROLE_ASSIGNMENTS,
        *ASSIGNMENT_REQUESTS,
        *ELIGIBILITY_REQUESTS,
        *SCHEDULES,
        *POLICIES,
        *APPROVALS,
        *RESOURCES,
        *PROVIDER_RESOURCES,
        *DEPLOYMENTS,
    ]
)
