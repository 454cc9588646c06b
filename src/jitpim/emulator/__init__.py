"""A stateful emulator of the Azure APIs jitpim drives: Entra token issuer, GitHub Actions OIDC issuer,
Microsoft Graph (PIM, policies, approvals, audit, applications), ARM (RBAC, PIM) and Key Vault.

It shares no code with the rest of jitpim, so a wire-format bug cannot hide in both sides.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Emulator"]

if TYPE_CHECKING:
    from .server import Emulator


def __getattr__(name: str) -> Any:
    # Lazy: importing jitpim.emulator must not pull uvicorn/starlette until a server is wanted.
    if name == "Emulator":
        from .server import Emulator

        return Emulator
    raise AttributeError(name)
