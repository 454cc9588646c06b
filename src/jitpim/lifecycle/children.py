"""What is left of a lease's command after jitpim itself is gone, and ending it.

`jitpim exec` records `command.started` (the child's PID, host and start time) when the command starts and
`command.finished` when it ends. A lease whose `jitpim exec` died without finishing (SIGKILL, a crashed runner)
may still have its command running: on Linux the child itself gets SIGKILL with jitpim (the parent-death
signal), but what the child started in its process group does not. The reaper ends that group before it
releases the lease, so nothing of the job keeps running once its access is gone.

A process group outlives its leader while members remain, and its id is not reused while it has members; the
recorded start time tells a reused leader PID apart, so only the job's own processes are signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Mapping

from ..audit.owner import owner_is_alive, process_started_at
from ..audit.store import AuditStore

__all__ = ["COMMAND_STARTED", "end_children", "started_body"]

COMMAND_STARTED = "command.started"
COMMAND_FINISHED = "command.finished"


def started_body(pid: int, own_group: bool) -> dict[str, object]:
    """The `command.started` event body for the child `pid` (just started)."""
    return {
        "pid": pid,
        "host": socket.gethostname(),
        "started_at": process_started_at(pid),
        "process_group": pid if own_group else None,
    }


def _unfinished(ledger: AuditStore, lease_id: str) -> Mapping[str, object] | None:
    started: Mapping[str, object] | None = None
    for event in ledger.events(lease_id):
        if event["type"] == COMMAND_STARTED:
            started = event["body"]
        elif event["type"] == COMMAND_FINISHED:
            started = None
    return started


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def end_children(ledger: AuditStore, lease_id: str) -> str | None:
    """Kill (SIGKILL) what is left on this host of the lease's unfinished command; a sentence saying what was
    ended, or None when nothing was left (or it ran on another host, where only that host can end it)."""
    started = _unfinished(ledger, lease_id)
    if started is None or started.get("host") != socket.gethostname():
        return None
    pid, group = started.get("pid"), started.get("process_group")
    if not isinstance(pid, int):
        return None
    recorded = started.get("started_at")
    leader = owner_is_alive(pid, socket.gethostname(), recorded if isinstance(recorded, str) else None)
    if leader is False and _pid_in_use(pid):
        return None  # the PID now belongs to another process: its group is not ours
    if isinstance(group, int) and _group_exists(group):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
            return f"ended the command's process group {group}"
    if leader:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
            return f"ended the command (PID {pid})"
    return None


def _pid_in_use(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
