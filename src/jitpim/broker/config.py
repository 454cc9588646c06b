"""The broker's configuration file (YAML), read once at start; every mistake is a `ConfigError` naming
the key and what to write instead.

    audience: api://jitpim-broker            # the audience jobs request their GitHub ID token for
    policies: [policies/]                     # .cedar files or directories (relative to this file)
    store: broker.sqlite3                     # SQLite path, or a postgresql:// DSN shared by replicas
    ledger: ledger.sqlite3                    # the lifecycle's ledger (SQLite path or DSN)
    github:
      issuer: https://token.actions.githubusercontent.com
      jwks_uri: https://token.actions.githubusercontent.com/.well-known/jwks   # default: issuer + that path
    entra:
      tenant_id: <tenant guid>
      audiences: [api://jitpim-broker, <broker app client id>]
    repositories:                             # who receives access for each repository's jobs
      contoso/payments: {principal_id: <object id of the job's service principal>}
    approver_groups:
      payments-leads:
        - {object_id: <entra object id>, upn: bob@contoso.com, github: bob-gh}
    notifications:
      - {type: slack, url_env: SLACK_WEBHOOK_URL}
      - {type: teams, url_env: TEAMS_WEBHOOK_URL}
      - {type: webhook, url_env: AUDIT_HOOK_URL, secret_env: AUDIT_HOOK_SECRET}
    max_duration: 8h
    reaper_interval: 30s

Webhook URLs and secrets are read from the environment (`*_env`), never written in the file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from ..errors import ConfigError, UsageError
from ..model import is_guid, parse_duration

__all__ = ["GITHUB_ISSUER", "Approver", "BrokerConfig", "NotificationTarget", "RepositoryBinding", "load_config"]

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


@dataclass(frozen=True)
class RepositoryBinding:
    repository: str
    principal_id: str  # the job's Azure identity (service principal object id) that receives access
    tenant_id: str | None = None


@dataclass(frozen=True)
class Approver:
    object_id: str | None
    upn: str | None
    github: str | None  # their GitHub login, to refuse approving a run they triggered themselves

    def matches(self, object_id: str, name: str) -> bool:
        return bool(
            (self.object_id and self.object_id.lower() == object_id.lower())
            or (self.upn and self.upn.lower() == name.lower())
        )


@dataclass(frozen=True)
class NotificationTarget:
    type: str  # slack | teams | webhook
    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class BrokerConfig:
    audience: str
    policy_paths: tuple[Path, ...]
    store: str
    ledger: str
    github_issuer: str
    github_jwks_uri: str
    entra_tenant_id: str | None
    entra_audiences: tuple[str, ...]
    repositories: dict[str, RepositoryBinding]
    approver_groups: dict[str, tuple[Approver, ...]]
    notifications: tuple[NotificationTarget, ...] = ()
    max_duration: timedelta = timedelta(hours=8)
    reaper_interval: timedelta = timedelta(seconds=30)
    source: str = ""

    def repository(self, name: str) -> RepositoryBinding | None:
        return self.repositories.get(name.lower())


def _err(source: str, key: str, problem: str, hint: str) -> ConfigError:
    return ConfigError(f"{source}: {key}: {problem}", hint=hint)


def _str(data: Mapping[str, Any], key: str, source: str, *, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise _err(source, key, "is missing or not a string", f"Set `{key}` in the broker config.")
    return value.strip()


def _duration(data: Mapping[str, Any], key: str, source: str, default: timedelta) -> timedelta:
    value = data.get(key)
    if value is None:
        return default
    try:
        return parse_duration(str(value))
    except UsageError as exc:
        raise _err(source, key, exc.message, exc.hint) from None


def _env(item: Mapping[str, Any], key: str, source: str, environ: Mapping[str, str]) -> str | None:
    name = item.get(f"{key}_env")
    if name is None:
        if key in item:
            raise _err(source, f"notifications.{key}", "must not be written in the file", f"Use `{key}_env: VARIABLE`.")
        return None
    value = environ.get(str(name))
    if not value:
        raise _err(source, f"notifications.{key}_env", f"environment variable {name} is not set", f"Export {name}.")
    return value


def _resolve(base: Path, value: str) -> str:
    if value.startswith(("postgresql://", "postgres://")):
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else base / path)


def parse_config(data: Mapping[str, Any], *, base: Path, source: str, environ: Mapping[str, str]) -> BrokerConfig:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: the broker config must be a YAML mapping", hint="See docs/reference/broker.md.")
    audience = _str(data, "audience", source)
    raw_policies = data.get("policies")
    if isinstance(raw_policies, str):
        raw_policies = [raw_policies]
    if not isinstance(raw_policies, list) or not raw_policies:
        raise _err(source, "policies", "needs at least one .cedar file or directory", "e.g. policies: [policies/]")
    policy_paths = tuple(Path(_resolve(base, str(p))) for p in raw_policies)
    github = data.get("github") or {}
    issuer = _str(github, "issuer", source, default=GITHUB_ISSUER).rstrip("/")
    jwks = str(github.get("jwks_uri") or f"{issuer}/.well-known/jwks")
    entra = data.get("entra") or {}
    tenant = entra.get("tenant_id")
    if tenant is not None and not (isinstance(tenant, str) and is_guid(tenant)):
        raise _err(source, "entra.tenant_id", "is not a tenant GUID", "Give the directory (tenant) id.")
    audiences = entra.get("audiences") or [audience]
    if not isinstance(audiences, list) or not all(isinstance(a, str) and a for a in audiences):
        raise _err(source, "entra.audiences", "must be a list of strings", "e.g. [api://jitpim-broker]")
    repositories: dict[str, RepositoryBinding] = {}
    for name, item in (data.get("repositories") or {}).items():
        if (
            not isinstance(item, Mapping)
            or not isinstance(item.get("principal_id"), str)
            or not is_guid(item["principal_id"])
        ):
            raise _err(
                source,
                f"repositories.{name}",
                "needs principal_id: the object id of the job's service principal",
                "The broker grants access to that principal, never to one the job names.",
            )
        repositories[str(name).lower()] = RepositoryBinding(str(name), item["principal_id"], item.get("tenant_id"))
    if not repositories:
        raise _err(source, "repositories", "is empty", "Map each repository to the principal its jobs use.")
    groups: dict[str, tuple[Approver, ...]] = {}
    for name, members in (data.get("approver_groups") or {}).items():
        if not isinstance(members, list) or not members:
            raise _err(source, f"approver_groups.{name}", "must be a non-empty list", "List {object_id, upn, github}.")
        approvers = []
        for member in members:
            if not isinstance(member, Mapping) or not (member.get("object_id") or member.get("upn")):
                raise _err(
                    source,
                    f"approver_groups.{name}",
                    "each member needs object_id or upn",
                    "e.g. {upn: bob@contoso.com}",
                )
            approvers.append(Approver(member.get("object_id"), member.get("upn"), member.get("github")))
        groups[str(name)] = tuple(approvers)
    notifications = []
    for item in data.get("notifications") or []:
        kind = str((item or {}).get("type", "")).lower()
        if kind not in ("slack", "teams", "webhook"):
            raise _err(source, "notifications.type", f"{kind!r} is not slack, teams or webhook", "Pick one of those.")
        url = _env(item, "url", source, environ)
        if url is None or not url.startswith("https://"):
            raise _err(
                source, "notifications.url_env", "must name an https:// URL", "Webhooks are called over TLS only."
            )
        secret = _env(item, "secret", source, environ)
        if kind == "webhook" and not secret:
            raise _err(
                source, "notifications.secret_env", "a generic webhook needs a signing secret", "Set secret_env."
            )
        notifications.append(NotificationTarget(kind, url, secret))
    return BrokerConfig(
        audience=audience,
        policy_paths=policy_paths,
        store=_resolve(base, str(data.get("store") or "broker.sqlite3")),
        ledger=_resolve(base, str(data.get("ledger") or "ledger.sqlite3")),
        github_issuer=issuer,
        github_jwks_uri=jwks,
        entra_tenant_id=tenant,
        entra_audiences=tuple(audiences),
        repositories=repositories,
        approver_groups=groups,
        notifications=tuple(notifications),
        max_duration=_duration(data, "max_duration", source, timedelta(hours=8)),
        reaper_interval=_duration(data, "reaper_interval", source, timedelta(seconds=30)),
        source=source,
    )


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> BrokerConfig:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"cannot read the broker config {str(path)!r}: {exc.strerror}", hint="Pass --config PATH."
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}", hint="Fix the YAML syntax.") from None
    return parse_config(
        data or {}, base=path.parent, source=str(path), environ=os.environ if environ is None else environ
    )
