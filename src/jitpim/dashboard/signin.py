"""Sign-in for a dashboard reachable beyond loopback: an Entra access token, verified offline against the
tenant's published signing keys (RS256, issuer, audience, expiry), then a short server-side session.

The browser posts the token once to `/signin`; the dashboard keeps only the verified claims under a random
session id (an HttpOnly, SameSite=Strict cookie). The token itself is never stored, logged or rendered.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from jitpim.cloud import CloudProfile
from jitpim.errors import AuthError

__all__ = ["EntraTokenVerifier", "Sessions", "SignInPolicy", "TokenVerifier"]


class TokenVerifier(Protocol):
    """What signs people in: a valid token's claims, or AuthError naming why not (the dashboard's own
    `EntraTokenVerifier`, or the broker's sign-in when the broker mounts the dashboard)."""

    def verify(self, token: str) -> dict[str, Any]: ...


_CLOCK_SKEW_S = 120
# v1.0 access tokens (what Azure resource audiences get) carry the tenant's STS issuer instead of the v2.0
# authority issuer from the OpenID configuration; both name the same tenant.
_V1_ISSUER_HOSTS = {"usgovernment": "https://login.microsoftonline.us", "china": "https://sts.chinacloudapi.cn"}
_KEYS_TTL_S = 3600


@dataclass(frozen=True)
class SignInPolicy:
    """Who may read: tokens of `tenant_id` for `audience`; when `readers` is set, only those object ids."""

    tenant_id: str
    audience: str
    readers: frozenset[str] = frozenset()


class EntraTokenVerifier:
    """Verifies Entra access tokens for one tenant and audience; the tenant's keys are fetched once an hour."""

    def __init__(self, cloud: CloudProfile, policy: SignInPolicy, *, fetch: Callable[[str], Any] | None = None):
        self.cloud = cloud
        self.policy = policy
        self._fetch = fetch or self._https_get
        self._keys: dict[str, Any] = {}
        self._fetched_at = 0.0
        self._issuers: list[str] = []
        self._lock = threading.Lock()

    def _https_get(self, path: str) -> Any:
        from jitpim.http.client import ApiClient

        with ApiClient(self.cloud.authority_host, None, None, cloud=self.cloud) as client:
            return client.get(path).json

    def _refresh(self, *, force: bool = False) -> None:
        import jwt

        with self._lock:
            if not force and self._keys and time.monotonic() - self._fetched_at < _KEYS_TTL_S:
                return
            config = self._fetch(f"/{self.policy.tenant_id}/v2.0/.well-known/openid-configuration")
            v1_host = _V1_ISSUER_HOSTS.get(self.cloud.name, "https://sts.windows.net")
            self._issuers = [
                str(config["issuer"]).replace("{tenantid}", self.policy.tenant_id),
                f"{v1_host}/{self.policy.tenant_id}/",
            ]
            jwks = self._fetch(str(config["jwks_uri"]))
            self._keys = {key["kid"]: jwt.PyJWK.from_dict(key).key for key in jwks.get("keys", []) if key.get("kid")}
            self._fetched_at = time.monotonic()

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims when it is valid for this dashboard; AuthError naming the reason otherwise."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("the sign-in token is not a JWT", hint="Paste an Entra access token.") from None
        if header.get("alg") != "RS256":
            raise AuthError("the sign-in token is not signed with RS256")
        self._refresh()
        key = self._keys.get(str(header.get("kid")))
        if key is None:
            self._refresh(force=True)  # the tenant may have rolled its keys
            key = self._keys.get(str(header.get("kid")))
        if key is None:
            raise AuthError("the sign-in token is signed by a key the tenant does not publish")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                audience=self.policy.audience,
                issuer=self._issuers,
                leeway=_CLOCK_SKEW_S,
                options={"require": ["exp", "iat", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("the sign-in token has expired", hint="Get a fresh token and sign in again.") from None
        except jwt.InvalidAudienceError:
            raise AuthError(
                f"the sign-in token is not for this dashboard (audience must be {self.policy.audience})"
            ) from None
        except jwt.InvalidIssuerError:
            raise AuthError("the sign-in token was issued by another tenant") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"the sign-in token is not valid ({type(exc).__name__})") from None
        if claims.get("tid") not in (None, self.policy.tenant_id):
            raise AuthError("the sign-in token was issued by another tenant")
        if self.policy.readers and claims.get("oid") not in self.policy.readers:
            raise AuthError("this principal is not a reader of this dashboard", hint="Ask for --reader to list you.")
        return claims


@dataclass
class _Session:
    principal: str
    expires: float


@dataclass
class Sessions:
    """Signed-in sessions in memory (one dashboard process); each ends when its token would have."""

    _by_id: dict[str, _Session] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def open(self, claims: Mapping[str, Any]) -> str:
        sid = secrets.token_urlsafe(32)
        name = claims.get("upn") or claims.get("preferred_username") or claims.get("oid") or "signed-in"
        with self._lock:
            self._by_id[sid] = _Session(str(name), float(claims.get("exp", time.time() + 3600)))
        return sid

    def principal(self, sid: str | None) -> str | None:
        if not sid:
            return None
        with self._lock:
            session = self._by_id.get(sid)
            if session is None:
                return None
            if session.expires < time.time():
                del self._by_id[sid]
                return None
            return session.principal
