"""Who a credential is: read from its access token's claims (`oid`, `tid`, `appid`, `idtyp`, `amr`).

The token is decoded WITHOUT verifying its signature: the API that receives it verifies it; jitpim only
needs to know whose it is. The token itself is never logged, returned or put in an error.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..cloud import CloudProfile
from ..errors import AuthError, JitError
from ..http import auth_error_from

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

__all__ = ["Identity", "authority_for_tenant", "token_claims", "unverified_claims", "whoami"]

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$", re.I)
_SPECIAL_TENANTS = {"organizations", "common"}


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, NOT verified: for reading who a token is about, never for trusting it."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        raise AuthError("the token is not a well-formed JWT") from None
    if not isinstance(data, dict):
        raise AuthError("the token's payload is not a JSON object")
    return data


def authority_for_tenant(cloud: CloudProfile, tenant_id: str) -> str:
    """The authority URL that issues tokens for `tenant_id` (a GUID or a verified domain) in `cloud`, so a
    target in another tenant gets its own credential."""
    tenant = tenant_id.strip()
    if not (_GUID.match(tenant) or _DOMAIN.match(tenant) or tenant.lower() in _SPECIAL_TENANTS):
        raise AuthError(
            f"tenant {tenant_id!r} is neither a tenant id nor a domain",
            hint="Give the tenant's GUID (Entra admin center, Overview) or a verified domain.",
        )
    return f"{cloud.authority_host}/{tenant}"


@dataclass(frozen=True)
class Identity:
    """The principal behind a credential. For an application, `object_id` is its service principal's id
    (what role assignments name); `has_mfa` is True only for a person who signed in with MFA."""

    object_id: str
    tenant_id: str
    app_id: str | None
    is_app: bool
    has_mfa: bool
    user_principal_name: str | None = None

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Identity:
        object_id = claims.get("oid")
        tenant_id = claims.get("tid")
        if not isinstance(object_id, str) or not isinstance(tenant_id, str):
            raise AuthError("the access token carries no oid/tid claims; it is not an Entra access token")
        # `idtyp` is present when the app asks for it; otherwise app-only tokens are the ones without `scp`.
        is_app = claims.get("idtyp") == "app" or ("scp" not in claims and claims.get("idtyp") != "user")
        amr = claims.get("amr") or []
        upn = claims.get("upn") or claims.get("preferred_username") or claims.get("unique_name")
        return cls(
            object_id=object_id,
            tenant_id=tenant_id,
            app_id=claims.get("appid") or claims.get("azp"),
            is_app=is_app,
            has_mfa=not is_app and isinstance(amr, list) and "mfa" in amr,
            user_principal_name=upn if isinstance(upn, str) else None,
        )

    def describe(self) -> str:
        if self.is_app:
            return f"application {self.app_id} (service principal {self.object_id}) in tenant {self.tenant_id}"
        who = self.user_principal_name or self.object_id
        return f"user {who} in tenant {self.tenant_id}" + (" (MFA)" if self.has_mfa else "")

    def to_json(self) -> dict[str, Any]:
        return {
            "object_id": self.object_id,
            "tenant_id": self.tenant_id,
            "app_id": self.app_id,
            "is_app": self.is_app,
            "has_mfa": self.has_mfa,
            "user_principal_name": self.user_principal_name,
        }


def token_claims(credential: TokenCredential, scope: str) -> dict[str, Any]:
    """The claims of an access token for `scope` (never the token). Wraps credential failures in AuthError."""
    from azure.core.exceptions import ClientAuthenticationError

    failure: AuthError
    try:
        token = credential.get_token(scope)
    except JitError:
        raise
    except ClientAuthenticationError as exc:
        failure = auth_error_from(exc, what=f"obtaining a token for {scope}")
    else:
        return unverified_claims(token.token)
    raise failure  # outside the handler: the azure-identity error (and its request) is not chained


def whoami(credential: TokenCredential, cloud: CloudProfile, *, scope: str | None = None) -> Identity:
    """Who `credential` is, read from a token for `scope` (default: ARM)."""
    return Identity.from_claims(token_claims(credential, scope or cloud.arm_scope))
