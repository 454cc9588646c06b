"""jitpim: just-in-time privileged access to Microsoft Entra and Azure for CI jobs and runbooks.

The library behind the `jitpim` command. A minimal use, holding access while a function runs:

    from jitpim import Elevation, LifecycleOptions, Mode, RunContext, Session, SystemClock, Target, Timeline, make_plan
    from jitpim.audit.ledger import Ledger
    from jitpim.cloud import resolve_cloud

    target = Target.from_flags(kind="rbac", role="Key Vault Secrets Officer", scope=VAULT_ID, duration="10m",
                               justification="rotate")
    clock, options = SystemClock(), LifecycleOptions(mode=Mode.DIRECT)
    with Session(resolve_cloud(), Mode.DIRECT, clock) as session, Ledger.open() as ledger:
        plan = make_plan([target], contexts=session.context, options=options, clock=clock)
        with Elevation(plan, ledger, RunContext.from_environ(), clock, options, Timeline()):
            ...  # the access works here, and is released on every way out

Names are loaded on first use, so `import jitpim` stays cheap (no Azure SDK is imported until needed).
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = [
    "Decision",
    "Elevation",
    "ExecResult",
    "Grant",
    "GrantStatus",
    "JitError",
    "Lease",
    "LeaseState",
    "LifecycleOptions",
    "Mode",
    "Plan",
    "PolicyView",
    "RunContext",
    "Session",
    "SystemClock",
    "Target",
    "TargetKind",
    "Ticket",
    "Timeline",
    "__version__",
    "execute",
    "get_provider",
    "make_plan",
    "register_provider",
]

_LOCATIONS = {
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
        try:
            return version("jitpim")
        except PackageNotFoundError:  # running from a source tree that was never installed
            return "0+unknown"
    module = _LOCATIONS.get(name)
    if module is None:
        raise AttributeError(f"module 'jitpim' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
