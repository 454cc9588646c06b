"""Syslog sink: one RFC 5424 message per record, over UDP (RFC 5426) or TCP (RFC 6587 framing).

    <PRI>1 TIMESTAMP HOSTNAME jitpim PROCID lease.summary [jitpim@32473 lease_id="..." outcome="..." ...] BOM{json}

PRI is facility*8 + severity: facility `authpriv` (10) by default; severity notice (5) for a lease that ended
normally, warning (4) for a denial or failed grant, err (3) for a failed release (access may remain). The
structured data carries the fields a SIEM filters on; the message is the whole signed record as UTF-8 JSON
(after a BOM, as RFC 5424 asks for UTF-8 MSG). TCP uses octet counting (`LEN SP MSG`) unless `framing: lf`.
Options: `host`, `port` (default 514), `protocol` (`udp` or `tcp`), `facility` (name or number),
`app_name`, `sd_id` (default `jitpim@32473`: 32473 is the example enterprise number of RFC 5612; use your
organisation's), `framing` (TCP: `octet-counting` or `lf`).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from jitpim.audit.canonical import canonical_json
from jitpim.audit.sinks.base import SleepFn, TransientError, record_time, with_retries
from jitpim.audit.sinks.config import SinkSpec
from jitpim.errors import AuditSinkError, ConfigError

__all__ = ["FACILITIES", "SyslogSink", "format_message"]

FACILITIES: Final = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7, "uucp": 8,
    "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13, "console": 14, "solaris-cron": 15,
    "local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}  # fmt: skip
_BOM: Final = b"\xef\xbb\xbf"
_UDP_MAX: Final = 65_000
_SD_FIELDS: Final = ("lease_id", "state", "outcome", "exit_code")
_FAILED_OUTCOMES: Final = frozenset({"denied", "grant_failed", "failed", "canceled"})


def _printable(text: str, limit: int) -> str:
    """RFC 5424 header fields are printable US-ASCII without spaces; NILVALUE when empty."""
    cleaned = "".join(ch for ch in text if 33 <= ord(ch) <= 126)[:limit]
    return cleaned or "-"


def _sd_value(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _severity(record: Mapping[str, Any]) -> int:
    outcome = str(record.get("outcome") or "")
    if outcome == "release_failed" or record.get("state") == "release_failed":
        return 3
    if outcome in _FAILED_OUTCOMES or record.get("failures"):
        return 4
    return 5


def _section(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = record.get(key)
    return value if isinstance(value, Mapping) else {}


def _timestamp(record: Mapping[str, Any]) -> str:
    at = record_time(record)
    if at is not None:
        return at
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_message(
    record: Mapping[str, Any], *, facility: int, hostname: str, app_name: str, sd_id: str, procid: int
) -> bytes:
    """One RFC 5424 message (without transport framing)."""
    pri = facility * 8 + _severity(record)
    target, principal = _section(record, "target"), _section(record, "principal")
    run, signature = _section(record, "run"), _section(record, "signature")
    params: list[tuple[str, Any]] = [(name, record.get(name)) for name in _SD_FIELDS]
    params += [
        ("kind", target.get("kind")),
        ("role", target.get("role")),
        ("scope", target.get("scope")),
        ("principal_id", principal.get("id")),
        ("repository", run.get("repository")),
        ("run_id", run.get("run_id")),
        ("key_id", signature.get("key_id")),
    ]
    sd = "[" + sd_id + "".join(f' {k}="{_sd_value(v)}"' for k, v in params if v is not None) + "]"
    header = (
        f"<{pri}>1 {_timestamp(record)} {_printable(hostname, 255)} {_printable(app_name, 48)} "
        f"{_printable(str(procid), 128)} {_printable(str(record.get('record_type', 'jitpim')), 32)} {sd} "
    )
    return header.encode("utf-8") + _BOM + canonical_json(record).encode("utf-8")


class SyslogSink:
    type_name: ClassVar[str] = "syslog"

    def __init__(
        self, spec: SinkSpec, *, environ: Mapping[str, str] | None = None, sleep: SleepFn = time.sleep
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.batch_size = int(spec.option("batch_size", 100))
        self.host = str(spec.require("host"))
        port = spec.option("port", 514)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(f"{spec.where}: port must be 1-65535")
        self.port = port
        self.protocol = str(spec.option("protocol", "udp")).lower()
        if self.protocol not in ("udp", "tcp"):
            raise ConfigError(f"{spec.where}: protocol must be udp or tcp")
        facility = spec.option("facility", "authpriv")
        number = FACILITIES.get(facility.lower()) if isinstance(facility, str) else facility
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 23:
            raise ConfigError(f"{spec.where}: facility must be a syslog facility name or 0-23")
        self.facility: int = number
        self.framing = str(spec.option("framing", "octet-counting"))
        if self.framing not in ("octet-counting", "lf"):
            raise ConfigError(f"{spec.where}: framing must be octet-counting or lf")
        self.app_name = str(spec.option("app_name", "jitpim"))
        self.sd_id = str(spec.option("sd_id", "jitpim@32473"))
        if "@" not in self.sd_id or any(c in self.sd_id for c in ' ="]'):
            raise ConfigError(f"{spec.where}: sd_id must look like name@enterprise-number")
        self.hostname = str(spec.option("hostname", socket.gethostname()))
        self._sleep = sleep

    def _messages(self, records: Sequence[Mapping[str, Any]]) -> list[bytes]:
        return [
            format_message(
                record,
                facility=self.facility,
                hostname=self.hostname,
                app_name=self.app_name,
                sd_id=self.sd_id,
                procid=os.getpid(),
            )
            for record in records
        ]

    def send(self, records: Sequence[Mapping[str, Any]]) -> None:
        if not records:
            return
        messages = self._messages(records)
        if self.protocol == "udp":
            too_big = [len(m) for m in messages if len(m) > _UDP_MAX]
            if too_big:
                raise AuditSinkError(
                    f"syslog sink {self.name!r}: a {too_big[0]}-byte record does not fit one UDP datagram; use tcp"
                )
        with_retries(self.spec, lambda: self._deliver(messages), self._sleep)

    def _deliver(self, messages: Sequence[bytes]) -> None:
        try:
            if self.protocol == "udp":
                family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
                with socket.socket(family, socket.SOCK_DGRAM) as sock:
                    sock.settimeout(self.spec.timeout_s)
                    for message in messages:
                        sock.sendto(message, (self.host, self.port))
                return
            with socket.create_connection((self.host, self.port), timeout=self.spec.timeout_s) as sock:
                for message in messages:
                    framed = (
                        str(len(message)).encode("ascii") + b" " + message
                        if self.framing == "octet-counting"
                        else message + b"\n"
                    )
                    sock.sendall(framed)
        except OSError as error:
            raise TransientError(
                f"cannot send to {self.host}:{self.port}/{self.protocol} ({error.strerror or type(error).__name__})"
            ) from None

    def close(self) -> None:
        return None
