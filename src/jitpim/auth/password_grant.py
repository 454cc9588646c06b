"""A person's password sign-in against the emulator's token endpoint (the OAuth 2.0 password grant).

azure-identity's `UsernamePasswordCredential` cannot reach an emulator on a loopback port: before the grant
MSAL asks `https://{host}/common/userrealm/{user}` with the port dropped (msal/authority.py builds that URL
from the host name only). This credential sends the same grant (`grant_type=password`, the public client
id, the scopes) straight to `{authority}/{tenant}/oauth2/v2.0/token`. Real clouds keep MSAL, which also
handles federated (ADFS) realms. The password never appears in `repr`, logs or errors.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..cloud import CloudProfile
from ..errors import AuthError
from ..http import ApiClient, parse_error_body

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions

__all__ = ["PasswordGrantCredential"]

_REFRESH_MARGIN = 300  # seconds before expiry when a cached token is replaced


class PasswordGrantCredential:
    """`TokenCredential` for a user name and password via the password grant, caching one token per scope."""

    def __init__(
        self,
        cloud: CloudProfile,
        *,
        tenant_id: str,
        client_id: str,
        username: str,
        password: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cloud = cloud
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.username = username
        self.__password = password
        self._clock = clock
        self._cache: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"PasswordGrantCredential(username={self.username!r}, tenant_id={self.tenant_id!r})"

    def _request(self, scopes: tuple[str, ...], tenant: str) -> AccessTokenInfo:
        from azure.core.credentials import AccessTokenInfo

        form = {
            "grant_type": "password",
            "client_id": self.client_id,
            "username": self.username,
            "password": self.__password,
            "scope": " ".join(scopes),
        }
        with ApiClient(self.cloud.authority_host, None, None, cloud=self.cloud) as client:
            response = client.post(
                f"/{tenant}/oauth2/v2.0/token", form=form, expected=(200, 400, 401), retry_unsafe=True
            )
        body = response.json if isinstance(response.json, dict) else {}
        if response.status != 200 or "access_token" not in body:
            parsed = parse_error_body(response.status, json.dumps(body), response.headers)
            raise AuthError(
                f"password sign-in of {self.username} failed"
                + (f" ({parsed.inner_code})" if parsed.inner_code else "")
                + f": {parsed.message}",
                hint="Check AZURE_USERNAME/AZURE_PASSWORD (`jitpim emulator env --as NAME` prints a seeded user's).",
            )
        now = int(self._clock())
        expires_on = now + int(body.get("expires_in", 3600))
        return AccessTokenInfo(
            body["access_token"], expires_on, token_type="Bearer", refresh_on=expires_on - _REFRESH_MARGIN
        )

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        if not scopes:
            raise ValueError("get_token_info requires at least one scope")
        tenant = (options or {}).get("tenant_id") or self.tenant_id
        key = (" ".join(sorted(scopes)), tenant)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached.expires_on - _REFRESH_MARGIN > self._clock():
                return cached  # type: ignore[no-any-return]
        info = self._request(tuple(scopes), tenant)
        with self._lock:
            self._cache[key] = info
        return info

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        from azure.core.credentials import AccessToken

        options: dict[str, Any] = {"tenant_id": tenant_id} if tenant_id else {}
        info = self.get_token_info(*scopes, options=options)  # type: ignore[arg-type]
        return AccessToken(info.token, info.expires_on)

    def close(self) -> None:
        with self._lock:
            self._cache.clear()

    def __enter__(self) -> PasswordGrantCredential:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
