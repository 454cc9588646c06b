"""Ctrl-C before any lifecycle holds access: exit 128+2 with one line saying so, never click's "Aborted!"."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jitpim.emulator import Emulator
from jitpim.testing import github_job_environ


@pytest.fixture(name="silent_server")
def _silent_server() -> Iterator[tuple[int, threading.Event]]:
    """A loopback port that accepts connections and never answers; `connected` is set on the first one."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    connected = threading.Event()
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            held.append(connection)
            connected.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1]), connected
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        server.close()


@pytest.mark.parametrize("as_json", [False, True])
def test_sigint_while_planning_exits_130_with_a_message(
    emu: Emulator, tmp_path: Path, silent_server: tuple[int, threading.Event], as_json: bool
) -> None:
    port, connected = silent_server
    env = {**os.environ, **github_job_environ(emu.info, workdir=tmp_path / "job")}
    env["JITPIM_EMULATOR_URL"] = f"https://127.0.0.1:{port}"  # the token request hangs there
    scope = emu.info["vaults"]["kv-payments"]["resource_id"]
    command = [sys.executable, "-m", "jitpim", "plan", "--kind", "rbac", "--role", "Key Vault Secrets Officer"]
    child = subprocess.Popen(
        [*command, "--scope", scope, "-j", "interrupted", *(["-o", "json"] if as_json else [])],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert connected.wait(timeout=30), "jitpim never connected"
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 128 + signal.SIGINT, stderr
    assert "Aborted!" not in stderr and "Traceback" not in stderr
    if as_json:
        document = json.loads(stdout)
        assert document["exit_code"] == 130 and document["message"] == "interrupted (SIGINT)"
    else:
        assert "interrupted (SIGINT)" in stderr and "jitpim status" in stderr
        assert stdout == ""
