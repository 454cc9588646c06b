"""An application's token for a federated assertion (GitHub Actions OIDC, a workload identity's token file):
one OAuth 2.0 client-credentials request with a `jwt-bearer` client assertion, sent through azure-core.

This is all azure-identity's `ClientAssertionCredential` / `WorkloadIdentityCredential` do on these paths,
and it spares a CI job importing azure-identity, MSAL and their dependencies (about 120 ms of every `exec`).
The request is the documented one (`POST {authority}/{tenant}/oauth2/v2.0/token` with `grant_type=
client_credentials`, `client_id`, `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:
jwt-bearer`, `client_assertion`, `scope`); a token is cached per scope and tenant until five minutes before
it expires, and a fresh assertion is fetched for every request (GitHub's ID tokens live minutes, a projected
token file is rotated). Neither the assertion nor the token appears in `repr`, logs or errors: a refusal
becomes `AuthError` with the AADSTS code and Entra's message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from ..cloud import CloudProfile
from ..errors import AuthError, ProviderError
from ..http import ApiClient, parse_error_body
from .token_cache import CachedGrantCredential

if TYPE_CHECKING:
    from azure.core.credentials import AccessTokenInfo

__all__ = ["JWT_BEARER", "ClientAssertionGrantCredential", "token_file_assertion"]

JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def token_file_assertion(path: str) -> Callable[[], str]:
    """The assertion of a workload identity: the token file's content, read again at every request (Kubernetes
    rotates it). An unreadable file raises OSError, which the guarded credential reports as `AuthError`."""

    def read() -> str:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()

    return read


class ClientAssertionGrantCredential(CachedGrantCredential):
    """`TokenCredential` for application `client_id` in `tenant_id`, authenticated by `assertion()`."""

    def __init__(
        self,
        cloud: CloudProfile,
        *,
        tenant_id: str,
        client_id: str,
        assertion: Callable[[], str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(tenant_id=tenant_id, clock=clock)
        self.cloud = cloud
        self.client_id = client_id
        self._assertion = assertion

    def __repr__(self) -> str:
        return f"ClientAssertionGrantCredential(client_id={self.client_id!r}, tenant_id={self.tenant_id!r})"

    def _request(self, scopes: tuple[str, ...], tenant: str) -> AccessTokenInfo:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_assertion_type": JWT_BEARER,
            "client_assertion": self._assertion(),
            "scope": " ".join(scopes),
        }
        try:
            with ApiClient(self.cloud.authority_host, None, None, cloud=self.cloud) as client:
                response = client.post(
                    f"/{tenant}/oauth2/v2.0/token", form=form, expected=(200, 400, 401), retry_unsafe=True
                )
        except ProviderError as exc:  # the issuer did not answer: an authentication failure, with its hint
            raise AuthError(
                f"cannot get a token from {self.cloud.authority_host}: {exc.message}", hint=exc.hint
            ) from None
        finally:
            form.clear()  # the assertion is a credential: keep it no longer than the request
        body = response.json if isinstance(response.json, dict) else {}
        if response.status != 200 or not isinstance(body.get("access_token"), str):
            parsed = parse_error_body(response.status, json.dumps(body), response.headers)
            code = f"{parsed.inner_code}: " if parsed.inner_code and parsed.inner_code not in parsed.message else ""
            raise AuthError(
                f"the federated sign-in of application {self.client_id} was refused: {code}{parsed.message}",
                hint=AuthError.default_hint,
            )
        return self._token_info(body["access_token"], body.get("expires_in", 3600))
