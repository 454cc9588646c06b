"""The pure domain of jitpim: targets, modes, leases and their allowed transitions, run provenance, policy
decisions and durations. No I/O happens here; everything takes its clock and facts as arguments."""

from __future__ import annotations

from .durations import format_duration, iso8601_duration, parse_duration
from .lease import (
    ALLOWED_TRANSITIONS,
    Lease,
    LeaseId,
    LeaseOutcome,
    LeaseState,
    check_transition,
    lease_id,
    new_local_run_key,
)
from .policy import MINIMUM_DURATION, Decision, PolicyView, Reason, ReasonCode, evaluate
from .run import RunContext
from .target import GroupAccess, Mode, Target, TargetKind, Ticket, is_guid, validate_arm_scope

__all__ = [
    "ALLOWED_TRANSITIONS",
    "MINIMUM_DURATION",
    "Decision",
    "GroupAccess",
    "Lease",
    "LeaseId",
    "LeaseOutcome",
    "LeaseState",
    "Mode",
    "PolicyView",
    "Reason",
    "ReasonCode",
    "RunContext",
    "Target",
    "TargetKind",
    "Ticket",
    "check_transition",
    "evaluate",
    "format_duration",
    "is_guid",
    "iso8601_duration",
    "lease_id",
    "new_local_run_key",
    "parse_duration",
    "validate_arm_scope",
]
