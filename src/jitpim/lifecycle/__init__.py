"""The elevation lifecycle: plan -> grant -> wait -> effective -> run -> release -> record, with releases
guaranteed on every exit path (see docs/explanation/lifecycle.md)."""

from __future__ import annotations

from .elevation import Elevation, HeldLease
from .execution import ExecResult, child_environment, execute
from .planning import ContextFactory, LifecycleOptions, Plan, PlannedTarget, make_plan
from .release import Releaser, ReleaseReport
from .reporting import Reporter, Step, Timeline
from .runner import NESTING_VARIABLE, ChildSpec, check_not_nested, run_child
from .signals import Interrupted, SignalGuard
from .waiting import Clock, Poller, SystemClock

__all__ = [
    "NESTING_VARIABLE",
    "ChildSpec",
    "Clock",
    "ContextFactory",
    "Elevation",
    "ExecResult",
    "HeldLease",
    "Interrupted",
    "LifecycleOptions",
    "Plan",
    "PlannedTarget",
    "Poller",
    "ReleaseReport",
    "Releaser",
    "Reporter",
    "SignalGuard",
    "Step",
    "SystemClock",
    "Timeline",
    "check_not_nested",
    "child_environment",
    "execute",
    "make_plan",
    "run_child",
]
