"""Where the ledger lives, and creating it privately.

The path is, in order: the `path` argument, `$JITPIM_LEDGER`, `$XDG_STATE_HOME/jitpim/ledger.sqlite3`, and
`~/.local/state/jitpim/ledger.sqlite3`. `XDG_STATE_HOME` is ignored unless absolute, as the XDG Base Directory
specification requires. Directories jitpim creates are mode 0700 and the file 0600; existing directories and
files keep the modes their owner gave them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from jitpim.errors import LedgerError

__all__ = ["LEDGER_ENV", "LEDGER_FILENAME", "create_private", "default_ledger_path", "resolve_ledger_path"]

LEDGER_ENV = "JITPIM_LEDGER"
LEDGER_FILENAME = "ledger.sqlite3"


def default_ledger_path(environ: Mapping[str, str] | None = None) -> Path:
    """The documented default location (not considering `JITPIM_LEDGER`)."""
    env = os.environ if environ is None else environ
    state_home = env.get("XDG_STATE_HOME", "")
    if state_home and os.path.isabs(state_home):
        base = Path(state_home)
    else:
        home = env.get("HOME") or os.path.expanduser("~")
        base = Path(home) / ".local" / "state"
    return base / "jitpim" / LEDGER_FILENAME


def resolve_ledger_path(path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None) -> Path:
    """The ledger file to use: the argument, else `$JITPIM_LEDGER`, else the default."""
    env = os.environ if environ is None else environ
    if path is not None and str(path) != "":
        return Path(os.fspath(path)).expanduser()
    configured = env.get(LEDGER_ENV, "")
    if configured:
        return Path(configured).expanduser()
    return default_ledger_path(env)


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def _make_private_dirs(directory: Path) -> None:
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for created in reversed(missing):
        try:
            created.mkdir(mode=0o700)
        except FileExistsError:
            continue  # another process created it first: fine
        # mkdir's mode is filtered by the umask; set it exactly.
        os.chmod(created, 0o700)


def create_private(path: Path) -> bool:
    """Create the ledger file (0600) and its missing parent directories (0700). True when it was created.

    Created with O_EXCL and the final mode from the start, so the file is never briefly readable by others.
    """
    try:
        _make_private_dirs(path.parent)
        if path.exists():
            return False
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        except FileExistsError:
            return False
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        return True
    except OSError as error:
        raise LedgerError(f"cannot create the ledger file: {_reason(error)}", target=str(path)) from error
