"""Splunk HTTP Event Collector sink: batched JSON events to `/services/collector/event`.

    POST <url>/services/collector/event
    Authorization: Splunk <HEC token>
    {"time": 1767225600.123, "host": "...", "source": "jitpim", "sourcetype": "jitpim:audit", "event": {...}}
    {"time": ..., ...}                                   (one object per record, concatenated)

HEC answers `{"text": "Success", "code": 0}`; 503 (server busy), 429 and other 5xx are retried with backoff,
400/401/403 (bad data, invalid or disabled token) fail at once with HEC's own `text`. Options: `url` (the HEC
base, or the full endpoint), `token_env` or `token_file`, `index`, `source` (default `jitpim`), `sourcetype`
(default `jitpim:audit`), `host` (default this machine), `ca_bundle`.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Final

from jitpim.audit.canonical import canonical_json
from jitpim.audit.sinks.base import SleepFn, ca_bundle_of, check_url, http_post, record_time, with_retries
from jitpim.audit.sinks.config import SinkSpec, read_secret
from jitpim.errors import AuditSinkError

__all__ = ["EVENT_PATH", "SplunkHecSink"]

EVENT_PATH: Final = "/services/collector/event"


def _epoch(record: Mapping[str, Any]) -> float:
    at = record_time(record)
    if at is None:
        return round(time.time(), 3)
    return round(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp(), 3)


class SplunkHecSink:
    type_name: ClassVar[str] = "splunk"

    def __init__(
        self, spec: SinkSpec, *, environ: Mapping[str, str] | None = None, sleep: SleepFn = time.sleep
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.batch_size = int(spec.option("batch_size", 100))
        base = check_url(spec).rstrip("/")
        self.url = base if base.endswith(("/services/collector", EVENT_PATH)) else base + EVENT_PATH
        token = read_secret(spec, "token", environ)
        assert token is not None
        self._authorization = f"Splunk {token}"
        self._ca_bundle = ca_bundle_of(spec)
        self._fields = {
            "source": str(spec.option("source", "jitpim")),
            "sourcetype": str(spec.option("sourcetype", "jitpim:audit")),
            "host": str(spec.option("host", socket.gethostname())),
        }
        index = spec.option("index")
        if isinstance(index, str) and index:
            self._fields["index"] = index
        self._sleep = sleep

    def send(self, records: Sequence[Mapping[str, Any]]) -> None:
        if not records:
            return
        body = "".join(
            canonical_json({**self._fields, "time": _epoch(record), "event": dict(record)}) for record in records
        ).encode("utf-8")

        def attempt() -> None:
            headers = {"Authorization": self._authorization, "Content-Type": "application/json"}
            answer = http_post(self.url, body, headers, timeout_s=self.spec.timeout_s, ca_bundle=self._ca_bundle)
            text = _hec_text(answer.body)
            if not 200 <= answer.status < 300:
                raise AuditSinkError(f"splunk sink {self.name!r}: HEC answered {answer.status} ({text})")

        with_retries(self.spec, attempt, self._sleep)

    def close(self) -> None:
        return None


def _hec_text(body: bytes) -> str:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        return "no JSON answer"
    if isinstance(parsed, Mapping):
        return f"{parsed.get('text', 'no text')}, code {parsed.get('code')}"
    return "unexpected answer"
