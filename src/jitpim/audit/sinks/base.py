"""What every sink shares: the interface, retries with backoff (honouring `Retry-After`), and one small
HTTPS POST on the standard library (TLS always verified; plain http only to a loopback address).

A sink's `send(records)` either returns (every record accepted) or raises `AuditSinkError` after its retries,
with a message that names the sink and the reason and never a credential or a record's content.
"""

from __future__ import annotations

import ipaddress
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Final, Protocol, TypeVar
from urllib.parse import urlsplit

from jitpim.audit.sinks.config import SinkSpec
from jitpim.errors import AuditSinkError, ConfigError

__all__ = [
    "HttpAnswer",
    "Sink",
    "SleepFn",
    "TransientError",
    "ca_bundle_of",
    "check_url",
    "http_post",
    "record_time",
    "with_retries",
]

SleepFn = Callable[[float], None]
T = TypeVar("T")
_RETRYABLE_STATUS: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_MAX_BACKOFF_S: Final = 30.0


class Sink(Protocol):
    """One destination of audit records."""

    type_name: ClassVar[str]
    name: str
    batch_size: int

    def send(self, records: Sequence[Mapping[str, Any]]) -> None: ...

    def close(self) -> None: ...


class TransientError(Exception):
    """A failure worth retrying (connection refused, timeout, 429, 5xx); `retry_after` in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def with_retries(spec: SinkSpec, attempt: Callable[[], T], sleep: SleepFn) -> T:
    """Run `attempt`, retrying TransientError up to `spec.retries` times with exponential backoff (1 s, 2 s,
    4 s, ... up to 30 s, or the server's Retry-After); the last failure becomes AuditSinkError."""
    delay = 1.0
    for number in range(spec.retries + 1):
        try:
            return attempt()
        except TransientError as error:
            if number >= spec.retries:
                tries = f"{spec.retries + 1} attempt{'s' if spec.retries else ''}"
                raise AuditSinkError(f"{spec.type} sink {spec.name!r}: {error.message} (after {tries})") from None
            wait = error.retry_after if error.retry_after is not None else delay
            sleep(min(max(wait, 0.0), _MAX_BACKOFF_S))
            delay = min(delay * 2, _MAX_BACKOFF_S)
    raise AssertionError("unreachable")  # pragma: no cover


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(spec: SinkSpec, key: str = "url") -> str:
    """The sink's URL: https, or http only to a loopback address (a local relay or test receiver)."""
    url = str(spec.require(key))
    parts = urlsplit(url)
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise ConfigError(f"{spec.where}: {key} must be an https:// URL")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"{spec.where}: {key} must use https (plain http is allowed only to a loopback address)",
            hint="Audit records and their signatures are sent over TLS; TLS verification is never disabled.",
        )
    return url


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: Mapping[str, str]
    body: bytes


def http_post(
    url: str, body: bytes, headers: Mapping[str, str], *, timeout_s: float, ca_bundle: str | None = None
) -> HttpAnswer:
    """POST and return a 2xx answer; TransientError for what may succeed later, AuditSinkError-worthy
    `HttpAnswer` with a 4xx status is returned to the caller to word the error."""
    context = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()
    request = urllib.request.Request(url, data=body, method="POST", headers=dict(headers))  # noqa: S310 - checked
    try:
        with urllib.request.urlopen(request, timeout=timeout_s, context=context) as response:  # noqa: S310
            return HttpAnswer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        answer_headers = {k.lower(): v for k, v in (error.headers or {}).items()}
        payload = error.read() if error.fp is not None else b""
        if error.code in _RETRYABLE_STATUS:
            raise TransientError(f"answered {error.code}", _retry_after(answer_headers)) from None
        return HttpAnswer(error.code, answer_headers, payload)
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise TransientError(f"cannot reach {urlsplit(url).netloc} ({type(reason).__name__}: {reason})") from None


def record_time(record: Mapping[str, Any]) -> str | None:
    """When the record was written to the ledger (its `ledger.at`), if it says."""
    ledger = record.get("ledger")
    at = ledger.get("at") if isinstance(ledger, Mapping) else None
    return at if isinstance(at, str) else None


def ca_bundle_of(spec: SinkSpec) -> str | None:
    value = spec.option("ca_bundle")
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{spec.where}: ca_bundle must be a path")
    return value
