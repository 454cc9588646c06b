"""`ApiClient`: one small JSON client for Microsoft Graph, ARM, Key Vault and other JSON APIs.

It is a thin shell over an azure-core pipeline (built on first use; see `_pipeline.py`): bearer tokens from
any azure-identity credential, retries with `Retry-After`, error envelopes parsed into `ProviderApiError`,
paging that follows `@odata.nextLink` (Graph) and `nextLink` (ARM) verbatim. It sends a token only to the
origin it was built for: an absolute URL (a nextLink) pointing anywhere else is refused.
"""

from __future__ import annotations

import functools
import json as _json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from ..cloud import CloudProfile
from ..errors import ConfigError, JitError, ProviderApiError, ProviderError
from .connectivity import connection_refused, unreachable_hint
from .counter import RequestCounter
from .envelopes import auth_error_from, error_for_response
from .retry import RetryEvent, RetrySettings, default_sleep, parse_retry_after

if TYPE_CHECKING:
    from azure.core import PipelineClient
    from azure.core.credentials import TokenCredential

__all__ = ["DEFAULT_EXPECTED", "ApiClient", "ApiResponse", "arm_client", "graph_client", "keyvault_client"]

DEFAULT_EXPECTED = (200, 201, 204)
_MAX_PAGES = 1000
# Characters OData and ARM queries use literally ($filter, 'quoted values', asTarget()); spaces become %20.
_QUERY_SAFE = "$'(),:/@"


@functools.cache
def _default_user_agent() -> str:
    from jitpim._version import __version__  # a literal: importlib.metadata costs ~30 ms per process

    return f"jitpim/{__version__}"


@dataclass(frozen=True)
class ApiResponse:
    """A successful (expected) response. `json` is the parsed body or None; header names are lower-case.

    The body is kept out of `repr`: it may hold secret values (Key Vault) or tokens.
    """

    status: int
    json: Any = field(repr=False)
    headers: Mapping[str, str] = field(repr=False)
    url: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def request_id(self) -> str | None:
        return self.header("request-id") or self.header("x-ms-request-id")

    @property
    def retry_after(self) -> float | None:
        """Seconds the service asks to wait before polling again (ARM `Retry-After` on 202), or None."""
        return parse_retry_after(self.headers)


class ApiClient:
    """JSON over HTTPS for one API origin, authorized with `credential` for `scope`.

    `credential=None` sends no Authorization header (public endpoints, or callers that pass their own in
    `headers=`). `sleep` replaces `time.sleep` between retries (tests record instead of waiting);
    `on_retry` is told about every retry; `counter` records every attempt that reached the wire.
    """

    def __init__(
        self,
        base_url: str,
        credential: TokenCredential | None,
        scope: str | Sequence[str] | None,
        *,
        cloud: CloudProfile,
        retry: RetrySettings | None = None,
        sleep: Callable[[float], None] | None = None,
        user_agent: str | None = None,
        counter: RequestCounter | None = None,
        on_retry: Callable[[RetryEvent], None] | None = None,
        timeouts: tuple[float, float] = (10.0, 60.0),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme != "https" or not parts.netloc:
            raise ConfigError(
                f"API base URL {base_url!r} must be https://HOST[/PATH]",
                hint="Bearer tokens are only ever sent over TLS.",
            )
        self._origin = (parts.scheme, parts.netloc.lower())
        self.credential = credential
        self.scopes: tuple[str, ...] = (scope,) if isinstance(scope, str) else tuple(scope or ())
        if credential is not None and not self.scopes:
            raise ConfigError("an ApiClient with a credential needs the token scope to request")
        self.cloud = cloud
        self.retry_settings = retry or RetrySettings()
        self.user_agent = user_agent
        self.counter = counter if counter is not None else RequestCounter()
        self.retries: list[RetryEvent] = []
        self._sleep = sleep or default_sleep
        self._on_retry = on_retry
        self._timeouts = timeouts
        self._client: PipelineClient[Any, Any] | None = None

    def __repr__(self) -> str:
        return f"ApiClient({self.base_url!r}, scopes={self.scopes!r}, cloud={self.cloud.name!r})"

    # lifecycle -----------------------------------------------------------------------------------------------
    def _pipeline(self) -> PipelineClient[Any, Any]:
        if self._client is None:
            from ._pipeline import build_pipeline_client

            self._client = build_pipeline_client(
                self.base_url,
                credential=self.credential,
                scopes=self.scopes,
                verify=self.cloud.ca_bundle or True,
                settings=self.retry_settings,
                sleep=self._sleep,
                on_retry=self._record_retry,
                counter=self.counter,
                user_agent=self.user_agent or _default_user_agent(),
                timeouts=self._timeouts,
            )
        return self._client

    def _record_retry(self, event: RetryEvent) -> None:
        self.retries.append(event)
        if self._on_retry is not None:
            self._on_retry(event)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # URLs ----------------------------------------------------------------------------------------------------
    def url_for(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> str:
        """Absolute URL for a path under `base_url`, or a same-origin absolute URL, plus encoded `params`."""
        if path_or_url.startswith(("https://", "http://")):
            parts = urlsplit(path_or_url)
            if (parts.scheme, parts.netloc.lower()) != self._origin:
                raise ProviderError(
                    f"refusing to send a token for {self.base_url} to {parts.scheme}://{parts.netloc}",
                    hint="A link in an API response pointed at another host; this is not followed.",
                )
            url = path_or_url
        else:
            url = f"{self.base_url}/{path_or_url.lstrip('/')}" if path_or_url else self.base_url
        if params:
            query = urlencode(
                [
                    (k, "true" if v is True else "false" if v is False else v)
                    for k, v in params.items()
                    if v is not None
                ],
                quote_via=quote,
                safe=_QUERY_SAFE,
            )
            if query:
                url += ("&" if "?" in url else "?") + query
        return url

    # calls ---------------------------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expected: Sequence[int] = DEFAULT_EXPECTED,
        retry_unsafe: bool = False,
    ) -> ApiResponse:
        """Send one call (with retries); return the response when its status is in `expected`, else raise
        `ProviderApiError` (`ThrottledError` for 429) parsed from the API's error envelope.

        `json` sends a JSON body, `form` an `application/x-www-form-urlencoded` one (OAuth token endpoints).
        `retry_unsafe=True` states that resending this POST/PUT/PATCH is harmless (the API deduplicates it).
        """
        from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError, ServiceResponseError
        from azure.core.rest import HttpRequest

        from ._pipeline import RETRY_UNSAFE_OPTION

        method = method.upper()
        url = self.url_for(path_or_url, params)
        where = url.split("?", 1)[0]
        if json is not None and form is not None:
            raise ValueError("send either json or form, not both")
        if form is not None:
            request = HttpRequest(method, url, data=dict(form), headers=dict(headers or {}))
        else:
            request = HttpRequest(method, url, json=json, headers=dict(headers or {}))
        options = {RETRY_UNSAFE_OPTION: retry_unsafe}
        auth_failure: JitError | None = None
        try:
            response = self._pipeline().send_request(request, stream=False, **options)
            try:
                body = response.read()
            finally:
                response.close()  # hand the connection back now, not when the garbage collector gets to it
        except JitError:
            raise
        except ClientAuthenticationError as exc:
            auth_failure = auth_error_from(exc, what=f"obtaining a token for {', '.join(self.scopes)}")
        except ServiceResponseError as exc:
            # status None marks "no answer": the lifecycle looks the change up before asking again.
            raise ProviderApiError(
                f"{method} {where} got no response ({type(exc).__name__})",
                status=None,
                code="NoResponse",
                hint="The request may have been applied; jitpim looks it up before trying again.",
            ) from exc
        except ServiceRequestError as exc:
            from ._pipeline import is_tls_verification_failure

            hint = "Check the network and the cloud profile's URLs."
            why = type(exc).__name__
            if is_tls_verification_failure(exc):
                hint = (
                    "TLS verification failed: point JITPIM_CA_BUNDLE at the CA that issued the server's "
                    "certificate (for the emulator, its ca_cert). Verification is never turned off."
                )
            elif connection_refused(exc):
                why = "connection refused"
                hint = unreachable_hint(url)
            raise ProviderError(f"cannot reach {where} ({why})", hint=hint) from exc
        if auth_failure is not None:
            # Raised outside the handler: the credential's error references its token request (secrets).
            raise auth_failure

        status = response.status_code
        response_headers = {k.lower(): v for k, v in response.headers.items()}
        # An error raised below keeps this frame alive in its traceback; the response (and through it
        # urllib3's connection pool, which now closes only when collected) must not stay reachable.
        del response, request
        if status in expected:
            return ApiResponse(status=status, json=_parse_json(body), headers=response_headers, url=url)
        if 200 <= status < 300:
            raise ProviderApiError(
                f"{method} {where} answered {status}, expected {', '.join(map(str, expected))}",
                status=status,
                code="UnexpectedStatus",
                request_id=response_headers.get("request-id") or response_headers.get("x-ms-request-id"),
            )
        raise error_for_response(
            status, body, response_headers, method=method, url=url, retry_after=parse_retry_after(response_headers)
        )

    def get(
        self,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expected: Sequence[int] = DEFAULT_EXPECTED,
    ) -> ApiResponse:
        return self.request("GET", path_or_url, params=params, headers=headers, expected=expected)

    def post(
        self,
        path_or_url: str,
        json: Any = None,
        *,
        form: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expected: Sequence[int] = DEFAULT_EXPECTED,
        retry_unsafe: bool = False,
    ) -> ApiResponse:
        return self.request(
            "POST",
            path_or_url,
            json=json,
            form=form,
            params=params,
            headers=headers,
            expected=expected,
            retry_unsafe=retry_unsafe,
        )

    def put(
        self,
        path_or_url: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expected: Sequence[int] = DEFAULT_EXPECTED,
        retry_unsafe: bool = False,
    ) -> ApiResponse:
        return self.request(
            "PUT", path_or_url, json=json, params=params, headers=headers, expected=expected, retry_unsafe=retry_unsafe
        )

    def patch(
        self,
        path_or_url: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expected: Sequence[int] = DEFAULT_EXPECTED,
        retry_unsafe: bool = False,
    ) -> ApiResponse:
        return self.request(
            "PATCH",
            path_or_url,
            json=json,
            params=params,
            headers=headers,
            expected=expected,
            retry_unsafe=retry_unsafe,
        )

    def delete(
        self,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expected: Sequence[int] = DEFAULT_EXPECTED,
    ) -> ApiResponse:
        return self.request("DELETE", path_or_url, params=params, headers=headers, expected=expected)

    def paged(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        max_pages: int = _MAX_PAGES,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list, following `@odata.nextLink` (Graph) or `nextLink` (ARM) exactly as given
        (the link already carries the query; `params` apply to the first page only)."""
        url: str | None = path
        page_params = params
        seen: set[str] = set()
        pages = 0
        while url:
            body = self.get(url, params=page_params, headers=headers, expected=(200,)).json
            if not isinstance(body, dict) or not isinstance(body.get("value", []), list):
                raise ProviderApiError(f"GET {url.split('?', 1)[0]} did not return a list (no 'value' array)")
            for item in body.get("value", []):
                if isinstance(item, dict):
                    yield item
            link = body.get("@odata.nextLink") or body.get("nextLink")
            url = link if isinstance(link, str) and link else None
            page_params = None
            pages += 1
            if url is not None:
                if url in seen:
                    raise ProviderApiError("the API returned the same nextLink twice; stopped paging")
                if pages >= max_pages:
                    raise ProviderApiError(f"more than {max_pages} pages; stopped paging")
                seen.add(url)


def _parse_json(body: bytes) -> Any:
    if not body or not body.strip():
        return None
    try:
        return _json.loads(body)
    except ValueError:
        return None


def graph_client(cloud: CloudProfile, credential: TokenCredential | None, **kwargs: Any) -> ApiClient:
    """Microsoft Graph (paths start with the version: `/v1.0/...`, `/beta/...`)."""
    return ApiClient(cloud.graph_url, credential, cloud.graph_scope, cloud=cloud, **kwargs)


def arm_client(cloud: CloudProfile, credential: TokenCredential | None, **kwargs: Any) -> ApiClient:
    """Azure Resource Manager (pass `api-version` in `params`)."""
    return ApiClient(cloud.arm_url, credential, cloud.arm_scope, cloud=cloud, **kwargs)


def keyvault_client(
    cloud: CloudProfile, credential: TokenCredential | None, vault_url: str, **kwargs: Any
) -> ApiClient:
    """One Key Vault's data plane (pass `api-version`, e.g. 7.5, in `params`)."""
    return ApiClient(vault_url, credential, cloud.keyvault_scope, cloud=cloud, **kwargs)
