"""The GitHub Actions OIDC token source: a fresh ID token from the runner for every Entra token request.

Inside a job with `permissions: id-token: write` the runner exports `ACTIONS_ID_TOKEN_REQUEST_URL` and
`ACTIONS_ID_TOKEN_REQUEST_TOKEN`. `GET {url}&audience=<aud>` with `Authorization: Bearer <request token>`
answers `{"value": "<JWT>"}` (actions/toolkit `oidc-utils`). GitHub's ID tokens live about five minutes, so
the source fetches a new one each time azure-identity asks for an assertion instead of caching one (which
is what a token *file* read every ten minutes by WorkloadIdentityCredential would do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from ..cloud import PUBLIC, CloudProfile
from ..errors import AuthError, JitError, ProviderApiError
from ..http import ApiClient, RetrySettings
from .identity import unverified_claims

__all__ = ["GitHubOidcTokenSource"]

_PERMISSION_HINT = (
    "Give the job `permissions: id-token: write`; the runner then sets ACTIONS_ID_TOKEN_REQUEST_URL and "
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN. A request token lives only as long as its job."
)


@dataclass
class GitHubOidcTokenSource:
    """A callable for azure-identity's `ClientAssertionCredential(func=...)`: each call returns a new
    GitHub ID token for `audience`. The request token is kept out of `repr` and of every error."""

    request_url: str
    request_token: str = field(repr=False)
    audience: str = "api://AzureADTokenExchange"
    cloud: CloudProfile | None = None
    retry: RetrySettings = field(default_factory=lambda: RetrySettings(max_retries=5))
    calls: int = 0

    def __post_init__(self) -> None:
        parts = urlsplit(self.request_url)
        if parts.scheme != "https" or not parts.netloc:
            raise AuthError(f"ACTIONS_ID_TOKEN_REQUEST_URL is not an https URL ({parts.scheme or 'no'} scheme)")
        if not self.request_token:
            raise AuthError("ACTIONS_ID_TOKEN_REQUEST_TOKEN is empty", hint=_PERMISSION_HINT)

    def _client(self) -> ApiClient:
        parts = urlsplit(self.request_url)
        # Only the CA bundle matters here: the runner's endpoint is reached with the same trust as the cloud.
        return ApiClient(f"{parts.scheme}://{parts.netloc}", None, None, cloud=self.cloud or PUBLIC, retry=self.retry)

    def url(self) -> str:
        separator = "&" if "?" in self.request_url else "?"
        return f"{self.request_url}{separator}audience={quote(self.audience, safe='')}"

    def __call__(self) -> str:
        self.calls += 1
        with self._client() as client:
            try:
                response = client.get(
                    self.url(), headers={"Authorization": f"Bearer {self.request_token}"}, expected=(200,)
                )
            except ProviderApiError as exc:
                if exc.status in (401, 403):
                    raise AuthError(
                        f"GitHub refused the ID token request ({exc.status}): the request token is wrong or expired",
                        hint=_PERMISSION_HINT,
                    ) from exc
                raise AuthError(f"the GitHub ID token request failed: {exc.message}", hint=exc.hint) from exc
            except JitError as exc:
                raise AuthError(f"the GitHub ID token request failed: {exc.message}", hint=exc.hint) from exc
        body = response.json
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise AuthError("the GitHub ID token response has no 'value'", hint=_PERMISSION_HINT)
        return value

    def claims(self) -> dict[str, Any]:
        """Fetch a token and return its (unverified) claims: repository, ref, environment, run id..."""
        return unverified_claims(self())
