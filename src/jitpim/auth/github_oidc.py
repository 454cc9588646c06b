"""The GitHub Actions OIDC token source: a fresh ID token from the runner for every Entra token request.

Inside a job with `permissions: id-token: write` the runner exports `ACTIONS_ID_TOKEN_REQUEST_URL` and
`ACTIONS_ID_TOKEN_REQUEST_TOKEN`. `GET {url}&audience=<aud>` with `Authorization: Bearer <request token>`
answers `{"value": "<JWT>"}` (actions/toolkit `oidc-utils`). GitHub's ID tokens live about five minutes, so
the source fetches a new one each time azure-identity asks for an assertion instead of caching one (which
is what a token *file* read every ten minutes by WorkloadIdentityCredential would do).

`verify_github_id_token` checks a token against the issuer's published keys: the discovery document and JWKS
at the cloud profile's `github_oidc_url` (GitHub's issuer, or the emulator's), never at a location the job's
environment names, so a step that rewrites `GITHUB_*` or `ACTIONS_ID_TOKEN_REQUEST_URL` cannot make its own
claims verify. Signature (RS256), issuer, audience and lifetime are all checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, urlsplit

from ..cloud import PUBLIC, CloudProfile
from ..errors import AuthError, JitError, ProviderApiError
from ..http import ApiClient, RetrySettings
from .identity import unverified_claims

__all__ = ["GITHUB_ISSUER", "GitHubOidcTokenSource", "verify_github_id_token"]

# The `iss` of every GitHub.com Actions ID token (the emulator issues the same).
GITHUB_ISSUER: Final = "https://token.actions.githubusercontent.com"
# Clock skew tolerated between the runner, GitHub and this machine.
_LEEWAY_SECONDS: Final = 60

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

    def verified_claims(self) -> dict[str, Any]:
        """Fetch a token and return its claims after verifying it against the issuer's keys."""
        return verify_github_id_token(self(), cloud=self.cloud or PUBLIC, audience=self.audience)


def _fetch_json(cloud: CloudProfile, url: str, what: str) -> dict[str, Any]:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise AuthError(f"the GitHub OIDC {what} URL {url!r} is not https")
    with ApiClient(f"{parts.scheme}://{parts.netloc}", None, None, cloud=cloud) as client:
        try:
            body = client.get(url, expected=(200,)).json
        except JitError as exc:
            raise AuthError(f"cannot read the GitHub OIDC {what} ({url}): {exc.message}", hint=exc.hint) from None
    if not isinstance(body, dict):
        raise AuthError(f"the GitHub OIDC {what} at {url} is not a JSON object")
    return body


def verify_github_id_token(token: str, *, cloud: CloudProfile, audience: str) -> dict[str, Any]:
    """The claims of a GitHub Actions ID token whose signature, issuer, audience and lifetime verify against
    the issuer's keys (see the module docstring). Raises `AuthError` naming what failed, never the token."""
    import jwt

    base = cloud.github_oidc_url.rstrip("/")
    discovery = _fetch_json(cloud, f"{base}/.well-known/openid-configuration", "discovery document")
    if discovery.get("issuer") != GITHUB_ISSUER:
        raise AuthError(f"the OIDC issuer at {base} is {discovery.get('issuer')!r}, not GitHub's {GITHUB_ISSUER}")
    jwks_uri = str(discovery.get("jwks_uri") or "")
    if urlsplit(jwks_uri).netloc != urlsplit(base).netloc:
        # Keys are trusted only from the host the profile names, whatever the document says.
        raise AuthError(f"the GitHub OIDC discovery document points its keys at another host ({jwks_uri!r})")
    keys = _fetch_json(cloud, jwks_uri, "key set")
    try:
        header = jwt.get_unverified_header(token)
        key_set = jwt.PyJWKSet.from_dict(keys)
        matching = [k for k in key_set.keys if k.key_id == header.get("kid")]
        if not matching:
            raise AuthError(
                f"the GitHub ID token is signed with key {header.get('kid')!r}, which the issuer does not publish"
            )
        claims: dict[str, Any] = jwt.decode(
            token,
            key=matching[0].key,
            algorithms=["RS256"],
            audience=audience,
            issuer=GITHUB_ISSUER,
            leeway=_LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthError(
            f"the GitHub ID token does not verify: {exc}",
            hint="The token must come from the runner's ACTIONS_ID_TOKEN_REQUEST_URL of this very job.",
        ) from None
    return claims
