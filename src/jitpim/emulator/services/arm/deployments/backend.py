"""Deployments: what each operation does (no HTTP here).

PUT       preflight (engine.preflight), 409 `DeploymentActive` while a deployment of that name runs, then a
          deployment in `Accepted` that the clock moves on
GET/list  `Microsoft.Resources/deployments/read` at the deployment; 404 `DeploymentNotFound`
validate  preflight only, nothing stored (`Microsoft.Resources/deployments/validate/action`)
whatIf    preflight, then the changes (`Microsoft.Resources/deployments/whatIf/action`), kept for its
          operation result URL
"""

from __future__ import annotations

from typing import Any

from ....core.errors import ArmError
from ....core.ids import new_guid
from ..common.authz import authorize
from ..common.context import Ctx, require_scope
from ..template_language.template import Plan
from .engine import deployment_id, preflight, store_of
from .models import Deployment
from .whatif import what_if as compute_what_if

__all__ = ["delete", "get", "list_at", "put", "validate", "what_if", "what_if_result"]

_READ = "Microsoft.Resources/deployments/read"
_DELETE = "Microsoft.Resources/deployments/delete"
_VALIDATE = "Microsoft.Resources/deployments/validate/action"
_WHAT_IF = "Microsoft.Resources/deployments/whatIf/action"


def put(ctx: Ctx) -> Deployment:
    store = store_of(ctx.world)
    plan, location, mode = preflight(ctx)
    name = ctx.names[0]
    key = deployment_id(ctx.scope, name).lower()
    existing = store.deployments.get(key)
    if existing is not None and not existing.done:
        raise ArmError(
            409,
            "DeploymentActive",
            f"The deployment '{name}' cannot be saved, because this would overwrite an existing deployment which "
            "is still active.",
        )
    props = ctx.body["properties"]
    tags = ctx.body.get("tags") or {}
    deployment = Deployment(
        id=deployment_id(ctx.scope, name),
        name=name,
        scope=ctx.scope.path,
        location=location,
        template=props["template"],
        given_parameters=props.get("parameters") or {},
        plan=plan,
        caller=ctx.caller,
        mode=mode,
        correlation_id=new_guid(),
        operation_id=new_guid().replace("-", "").upper(),
        created=ctx.now,
        timestamp=ctx.now,
        tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {},
    )
    store.deployments[key] = deployment
    return deployment


def get(ctx: Ctx) -> Deployment:
    name = ctx.names[0]
    authorize(ctx.world, ctx.caller, deployment_id(ctx.scope, name), _READ, ctx.now)
    require_scope(ctx.world, ctx.scope)
    found = store_of(ctx.world).deployments.get(deployment_id(ctx.scope, name).lower())
    if found is None:
        raise ArmError(404, "DeploymentNotFound", f"Deployment '{name}' could not be found.")
    return found


def delete(ctx: Ctx) -> None:
    """Forget a finished deployment (its resources stay, as in ARM); a running one is 409 `DeploymentActive`."""
    name = ctx.names[0]
    authorize(ctx.world, ctx.caller, deployment_id(ctx.scope, name), _DELETE, ctx.now)
    require_scope(ctx.world, ctx.scope)
    store = store_of(ctx.world)
    key = deployment_id(ctx.scope, name).lower()
    found = store.deployments.get(key)
    if found is not None and not found.done:
        raise ArmError(409, "DeploymentActive", f"The deployment '{name}' is still active and cannot be deleted.")
    store.deployments.pop(key, None)


def list_at(ctx: Ctx) -> list[Deployment]:
    authorize(ctx.world, ctx.caller, ctx.scope.path, _READ, ctx.now)
    require_scope(ctx.world, ctx.scope)
    prefix = f"{ctx.scope.path}/providers/Microsoft.Resources/deployments/".lower()
    return [
        d for k, d in store_of(ctx.world).deployments.items() if k.startswith(prefix) and "/" not in k[len(prefix) :]
    ]


def validate(ctx: Ctx) -> tuple[Plan, str | None, str]:
    return preflight(ctx, action=_VALIDATE)


def what_if(ctx: Ctx) -> str:
    """Run what-if; the token of its operation result."""
    plan, _, _ = preflight(ctx, action=_WHAT_IF)
    token = new_guid().replace("-", "")
    store_of(ctx.world).what_ifs[token] = {"owner": ctx.caller.object_id, "result": compute_what_if(ctx.world, plan)}
    return token


def what_if_result(ctx: Ctx) -> dict[str, Any]:
    token = ctx.names[0] if ctx.names else ""
    entry = store_of(ctx.world).what_ifs.get(token)
    if entry is None or entry["owner"] != ctx.caller.object_id:
        raise ArmError(404, "OperationResultNotFound", f"The operation result '{token}' could not be found.")
    result: dict[str, Any] = entry["result"]
    return result
