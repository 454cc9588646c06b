"""HTTP handlers of the resource reads (subscriptions, resource groups, Key Vault vaults)."""

from __future__ import annotations

from starlette.responses import Response

from ....core.http import json_response
from ..common.context import Ctx
from ..common.responses import list_response
from . import backend
from .shapes import resource_group_json, subscription_json, vault_json

__all__ = [
    "get_resource_group",
    "get_subscription",
    "get_vault",
    "list_resource_groups",
    "list_subscriptions",
    "list_vaults",
]


def list_subscriptions(ctx: Ctx) -> Response:
    visible = backend.subscription_visible(ctx)
    return json_response(
        {
            "count": {"type": "Total", "value": 1 if visible else 0},
            "value": [subscription_json(ctx.world)] if visible else [],
        }
    )


def get_subscription(ctx: Ctx) -> Response:
    backend.visible_subscription(ctx)
    return json_response(subscription_json(ctx.world))


def list_resource_groups(ctx: Ctx) -> Response:
    return list_response([resource_group_json(r) for r in backend.resource_groups(ctx)])


def get_resource_group(ctx: Ctx) -> Response:
    return json_response(resource_group_json(backend.resource_group(ctx)))


def get_vault(ctx: Ctx) -> Response:
    return json_response(vault_json(ctx.world, backend.vault(ctx)))


def list_vaults(ctx: Ctx) -> Response:
    return list_response([vault_json(ctx.world, r) for r in backend.vaults(ctx)])
