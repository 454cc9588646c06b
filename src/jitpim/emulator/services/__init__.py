"""The emulated services, one layout for all (moto's models/responses/urls is the model):

    services/<api>/
        routes.py           the service's routing table (`ROUTES`, and `PREFIX` when it is mounted)
        state.py            the service's state in the world and `attach(world)`, which seeds it from the scenario
                            and registers expiry hooks (stateful services only)
        common/             what the service's resources share (context, errors, authorization, routing helpers)
        <resource>/
            routes.py       the resource's routes
            handlers.py     request -> parse -> backend -> wire JSON (HTTP lives here, in routes and in the
                            request helpers of common/)
            backend.py      the resource's logic and state changes (no starlette; import-linter holds it)
            shapes.py       wire shapes; models.py, parse.py, errors.py, authz.py where the resource needs them

Adding a service: create the package with `routes.py` (and `state.py` when it keeps state) and list it here.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute, Mount

if TYPE_CHECKING:
    from ..core.world import World

__all__ = ["attach_all", "main_routes", "vault_routes"]

# Order matters for routing: specific prefixes first, ARM (rooted at /subscriptions, /providers) after them.
_STATEFUL = ("graph", "arm", "keyvault", "monitor")
_MAIN = ("control", "github", "identity", "graph", "monitor", "arm")


def attach_all(world: World) -> None:
    for name in _STATEFUL:
        module = import_module(f"{__name__}.{name}.state")
        module.attach(world)


def main_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for name in _MAIN:
        module = import_module(f"{__name__}.{name}.routes")
        prefix = getattr(module, "PREFIX", "")
        # An unprefixed service's routes are added as they are: a `Mount("")` would match every path and
        # answer 404 for anything its own routes do not know, hiding every service listed after it.
        if prefix:
            routes.append(Mount(prefix, routes=module.ROUTES))
        else:
            routes.extend(module.ROUTES)
    return routes


def vault_routes() -> list[BaseRoute]:
    module = import_module(f"{__name__}.keyvault.routes")
    routes: list[BaseRoute] = list(module.ROUTES)
    return routes
