"""Running the child command of `jitpim exec`: its environment, signal forwarding, and its exit code.

jitpim never `exec`s into the child (aws-vault's default): a JIT tool must stay alive to release the access
when the child ends, however it ends. So the child must also end when jitpim does:

* it runs in its own process group, and every signal jitpim forwards goes to the whole group (a shell's
  children included). Not when jitpim's stdin is a terminal: there the child stays in the terminal's
  foreground group, so an interactive command can read the terminal and Ctrl-C reaches it directly;
* on Linux it gets SIGKILL when jitpim dies, even by SIGKILL (`prctl(PR_SET_DEATHSIG)`, set in the child
  before it runs the command);
* after the first forwarded signal it has `grace` to exit (GitHub Actions kills the job ~10 s after its
  SIGINT, and the release must fit in that), then its process group is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from ..errors import NestingError, UsageError
from .signals import SignalGuard

__all__ = ["NESTING_VARIABLE", "ChildSpec", "check_not_nested", "resolve_program", "run_child"]

# Set in the child's environment; its presence means we are inside `jitpim exec` already.
NESTING_VARIABLE = "JITPIM_LEASES"

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@dataclass(frozen=True)
class ChildSpec:
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    # After the first forwarded signal, how long the child may take to exit before its group is killed.
    grace: timedelta = timedelta(seconds=5)
    # The child's stdout goes to jitpim's stderr (`--output json`: stdout is jitpim's one JSON document).
    stdout_to_stderr: bool = False


def check_not_nested(environ: Mapping[str, str]) -> None:
    if environ.get(NESTING_VARIABLE):
        raise NestingError(
            "refusing to run jitpim exec inside another jitpim exec "
            f"(this process already holds leases {environ[NESTING_VARIABLE]})",
        )


def resolve_program(argv: Sequence[str], env: Mapping[str, str]) -> str:
    if not argv:
        raise UsageError("no command given", hint="Put the command after `--`, e.g. `jitpim exec ... -- ./deploy.sh`.")
    program = argv[0]
    if os.sep in program:
        if not os.path.isfile(program) or not os.access(program, os.X_OK):
            raise UsageError(
                f"{program} is not an executable file",
                hint=f"Check the path; a script needs `chmod +x {program}` and a #! line.",
            )
        return program
    found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        raise UsageError(f"command not found: {program}", hint="Check the command name and PATH.")
    return found


def _parent_death_hook() -> Callable[[], None] | None:
    """What the child runs between fork and exec so that it gets SIGKILL when jitpim dies, however jitpim dies
    (Linux's prctl(PR_SET_PDEATHSIG)); None elsewhere, where the process group and the reaper are what is left.
    libc is looked up here, in the parent: the forked child only makes the one call."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def die_with_parent() -> None:  # pragma: no cover - runs in the forked child, before exec
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return die_with_parent


def _interactive() -> bool:
    try:
        return os.isatty(0)
    except OSError:
        return False


def _signal_child(process: subprocess.Popen[bytes], signum: int, own_group: bool) -> None:
    """Signal the child's whole process group (its own children too), or the child alone when it shares
    jitpim's group (a terminal session)."""
    if process.poll() is not None:
        return
    if own_group:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)
            return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signum)


def _stderr_descriptor() -> int:
    """jitpim's stderr as a descriptor (2 when sys.stderr is not a real file, as under a test runner)."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return 2


def run_child(spec: ChildSpec, guard: SignalGuard, on_start: Callable[[int, bool], None] | None = None) -> int:
    """Run the child to completion, forwarding SIGINT/SIGTERM/SIGHUP to its process group and killing the group
    `spec.grace` after the first one; its exit code (128+N when a signal ended it, as shells report it).
    `on_start(pid, own_group)` is told the child's PID as soon as it runs (recorded, so `reap` can end it)."""
    program = resolve_program(spec.argv, spec.env)
    own_group = not _interactive()
    started: list[subprocess.Popen[bytes]] = []
    # A signal that arrives while the child is being started (or its PID recorded) is the child's too:
    # held here and delivered as soon as it runs, never turned into jitpim's own interruption.
    pending: list[int] = []
    killer: threading.Timer | None = None

    def kill_group() -> None:
        _signal_child(started[0], signal.SIGKILL, own_group)

    def forward(signum: int) -> None:
        nonlocal killer
        if not started:
            pending.append(signum)
            return
        _signal_child(started[0], signum, own_group)
        if killer is None:
            # A timer thread, so the main thread can keep waiting for the child without polling.
            killer = threading.Timer(spec.grace.total_seconds(), kill_group)
            killer.daemon = True
            killer.start()

    with guard.forwarding_to(forward):
        process = subprocess.Popen(
            [program, *spec.argv[1:]],
            env=dict(spec.env),
            cwd=spec.cwd,
            process_group=0 if own_group else None,
            preexec_fn=_parent_death_hook(),  # prctl must run in the child, between fork and exec
            stdout=_stderr_descriptor() if spec.stdout_to_stderr else None,
        )
        started.append(process)
        try:
            if on_start is not None:
                on_start(process.pid, own_group)
            for signum in pending:
                forward(signum)
            returncode = process.wait()
        finally:
            if killer is not None:
                killer.cancel()
            if own_group:
                # Whatever the child left running in its group goes with it: nothing of the job outlives the lease.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
    return 128 - returncode if returncode < 0 else returncode
