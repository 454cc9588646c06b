"""Shipping audit records where a security team looks: webhook (HMAC), Azure Monitor Logs Ingestion,
Splunk HEC, syslog. Every sink is optional and configured in one place (`config.py`).

`deliver(records, config, ledger=...)` first queues each record for each sink in the ledger's outbox (one
durable transaction), then tries every sink; `flush(ledger, config)` retries whatever is still pending (what
`jitpim audit flush` runs). A failing sink never loses a record: it stays in the outbox with its error and
attempt count, and the report says so (`DeliveryReport.ok`, `raise_for_failure()` -> `AuditSinkError`, exit
code 83). Without a ledger, `deliver` sends directly and only reports failures.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jitpim.audit.outbox import Outbox, record_id_of
from jitpim.audit.sinks.base import Sink, SleepFn
from jitpim.audit.sinks.config import SINKS_ENV, SinksConfig, SinkSpec, load_sinks_config
from jitpim.audit.store import AuditStore
from jitpim.errors import AuditSinkError, ConfigError, JitError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

__all__ = [
    "SINKS_ENV",
    "DeliveryReport",
    "SinkResult",
    "SinkSpec",
    "SinksConfig",
    "build_sink",
    "deliver",
    "flush",
    "load_sinks_config",
]


@dataclass
class SinkResult:
    sink: str
    type: str
    delivered: int = 0
    failed: int = 0
    pending: int = 0  # left in the outbox after this run
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "sink": self.sink,
            "type": self.type,
            "delivered": self.delivered,
            "failed": self.failed,
            "pending": self.pending,
            "error": self.error,
        }


@dataclass
class DeliveryReport:
    results: list[SinkResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.failed == 0 and r.pending == 0 and r.error is None for r in self.results)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "sinks": [r.to_json() for r in self.results]}

    def raise_for_failure(self) -> None:
        failing = [r for r in self.results if r.failed or r.pending or r.error]
        if failing:
            parts = [f"{r.sink}: {r.error or f'{r.pending} pending'}" for r in failing]
            raise AuditSinkError("audit records not delivered: " + "; ".join(parts))


def build_sink(
    spec: SinkSpec,
    *,
    credential: TokenCredential | None = None,
    environ: Mapping[str, str] | None = None,
    sleep: SleepFn = time.sleep,
) -> Sink:
    """The sink a spec describes (options are validated here: ConfigError names the bad key)."""
    if spec.type == "webhook":
        from jitpim.audit.sinks.webhook import WebhookSink

        return WebhookSink(spec, environ=environ, sleep=sleep)
    if spec.type == "splunk":
        from jitpim.audit.sinks.splunk import SplunkHecSink

        return SplunkHecSink(spec, environ=environ, sleep=sleep)
    if spec.type == "syslog":
        from jitpim.audit.sinks.syslog import SyslogSink

        return SyslogSink(spec, environ=environ, sleep=sleep)
    if spec.type == "logs_ingestion":
        from jitpim.audit.sinks.logs_ingestion import LogsIngestionSink

        return LogsIngestionSink(spec, credential=credential, environ=environ)
    raise ConfigError(f"{spec.where}: unknown sink type {spec.type!r}")


def _send_batches(sink: Sink, records: Sequence[Mapping[str, Any]]) -> tuple[int, list[int], str | None]:
    """Send in the sink's batch size; (delivered count, indexes of failed records, first error)."""
    delivered, error = 0, None
    failed: list[int] = []
    size = max(1, sink.batch_size)
    for start in range(0, len(records), size):
        batch = records[start : start + size]
        if error is not None:  # the sink is failing: keep the rest for the next flush
            failed.extend(range(start, start + len(batch)))
            continue
        try:
            sink.send(batch)
            delivered += len(batch)
        except JitError as exc:
            error = exc.message
            failed.extend(range(start, start + len(batch)))
    return delivered, failed, error


def _try_sink(
    spec: SinkSpec, credential: TokenCredential | None, environ: Mapping[str, str] | None, sleep: SleepFn
) -> tuple[Sink | None, str | None]:
    try:
        return build_sink(spec, credential=credential, environ=environ, sleep=sleep), None
    except (ConfigError, AuditSinkError) as exc:
        return None, f"not configured correctly: {exc.message}"


def flush(
    ledger: AuditStore,
    config: SinksConfig,
    *,
    credential: TokenCredential | None = None,
    environ: Mapping[str, str] | None = None,
    sleep: SleepFn = time.sleep,
    record_ids: Sequence[str] | None = None,
) -> DeliveryReport:
    """Deliver what the outbox still holds for each configured sink (only `record_ids` when given)."""
    outbox = Outbox(ledger)
    report = DeliveryReport()
    wanted = set(record_ids) if record_ids is not None else None
    for spec in config.sinks:
        entries = [e for e in outbox.pending(spec.name) if wanted is None or e.record_id in wanted]
        result = SinkResult(spec.name, spec.type)
        report.results.append(result)
        if not entries:
            continue
        sink, error = _try_sink(spec, credential, environ, sleep)
        if sink is None:
            outbox.mark_failed([e.id for e in entries], error or "not configured")
            result.failed, result.pending, result.error = len(entries), len(entries), error
            continue
        try:
            delivered, failed, error = _send_batches(sink, [e.record for e in entries])
        finally:
            sink.close()
        failed_ids = {entries[i].id for i in failed}
        outbox.mark_delivered([e.id for e in entries if e.id not in failed_ids])
        if failed_ids:
            outbox.mark_failed(sorted(failed_ids), error or "delivery failed")
        result.delivered, result.failed, result.pending, result.error = delivered, len(failed), len(failed), error
    configured = set(config.names())
    for sink_name, counts in sorted(outbox.counts().items()):
        if sink_name not in configured and counts["pending"]:
            # Queued for a sink that is no longer configured: visible, never silently dropped.
            report.results.append(
                SinkResult(sink_name, "unknown", pending=counts["pending"], error="this sink is no longer configured")
            )
    return report


def deliver(
    records: Sequence[Mapping[str, Any]],
    config: SinksConfig,
    *,
    ledger: AuditStore | None = None,
    credential: TokenCredential | None = None,
    environ: Mapping[str, str] | None = None,
    sleep: SleepFn = time.sleep,
) -> DeliveryReport:
    """Send `records` to every configured sink; with `ledger`, through the outbox (see the module doc)."""
    if not config.sinks or not records:
        return DeliveryReport([SinkResult(s.name, s.type) for s in config.sinks])
    if ledger is not None:
        Outbox(ledger).add(config.names(), records)
        ids = [record_id_of(r) for r in records]
        report = flush(ledger, config, credential=credential, environ=environ, sleep=sleep, record_ids=ids)
        report.results = [r for r in report.results if r.type != "unknown"]
        return report
    report = DeliveryReport()
    for spec in config.sinks:
        result = SinkResult(spec.name, spec.type)
        report.results.append(result)
        sink, error = _try_sink(spec, credential, environ, sleep)
        if sink is None:
            result.failed, result.error = len(records), error
            continue
        try:
            result.delivered, failed, result.error = _send_batches(sink, list(records))
            result.failed = len(failed)
        finally:
            sink.close()
    return report
