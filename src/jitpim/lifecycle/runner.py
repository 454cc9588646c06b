"""Running the child command of `jitpim exec`: its environment, signal forwarding, and its exit code.

jitpim never `exec`s into the child (aws-vault's default): a JIT tool must stay alive to release the access
when the child ends, however it ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NestingError, UsageError
from .signals import SignalGuard

__all__ = ["NESTING_VARIABLE", "ChildSpec", "check_not_nested", "run_child"]

# Set in the child's environment; its presence means we are inside `jitpim exec` already.
NESTING_VARIABLE = "JITPIM_LEASES"


@dataclass(frozen=True)
class ChildSpec:
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None


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


def run_child(spec: ChildSpec, guard: SignalGuard) -> int:
    """Run the child to completion, forwarding SIGINT/SIGTERM/SIGHUP to it; its exit code (128+N when a
    signal ended it, as shells report it)."""
    program = resolve_program(spec.argv, spec.env)
    process = subprocess.Popen([program, *spec.argv[1:]], env=dict(spec.env), cwd=spec.cwd)

    def forward(signum: int) -> None:
        if process.poll() is None:
            process.send_signal(signum)

    with guard.forwarding_to(forward):
        returncode = process.wait()
    return 128 - returncode if returncode < 0 else returncode
