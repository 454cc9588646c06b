"""Generic webhook sink: POST the records as JSON, signed with HMAC-SHA256, retried on failure.

    POST <url>
    Content-Type: application/json
    X-Jitpim-Delivery: <uuid>              (the same id on every retry of one delivery: deduplicate on it)
    X-Jitpim-Timestamp: <unix seconds>
    X-Jitpim-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>." + body)>

    {"type":"jitpim.audit.records","delivery":"<uuid>","records":[...]}

The receiver recomputes the HMAC over the timestamp, a dot and the raw body bytes with the shared key,
compares it in constant time, and rejects timestamps too far from its clock (replays). Any 2xx is success;
408, 425, 429 and 5xx (and connection failures) are retried with backoff; other statuses fail at once.
Options: `url`, `secret_env` or `secret_file` (the key), `ca_bundle`, `headers` (extra, non-secret).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Final

from jitpim.audit.canonical import canonical_json
from jitpim.audit.sinks.base import SleepFn, ca_bundle_of, check_url, http_post, with_retries
from jitpim.audit.sinks.config import SinkSpec, read_secret
from jitpim.errors import AuditSinkError, ConfigError

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "WebhookSink", "sign_body"]

SIGNATURE_HEADER: Final = "X-Jitpim-Signature"
TIMESTAMP_HEADER: Final = "X-Jitpim-Timestamp"
DELIVERY_HEADER: Final = "X-Jitpim-Delivery"
_RESERVED: Final = frozenset({"authorization", "content-type", SIGNATURE_HEADER.lower(), TIMESTAMP_HEADER.lower()})


def sign_body(key: bytes, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over `<timestamp>.<body>`."""
    return "sha256=" + hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


class WebhookSink:
    type_name: ClassVar[str] = "webhook"

    def __init__(
        self,
        spec: SinkSpec,
        *,
        environ: Mapping[str, str] | None = None,
        sleep: SleepFn = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.batch_size = int(spec.option("batch_size", 100))
        self.url = check_url(spec)
        secret = read_secret(spec, "secret", environ)
        assert secret is not None
        self._key = secret.encode("utf-8")
        self._ca_bundle = ca_bundle_of(spec)
        extra = spec.option("headers", {})
        if not isinstance(extra, Mapping) or any(str(k).lower() in _RESERVED for k in extra):
            raise ConfigError(f"{spec.where}: headers must be a mapping without Authorization or the signature headers")
        self._extra = {str(k): str(v) for k, v in extra.items()}
        self._sleep = sleep
        self._clock = clock

    def send(self, records: Sequence[Mapping[str, Any]]) -> None:
        if not records:
            return
        delivery = str(uuid.uuid4())
        body = canonical_json({"delivery": delivery, "records": list(records), "type": "jitpim.audit.records"}).encode(
            "utf-8"
        )

        def attempt() -> None:
            # A fresh timestamp (and signature) per attempt: a retry after a long backoff is not a replay.
            timestamp = str(int(self._clock()))
            headers = {
                **self._extra,
                "Content-Type": "application/json",
                "User-Agent": "jitpim-audit",
                DELIVERY_HEADER: delivery,
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign_body(self._key, timestamp, body),
            }
            answer = http_post(self.url, body, headers, timeout_s=self.spec.timeout_s, ca_bundle=self._ca_bundle)
            if not 200 <= answer.status < 300:
                raise AuditSinkError(f"webhook sink {self.name!r}: the receiver answered {answer.status}")

        with_retries(self.spec, attempt, self._sleep)

    def close(self) -> None:
        return None
