"""The job's `ACTIONS_ID_TOKEN_REQUEST_URL` endpoint: `GET {github}/idtoken?audience=...` with the request token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ....core.http import json_response, world
from .backend import mint_id_token, request_token_valid

__all__ = ["id_token"]


async def id_token(request: Request) -> Response:
    w = world(request)
    if not request_token_valid(w, request.headers.get("authorization", "")):
        return json_response(
            {"message": "Unauthorized: the ACTIONS_ID_TOKEN_REQUEST_TOKEN is missing or wrong."}, status=401
        )
    audience = (
        request.query_params.get("audience") or f"https://github.com/{w.github_claims.get('repository_owner', '')}"
    )
    return json_response({"count": 1, "value": mint_id_token(w, audience)})
