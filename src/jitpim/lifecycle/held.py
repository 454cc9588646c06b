"""A lease that may hold access: what the lifecycle needs to release it. Built when a grant lands
(`Elevation`) or from the ledger's record (`held_from_record`, used by `jitpim release` and the reaper).

Its own module so that granting (`elevation`) and releasing (`release`) both depend on it and not on each
other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..model import LeaseState
from ..providers import Grant, Provider, ProviderContext, ResolvedTarget

__all__ = ["HeldLease"]


@dataclass
class HeldLease:
    """A lease that may hold access: what is needed to release it (also rebuilt from the ledger)."""

    lease_id: str
    provider: Provider
    resolved: ResolvedTarget
    ctx: ProviderContext
    grant: Grant
    state: LeaseState = LeaseState.GRANTED
    granted_at: datetime | None = None
    effective_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "lease_id": self.lease_id,
            "target": self.resolved.to_json(),
            "state": str(self.state),
            "grant": self.grant.to_json(),
            "granted_at": self.granted_at.isoformat() if self.granted_at else None,
            "effective_at": self.effective_at.isoformat() if self.effective_at else None,
        }
