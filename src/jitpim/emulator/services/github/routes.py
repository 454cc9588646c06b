"""GitHub Actions OIDC issuer: the job's `ACTIONS_ID_TOKEN_REQUEST_URL` endpoint, discovery and JWKS.

Tokens carry the real issuer (`https://token.actions.githubusercontent.com`) and claim set, so federated
credentials in scenarios look exactly like real ones; the Entra emulator trusts this issuer's keys.
"""

from __future__ import annotations

import hmac
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...core.http import json_response, world
from ...core.world import World

__all__ = ["PREFIX", "ROUTES", "mint_id_token", "subject_for"]

PREFIX = "/github"
TOKEN_LIFETIME = 300  # GitHub's ID tokens live five minutes


def _message(status: int, message: str) -> Response:
    return json_response({"message": message}, status=status)


def subject_for(claims: dict[str, Any]) -> str:
    """GitHub's default `sub`: environment first, then pull_request, then the ref."""
    repo = claims.get("repository", "")
    if claims.get("environment"):
        return f"repo:{repo}:environment:{claims['environment']}"
    if claims.get("event_name") == "pull_request":
        return f"repo:{repo}:pull_request"
    return f"repo:{repo}:ref:{claims.get('ref', '')}"


def mint_id_token(w: World, audience: str, lifetime: int = TOKEN_LIFETIME) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {k: str(v) for k, v in w.github_claims.items() if v is not None and k != "sub"}
    claims.update(
        {
            "jti": str(uuid.uuid4()),
            "sub": str(w.github_claims.get("sub") or subject_for(w.github_claims)),
            "aud": audience,
            "iss": w.github_key.issuer,
            "iat": now,
            "nbf": now - 600,
            "exp": now + lifetime,
        }
    )
    return w.github_key.sign(claims)


async def id_token(request: Request) -> Response:
    w = world(request)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), w.github_request_token):
        return _message(401, "Unauthorized: the ACTIONS_ID_TOKEN_REQUEST_TOKEN is missing or wrong.")
    audience = (
        request.query_params.get("audience") or f"https://github.com/{w.github_claims.get('repository_owner', '')}"
    )
    return json_response({"count": 1, "value": mint_id_token(w, audience)})


async def discovery(request: Request) -> Response:
    w = world(request)
    return json_response(
        {
            "issuer": w.github_key.issuer,
            "jwks_uri": f"{w.base_url}{PREFIX}/.well-known/jwks",
            "subject_types_supported": ["public", "pairwise"],
            "response_types_supported": ["id_token"],
            "claims_supported": [
                "sub",
                "aud",
                "exp",
                "iat",
                "iss",
                "jti",
                "nbf",
                "ref",
                "repository",
                "sha",
                "workflow",
                "job_workflow_ref",
                "run_id",
                "run_attempt",
                "actor",
                "environment",
                "event_name",
                "repository_owner",
                "runner_environment",
            ],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid"],
        }
    )


async def jwks(request: Request) -> Response:
    return json_response(world(request).github_key.jwks())


ROUTES = [
    Route("/idtoken", id_token, methods=["GET"]),
    Route("/.well-known/openid-configuration", discovery, methods=["GET"]),
    Route("/.well-known/jwks", jwks, methods=["GET"]),
]
