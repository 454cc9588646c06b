"""jitpim's typed front door: everything the command line, the broker, the dashboard and the action do
with leases, as library calls. Each call takes a `Runtime` and a frozen input, and returns a typed result
(or raises a `jitpim.errors.JitError` carrying its hint and exit code).

    from jitpim.api import AccessRequest, Runtime, Settings, hold
    from jitpim.model import Target

    officer = Target.from_flags(kind="rbac", role="Key Vault Secrets Officer", scope=VAULT_ID, duration="10m",
                                justification="rotate the db password")
    with Runtime.open(Settings.from_environ()) as rt, hold(rt, AccessRequest((officer,))) as held:
        ...  # the access works here; it is released (verified) and recorded on every way out

Calls: `plan`, `hold`, `exec`, `elevate`, `release`, `extend`, `reap`, `reap_source`, `status`, `eligible`,
`rotate_secret`, `rotate_app_credential`.
"""

from __future__ import annotations

from ..lifecycle import ExecResult, Hold, Plan
from .inputs import (
    AccessRequest,
    AppCredentialInput,
    EligibleRequest,
    ExecRequest,
    ExtendRequest,
    ReapRequest,
    ReleaseRequest,
    SecretRotationInput,
    SourceReapRequest,
    StatusRequest,
    ValueFactory,
)
from .leases import (
    cloud_environment,
    elevate,
    eligible,
    exec,
    extend,
    hold,
    plan,
    reap,
    reap_source,
    release,
    status,
)
from .results import (
    ElevateResult,
    EligibleResult,
    ExtendResult,
    LeaseStatus,
    ReapResult,
    ReleaseResult,
    ReleaseRow,
    SourceReapResult,
    StatusResult,
)
from .rotation import AppRotationResult, SecretRotationResult, rotate_app_credential, rotate_secret
from .runtime import Runtime
from .settings import Settings

__all__ = [
    "AccessRequest",
    "AppCredentialInput",
    "AppRotationResult",
    "ElevateResult",
    "EligibleRequest",
    "EligibleResult",
    "ExecRequest",
    "ExecResult",
    "ExtendRequest",
    "ExtendResult",
    "Hold",
    "LeaseStatus",
    "Plan",
    "ReapRequest",
    "ReapResult",
    "ReleaseRequest",
    "ReleaseResult",
    "ReleaseRow",
    "Runtime",
    "SecretRotationInput",
    "SecretRotationResult",
    "Settings",
    "SourceReapRequest",
    "SourceReapResult",
    "StatusRequest",
    "StatusResult",
    "ValueFactory",
    "cloud_environment",
    "elevate",
    "eligible",
    "exec",
    "extend",
    "hold",
    "plan",
    "reap",
    "reap_source",
    "release",
    "rotate_app_credential",
    "rotate_secret",
    "status",
]
