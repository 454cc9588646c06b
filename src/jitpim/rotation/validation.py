"""Running the user's validation command against a new secret value.

The command gets the value one of two ways, and never through its argv or its environment (both are
readable by other processes of the same user, `/proc/PID/cmdline` even by everyone):

* `fd` (default): an inherited pipe. `JITPIM_SECRET_FD` names the descriptor; read it to the end, e.g.
  `value=$(cat "/dev/fd/$JITPIM_SECRET_FD")` (any shell; dash's `<&N` takes one digit only) or
  `os.read`/`open(int(os.environ["JITPIM_SECRET_FD"]))` in Python.
* `file`: a 0600 file in a private 0700 directory, `JITPIM_SECRET_FILE` names it; it is removed when the
  command ends, however it ends.

The command must exit 0 within the timeout. Its stdout goes to jitpim's stderr, so `--output json` stays
one clean document on stdout. It also sees `JITPIM_SECRET_NAME` and `JITPIM_SECRET_VERSION` (not secret).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from ..errors import UsageError
from .values import SecretValue

__all__ = [
    "FD_VARIABLE",
    "FILE_VARIABLE",
    "SignalScope",
    "ValidationResult",
    "ValidationSpec",
    "run_validation",
]

FD_VARIABLE: Final = "JITPIM_SECRET_FD"
FILE_VARIABLE: Final = "JITPIM_SECRET_FILE"
_VIAS: Final = ("fd", "file")
_KILL_GRACE_S: Final = 5.0

# While the command runs, signals jitpim receives go to it: `scope(forward)` installs `forward(signum)`.
SignalScope = Callable[[Callable[[int], None]], AbstractContextManager[None]]


@dataclass(frozen=True)
class ValidationSpec:
    """The command (argv, or a string split like a shell would) and how it receives the value."""

    argv: tuple[str, ...]
    via: str = "fd"
    timeout: timedelta = timedelta(minutes=5)

    @classmethod
    def parse(
        cls, command: str | Sequence[str], *, via: str = "fd", timeout: timedelta | None = None
    ) -> ValidationSpec:
        argv = tuple(shlex.split(command)) if isinstance(command, str) else tuple(command)
        if not argv:
            raise UsageError("--validate is empty")
        if via not in _VIAS:
            raise UsageError(f"unknown value delivery {via!r}", hint="Use fd or file.")
        return cls(argv, via, timeout or timedelta(minutes=5))

    def describe(self) -> str:
        return f"{Path(self.argv[0]).name}" + (" ..." if len(self.argv) > 1 else "")

    def check_runnable(self, environ: Mapping[str, str]) -> None:
        """Refuse (UsageError) a command that cannot start, before anything is granted or written: found
        only at validation time, it would cost a new version and its rollback."""
        _program(self.argv, environ)


@dataclass(frozen=True)
class ValidationResult:
    exit_code: int
    duration_s: float
    via: str
    signal: int | None = None
    timed_out: bool = False
    command: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def describe(self) -> str:
        if self.timed_out:
            return f"{self.command} did not finish in time"
        if self.signal is not None:
            return f"{self.command} was ended by signal {self.signal}"
        return f"{self.command} exited with {self.exit_code}"

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "timed_out": self.timed_out,
            "via": self.via,
            "duration_s": round(self.duration_s, 3),
            **self.extra,
        }


def _program(argv: Sequence[str], env: Mapping[str, str]) -> str:
    program = argv[0]
    if os.sep in program:
        if not os.path.isfile(program) or not os.access(program, os.X_OK):
            raise UsageError(
                f"validation command {program} is not an executable file",
                hint=f"Check the path; a script needs `chmod +x {program}` and a #! line.",
            )
        return program
    found = shutil.which(program, path=env.get("PATH", os.defpath))
    if found is None:
        raise UsageError(f"validation command not found: {program}", hint="Check the command name and PATH.")
    return found


def _private_dir() -> Path:
    """Where a value file goes: the per-user runtime directory (tmpfs, 0700) when there is one."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = runtime if runtime and os.path.isdir(runtime) and os.access(runtime, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="jitpim-secret-", dir=base))


@contextlib.contextmanager
def _value_file(value: SecretValue) -> Iterator[Path]:
    directory = _private_dir()
    path = directory / "value"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(value.reveal().encode("utf-8"))
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        with contextlib.suppress(OSError):
            directory.rmdir()


def _feed(descriptor: int, data: bytes) -> None:
    """Write the value into the pipe and close it (the reader sees end-of-file); a reader that exits
    without reading is not an error."""
    try:
        view = memoryview(data)
        while view:
            written = os.write(descriptor, view)
            view = view[written:]
    except (BrokenPipeError, OSError):
        pass
    finally:
        with contextlib.suppress(OSError):
            os.close(descriptor)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=_KILL_GRACE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_validation(
    spec: ValidationSpec,
    value: SecretValue,
    *,
    environ: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    signals: SignalScope | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> ValidationResult:
    """Run the command with the value delivered as `spec.via` says; its result (see the module docstring).

    `signals`, when given, forwards signals jitpim receives to the command while it runs (it then ends on
    its own terms and jitpim carries on with its result). Whatever happens, the command is not left running
    and the value file is removed.
    """
    env = dict(os.environ if environ is None else environ)
    env.pop(FD_VARIABLE, None)
    env.pop(FILE_VARIABLE, None)
    env.update(extra_env or {})
    program = _program(spec.argv, env)
    argv = [program, *spec.argv[1:]]
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        feeder: threading.Thread | None = None
        read_end: int | None = None
        write_end: int | None = None
        if spec.via == "file":
            env[FILE_VARIABLE] = str(stack.enter_context(_value_file(value)))
        else:
            read_end, write_end = os.pipe()
            env[FD_VARIABLE] = str(read_end)
        try:
            process = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=_stderr_descriptor(),
                pass_fds=(read_end,) if read_end is not None else (),
            )
        except BaseException:
            if write_end is not None:
                os.close(write_end)
            raise
        finally:
            if read_end is not None:
                os.close(read_end)  # only the child reads; our copy would keep the pipe from ever closing
        stack.callback(_stop, process)
        if write_end is not None:
            feeder = threading.Thread(
                target=_feed, args=(write_end, value.reveal().encode("utf-8")), name="jitpim-secret-feed", daemon=True
            )
            feeder.start()

        def forward(signum: int) -> None:
            if process.poll() is None:
                process.send_signal(signum)

        timed_out = False
        with signals(forward) if signals is not None else contextlib.nullcontext():
            try:
                returncode = process.wait(timeout=spec.timeout.total_seconds())
            except subprocess.TimeoutExpired:
                timed_out = True
                _stop(process)
                returncode = process.returncode
        if feeder is not None:
            feeder.join(timeout=_KILL_GRACE_S)
    signal_number = -returncode if returncode < 0 else None
    return ValidationResult(
        exit_code=128 + signal_number if signal_number is not None else returncode,
        duration_s=time.monotonic() - started,
        via=spec.via,
        signal=signal_number,
        timed_out=timed_out,
        command=spec.describe(),
    )


def _stderr_descriptor() -> int:
    """The command's stdout goes to jitpim's stderr (descriptor 2 when stderr is not a real file)."""
    try:
        return sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return 2
