"""Reading identities from token claims, and keeping tokens and secrets out of errors (no emulator needed)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError

from jitpim.auth import (
    GuardedCredential,
    Identity,
    PasswordGrantCredential,
    authority_for_tenant,
    token_claims,
    unverified_claims,
    whoami,
)
from jitpim.cloud import PUBLIC
from jitpim.errors import AuthError

TENANT = "5f0c9a2e-3c4b-4d8e-9f1a-2b3c4d5e6f70"


def _jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


class _StaticCredential:
    """A TokenCredential returning a fixed token, or raising what it is given."""

    def __init__(self, token: str = "", error: Exception | None = None) -> None:
        self.token, self.error, self.closed = token, error, False

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        if self.error is not None:
            raise self.error
        return AccessToken(self.token, 2_000_000_000)

    def close(self) -> None:
        self.closed = True


def test_identity_reads_application_when_token_is_app_only() -> None:
    """App-only tokens (idtyp=app, or no scp) are applications and never have MFA."""
    claims = {"oid": "sp", "tid": TENANT, "appid": "client", "idtyp": "app", "roles": [], "amr": ["mfa"]}
    identity = Identity.from_claims(claims)
    assert (identity.object_id, identity.app_id, identity.is_app, identity.has_mfa) == ("sp", "client", True, False)
    legacy = Identity.from_claims({"oid": "sp", "tid": TENANT, "azp": "client"})
    assert legacy.is_app and legacy.app_id == "client"


def test_identity_reads_person_and_mfa_when_token_is_delegated() -> None:
    """Delegated tokens (scp) are people; `amr` containing mfa means an MFA sign-in."""
    claims = {"oid": "u", "tid": TENANT, "scp": "User.Read", "amr": ["pwd", "mfa"], "upn": "alice@contoso.com"}
    identity = Identity.from_claims(claims)
    assert not identity.is_app and identity.has_mfa and identity.user_principal_name == "alice@contoso.com"
    assert "(MFA)" in identity.describe() and identity.to_json()["has_mfa"] is True
    assert not Identity.from_claims({**claims, "amr": ["pwd"]}).has_mfa


def test_whoami_decodes_token_without_returning_it_when_credential_works() -> None:
    """whoami reads the claims of a token for the ARM scope; the token itself is not part of the result."""
    token = _jwt({"oid": "sp", "tid": TENANT, "appid": "c", "idtyp": "app"})
    identity = whoami(_StaticCredential(token), PUBLIC)
    assert identity.object_id == "sp" and token not in repr(identity)
    assert token_claims(_StaticCredential(token), PUBLIC.graph_scope)["appid"] == "c"


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b", "a.!!!.c", "a.WzEsIDJd.c"])
def test_unverified_claims_refuses_garbage_when_token_is_malformed(token: str) -> None:
    """Malformed tokens raise AuthError without echoing the token."""
    with pytest.raises(AuthError) as failure:
        unverified_claims(token)
    assert token not in str(failure.value)


def test_identity_refuses_claims_when_oid_or_tid_is_missing() -> None:
    """A token without oid/tid is not an Entra access token."""
    with pytest.raises(AuthError, match="oid/tid"):
        Identity.from_claims({"tid": TENANT})


def test_guarded_credential_wraps_aadsts_error_when_sign_in_fails() -> None:
    """azure-identity errors become AuthError with the AADSTS code; the trace block and secrets stay out,
    and nothing chains to the original error (which references the token request)."""
    error = ClientAuthenticationError(
        message="Microsoft Entra ID error '(invalid_client) AADSTS7000215: Invalid client secret provided. "
        "Trace ID: abc Correlation ID: def Timestamp: 2026-01-01 00:00:00Z'"
    )
    guarded = GuardedCredential(_StaticCredential(error=error), "client secret")
    with pytest.raises(AuthError) as failure:
        guarded.get_token(PUBLIC.arm_scope)
    message = failure.value.message
    assert "(AADSTS7000215)" in message and "Invalid client secret provided." in message
    assert "Trace ID" not in message and failure.value.hint
    assert failure.value.__cause__ is None and failure.value.__context__ is None
    with pytest.raises(AuthError):
        guarded.get_token_info(PUBLIC.arm_scope)


def test_guarded_credential_passes_tokens_through_when_sign_in_works() -> None:
    """Tokens pass unchanged through get_token and get_token_info; close reaches the inner credential."""
    inner = _StaticCredential("tok")
    with GuardedCredential(inner, "static") as guarded:
        assert guarded.get_token("s").token == "tok"
        assert guarded.get_token_info("s").token == "tok"
        assert "tok" not in repr(guarded)
    assert inner.closed


def test_authority_for_tenant_validates_tenant_when_building_url() -> None:
    """GUIDs, verified domains and organizations are accepted; anything else is refused."""
    assert authority_for_tenant(PUBLIC, TENANT) == f"https://login.microsoftonline.com/{TENANT}"
    assert authority_for_tenant(PUBLIC, "contoso.onmicrosoft.com").endswith("/contoso.onmicrosoft.com")
    assert authority_for_tenant(PUBLIC, "organizations").endswith("/organizations")
    for bad in ("", "x y", "../etc", "https://evil/"):
        with pytest.raises(AuthError):
            authority_for_tenant(PUBLIC, bad)


def test_password_credential_hides_password_when_printed() -> None:
    """Neither repr nor vars-style access shows the password."""
    credential = PasswordGrantCredential(
        PUBLIC, tenant_id=TENANT, client_id="c", username="alice@contoso.com", password="hunter2-secret"
    )
    assert "hunter2-secret" not in repr(credential)
    assert "hunter2-secret" not in str({k: v for k, v in vars(credential).items() if not k.startswith("_")})
