"""Signing keys and JWTs for the two issuers the emulator runs: Entra ID and GitHub Actions.

Keys are generated at start (RS256, as both real issuers use) and published as JWKS. Access tokens carry
the real claim names (`tid`, `oid`, `appid`, `roles`/`scp`, `wids`, `amr`) and one audience per API.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["AUDIENCES", "Caller", "SigningKey", "TokenInvalid", "audience_for_scope"]

# What a `.default` scope turns into as an access-token audience (v1 tokens keep the resource URI).
AUDIENCES = {
    "graph": "https://graph.microsoft.com",
    "arm": "https://management.azure.com/",
    "keyvault": "https://vault.azure.net",
    "monitor": "https://monitor.azure.com",
}
_ALIASES = {
    "https://graph.microsoft.com": "graph",
    "https://graph.microsoft.com/": "graph",
    "00000003-0000-0000-c000-000000000000": "graph",
    "https://management.azure.com": "arm",
    "https://management.azure.com/": "arm",
    "https://management.core.windows.net": "arm",
    "https://management.core.windows.net/": "arm",
    "https://vault.azure.net": "keyvault",
    "https://vault.azure.net/": "keyvault",
    "cfa8b339-82a2-471a-a3c9-0fc0be7a4093": "keyvault",
    "https://monitor.azure.com": "monitor",
    "https://monitor.azure.com/": "monitor",
}


def audience_for_scope(scope: str) -> tuple[str, str] | None:
    """Map a requested scope (`https://graph.microsoft.com/.default`, `https://vault.azure.net/user_impersonation`)
    to (service key, audience). None when the resource is unknown to the emulator."""
    resource, _, _ = scope.rpartition("/")
    if not resource:
        resource = scope
    key = _ALIASES.get(resource) or _ALIASES.get(resource.rstrip("/"))
    if key is None:
        return None
    return key, AUDIENCES[key]


class TokenInvalid(Exception):  # noqa: N818 - a reason carrier, rendered by each service
    """Why a bearer token was refused: missing, malformed, signature, expired, audience, issuer."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass
class SigningKey:
    issuer: str
    key: rsa.RSAPrivateKey = field(repr=False)
    kid: str = ""

    @classmethod
    def generate(cls, issuer: str) -> SigningKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = key.public_key().public_numbers()
        kid = hashlib.sha256(_b64(numbers.n).encode()).hexdigest()[:27]
        return cls(issuer=issuer, key=key, kid=kid)

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": self.kid,
                    "x5t": self.kid,
                    "n": _b64(numbers.n),
                    "e": _b64(numbers.e),
                    "issuer": self.issuer,
                }
            ]
        }

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.kid, "x5t": self.kid})

    def verify(self, token: str, *, audience: str | list[str] | None, leeway: int = 0) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenInvalid("malformed", "the token is not a well-formed JWT") from exc
        if header.get("alg") != "RS256":
            raise TokenInvalid("signature", f"unsupported signing algorithm {header.get('alg')!r}")
        try:
            return jwt.decode(
                token,
                self.key.public_key(),
                algorithms=["RS256"],
                audience=audience,
                leeway=leeway,
                options={"verify_aud": audience is not None, "require": ["exp", "iat"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenInvalid("expired", "the token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise TokenInvalid("expired", "the token is not yet valid") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenInvalid("audience", "the token's audience is not this service") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenInvalid("signature", "the token's signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise TokenInvalid("malformed", f"the token is invalid: {exc}") from exc


@dataclass(frozen=True)
class Caller:
    """Who is calling, as read from a verified Entra access token."""

    tenant_id: str
    object_id: str
    app_id: str | None
    is_app: bool
    roles: frozenset[str]
    scopes: frozenset[str]
    wids: frozenset[str]
    amr: frozenset[str]
    claims: dict[str, Any] = field(compare=False, hash=False, repr=False)

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Caller:
        is_app = claims.get("idtyp") == "app" or "scp" not in claims
        return cls(
            tenant_id=str(claims.get("tid", "")),
            object_id=str(claims.get("oid", "")),
            app_id=claims.get("appid") or claims.get("azp"),
            is_app=is_app,
            roles=frozenset(claims.get("roles", []) or []),
            scopes=frozenset(str(claims.get("scp", "")).split()),
            wids=frozenset(claims.get("wids", []) or []),
            amr=frozenset(claims.get("amr", []) or []),
            claims=claims,
        )

    @property
    def has_mfa(self) -> bool:
        return "mfa" in self.amr

    def has_permission(self, *names: str) -> bool:
        """True when an app role (app-only) or a delegated scope (user) grants any of `names`."""
        granted = self.roles if self.is_app else self.scopes
        return any(name in granted for name in names)


def access_token_claims(
    *,
    issuer: str,
    audience: str,
    tenant_id: str,
    object_id: str,
    app_id: str,
    lifetime: int,
    roles: list[str] | None = None,
    scopes: list[str] | None = None,
    wids: list[str] | None = None,
    amr: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": issuer,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "appid": app_id,
        "appidacr": "1",
        "idp": issuer,
        "oid": object_id,
        "sub": object_id,
        "tid": tenant_id,
        "uti": uuid.uuid4().hex[:22],
        "ver": "1.0",
        "rh": "0.emulator",
    }
    if scopes is None:
        claims["idtyp"] = "app"
        claims["roles"] = sorted(roles or [])
    else:
        claims["idtyp"] = "user"
        claims["scp"] = " ".join(sorted(scopes))
        claims["amr"] = list(amr or ["pwd"])
    if wids:
        claims["wids"] = sorted(wids)
    if extra:
        claims.update(extra)
    return claims
