"""Verifying the bearer tokens the broker accepts, with the issuers' published keys.

- A GitHub Actions OIDC ID token (the job): RS256 signed by a key in the issuer's JWKS, `iss` exactly the
  configured issuer, `aud` exactly the broker's own audience (a token minted for Azure or for another
  service is refused), `exp`, `nbf` and `iat` checked with a small leeway, `jti` never seen before (a
  replayed token is refused even while it is still valid).
- An Entra ID token or access token (a person, an approver): RS256 signed by the tenant's keys, issuer of
  the configured tenant (v1 `sts.windows.net` or v2 `/v2.0`), audience one of the broker's.

Keys are fetched over TLS (the cloud profile's CA bundle; verification is never turned off) and cached;
an unknown key id triggers at most one refetch per minute, so a forged `kid` cannot make the broker hammer
the issuer. No token is ever logged or put in an error message.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt

from ..errors import AuthError, ConfigError

__all__ = ["EntraCaller", "EntraVerifier", "GitHubVerifier", "JwksCache"]

_LEEWAY_S = 60
_REFETCH_MIN_S = 60.0
_CACHE_S = 3600.0
_GITHUB_HINT = (
    "Request the job's ID token with the broker's audience (jitpim does this with --mode broker) from a job "
    "with `permissions: id-token: write`; each call needs a fresh token."
)


@dataclass
class JwksCache:
    """An issuer's signing keys by `kid`, fetched from `jwks_uri` and cached."""

    jwks_uri: str
    ca_bundle: str | None = None
    fetch: Callable[[str, str | None], dict[str, Any]] | None = None
    _keys: dict[str, Any] = field(default_factory=dict)
    _fetched_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _download(self) -> dict[str, Any]:
        if self.fetch is not None:
            return self.fetch(self.jwks_uri, self.ca_bundle)
        import requests

        try:
            response = requests.get(self.jwks_uri, verify=self.ca_bundle or True, timeout=10)
            response.raise_for_status()
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise AuthError(
                f"cannot fetch the token issuer's keys from {self.jwks_uri}: {type(exc).__name__}",
                hint="Check the broker can reach the issuer (and trusts its CA).",
            ) from None
        if not isinstance(body, dict):
            raise AuthError(f"the issuer's key set at {self.jwks_uri} is not a JSON object")
        return body

    def _refresh(self) -> None:
        body = self._download()
        keys: dict[str, Any] = {}
        for jwk in body.get("keys") or []:
            if isinstance(jwk, dict) and jwk.get("kid") and jwk.get("kty") == "RSA":
                try:
                    keys[str(jwk["kid"])] = jwt.PyJWK.from_dict(jwk, algorithm="RS256").key
                except jwt.PyJWTError:
                    continue
        self._keys = keys
        self._fetched_at = time.monotonic()

    def key(self, kid: str) -> Any:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            if not self._keys or age > _CACHE_S or (kid not in self._keys and age > _REFETCH_MIN_S):
                self._refresh()
            found = self._keys.get(kid)
        if found is None:
            raise AuthError("the token is signed with a key its issuer does not publish", hint=_GITHUB_HINT)
        return found


def _decode(
    token: str, keys: JwksCache, *, audience: str | list[str], issuer: str | list[str], now: float
) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise AuthError("the bearer token is not a well-formed JWT", hint=_GITHUB_HINT) from None
    if header.get("alg") != "RS256":
        raise AuthError(f"the token's algorithm {header.get('alg')!r} is not RS256", hint=_GITHUB_HINT)
    key = keys.key(str(header.get("kid") or ""))
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=audience,
            issuer=issuer,
            leeway=_LEEWAY_S,
            options={
                "require": ["exp", "iat", "iss", "aud"],
                "verify_iat": False,
                "verify_exp": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidAudienceError:
        raise AuthError("the token was issued for another audience, not this broker", hint=_GITHUB_HINT) from None
    except jwt.InvalidIssuerError:
        raise AuthError("the token comes from an issuer this broker does not trust", hint=_GITHUB_HINT) from None
    except jwt.InvalidSignatureError:
        raise AuthError("the token's signature does not verify (forged or altered)", hint=_GITHUB_HINT) from None
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"the token has no {exc.claim!r} claim", hint=_GITHUB_HINT) from None
    except jwt.PyJWTError as exc:
        raise AuthError(f"the token is invalid ({type(exc).__name__})", hint=_GITHUB_HINT) from None
    # Times against the broker's clock (injectable), not the library's.
    times = [claims.get("exp"), claims.get("iat"), claims.get("nbf", claims.get("iat"))]
    numbers = [float(v) for v in times if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) != 3:
        raise AuthError("the token's exp/iat/nbf are not numbers", hint=_GITHUB_HINT)
    exp, iat, nbf = numbers
    if now > exp + _LEEWAY_S:
        raise AuthError("the token has expired", hint=_GITHUB_HINT)
    clock_hint = "Check the clocks of the runner and the broker."
    if now + _LEEWAY_S < nbf:
        raise AuthError("the token is not valid yet (nbf is in the future)", hint=clock_hint)
    if now + _LEEWAY_S < iat:
        raise AuthError("the token was issued in the future (iat)", hint=clock_hint)
    return claims


@dataclass
class GitHubVerifier:
    """Verifies GitHub Actions ID tokens for one audience; `use_token_id(jti, exp)` returns False for a replay."""

    issuer: str
    audience: str
    keys: JwksCache
    use_token_id: Callable[[str, datetime], bool]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if not self.audience.strip():
            raise ConfigError("the broker needs its own token audience", hint="Set `audience` in the broker config.")

    def verify(self, token: str) -> dict[str, Any]:
        now = self.clock().timestamp()
        claims = _decode(token, self.keys, audience=self.audience, issuer=self.issuer, now=now)
        for name in ("jti", "sub", "repository"):
            if not isinstance(claims.get(name), str) or not claims[name]:
                raise AuthError(
                    f"the ID token has no {name!r} claim; it is not a GitHub Actions job token", hint=_GITHUB_HINT
                )
        expires = datetime.fromtimestamp(float(claims["exp"]), UTC)
        if not self.use_token_id(str(claims["jti"]), expires):
            raise AuthError(
                "this token was already used (replay refused): every broker call needs a fresh ID token",
                hint=_GITHUB_HINT,
            )
        return claims


@dataclass(frozen=True)
class EntraCaller:
    """A signed-in person (or an application) from a verified Entra token."""

    object_id: str
    tenant_id: str
    name: str  # UPN / preferred_username, or the app id
    is_app: bool
    mfa: bool

    def to_json(self) -> dict[str, Any]:
        return {"object_id": self.object_id, "tenant_id": self.tenant_id, "name": self.name, "mfa": self.mfa}


@dataclass
class EntraVerifier:
    """Verifies Entra tokens issued by `tenant_id` for one of `audiences`."""

    tenant_id: str
    authority: str  # https://login.microsoftonline.com (or the emulator's base URL)
    audiences: list[str]
    keys: JwksCache
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def issuers(self) -> list[str]:
        return [f"https://sts.windows.net/{self.tenant_id}/", f"{self.authority.rstrip('/')}/{self.tenant_id}/v2.0"]

    def verify(self, token: str) -> EntraCaller:
        try:
            claims = _decode(
                token, self.keys, audience=self.audiences, issuer=self.issuers, now=self.clock().timestamp()
            )
        except AuthError as exc:
            raise AuthError(
                f"the approver's Entra token was refused: {exc.message}",
                hint="Sign in again for the broker's audience (`jitpim approvals` does this with your Azure sign-in).",
            ) from None
        oid, tid = claims.get("oid"), claims.get("tid")
        if not isinstance(oid, str) or not oid or tid != self.tenant_id:
            raise AuthError(
                "the Entra token names no user of this tenant (oid/tid)",
                hint="Sign in with a work account of the broker's tenant.",
            )
        is_app = claims.get("idtyp") == "app" or ("scp" not in claims and "roles" in claims and "upn" not in claims)
        name = str(claims.get("upn") or claims.get("preferred_username") or claims.get("appid") or oid)
        amr = claims.get("amr") or []
        return EntraCaller(oid, tid, name, is_app, isinstance(amr, list) and "mfa" in amr)
