"""Checking one lease's evidence for its page: each event's hash recomputed from its stored bytes, the newest
signed summary verified with the trusted keys, and the summary's list of events matched against the chain.

This is the per-lease slice of `jitpim audit verify` (which walks the whole chain); a page shows it so an auditor
sees at a glance whether what they read is what was signed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jitpim.audit.lease_rows import changed_fields, derive_lease
from jitpim.audit.signing import PublicKey
from jitpim.audit.verify import check_summary_signature, event_hash_from_text

__all__ = ["LeaseCheck", "check_lease"]


@dataclass
class LeaseCheck:
    ok: bool
    summary: str
    key_id: str | None = None
    key_pinned: bool = False
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "summary": self.summary,
            "key_id": self.key_id,
            "key_pinned": self.key_pinned,
            "problems": list(self.problems),
        }


def check_lease(
    events: Sequence[Mapping[str, Any]],
    keys: Mapping[str, PublicKey],
    *,
    pinned: bool,
    stored_row: Mapping[str, Any] | None = None,
) -> LeaseCheck:
    """`stored_row`, when given, is the `leases` row as stored: it must equal the row the chain derives."""
    problems: list[str] = []
    if stored_row is not None:
        derived = derive_lease((str(e["type"]), str(e["at"]), str(e["body_text"])) for e in events)
        edited = changed_fields(stored_row, derived) if derived is not None else []
        if edited:
            problems.append(
                "the lease's ledger row was edited outside jitpim (" + ", ".join(edited) + "); the hash chain "
                "holds what jitpim wrote"
            )
    hashes: dict[int, str] = {}
    for event in events:
        recomputed = event_hash_from_text(
            event["prev_hash"],
            event["seq"],
            event["lease_id"],
            event["type"],
            event["at"],
            event["schema_version"],
            event["body_text"],
        )
        hashes[int(event["seq"])] = event["hash"]
        if recomputed != event["hash"]:
            problems.append(f"event seq {event['seq']} ({event['type']}) was changed after it was written")
    summaries = [e for e in events if e["type"] == "lease.summary"]
    if not summaries:
        problems.append("the lease has no signed summary yet (it is still open, or its run never finalized it)")
        return LeaseCheck(False, "not signed", problems=problems, key_pinned=pinned)
    latest = summaries[-1]
    ok, reason, key_id = check_summary_signature(latest["signature"], latest["body_text"], keys)
    if not ok:
        problems.append(f"the summary at seq {latest['seq']} {reason}")
    for listed in latest["body"].get("events") or []:
        if not isinstance(listed, Mapping):
            continue
        seq, want = listed.get("seq"), listed.get("hash")
        if isinstance(seq, int) and hashes.get(seq) != want:
            problems.append(f"the signed summary lists event seq {seq} with a hash the ledger no longer has")
    if problems:
        return LeaseCheck(False, "verification failed", key_id, pinned, problems)
    return LeaseCheck(True, "signature verified" + ("" if pinned else " (key not pinned)"), key_id, pinned)
