"""The issuer's OpenID configuration and signing keys (JWKS), which Entra reads to validate a job's token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ....core.http import json_response, world

__all__ = ["discovery", "jwks"]


async def discovery(request: Request) -> Response:
    w = world(request)
    return json_response(
        {
            "issuer": w.github_key.issuer,
            "jwks_uri": f"{w.base_url}/github/.well-known/jwks",
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
