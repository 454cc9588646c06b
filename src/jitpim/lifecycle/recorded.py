"""Leases as the ledger recorded them, turned back into something that can be released (by `jitpim
release` and the reaper, in another process than the one that granted them)."""

from __future__ import annotations

from ..audit.records import LeaseRecord
from ..errors import LedgerError
from ..model import LeaseState
from ..providers import Grant, ResolvedTarget, get_provider
from .held import HeldLease
from .planning import ContextFactory

__all__ = ["held_from_record"]


def held_from_record(record: LeaseRecord, contexts: ContextFactory) -> HeldLease:
    data = record.get("data") or {}
    if "grant" not in data or "resolved" not in data:
        raise LedgerError(
            "the ledger has no grant for this lease (it never got past the request)",
            target=record["lease_id"],
        )
    resolved = ResolvedTarget.from_json(data["resolved"])
    grant = Grant.from_json(data["grant"])
    return HeldLease(
        lease_id=record["lease_id"],
        provider=get_provider(resolved.kind),
        resolved=resolved,
        ctx=contexts(resolved.target.tenant),
        grant=grant,
        state=LeaseState(record["state"]),
    )
