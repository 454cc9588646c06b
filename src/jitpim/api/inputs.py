"""The frozen, typed inputs of the `jitpim.api` calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from ..lifecycle import LifecycleOptions
from ..model import Target, TargetKind
from ..rotation import SecretValue, ValidationSpec, ValueSource, generate

__all__ = [
    "AccessRequest",
    "AppCredentialInput",
    "EligibleRequest",
    "ExecRequest",
    "ExtendRequest",
    "ReapRequest",
    "ReleaseRequest",
    "SecretRotationInput",
    "SourceReapRequest",
    "StatusRequest",
    "ValueFactory",
]

# Makes the new secret value (and says where it came from) once the elevation is planned and allowed.
ValueFactory = Callable[[], tuple[SecretValue, ValueSource]]


@dataclass(frozen=True)
class AccessRequest:
    """Access to some targets. `options` (None: the runtime's settings) shape the lifecycle; its mode is
    the runtime's. `on_behalf_of` (an object id) grants to that principal instead of the caller: the broker
    asks with its own identity for the job's principal (`jitpim.lifecycle.on_behalf`)."""

    targets: tuple[Target, ...]
    options: LifecycleOptions | None = None
    on_behalf_of: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "targets", tuple(self.targets))


@dataclass(frozen=True)
class ExecRequest:
    """Hold `access` exactly as long as the command `argv` runs (in `cwd`, with `env` added to the caller's
    environment). `stdout_to_stderr` sends the command's stdout to jitpim's stderr (for `--output json`, so
    that stdout holds only jitpim's own JSON document). The command gets tokens for the lease's audiences (plus
    `child_audiences`: arm, graph, keyvault, storage or a resource URL) from a local managed-identity endpoint,
    not jitpim's credential; `pass_credentials` hands it jitpim's credential instead (it can then do all
    jitpim's identity can)."""

    access: AccessRequest
    argv: tuple[str, ...]
    cwd: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    stdout_to_stderr: bool = False
    child_audiences: tuple[str, ...] = ()
    pass_credentials: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "argv", tuple(self.argv))
        object.__setattr__(self, "env", dict(self.env))
        object.__setattr__(self, "child_audiences", tuple(self.child_audiences))


@dataclass(frozen=True)
class ReleaseRequest:
    """Which open leases to release: by id, by CI run (lease-id prefix), or every one of the caller."""

    lease_ids: tuple[str, ...] = ()
    run_key: str | None = None
    all_mine: bool = False
    early_release: str = "wait"
    release_deadline: timedelta | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "lease_ids", tuple(self.lease_ids))


@dataclass(frozen=True)
class ExtendRequest:
    lease_id: str
    duration: timedelta  # the new total length, from now


@dataclass(frozen=True)
class ReapRequest:
    dry_run: bool = False
    early_release: str = "expire"
    release_deadline: timedelta | None = None


@dataclass(frozen=True)
class SourceReapRequest:
    """Reap at the source, with no ledger needed: jitpim-marked grants whose holders have all ended, at
    `scopes` and below (ARM kinds; () = every subscription the identity can see), of `kinds` (() = all)."""

    scopes: tuple[str, ...] = ()
    kinds: tuple[TargetKind, ...] = ()
    dry_run: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "scopes", tuple(self.scopes))
        object.__setattr__(self, "kinds", tuple(self.kinds))


@dataclass(frozen=True)
class StatusRequest:
    all_leases: bool = False  # finished leases too
    live: bool = False  # ask the source whether each open lease's access still exists
    run_key: str | None = None
    recent: int = 10  # also the latest finished leases, newest first (so a run just ended still shows); 0: none


@dataclass(frozen=True)
class EligibleRequest:
    kinds: tuple[TargetKind, ...] = ()  # () = every kind

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", tuple(self.kinds))


@dataclass(frozen=True)
class SecretRotationInput:
    """Rotate one Key Vault secret. `vault` is a name, data-plane URL or ARM id; `targets` overrides the
    default elevation (Key Vault Secrets Officer on the vault for `duration`, default 10 minutes plus the grace
    period); `value` makes the new value (default: 40 generated characters)."""

    vault: str
    name: str
    subscription_id: str | None = None
    value: ValueFactory = generate
    validation: ValidationSpec | None = None
    content_type: str | None = None
    expires_in: timedelta | None = None
    disable_older_after: timedelta | None = None
    targets: tuple[Target, ...] = ()
    duration: str | None = None
    justification: str | None = None
    ticket: str | None = None
    start: str | None = None
    options: LifecycleOptions | None = None


@dataclass(frozen=True)
class AppCredentialInput:
    """Rotate an app registration's client secret (make-before-break). `store_in` is VAULT/SECRET; `targets`
    overrides the default elevation (Cloud Application Administrator on the app, plus Key Vault Secrets
    Officer on the vault with `store_in`)."""

    app: str
    store_in: tuple[str, str] | None = None
    subscription_id: str | None = None
    validate_scope: str | None = None
    lifetime: timedelta = timedelta(days=90)
    remove_key_ids: tuple[str, ...] | None = None
    keep_old: bool = False
    targets: tuple[Target, ...] = ()
    duration: str | None = None
    justification: str | None = None
    ticket: str | None = None
    start: str | None = None
    options: LifecycleOptions | None = None
