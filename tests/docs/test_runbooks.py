"""Every runbook in docs/runbooks runs as written: its `bash` blocks, in order, in one shell, against a fresh
`jitpim emulator serve` (the way a reader practises it). A failing command fails the test, and no secret of
the emulator's principals may appear in what the runbook printed."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

RUNBOOKS = Path(__file__).parents[2] / "docs" / "runbooks"
_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
BOOKS = sorted(p for p in RUNBOOKS.glob("*.md") if p.name != "README.md")


def bash_blocks(text: str) -> list[str]:
    return [m.group(1) for m in _BLOCK.finditer(text)]


@pytest.fixture(name="home")
def _home(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A reader's shell: its own HOME and state, jitpim on PATH, and an emulator serving from the default
    state folder (so `jitpim emulator env` finds it)."""
    bindir = str(Path(sys.executable).parent)
    env = {
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "PYTHONPATH": os.pathsep.join(sys.path),
        "LANG": "C.UTF-8",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "jitpim", "emulator", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert server.stdout is not None
    ready = server.stdout.readline()
    assert json.loads(ready).get("ready") is True, ready
    try:
        yield env
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)


def _secrets(env: dict[str, str]) -> list[str]:
    info = json.loads((Path(env["XDG_STATE_HOME"]) / "jitpim" / "emulator" / "info.json").read_text())
    found = [p["client_secret"] for p in info["principals"].values() if p.get("client_secret")]
    found += [p["password"] for p in info["principals"].values() if p.get("password")]
    return found


def test_every_runbook_is_indexed() -> None:
    index = (RUNBOOKS / "README.md").read_text()
    assert BOOKS and all(f"({book.name})" in index for book in BOOKS)
    assert len(BOOKS) >= 6


@pytest.mark.timeout(600)
@pytest.mark.parametrize("book", BOOKS, ids=lambda p: p.stem)
def test_runbook_runs_as_written(book: Path, home: dict[str, str]) -> None:
    blocks = bash_blocks(book.read_text())
    assert blocks, f"{book.name} has no bash block"
    script = 'set -euo pipefail\ncd "$HOME"\n' + "\n".join(blocks)
    started = time.monotonic()
    done = subprocess.run(["bash", "-c", script], env=home, capture_output=True, text=True, timeout=540, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{book.name} failed after {time.monotonic() - started:.0f}s:\n{output[-4000:]}"
    assert "Traceback" not in output
    for secret in _secrets(home):
        assert secret not in output, f"{book.name} printed a secret"
