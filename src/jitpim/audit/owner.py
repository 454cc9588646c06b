"""Which process owns a lease, recorded so `jitpim reap` can tell a live job from a dead one.

A PID alone is not enough: PIDs are reused, so the owner's start time is recorded too, and a lease is only
considered orphaned when no process with that PID *and* that start time exists on the same host. Start times
come from `/proc` (Linux); elsewhere they are unknown (None) and only the PID can be checked.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["ProcessOwner", "current_owner", "owner_is_alive", "process_started_at"]

# /proc/stat's boot time is recomputed from the clock on each read and can wobble by a second, so start
# times derived from it are compared with this tolerance.
_START_TIME_TOLERANCE_S = 2.0


@dataclass(frozen=True, slots=True)
class ProcessOwner:
    pid: int
    host: str
    started_at: str | None


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def _started(pid: int) -> datetime | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    boot = _boot_time()
    if boot is None:
        return None
    # Field 2 (comm) may contain spaces and parentheses: the fields after it start past the LAST ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    start_ticks = int(fields[19])  # field 22, `starttime`, in clock ticks since boot
    return datetime.fromtimestamp(boot + start_ticks / os.sysconf("SC_CLK_TCK"), tz=UTC)


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def process_started_at(pid: int) -> str | None:
    """When process `pid` started (UTC ISO), or None when it does not exist or this OS cannot tell."""
    started = _started(pid)
    return None if started is None else _format(started)


def current_owner() -> ProcessOwner:
    pid = os.getpid()
    return ProcessOwner(pid=pid, host=socket.gethostname(), started_at=process_started_at(pid))


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it just is not ours
    return True


def owner_is_alive(pid: int, host: str, started_at: str | None) -> bool | None:
    """Whether the recorded owner still runs: True/False on this host, None when it ran on another host."""
    if host != socket.gethostname():
        return None
    if pid <= 0 or not _pid_exists(pid):
        return False
    if started_at is None:
        return True
    now_started = _started(pid)
    if now_started is None:
        return True  # cannot compare on this OS; the PID exists
    recorded = datetime.fromisoformat(started_at)
    return abs((now_started - recorded).total_seconds()) <= _START_TIME_TOLERANCE_S
