"""The elevation lifecycle: plan -> grant -> wait -> effective -> run -> release -> record, with releases
guaranteed on every exit path (see docs/explanation/lifecycle.md). `hold` is the one way to hold a lease."""

from __future__ import annotations

from .access_file import AccessFile, Profile, find_access_file, load_access_file
from .elevation import Elevation
from .evidence import Evidence, EvidenceWriter, StepOutputs, with_sink_status
from .execution import ExecResult, child_environment, execute
from .held import HeldLease
from .holding import Hold, HoldContext, HoldOutcome, hold
from .planning import ContextFactory, LifecycleOptions, Plan, PlannedTarget, make_plan
from .reaper import Orphan, SourceFinding, SourceReap, find_orphans, reap, reap_source
from .recorded import held_from_record
from .release import Releaser, ReleaseReport, ReleaseStatus
from .reporting import Reporter, Step, Timeline
from .runner import NESTING_VARIABLE, ChildSpec, check_not_nested, run_child
from .session import Session
from .signals import Interrupted, SignalGuard
from .waiting import Clock, Poller, SystemClock

__all__ = [
    "NESTING_VARIABLE",
    "AccessFile",
    "ChildSpec",
    "Clock",
    "ContextFactory",
    "Elevation",
    "Evidence",
    "EvidenceWriter",
    "ExecResult",
    "HeldLease",
    "Hold",
    "HoldContext",
    "HoldOutcome",
    "Interrupted",
    "LifecycleOptions",
    "Orphan",
    "Plan",
    "PlannedTarget",
    "Poller",
    "Profile",
    "ReleaseReport",
    "ReleaseStatus",
    "Releaser",
    "Reporter",
    "Session",
    "SignalGuard",
    "SourceFinding",
    "SourceReap",
    "Step",
    "StepOutputs",
    "SystemClock",
    "Timeline",
    "check_not_nested",
    "child_environment",
    "execute",
    "find_access_file",
    "find_orphans",
    "held_from_record",
    "hold",
    "load_access_file",
    "make_plan",
    "reap",
    "reap_source",
    "run_child",
    "with_sink_status",
]
