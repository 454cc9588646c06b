"""Evidence: the write-ahead lease ledger (SQLite) with its hash-chained audit events.

See docs/reference/ledger.md for the location, schema and guarantees.
"""

from __future__ import annotations

from jitpim.audit.canonical import GENESIS_HASH, canonical_json
from jitpim.audit.events import (
    COMMAND_FINISHED,
    EVENT_SCHEMA_VERSION,
    LEASE_APPROVED,
    LEASE_EFFECTIVE,
    LEASE_EXPIRED,
    LEASE_GRANTED,
    LEASE_RELEASED,
    LEASE_REQUESTED,
    SECRET_ROTATED,
    ChainVerification,
    failed,
)
from jitpim.audit.guard import assert_no_secrets, is_sensitive_key
from jitpim.audit.ledger import BEGIN_STATES, Ledger, Transition
from jitpim.audit.location import LEDGER_ENV, default_ledger_path, resolve_ledger_path
from jitpim.audit.owner import ProcessOwner, current_owner, owner_is_alive, process_started_at
from jitpim.audit.records import LEASE_COLUMNS, TERMINAL_STATES, EventRecord, LeaseRecord
from jitpim.audit.schema import LATEST_VERSION

__all__ = [
    "BEGIN_STATES",
    "COMMAND_FINISHED",
    "EVENT_SCHEMA_VERSION",
    "GENESIS_HASH",
    "LATEST_VERSION",
    "LEASE_APPROVED",
    "LEASE_COLUMNS",
    "LEASE_EFFECTIVE",
    "LEASE_EXPIRED",
    "LEASE_GRANTED",
    "LEASE_RELEASED",
    "LEASE_REQUESTED",
    "LEDGER_ENV",
    "SECRET_ROTATED",
    "TERMINAL_STATES",
    "ChainVerification",
    "EventRecord",
    "LeaseRecord",
    "Ledger",
    "ProcessOwner",
    "Transition",
    "assert_no_secrets",
    "canonical_json",
    "current_owner",
    "default_ledger_path",
    "failed",
    "is_sensitive_key",
    "owner_is_alive",
    "process_started_at",
    "resolve_ledger_path",
]
