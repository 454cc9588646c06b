"""Audit event types, the event schema version, and what each event's hash covers.

An event is one row of the ledger's `events` table. Its `hash` is

    sha256(prev_hash || canonical_json({"at", "body", "lease_id", "schema_version", "seq", "type"}))

so the hash covers the event's body *and* its envelope (position, lease, type, time): editing any of them,
deleting a row or swapping two rows breaks the chain at the first affected `seq`. `prev_hash` of the first
event is `GENESIS_HASH`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from jitpim.audit.canonical import GENESIS_HASH, canonical_json, chain_hash, is_canonical

__all__ = [
    "COMMAND_FINISHED",
    "EVENT_SCHEMA_VERSION",
    "LEASE_APPROVED",
    "LEASE_EFFECTIVE",
    "LEASE_EXPIRED",
    "LEASE_GRANTED",
    "LEASE_RELEASED",
    "LEASE_REQUESTED",
    "SECRET_ROTATED",
    "ChainVerification",
    "ChainedRow",
    "event_material",
    "failed",
    "is_valid_event_type",
    "verify_rows",
]

# Version of the event body schema (what the bodies of these types contain). Stored on every event so a
# reader can interpret old records after the bodies evolve. Independent of the database schema version.
EVENT_SCHEMA_VERSION: Final = 1

LEASE_REQUESTED: Final = "lease.requested"
LEASE_APPROVED: Final = "lease.approved"
LEASE_GRANTED: Final = "lease.granted"
LEASE_EFFECTIVE: Final = "lease.effective"
COMMAND_FINISHED: Final = "command.finished"
SECRET_ROTATED: Final = "secret.rotated"
LEASE_RELEASED: Final = "lease.released"
LEASE_EXPIRED: Final = "lease.expired"

# `noun.verb` (or deeper), lowercase; e.g. `lease.granted`, `release.failed`, `secret.rotated`.
_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")


def failed(stage: str) -> str:
    """The failure event of a stage: `failed("lease.release")` -> `lease.release.failed`."""
    event_type = f"{stage}.failed"
    if not is_valid_event_type(event_type):
        raise ValueError(f"not a valid event stage: {stage!r}")
    return event_type


def is_valid_event_type(event_type: str) -> bool:
    return _EVENT_TYPE.fullmatch(event_type) is not None


def event_material(*, seq: int, lease_id: str | None, event_type: str, at: str, schema_version: int, body: Any) -> str:
    """The canonical text an event's hash covers (after its prev_hash)."""
    return canonical_json(
        {
            "at": at,
            "body": body,
            "lease_id": lease_id,
            "schema_version": schema_version,
            "seq": seq,
            "type": event_type,
        }
    )


@dataclass(frozen=True, slots=True)
class ChainedRow:
    """The stored columns verification needs, exactly as read from the table."""

    seq: int
    lease_id: str | None
    event_type: str
    at: str
    schema_version: int
    body: str
    prev_hash: str
    hash: str


class ChainVerification(NamedTuple):
    """Result of a chain check; unpacks as `(ok, first_bad_seq, reason)`."""

    ok: bool
    first_bad_seq: int | None
    reason: str


def _check_row(row: ChainedRow, expected_seq: int, prev_hash: str) -> ChainVerification | None:
    if row.seq != expected_seq:
        missing = f"{expected_seq}" if row.seq == expected_seq + 1 else f"{expected_seq}..{row.seq - 1}"
        return ChainVerification(False, expected_seq, f"event seq {missing} is missing (deleted)")
    if row.prev_hash != prev_hash:
        return ChainVerification(False, row.seq, f"prev_hash of seq {row.seq} is not the hash of the event before it")
    if not is_canonical(row.body):
        return ChainVerification(False, row.seq, f"body of seq {row.seq} is not canonical JSON (it was edited)")
    material = event_material(
        seq=row.seq,
        lease_id=row.lease_id,
        event_type=row.event_type,
        at=row.at,
        schema_version=row.schema_version,
        body=json.loads(row.body),
    )
    if chain_hash(row.prev_hash, material) != row.hash:
        return ChainVerification(False, row.seq, f"hash of seq {row.seq} does not match its content (it was edited)")
    return None


def verify_rows(rows: Iterable[ChainedRow], head_seq: int, head_hash: str) -> ChainVerification:
    """Verify `rows` (ChainedRow in ascending seq order) against the recorded chain head.

    Sequence numbers are contiguous from 1 because the ledger assigns them itself inside the append
    transaction, so a gap is a deleted row and names the first missing seq.
    """
    expected_seq = 1
    prev_hash = GENESIS_HASH
    for row in rows:
        problem = _check_row(row, expected_seq, prev_hash)
        if problem is not None:
            return problem
        prev_hash = row.hash
        expected_seq += 1
    last_seq = expected_seq - 1
    if head_seq > last_seq:
        return ChainVerification(
            False, last_seq + 1, f"events after seq {last_seq} are missing (the chain head records seq {head_seq})"
        )
    if head_seq < last_seq:
        return ChainVerification(
            False, head_seq + 1, f"events after seq {head_seq} were added outside the ledger (no chain head)"
        )
    if head_hash != prev_hash:
        return ChainVerification(False, last_seq, f"the chain head does not match the hash of seq {last_seq}")
    return ChainVerification(True, None, f"{last_seq} events verified")
