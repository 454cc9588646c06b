"""Wire shapes of deployments, their operations and the asynchronous operation status (ARM 2021-04-01 and
2022-09-01 return the same fields)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from ....core.clock import format_time
from ..template_language.template import Plan, template_hash
from .models import Deployment, DeploymentOperation

__all__ = ["deployment_json", "operation_json", "status_json", "validation_json"]


def _duration(start: datetime, end: datetime | None) -> str:
    seconds = max(((end or start) - start).total_seconds(), 0.0)
    return f"PT{seconds:.3f}S"


def _parameters(plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (kind, value) in plan.parameters.items():
        # A secure parameter's value never leaves the service.
        out[name] = {"type": kind} if kind.startswith("Secure") else {"type": kind, "value": value}
    return out


def _providers(plan: Plan) -> list[dict[str, Any]]:
    grouped: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for resource in plan.resources:
        namespace, _, rest = resource.type.partition("/")
        location = resource.body.get("location")
        grouped[namespace][rest]
        if isinstance(location, str):
            grouped[namespace][rest].add(location)
    return [
        {
            "namespace": namespace,
            "resourceTypes": [{"resourceType": t, "locations": sorted(locs)} for t, locs in types.items()],
        }
        for namespace, types in grouped.items()
    ]


def _dependencies(plan: Plan) -> list[dict[str, Any]]:
    by_id = {r.id.lower(): r for r in plan.resources}
    out = []
    for resource in plan.resources:
        if not resource.depends_on:
            continue
        out.append(
            {
                "dependsOn": [
                    {"id": d, "resourceType": by_id[d.lower()].type, "resourceName": by_id[d.lower()].name}
                    for d in resource.depends_on
                ],
                "id": resource.id,
                "resourceType": resource.type,
                "resourceName": resource.name,
            }
        )
    return out


def _common(deployment_id: str, name: str, plan: Plan, mode: str, correlation_id: str) -> dict[str, Any]:
    return {
        "id": deployment_id,
        "name": name,
        "type": "Microsoft.Resources/deployments",
        "properties": {
            "templateHash": template_hash(plan.template),
            "parameters": _parameters(plan),
            "mode": mode,
            "correlationId": correlation_id,
            "providers": _providers(plan),
            "dependencies": _dependencies(plan),
        },
    }


def deployment_json(d: Deployment) -> dict[str, Any]:
    body = _common(d.id, d.name, d.plan, d.mode, d.correlation_id)
    if d.location:
        body["location"] = d.location
    body["tags"] = dict(d.tags)
    props = body["properties"]
    props["provisioningState"] = d.state
    props["timestamp"] = format_time(d.timestamp or d.created)
    props["duration"] = _duration(d.created, d.finished or d.timestamp)
    if d.state == "Succeeded":
        props["outputs"] = d.outputs
    props["outputResources"] = [{"id": r} for r in d.output_resources]
    if d.error is not None:
        props["error"] = d.error
    return body


def validation_json(deployment_id: str, name: str, plan: Plan, location: str | None, now: datetime) -> dict[str, Any]:
    body = _common(deployment_id, name, plan, "Incremental", "")
    if location:
        body["location"] = location
    props = body["properties"]
    props["provisioningState"] = "Succeeded"
    props["timestamp"] = format_time(now)
    props["duration"] = "PT0S"
    props["validatedResources"] = [{"id": r.id} for r in plan.all_resources()]
    return body


def operation_json(d: Deployment, op: DeploymentOperation) -> dict[str, Any]:
    props: dict[str, Any] = {
        "provisioningOperation": op.provisioning_operation,
        "provisioningState": op.state,
        "timestamp": format_time(op.timestamp),
        "duration": "PT0S",
        "trackingId": d.correlation_id,
        "serviceRequestId": op.operation_id,
        "statusCode": op.status_code,
        "targetResource": {"id": op.target_id, "resourceType": op.target_type, "resourceName": op.target_name},
    }
    if op.error is not None:
        props["statusMessage"] = {"status": "Failed", "error": op.error}
    return {"id": f"{d.id}/operations/{op.operation_id}", "operationId": op.operation_id, "properties": props}


def status_json(d: Deployment) -> dict[str, Any]:
    body: dict[str, Any] = {"status": d.state}
    if d.error is not None:
        body["error"] = d.error
    return body
