"""A ledger filled by real `jitpim exec` runs against the emulator (two repositories' runs, one child that
fails, one grant refused), served by the dashboard on loopback for the HTTP and browser tests."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from jitpim.emulator import Emulator
from jitpim.testing import github_job_environ, set_github_job

OFFICER = "Key Vault Secrets Officer"


@dataclass
class FilledLedger:
    path: Path
    info: dict[str, Any]
    env: dict[str, str]
    runs: dict[str, int]  # run id -> exec exit code


def _exec(env: dict[str, str], info: dict[str, Any], role: str, *child: str) -> int:
    args = [
        sys.executable,
        "-m",
        "jitpim",
        "exec",
        "--kind",
        "rbac",
        "--role",
        role,
        "--scope",
        info["vaults"]["kv-payments"]["resource_id"],
        "--duration",
        "10m",
        "--justification",
        "dashboard evidence",
        "--",
        *child,
    ]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=False)
    return done.returncode


def _refuse_grants(info: dict[str, Any]) -> None:
    """ARM refuses the next role assignments: the plan passes, the lease is recorded, then its grant fails."""
    requests.post(
        f"{info['control']}/faults",
        json={"kind": "error", "path": "roleAssignments/", "method": "PUT", "status": 400, "count": 5},
        verify=info["ca_cert"],
        timeout=10,
    ).raise_for_status()


@pytest.fixture(name="filled", scope="module")
def _filled(emu: Emulator, tmp_path_factory: pytest.TempPathFactory) -> FilledLedger:
    emu.reset()
    world = emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    info = emu.info
    home = tmp_path_factory.mktemp("dashboard")
    ledger = home / "ledger.sqlite3"
    runs: dict[str, int] = {}
    env: dict[str, str] = {}
    for run_id, repository, role, code in (
        ("7001", "contoso/payments", OFFICER, "0"),
        ("7002", "contoso/payments", OFFICER, "3"),
        ("7003", "contoso/web", OFFICER, "0"),
        # ARM refuses the grant (a fault the emulator injects): the lease is recorded, then fails; a problem.
        ("7004", "contoso/web", None, "0"),
    ):
        set_github_job(emu, run_id=run_id, repository=repository)  # what the job's signed ID token says
        env = github_job_environ(
            info,
            workdir=home / run_id,
            run_id=run_id,
            # One signing key for the shared ledger (it lives apart from the ledger, in the configuration home).
            extra={
                "JITPIM_LEDGER": str(ledger),
                "GITHUB_REPOSITORY": repository,
                "XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"],
            },
        )
        env["PYTHONPATH"] = os.pathsep.join(sys.path)
        if role is None:
            _refuse_grants(info)
        runs[run_id] = _exec(env, info, role or OFFICER, sys.executable, "-c", f"raise SystemExit({code})")
        requests.delete(f"{info['control']}/faults", verify=info["ca_cert"], timeout=10).raise_for_status()
    return FilledLedger(ledger, info, env, runs)


@dataclass
class Served:
    url: str
    ledger: FilledLedger


def serve_in_thread(config: Any) -> Iterator[str]:
    """Run the dashboard with uvicorn on 127.0.0.1:0 in a thread; yield its URL."""
    import uvicorn

    from jitpim.dashboard import create_app
    from jitpim.dashboard.serve import _bind

    sock = _bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert requests.get(url + "/healthz", timeout=5).status_code == 200
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def local_config(ledger: Path, **extra: Any) -> Any:
    from jitpim.audit.signing import load_signer
    from jitpim.audit.store import open_store
    from jitpim.dashboard import DashboardConfig

    store = open_store(str(ledger), read_only=True)
    signer = load_signer(ledger_path=ledger, create=False)
    assert signer is not None
    return DashboardConfig(store=store, keys={signer.key_id: signer.public}, pinned=True, **extra)


@pytest.fixture(name="serve", scope="module")
def _serve() -> Iterator[Any]:
    """Start more dashboards in a test: `serve(config)` returns the URL; all stop at module end."""
    running: list[Iterator[str]] = []

    def start(config: Any) -> str:
        gen = serve_in_thread(config)
        running.append(gen)
        return next(gen)

    yield start
    for gen in running:
        for _ in gen:
            pass


@pytest.fixture(name="make_config", scope="module")
def _make_config() -> Any:
    return local_config


@pytest.fixture(name="served", scope="module")
def _served(filled: FilledLedger) -> Iterator[Served]:
    config = local_config(filled.path)
    for url in serve_in_thread(config):
        yield Served(url, filled)
    config.store.close()
