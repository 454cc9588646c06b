"""The azure-core pipeline behind `ApiClient`: retry, bearer token, request ids, counting, redacted logging.

Imported lazily (only when a client is built), because azure-core and requests cost tens of milliseconds
that `jitpim --help` must not pay.

Order matters: the retry policy sits *outside* the bearer-token policy, so every attempt is authorized with
a current token, and the counter sits inside both, so it sees every attempt that reached the wire.
"""

from __future__ import annotations

import logging
import random
import ssl
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from azure.core import PipelineClient
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ServiceRequestError, ServiceResponseError
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import (
    BearerTokenCredentialPolicy,
    HeadersPolicy,
    HttpLoggingPolicy,
    HTTPPolicy,
    SansIOHTTPPolicy,
    UserAgentPolicy,
)
from azure.core.pipeline.transport import RequestsTransport

from .connectivity import connection_refused, is_loopback_url
from .counter import RequestCounter
from .retry import IDEMPOTENT_METHODS, RetryEvent, RetrySettings, parse_retry_after

__all__ = ["RETRY_UNSAFE_OPTION", "JitRetryPolicy", "build_pipeline_client", "is_tls_verification_failure"]

log = logging.getLogger("jitpim.http")
# Retries are progress a person waits through: WARNING, so that an unconfigured program (the CLI) shows them
# on stderr through Python's last-resort handler, and a program with logging set up routes them as it likes.
progress = logging.getLogger("jitpim.http.retry")
# Per-call option read (and removed) by the retry policy: the caller states the call is safe to resend.
RETRY_UNSAFE_OPTION = "jitpim_retry_unsafe"


def is_tls_verification_failure(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) is a failed certificate verification."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _path(request: PipelineRequest[Any]) -> str:
    return str(urlsplit(request.http_request.url).path)


class JitRetryPolicy(HTTPPolicy[Any, Any]):
    """Retries by the rules in `jitpim.http.retry`; sleeps through the injected `sleep`."""

    def __init__(
        self,
        settings: RetrySettings,
        *,
        sleep: Callable[[float], None],
        on_retry: Callable[[RetryEvent], None] | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.sleep = sleep
        self.on_retry = on_retry
        self.rng = rng

    def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        unsafe_ok = bool(request.context.options.pop(RETRY_UNSAFE_OPTION, False))
        method = request.http_request.method.upper()
        idempotent = method in IDEMPOTENT_METHODS or unsafe_ok
        waited = 0.0
        retry = 0
        while True:
            status: int | None = None
            response: PipelineResponse[Any, Any] | None = None
            failure: AzureError | None = None
            try:
                response = self.next.send(request)
            except ServiceResponseError as exc:
                # Sent, but no response: the change may have been applied.
                if not idempotent or retry >= self.settings.max_retries:
                    raise
                failure, reason = exc, "no response"
            except ServiceRequestError as exc:
                # Nothing was sent (connection refused, DNS, TLS handshake): safe to resend, except a
                # certificate the client does not trust, which no retry will fix, and a refused connection
                # to this machine: nothing listens on that port (a stopped emulator), and waiting will not
                # start it. Those fail at once.
                if retry >= self.settings.max_retries or is_tls_verification_failure(exc):
                    raise
                if connection_refused(exc) and is_loopback_url(request.http_request.url):
                    raise
                failure, reason = exc, "connection refused" if connection_refused(exc) else "connection failed"
            else:
                status = response.http_response.status_code
                if status not in self.settings.statuses or retry >= self.settings.max_retries:
                    return response
                if status == 429:
                    reason = "throttled"
                elif idempotent:
                    reason = "server error"
                else:
                    return response
            hinted = parse_retry_after(response.http_response.headers) if response is not None else None
            if hinted is not None and hinted > self.settings.retry_after_cap:
                assert response is not None
                return response  # the caller raises ThrottledError/ProviderApiError with retry_after
            delay = hinted if hinted is not None else self.settings.backoff(retry, self.rng)
            if waited + delay > self.settings.max_total_wait:
                if response is not None:
                    return response
                assert failure is not None
                raise failure
            retry += 1
            waited += delay
            event = RetryEvent(
                method=method, path=_path(request), attempt=retry, status=status, delay=delay, reason=reason
            )
            host = urlsplit(request.http_request.url).netloc
            progress.warning(
                "jitpim: %s %s%s: %s%s; retry %d of %d in %.1f s",
                method,
                host,
                event.path,
                reason,
                f" ({status})" if status is not None else "",
                retry,
                self.settings.max_retries,
                delay,
            )
            if self.on_retry is not None:
                self.on_retry(event)
            self.sleep(delay)


class _ClientRequestIdPolicy(SansIOHTTPPolicy[Any, Any]):
    """One GUID per call in both header spellings (Graph echoes `client-request-id`, ARM and Key Vault
    `x-ms-client-request-id`), so a failed call can be found in the service's logs."""

    def on_request(self, request: PipelineRequest[Any]) -> None:
        headers = request.http_request.headers
        rid = headers.get("client-request-id") or headers.get("x-ms-client-request-id") or str(uuid.uuid4())
        headers["client-request-id"] = rid
        headers["x-ms-client-request-id"] = rid


class _CountingPolicy(SansIOHTTPPolicy[Any, Any]):
    def __init__(self, counter: RequestCounter) -> None:
        self.counter = counter

    def on_response(self, request: PipelineRequest[Any], response: PipelineResponse[Any, Any]) -> None:
        self.counter.record(request.http_request.method, request.http_request.url, response.http_response.status_code)

    def on_exception(self, request: PipelineRequest[Any]) -> None:
        self.counter.record(request.http_request.method, request.http_request.url, None)


def build_pipeline_client(
    base_url: str,
    *,
    credential: TokenCredential | None,
    scopes: tuple[str, ...],
    verify: str | bool,
    settings: RetrySettings,
    sleep: Callable[[float], None],
    on_retry: Callable[[RetryEvent], None] | None,
    counter: RequestCounter,
    user_agent: str,
    timeouts: tuple[float, float],
) -> PipelineClient[Any, Any]:
    """A PipelineClient whose transport trusts exactly `verify` (a CA bundle path, or True for the system
    store). There is no parameter that turns verification off."""
    transport = RequestsTransport(connection_verify=verify, connection_timeout=timeouts[0], read_timeout=timeouts[1])
    policies: list[Any] = [
        HeadersPolicy({"Accept": "application/json"}),
        UserAgentPolicy(base_user_agent=user_agent, user_agent_use_env=False),
        _ClientRequestIdPolicy(),
        JitRetryPolicy(settings, sleep=sleep, on_retry=on_retry),
    ]
    if credential is not None:
        policies.append(BearerTokenCredentialPolicy(credential, *scopes))
    # HttpLoggingPolicy logs method, URL and allow-listed headers (Authorization is always "REDACTED"); it
    # never logs bodies. No NetworkTraceLoggingPolicy: that one can log bodies.
    policies += [_CountingPolicy(counter), HttpLoggingPolicy(logger=logging.getLogger("jitpim.http.wire"))]
    return PipelineClient(base_url, policies=policies, transport=transport)
