"""The elevation lifecycle: plan -> grant -> wait -> effective -> run -> release -> record, with releases
guaranteed on every exit path (see docs/explanation/lifecycle.md)."""

from __future__ import annotations

from .access_file import AccessFile, Profile, find_access_file, load_access_file
from .elevation import Elevation, HeldLease
from .execution import ExecResult, child_environment, execute
from .planning import ContextFactory, LifecycleOptions, Plan, PlannedTarget, make_plan
from .reaper import Orphan, SourceFinding, SourceReap, find_orphans, reap, reap_source
from .recorded import held_from_record
from .release import Releaser, ReleaseReport
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
    "ExecResult",
    "HeldLease",
    "Interrupted",
    "LifecycleOptions",
    "Orphan",
    "Plan",
    "PlannedTarget",
    "Poller",
    "Profile",
    "ReleaseReport",
    "Releaser",
    "Reporter",
    "Session",
    "SignalGuard",
    "SourceFinding",
    "SourceReap",
    "Step",
    "SystemClock",
    "Timeline",
    "check_not_nested",
    "child_environment",
    "execute",
    "find_access_file",
    "find_orphans",
    "held_from_record",
    "load_access_file",
    "make_plan",
    "reap",
    "reap_source",
    "run_child",
]
