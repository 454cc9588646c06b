"""What-if: what a deployment would change, in ARM's `WhatIfOperationResult` shape.

Each planned resource (nested deployments expanded, as ARM expands inline templates) is compared with its
current state: absent -> `Create`; present with every property the template sets equal -> `NoChange`; otherwise
`Modify` with a `delta` of property changes. Resources of the target resource group that the template does not
name are `Ignore` (Incremental mode leaves them alone). Write-only properties (a secret's value) are not compared.
"""

from __future__ import annotations

from typing import Any

from ....core.world import World
from ..template_language.template import DEPLOYMENTS, Plan
from .providers import TYPES

__all__ = ["what_if"]

_WRITE_ONLY = {"value"}  # Microsoft.KeyVault/vaults/secrets properties.value


def _same_scalar(key: str, planned: Any, current: Any) -> bool:
    if isinstance(planned, str) and isinstance(current, str):
        if key.lower() == "location":
            return planned.replace(" ", "").lower() == current.replace(" ", "").lower()
        if planned.startswith("/") or key.lower().endswith("id") or key.lower() in ("name", "type"):
            return planned.lower() == current.lower()
    return bool(planned == current)


def _delta(planned: Any, current: Any, path: str, key: str) -> list[dict[str, Any]]:
    if isinstance(planned, dict) and isinstance(current, dict):
        out: list[dict[str, Any]] = []
        for k, v in planned.items():
            if k in _WRITE_ONLY and path == "properties":
                continue
            match = next((c for c in current if c.lower() == k.lower()), None)
            child = f"{path}.{k}" if path else k
            if match is None:
                if v not in (None, {}, [], ""):
                    out.append({"path": child, "propertyChangeType": "Create", "after": v})
                continue
            out += _delta(v, current[match], child, k)
        return out
    if isinstance(planned, list) and isinstance(current, list) and len(planned) == len(current):
        out = []
        for i, (p, c) in enumerate(zip(planned, current, strict=True)):
            out += _delta(p, c, f"{path}[{i}]", key)
        return out
    if isinstance(planned, list | dict) or isinstance(current, list | dict):
        if planned == current:
            return []
        return [{"path": path, "propertyChangeType": "Modify", "before": current, "after": planned}]
    if _same_scalar(key, planned, current):
        return []
    return [{"path": path, "propertyChangeType": "Modify", "before": current, "after": planned}]


def _changes(world: World, plan: Plan) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    for resource in plan.resources:
        if resource.type.lower() == DEPLOYMENTS.lower():
            assert resource.nested is not None
            changes += _changes(world, resource.nested)
            continue
        after = {"id": resource.id, "name": resource.short_name, "type": resource.type, **resource.body}
        if isinstance(after.get("properties"), dict) and "value" in after["properties"]:
            after["properties"] = {k: v for k, v in after["properties"].items() if k != "value"}  # write-only
        current = TYPES[resource.type.lower()].current(world, resource)
        if current is None:
            changes.append(
                {"resourceId": resource.id, "changeType": "Create", "before": None, "after": after, "delta": None}
            )
            continue
        delta = _delta(resource.body, current, "", "")
        changes.append(
            {
                "resourceId": resource.id,
                "changeType": "Modify" if delta else "NoChange",
                "before": current,
                "after": after if delta else current,
                "delta": delta or None,
            }
        )
    if plan.context.resource_group is not None:
        named = {r.id.lower() for r in plan.resources}
        prefix = f"{plan.scope}/providers/".lower()
        for key, existing in world.resources.items():
            if key.startswith(prefix) and key not in named and key.count("/providers/") == 1:
                changes.append(
                    {"resourceId": existing.id, "changeType": "Ignore", "before": None, "after": None, "delta": None}
                )
    return changes


def what_if(world: World, plan: Plan) -> dict[str, Any]:
    return {"status": "Succeeded", "properties": {"changes": _changes(world, plan)}, "error": None}
