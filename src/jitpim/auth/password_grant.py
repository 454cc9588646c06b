"""A person's password sign-in against the emulator's token endpoint (the OAuth 2.0 password grant).

azure-identity's `UsernamePasswordCredential` cannot reach an emulator on a loopback port: before the grant
MSAL asks `https://{host}/common/userrealm/{user}` with the port dropped (msal/authority.py builds that URL
from the host name only). This credential sends the same grant (`grant_type=password`, the public client
id, the scopes) straight to `{authority}/{tenant}/oauth2/v2.0/token`. Real clouds keep MSAL, which also
handles federated (ADFS) realms. The password never appears in `repr`, logs or errors.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..cloud import CloudProfile
from ..errors import AuthError
from ..http import ApiClient, parse_error_body
from .token_cache import CachedGrantCredential

if TYPE_CHECKING:
    from azure.core.credentials import AccessTokenInfo

__all__ = ["PasswordGrantCredential"]


class PasswordGrantCredential(CachedGrantCredential):
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
        super().__init__(tenant_id=tenant_id, clock=clock)
        self.cloud = cloud
        self.client_id = client_id
        self.username = username
        self.__password = password

    def __repr__(self) -> str:
        return f"PasswordGrantCredential(username={self.username!r}, tenant_id={self.tenant_id!r})"

    def _request(self, scopes: tuple[str, ...], tenant: str) -> AccessTokenInfo:
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
        return self._token_info(body["access_token"], body.get("expires_in", 3600))
