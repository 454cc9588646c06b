"""Every sink configured in one place: the `audit.sinks` section of the access file, or a file named by
`$JITPIM_SINKS` (JSON or YAML, with a top-level `sinks` list or `audit.sinks`).

    audit:
      sinks:
        - name: soc-webhook           # unique; the outbox remembers deliveries per name
          type: webhook
          url: https://soc.example.net/hooks/jitpim
          secret_env: JITPIM_WEBHOOK_KEY   # HMAC-SHA256 key, read from this environment variable
        - name: sentinel
          type: logs_ingestion
          endpoint: https://my-dce.westeurope-1.ingest.monitor.azure.com
          rule_id: dcr-00000000000000000000000000000000
          stream: Custom-JitpimAudit_CL
        - name: splunk
          type: splunk
          url: https://splunk.example.net:8088
          token_env: JITPIM_SPLUNK_HEC_TOKEN
        - name: siem-syslog
          type: syslog
          host: syslog.example.net
          port: 514
          protocol: tcp              # or udp

Secrets (HMAC keys, HEC tokens, client secrets) are never written in the file: each is named by the
environment variable (`*_env`) or file (`*_file`) that holds it, and a literal value is refused. Common keys:
`name`, `type`, `enabled` (default true), `retries` (default 3), `timeout_s` (default 10). See
docs/reference/audit.md for each type's keys.
"""

from __future__ import annotations

import builtins
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from jitpim.errors import ConfigError

__all__ = [
    "SINKS_ENV",
    "SINK_TYPES",
    "SinkSpec",
    "SinksConfig",
    "load_sinks_config",
    "read_secret",
]

SINKS_ENV: Final = "JITPIM_SINKS"
SINK_TYPES: Final = ("webhook", "logs_ingestion", "splunk", "syslog")
_COMMON: Final = frozenset({"name", "type", "enabled", "retries", "timeout_s"})
# Keys that would hold a secret literally: refused, so a committed file never carries one.
_LITERAL_SECRETS: Final = frozenset({"secret", "key", "hmac_key", "token", "client_secret", "password"})
_HINT: Final = "See docs/reference/audit.md (Sinks) for the keys of each sink type."


@dataclass(frozen=True)
class SinkSpec:
    """One configured sink: its unique name, type, and type-specific options (validated by the sink)."""

    name: str
    type: str
    options: dict[str, Any] = field(default_factory=dict)
    retries: int = 3
    timeout_s: float = 10.0
    where: str = ""  # e.g. "jitpim.yaml: audit.sinks[2]", for messages

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)

    def require(self, key: str, kind: builtins.type[Any] = str) -> Any:
        value = self.options.get(key)
        if value is None or value == "" or not isinstance(value, kind):
            raise ConfigError(
                f"{self.where}: {self.type} sink {self.name!r} needs {key!r} ({kind.__name__})", hint=_HINT
            )
        return value


@dataclass(frozen=True)
class SinksConfig:
    sinks: tuple[SinkSpec, ...] = ()
    source: str = "none"

    def names(self) -> list[str]:
        return [spec.name for spec in self.sinks]

    def get(self, name: str) -> SinkSpec | None:
        return next((spec for spec in self.sinks if spec.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "sinks": [{"name": s.name, "type": s.type} for s in self.sinks]}

    @classmethod
    def from_mapping(cls, data: Any, source: str) -> SinksConfig:
        """From a parsed document: a `sinks` list at the top or under `audit`, or the list itself."""
        entries: Any = data
        if isinstance(data, Mapping):
            audit = data.get("audit")
            entries = audit.get("sinks") if isinstance(audit, Mapping) and "sinks" in audit else data.get("sinks")
        if entries is None:
            return cls((), source)
        if not isinstance(entries, list):
            raise ConfigError(f"{source}: 'sinks' must be a list", hint=_HINT)
        specs: list[SinkSpec] = []
        for index, entry in enumerate(entries):
            spec = _spec(entry, f"{source}: sinks[{index}]")
            if spec is None:
                continue
            if any(s.name == spec.name for s in specs):
                raise ConfigError(f"{spec.where}: sink name {spec.name!r} is used twice", hint=_HINT)
            specs.append(spec)
        return cls(tuple(specs), source)


def _spec(entry: Any, where: str) -> SinkSpec | None:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: a sink must be a mapping", hint=_HINT)
    kind = entry.get("type")
    if kind not in SINK_TYPES:
        raise ConfigError(f"{where}: unknown sink type {kind!r}", hint=f"Use one of: {', '.join(SINK_TYPES)}.")
    name = entry.get("name", kind)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: 'name' must be a non-empty string", hint=_HINT)
    literal = sorted(k for k in entry if str(k).lower() in _LITERAL_SECRETS)
    if literal:
        raise ConfigError(
            f"{where}: {', '.join(literal)} would put a secret in the file",
            hint=f"Name the environment variable that holds it instead, e.g. {literal[0]}_env: MY_VARIABLE.",
        )
    if entry.get("enabled", True) is False:
        return None
    retries = entry.get("retries", 3)
    timeout = entry.get("timeout_s", 10)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise ConfigError(f"{where}: 'retries' must be an integer from 0 to 10", hint=_HINT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 300:
        raise ConfigError(f"{where}: 'timeout_s' must be a number of seconds up to 300", hint=_HINT)
    options = {str(k): v for k, v in entry.items() if k not in _COMMON}
    return SinkSpec(name.strip(), str(kind), options, retries, float(timeout), f"{where} ({name})")


def _parse(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read the sinks file {str(path)!r}: {error.strerror or error}", hint=_HINT) from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(data.decode("utf-8-sig"))
        except UnicodeDecodeError as error:
            raise ConfigError(
                f"{path}: byte 0x{data[error.start]:02x} is not UTF-8", hint="Save the file as UTF-8."
            ) from None
        except ValueError as error:
            raise ConfigError(f"{path}: not valid JSON ({error})", hint=_HINT) from None
    from jitpim.strict_yaml import StrictYamlError, load_strict

    # The same strict reading as the access file (which may be this very file): UTF-8, no duplicate keys.
    try:
        return load_strict(data)
    except StrictYamlError as error:
        where = f"{path}:{error.line}" if error.line else str(path)
        invalid = "not valid YAML: " if error.column is not None else ""
        raise ConfigError(f"{where}: {invalid}{error.problem}", hint=error.hint) from None


def load_sinks_config(
    *,
    path: str | os.PathLike[str] | None = None,
    access_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> SinksConfig:
    """The sinks from `path`, else `$JITPIM_SINKS`, else the access file's `audit.sinks`; none configured
    is an empty config (the ledger and run file are then the only destinations)."""
    env = os.environ if environ is None else environ
    chosen = path or env.get(SINKS_ENV) or None
    if chosen:
        file = Path(chosen).expanduser()
        return SinksConfig.from_mapping(_parse(file), str(file))
    if access_file is not None and Path(access_file).is_file():
        return SinksConfig.from_mapping(_parse(Path(access_file)), str(access_file))
    return SinksConfig((), "none")


def read_secret(
    spec: SinkSpec, key: str, environ: Mapping[str, str] | None = None, *, required: bool = True
) -> str | None:
    """The secret a sink option names through `<key>_env` (an environment variable) or `<key>_file`."""
    env = os.environ if environ is None else environ
    variable = spec.option(f"{key}_env")
    file = spec.option(f"{key}_file")
    if isinstance(variable, str) and variable:
        value = env.get(variable, "")
        if value:
            return value
        raise ConfigError(f"{spec.where}: the environment variable {variable} (its {key}) is not set", hint=_HINT)
    if isinstance(file, str) and file:
        try:
            value = Path(file).expanduser().read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ConfigError(
                f"{spec.where}: cannot read its {key} file: {error.strerror or error}", hint=_HINT
            ) from None
        if value:
            return value
        raise ConfigError(f"{spec.where}: its {key} file is empty", hint=_HINT)
    if required:
        raise ConfigError(f"{spec.where}: needs {key}_env (an environment variable) or {key}_file", hint=_HINT)
    return None
