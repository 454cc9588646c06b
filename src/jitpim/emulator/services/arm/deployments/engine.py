"""Planning and running a deployment.

`preflight` is what ARM does before it accepts a deployment (and all that validate and what-if do): the
request body, the template (`template_language.plan`), each resource's type and API version, the deployer's
`Microsoft.Resources/deployments/write` at the scope and the write action of every resource at its id (with the
request attributes an ABAC condition tests). It raises ARM's error, so a refused deployment changes nothing.

`run` writes the planned resources in `dependsOn` order through their REST backends, as the deployer, records one
operation per resource, runs nested deployments (recorded as deployments of their resource group), then
evaluates the outputs. The first failed write stops the run: the deployment fails with `DeploymentFailed` and the
operation carries the resource's own error; what was written before it stays, as in ARM.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ....core.errors import ArmError
from ....core.ids import new_guid
from ....core.tokens import Caller
from ....core.world import World
from ..common.authz import authorize
from ..common.context import Ctx, Scope, parse_scope, require_scope
from ..template_language.expressions import TemplateError
from ..template_language.functions import Context
from ..template_language.template import DEPLOYMENTS, Plan, PlannedResource, evaluate_outputs, plan
from .models import Deployment, DeploymentOperation, DeploymentStore
from .providers import TYPES, resource_type, write_attributes

__all__ = ["DEPLOY_WRITE", "deployment_id", "preflight", "run", "store_of", "tick"]

DEPLOY_WRITE = "Microsoft.Resources/deployments/write"
_NAME = re.compile(r"^[-\w._()]{1,64}$")


def deployment_id(scope: Scope, name: str) -> str:
    return f"{scope.path}/providers/Microsoft.Resources/deployments/{name}"


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ArmError(
            400,
            "InvalidDeploymentName",
            f"The deployment name '{name}' is invalid: 1-64 letters, digits, '-', '_', '.', '(' or ')'.",
        )


def _template_error(exc: TemplateError) -> ArmError:
    return ArmError(400, exc.code, exc.message)


def _group_location(world: World) -> Any:
    def location(name: str) -> str | None:
        group = world.resource(f"{world.subscription_scope}/resourceGroups/{name}")
        return group.location if group is not None else None

    return location


def preflight(ctx: Ctx, *, action: str = DEPLOY_WRITE) -> tuple[Plan, str | None, str]:
    """The deployment's plan, its location (subscription scope) and mode; ARM's 400/403/404 otherwise."""
    world, scope = ctx.world, ctx.scope
    if scope.kind not in ("subscription", "resourcegroup"):
        raise ArmError(400, "InvalidDeploymentScope", "Deployments are served at a subscription or a resource group.")
    name = ctx.names[0]
    check_name(name)
    authorize(world, ctx.caller, deployment_id(scope, name), action, ctx.now)
    require_scope(world, scope)
    props = ctx.body.get("properties")
    if not isinstance(props, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content was invalid: 'properties' is required.")
    for linked in ("templateLink", "parametersLink"):
        if linked in props:
            raise ArmError(
                400,
                "InvalidTemplate",
                f"'{linked}' is not supported by the emulator: send the template inline in 'properties.template'.",
            )
    if "template" not in props:
        raise ArmError(
            400, "InvalidRequestContent", "The request content was invalid: 'properties.template' is required."
        )
    mode = str(props.get("mode") or "")
    if mode.lower() != "incremental":
        raise ArmError(
            400,
            "InvalidDeploymentMode" if mode else "InvalidRequestContent",
            f"The deployment mode '{mode}' is not supported: the emulator deploys in 'Incremental' mode.",
        )
    location = ctx.body.get("location")
    if scope.kind == "subscription":
        if not isinstance(location, str) or not location.strip():
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        location = location.replace(" ", "").lower()
        group_location: str | None = location
        group: str | None = None
    else:
        group = scope.resource_group
        existing = world.resource(scope.path)
        group_location = existing.location if existing is not None else None
        location = None
    parameters = props.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise ArmError(400, "InvalidRequestContent", "The request content was invalid: 'parameters' is an object.")
    base = Context(
        tenant_id=world.tenant_id,
        subscription_id=world.subscription_id,
        subscription_name=world.subscription_name,
        deployment_name=name,
        resource_group=group,
        location=group_location,
    )
    try:
        planned = plan(
            props["template"],
            parameters,
            base,
            scope.path,
            _group_location(world),
            is_supported_type=lambda t: t.lower() in TYPES,
        )
    except TemplateError as exc:
        raise _template_error(exc) from None
    for resource in planned.all_resources():
        kind = resource_type(resource, location or group_location)
        authorize(world, ctx.caller, resource.id, kind.write_action, ctx.now, request=write_attributes(resource))
    return planned, location, "Incremental"


def _operation(
    resource: PlannedResource, now: datetime, status: str, error: dict[str, Any] | None
) -> DeploymentOperation:
    return DeploymentOperation(
        operation_id=new_guid().replace("-", "").upper()[:16],
        provisioning_operation="Create",
        state="Failed" if error else "Succeeded",
        timestamp=now,
        status_code=status,
        target_id=resource.id,
        target_type=resource.type,
        target_name=resource.name,
        error=error,
    )


def _write(world: World, caller: Caller, resource: PlannedResource) -> str:
    kind = TYPES[resource.type.lower()]
    assert kind.write is not None
    target = (
        resource.id
        if resource.type.lower()
        not in ("microsoft.authorization/roleassignments", "microsoft.authorization/roledefinitions")
        else resource.scope
    )
    scope = parse_scope(world, target)
    names = [resource.short_name] if target == resource.scope else []
    ctx = Ctx(
        world=world,
        caller=caller,
        method="PUT",
        scope=scope,
        names=names,
        query={},
        body=resource.body,
        api_version=resource.api_version,
    )
    result = kind.write(ctx)
    created = bool(result[-1]) if isinstance(result, tuple) else True
    return "Created" if created else "OK"


def _failure(details: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "code": "DeploymentFailed",
        "message": "At least one resource deployment operation failed. Please list deployment operations for "
        "details. Please see https://aka.ms/arm-deployment-operations for usage details.",
        "details": details,
    }


def run(world: World, store: DeploymentStore, deployment: Deployment, now: datetime) -> None:
    """Write the deployment's resources and settle its state (under the world lock)."""
    children: dict[str, Deployment] = {}
    for resource in deployment.plan.resources:
        error: dict[str, Any] | None = None
        status = "Created"
        try:
            if resource.type.lower() == DEPLOYMENTS.lower():
                child = _child(world, store, deployment, resource, now)
                children[resource.id.lower()] = child
                children[resource.name.lower()] = child
                if child.error is not None:
                    error = child.error
                    status = "Conflict"
            else:
                status = _write(world, deployment.caller, resource)
        except ArmError as exc:
            error = {"code": exc.code, "message": exc.message}
            status = {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict"}.get(
                exc.status, "BadRequest"
            )
        deployment.operations.append(_operation(resource, now, status, error))
        if error is not None:
            _settle(deployment, now, _failure([error]))
            return
        deployment.output_resources.append(resource.id)

    def reference(target: str) -> Any:
        key = target.lower()
        if key in children:
            return {"outputs": children[key].outputs, "provisioningState": children[key].state}
        match = next((r for r in deployment.plan.all_resources() if key in (r.id.lower(), r.name.lower())), None)
        if match is None:
            raise TemplateError(
                f"The template function 'reference': the resource '{target}' is not deployed by this template."
            )
        current = TYPES[match.type.lower()].current(world, match)
        if current is None:
            raise TemplateError(f"The resource '{target}' was not found.", code="ResourceNotFound")
        return current.get("properties", {})

    try:
        deployment.outputs = evaluate_outputs(deployment.plan, reference)
    except TemplateError as exc:
        _settle(deployment, now, _failure([{"code": exc.code, "message": exc.message}]))
        return
    _settle(deployment, now, None)


def _settle(deployment: Deployment, now: datetime, error: dict[str, Any] | None) -> None:
    deployment.error = error
    deployment.state = "Failed" if error else "Succeeded"
    deployment.finished = now
    deployment.timestamp = now


def _child(
    world: World, store: DeploymentStore, parent: Deployment, resource: PlannedResource, now: datetime
) -> Deployment:
    assert resource.nested is not None
    scope = parse_scope(world, resource.nested.scope)
    child = Deployment(
        id=resource.id,
        name=resource.short_name,
        scope=scope.path,
        location=None,
        template=resource.nested.template,
        given_parameters=(resource.body.get("properties") or {}).get("parameters") or {},
        plan=resource.nested,
        caller=parent.caller,
        mode="Incremental",
        correlation_id=parent.correlation_id,
        operation_id=new_guid(),
        created=now,
        state="Running",
        timestamp=now,
        nested=True,
    )
    store.deployments[child.id.lower()] = child
    try:
        require_scope(world, scope)
    except ArmError as exc:
        _settle(child, now, {"code": exc.code, "message": exc.message})
        return child
    run(world, store, child, now)
    return child


def tick(world: World, store: DeploymentStore, now: datetime) -> None:
    """One step of every unfinished top-level deployment: Accepted -> Running -> written and settled."""
    for deployment in list(store.deployments.values()):
        if deployment.nested:
            continue
        if deployment.state == "Accepted":
            deployment.state = "Running"
            deployment.timestamp = now
        elif deployment.state == "Running" and deployment.finished is None:
            try:
                run(world, store, deployment, now)
            except Exception as exc:  # a bug must fail the deployment, not every later request's tick
                _settle(deployment, now, _failure([{"code": "InternalServerError", "message": type(exc).__name__}]))


def store_of(world: World) -> DeploymentStore:
    """The world's deployment store, attached (with its clock hook, `tick`) on first use."""
    try:
        return world.service("arm.deployments", DeploymentStore)
    except KeyError:
        store = DeploymentStore()
        world.attach("arm.deployments", store)
        world.on_tick(lambda now: tick(world, store, now))
        return store
