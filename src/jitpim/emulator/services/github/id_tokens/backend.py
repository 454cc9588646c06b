"""The ID tokens of the emulated GitHub Actions job: its claims (from the scenario, changeable through the
control plane) and GitHub's default `sub`, signed with the issuer's key. The real issuer name and claim set, so
federated credentials in scenarios look exactly like real ones; the Entra emulator trusts this issuer's keys."""

from __future__ import annotations

import hmac
import time
import uuid
from typing import Any

from ....core.world import World

__all__ = ["TOKEN_LIFETIME", "mint_id_token", "request_token_valid", "subject_for"]

TOKEN_LIFETIME = 300  # GitHub's ID tokens live five minutes


def request_token_valid(w: World, authorization: str) -> bool:
    """Whether an `Authorization` header carries the job's ACTIONS_ID_TOKEN_REQUEST_TOKEN."""
    scheme, _, token = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), w.github_request_token)


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
