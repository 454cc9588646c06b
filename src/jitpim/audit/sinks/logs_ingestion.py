"""Azure Monitor Logs Ingestion sink: records land in a Log Analytics table (and so in Sentinel) through
Microsoft's own `azure-monitor-ingestion` client (`LogsIngestionClient.upload`, gzip chunks of at most 1 MB,
bearer token for `https://monitor.azure.com`).

Each record becomes one row of the data collection rule's stream (declare these columns in the DCR's stream
and table, e.g. `Custom-JitpimAudit_CL`):

    TimeGenerated datetime, RecordType string, LeaseId string, State string, Outcome string, ExitCode int,
    Mode string, TargetKind string, Role string, RoleId string, Scope string, PrincipalId string,
    TenantId string, Repository string, Ref string, Sha string, Workflow string, RunId string,
    RunAttempt int, Actor string, PullRequest int, Environment string, Justification string, Ticket string,
    RequestIds dynamic, SecretVersionIds dynamic, LedgerSeq long, LedgerHash string, KeyId string,
    Signature dynamic, Record dynamic

Options: `endpoint` (the DCE or the DCR's logs ingestion endpoint), `rule_id` (the DCR immutable id),
`stream`, and the identity: a credential passed by the caller, else `tenant_id` + `client_id` +
`client_secret_env`/`client_secret_file` (a client secret credential), else azure-identity's
`DefaultAzureCredential`; `authority` (e.g. the emulator's URL), `audience` (sovereign clouds), `ca_bundle`.
The identity needs *Monitoring Metrics Publisher* on the DCR; without it the service answers 403.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from jitpim.audit.sinks.base import ca_bundle_of, check_url, record_time
from jitpim.audit.sinks.config import SinkSpec, read_secret
from jitpim.errors import AuditSinkError, require_extra

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

__all__ = ["LogsIngestionSink", "to_row"]

_DEFAULT_AUDIENCE = "https://monitor.azure.com"


def _get(record: Mapping[str, Any], section: str, key: str) -> Any:
    value = record.get(section)
    return value.get(key) if isinstance(value, Mapping) else None


def to_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """The stream row of one summary record (the full record is kept in `Record`)."""
    secrets = record.get("secrets") if isinstance(record.get("secrets"), list) else []
    versions = [v for entry in secrets or [] if isinstance(entry, Mapping) for v in entry.get("version_ids") or []]
    return {
        "TimeGenerated": record_time(record) or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "RecordType": record.get("record_type"),
        "LeaseId": record.get("lease_id"),
        "State": record.get("state"),
        "Outcome": record.get("outcome"),
        "ExitCode": record.get("exit_code"),
        "Mode": record.get("mode"),
        "TargetKind": _get(record, "target", "kind"),
        "Role": _get(record, "target", "role"),
        "RoleId": _get(record, "target", "role_id"),
        "Scope": _get(record, "target", "scope"),
        "PrincipalId": _get(record, "principal", "id"),
        "TenantId": _get(record, "principal", "tenant_id"),
        "Repository": _get(record, "run", "repository"),
        "Ref": _get(record, "run", "ref"),
        "Sha": _get(record, "run", "sha"),
        "Workflow": _get(record, "run", "workflow"),
        "RunId": _get(record, "run", "run_id"),
        "RunAttempt": _get(record, "run", "run_attempt"),
        "Actor": _get(record, "run", "actor"),
        "PullRequest": _get(record, "run", "pr_number"),
        "Environment": _get(record, "run", "environment"),
        "Justification": record.get("justification"),
        "Ticket": record.get("ticket"),
        "RequestIds": record.get("request_ids") or {},
        "SecretVersionIds": versions,
        "LedgerSeq": _get(record, "ledger", "seq"),
        "LedgerHash": _get(record, "ledger", "hash"),
        "KeyId": _get(record, "signature", "key_id"),
        "Signature": record.get("signature"),
        "Record": dict(record),
    }


def _is_loopback_authority(authority: str | None) -> bool:
    host = urlsplit(authority).hostname if authority else None
    return host in ("127.0.0.1", "localhost", "::1")


class LogsIngestionSink:
    type_name: ClassVar[str] = "logs_ingestion"

    def __init__(
        self,
        spec: SinkSpec,
        *,
        credential: TokenCredential | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        require_extra("azure.monitor.ingestion", "monitor", f"{spec.where}: the logs_ingestion sink")
        self.spec = spec
        self.name = spec.name
        self.batch_size = int(spec.option("batch_size", 500))
        self.endpoint = check_url(spec, "endpoint")
        self.rule_id = str(spec.require("rule_id"))
        self.stream = str(spec.require("stream"))
        self._ca_bundle = ca_bundle_of(spec)
        audience = str(spec.option("audience", _DEFAULT_AUDIENCE)).rstrip("/")
        self._scope = f"{audience}/.default"
        self._owns_credential = credential is None
        self._credential = credential if credential is not None else self._build_credential(environ)
        self._client: Any = None

    def _build_credential(self, environ: Mapping[str, str] | None) -> TokenCredential:
        from azure.identity import ClientSecretCredential, DefaultAzureCredential

        authority = self.spec.option("authority")
        kwargs: dict[str, Any] = {}
        if isinstance(authority, str) and authority:
            kwargs["authority"] = authority
            if _is_loopback_authority(authority):
                kwargs["disable_instance_discovery"] = True
        if self._ca_bundle:
            kwargs["connection_verify"] = self._ca_bundle
        secret = read_secret(self.spec, "client_secret", environ, required=False)
        if secret is not None:
            tenant, client = self.spec.require("tenant_id"), self.spec.require("client_id")
            return ClientSecretCredential(tenant, client, secret, **kwargs)
        return DefaultAzureCredential(**kwargs)

    def _ingestion_client(self) -> Any:
        if self._client is None:
            from azure.monitor.ingestion import LogsIngestionClient

            kwargs: dict[str, Any] = {
                "credential_scopes": [self._scope],
                "retry_total": self.spec.retries,
                "connection_timeout": self.spec.timeout_s,
                "read_timeout": self.spec.timeout_s,
            }
            if self._ca_bundle:
                kwargs["connection_verify"] = self._ca_bundle
            self._client = LogsIngestionClient(self.endpoint, self._credential, **kwargs)
        return self._client

    def send(self, records: Sequence[Mapping[str, Any]]) -> None:
        if not records:
            return
        from azure.core.exceptions import AzureError

        failures: list[str] = []

        def on_error(error: Any) -> None:
            failures.append(_describe(error.error, len(error.failed_logs)))

        try:
            self._ingestion_client().upload(
                rule_id=self.rule_id, stream_name=self.stream, logs=[to_row(r) for r in records], on_error=on_error
            )
        except AzureError as error:
            failures.append(_describe(error, len(records)))
        if failures:
            raise AuditSinkError(f"logs_ingestion sink {self.name!r}: {failures[0]}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._owns_credential:
            close = getattr(self._credential, "close", None)
            if callable(close):
                close()


def _describe(error: Any, count: int) -> str:
    status = getattr(error, "status_code", None)
    code = getattr(getattr(error, "error", None), "code", None) or type(error).__name__
    what = f"{count} record{'s' if count != 1 else ''} not ingested"
    return f"{what}: {status or 'no answer'} {code}".rstrip()
