"""Credentials the control plane hands out: a delegated token for a seeded user (as an interactive sign-in
would yield), the GitHub job's ID-token claims, and a job ID token with a chosen lifetime."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ....core.errors import ArmError
from ....core.http import json_body, json_response, world
from ...github.id_tokens.backend import mint_id_token
from ...identity.tokens.backend import issue_user_token
from ...identity.tokens.handlers import NO_STORE
from ..errors import bad_request

__all__ = ["github_claims", "github_token", "user_token"]


async def user_token(request: Request) -> Response:
    """A delegated token for a seeded user, as an interactive sign-in (with or without MFA) would yield."""
    body = await json_body(request, ArmError, code="InvalidControlRequest")
    w = world(request)
    name = body.get("principal") or body.get("user")
    if not isinstance(name, str):
        raise bad_request("'principal' (a seeded user's name or UPN) is required")
    oid = w.principal_id(name)
    user = w.directory.users.get(oid or "")
    if user is None:
        raise bad_request(f"{name!r} is not a seeded user")
    scope = body.get("scope") or "https://graph.microsoft.com/.default"
    mfa = body.get("mfa")
    client_id = body.get("client_id") or "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
    with w.lock:
        body = issue_user_token(w, user, client_id, scope, mfa=mfa if isinstance(mfa, bool) else None)
    return json_response(body, headers=NO_STORE)


async def github_claims(request: Request) -> Response:
    w = world(request)
    if request.method == "GET":
        return json_response(w.github_claims)
    body = await json_body(request, ArmError, code="InvalidControlRequest")
    if body.get("replace"):
        w.github_claims = {}
    w.github_claims.update({k: v for k, v in (body.get("claims") or body).items() if k != "replace"})
    return json_response(w.github_claims)


async def github_token(request: Request) -> Response:
    """A GitHub Actions ID token of the scenario's job with a chosen lifetime (default GitHub's 300 s), for a
    workload-identity token file that ordinary SDK code reads (`AZURE_FEDERATED_TOKEN_FILE`)."""
    body = await json_body(request, ArmError, code="InvalidControlRequest")
    audience = body.get("audience", "api://AzureADTokenExchange")
    lifetime = body.get("lifetime_seconds", 300)
    if not isinstance(audience, str) or not audience:
        raise bad_request("'audience' must be a non-empty string")
    if not isinstance(lifetime, int) or isinstance(lifetime, bool) or not 60 <= lifetime <= 7 * 86400:
        raise bad_request("'lifetime_seconds' must be an integer between 60 and 604800")
    return json_response({"value": mint_id_token(world(request), audience, lifetime)})
