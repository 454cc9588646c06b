"""HTTP handlers of the resource writes (PUT resource group, vault, vault secret, storage account) and the reads
that only this package serves (storage account, vault secret)."""

from __future__ import annotations

from starlette.responses import Response

from ....core.http import json_response
from ..common.context import Ctx
from ..resources.shapes import resource_group_json, vault_json
from . import backend
from .shapes import secret_json, storage_account_json

__all__ = [
    "get_secret",
    "get_storage_account",
    "put_resource_group",
    "put_secret",
    "put_storage_account",
    "put_vault",
]


def put_resource_group(ctx: Ctx) -> Response:
    group, created = backend.put_resource_group(ctx)
    return json_response(resource_group_json(group), 201 if created else 200)


def put_vault(ctx: Ctx) -> Response:
    vault, created = backend.put_vault(ctx)
    return json_response(vault_json(ctx.world, vault), 201 if created else 200)


def put_secret(ctx: Ctx) -> Response:
    resource, vault, secret, created = backend.put_secret(ctx)
    return json_response(secret_json(ctx.world, resource, vault, secret), 201 if created else 200)


def get_secret(ctx: Ctx) -> Response:
    return json_response(secret_json(ctx.world, *backend.get_secret(ctx)))


def put_storage_account(ctx: Ctx) -> Response:
    account, created = backend.put_storage_account(ctx)
    return json_response(storage_account_json(account), 201 if created else 200)


def get_storage_account(ctx: Ctx) -> Response:
    return json_response(storage_account_json(backend.get_storage_account(ctx)))
