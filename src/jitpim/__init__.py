"""jitpim: just-in-time privileged access to Microsoft Entra and Azure for CI jobs and runbooks.

The library behind the `jitpim` command; its front door is `jitpim.api`, re-exported here.
A minimal use, holding access while a function runs:

    from jitpim import AccessRequest, Runtime, Settings, Target, hold

    officer = Target.from_flags(kind="rbac", role="Key Vault Secrets Officer", scope=VAULT_ID, duration="10m",
                                justification="rotate")
    with Runtime.open(Settings.from_environ()) as rt, hold(rt, AccessRequest((officer,))) as held:
        ...  # the access works here; it is released (verified) and recorded on every way out

Names are loaded on first use, so `import jitpim` stays cheap (no Azure SDK is imported until needed).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = [
    "AccessRequest",
    "AppCredentialInput",
    "Decision",
    "Elevation",
    "ExecRequest",
    "ExecResult",
    "ExtendRequest",
    "Grant",
    "GrantStatus",
    "JitError",
    "Lease",
    "LeaseState",
    "LifecycleOptions",
    "Mode",
    "Plan",
    "PolicyView",
    "ReapRequest",
    "ReleaseRequest",
    "RunContext",
    "Runtime",
    "SecretRotationInput",
    "Session",
    "Settings",
    "SystemClock",
    "Target",
    "TargetKind",
    "Ticket",
    "Timeline",
    "__version__",
    "elevate",
    "eligible",
    "exec",
    "execute",
    "extend",
    "get_provider",
    "hold",
    "make_plan",
    "plan",
    "reap",
    "register_provider",
    "release",
    "rotate_app_credential",
    "rotate_secret",
    "status",
]

_API = (
    "AccessRequest",
    "AppCredentialInput",
    "ExecRequest",
    "ExtendRequest",
    "ReapRequest",
    "ReleaseRequest",
    "Runtime",
    "SecretRotationInput",
    "Settings",
    "eligible",
    "elevate",
    "exec",
    "extend",
    "hold",
    "plan",
    "reap",
    "release",
    "rotate_app_credential",
    "rotate_secret",
    "status",
)

_LOCATIONS = {
    **dict.fromkeys(_API, "jitpim.api"),
    "Decision": "jitpim.model",
    "Lease": "jitpim.model",
    "LeaseState": "jitpim.model",
    "Mode": "jitpim.model",
    "PolicyView": "jitpim.model",
    "RunContext": "jitpim.model",
    "Target": "jitpim.model",
    "TargetKind": "jitpim.model",
    "Ticket": "jitpim.model",
    "JitError": "jitpim.errors",
    "Elevation": "jitpim.lifecycle",
    "ExecResult": "jitpim.lifecycle",
    "LifecycleOptions": "jitpim.lifecycle",
    "Plan": "jitpim.lifecycle",
    "Session": "jitpim.lifecycle",
    "SystemClock": "jitpim.lifecycle",
    "Timeline": "jitpim.lifecycle",
    "execute": "jitpim.lifecycle",
    "make_plan": "jitpim.lifecycle",
    "Grant": "jitpim.providers",
    "GrantStatus": "jitpim.providers",
    "get_provider": "jitpim.providers",
    "register_provider": "jitpim.providers",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from jitpim._version import __version__

        return __version__
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'jitpim' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
