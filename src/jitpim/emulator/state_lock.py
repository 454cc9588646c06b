"""One emulator per state folder: an exclusive, non-blocking `flock` on `STATE_DIR/emulator.lock`.

A second emulator on the same folder would overwrite the CA and the info file of the first, orphaning it
(its clients would trust a CA that no longer signs anything it serves). The kernel drops the lock when the
holder dies, however it dies, so a crashed emulator never leaves the folder locked.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

__all__ = ["LOCK_NAME", "StateDirInUseError", "StateDirLock"]

LOCK_NAME = "emulator.lock"


class StateDirInUseError(RuntimeError):
    """Another running emulator holds the state folder; the message names it and the way out."""

    def __init__(self, state_dir: Path, holder: str) -> None:
        who = f"pid {holder}" if holder else "another process"
        super().__init__(
            f"another emulator ({who}) is already serving the state folder {state_dir}; stop it first "
            f"(`kill {holder or 'PID'}`), or give this one its own folder with --state-dir "
            "(JITPIM_EMULATOR_STATE)"
        )
        self.state_dir = state_dir
        self.holder = holder


class StateDirLock:
    """Held from `acquire()` until `release()` (or the process's end)."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
            os.close(fd)
            raise StateDirInUseError(self.state_dir, holder if holder.isdigit() else "") from None
        except BaseException:
            os.close(fd)
            raise
        # The holder's pid, for the message a second emulator prints (the lock itself is the flock).
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the descriptor drops the flock
