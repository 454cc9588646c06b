"""The Entra ID token endpoint `/{tenant}/oauth2[/v2.0]/token`: the form read, redeemed by the backend, and the
token response with the cache headers Entra sends."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from ....core.http import json_response, world
from . import backend

__all__ = ["NO_STORE", "token"]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


async def token(request: Request) -> Response:
    w = world(request)
    backend.check_tenant(w, request.path_params["tenant"])
    raw = (await request.body()).decode("utf-8", errors="replace")
    form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    return json_response(backend.redeem(w, form), headers=NO_STORE)
