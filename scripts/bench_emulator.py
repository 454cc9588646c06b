"""Emulator benchmarks (run on demand, not a test): requests/second for a token call, a Graph list and a Key
Vault get, and the start-up time of `jitpim emulator serve` to its ready line.

    .venv/bin/python scripts/bench_emulator.py [--seconds 5] [--workers 4]

Each load runs for a fixed time with keep-alive sessions from a thread pool; numbers go to
docs/explanation/performance.md by hand, with the machine they were measured on.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests


def _load(
    name: str, seconds: float, workers: int, make: Callable[[requests.Session], Callable[[], None]], ca: str
) -> None:
    stop = time.monotonic() + seconds
    counts = [0] * workers
    latencies: list[list[float]] = [[] for _ in range(workers)]

    def worker(i: int) -> None:
        with requests.Session() as session:
            session.verify = ca
            call = make(session)
            call()  # warm the connection
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                call()
                latencies[i].append(time.perf_counter() - t0)
                counts[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(counts)
    flat = sorted(x for lat in latencies for x in lat)
    p50 = statistics.median(flat) * 1000 if flat else 0.0
    p95 = flat[int(len(flat) * 0.95)] * 1000 if flat else 0.0
    print(f"{name:<28} {total / seconds:8.0f} req/s   p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   ({total} requests)")


def _startup(runs: int) -> None:
    samples = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as state:
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "jitpim", "emulator", "serve", "--state-dir", state],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert proc.stdout is not None
            line = proc.stdout.readline()
            samples.append(time.perf_counter() - t0)
            json.loads(line)
            proc.terminate()
            proc.wait(timeout=10)
    print(
        f"{'serve -> ready line':<28} median {statistics.median(samples) * 1000:6.0f} ms   "
        f"min {min(samples) * 1000:6.0f} ms   ({runs} runs, fresh process each)"
    )


def _serve(state: str) -> tuple[subprocess.Popen[str], dict[str, object]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "jitpim", "emulator", "serve", "--state-dir", state],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    # The ready line carries no credential; the 0600 info file it names has the client secrets.
    with open(ready["info_file"]) as info_file:
        return proc, json.load(info_file)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--startup-runs", type=int, default=5)
    args = parser.parse_args()
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        os.environ.pop(name, None)
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; the emulator runs in its own process "
        f"(`jitpim emulator serve`), {args.workers} client threads in this one"
    )
    with tempfile.TemporaryDirectory() as state:
        proc, info = _serve(state)
        try:
            _measure(info, args)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    _startup(args.startup_runs)


def _measure(info: dict, args: argparse.Namespace) -> None:  # type: ignore[type-arg]
    ca = info["ca_cert"]
    admin = info["principals"]["admin-app"]
    token_url = f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token"

    def token_for(scope: str) -> str:
        r = requests.post(
            token_url,
            verify=ca,
            data={
                "grant_type": "client_credentials",
                "client_id": admin["client_id"],
                "client_secret": admin["client_secret"],
                "scope": scope,
            },
        )
        r.raise_for_status()
        return str(r.json()["access_token"])

    def token_call(session: requests.Session) -> Callable[[], None]:
        data = {
            "grant_type": "client_credentials",
            "client_id": admin["client_id"],
            "client_secret": admin["client_secret"],
            "scope": "https://graph.microsoft.com/.default",
        }
        return lambda: session.post(token_url, data=data).raise_for_status()

    graph_token = token_for("https://graph.microsoft.com/.default")

    def graph_list(session: requests.Session) -> Callable[[], None]:
        url = f"{info['graph']}/v1.0/roleManagement/directory/roleDefinitions"
        headers = {"Authorization": f"Bearer {graph_token}"}
        return lambda: session.get(url, headers=headers).raise_for_status()

    # admin-app (User Access Administrator) gives itself Key Vault Secrets User through ARM, as a user would.
    vault = info["vaults"]["kv-payments"]
    arm = token_for("https://management.azure.com/.default")
    put = requests.put(
        f"{info['arm']}{vault['resource_id']}/providers/Microsoft.Authorization/roleAssignments/"
        "0b0b0b0b-1111-4222-8333-444455556666?api-version=2022-04-01",
        json={
            "properties": {
                "roleDefinitionId": f"/subscriptions/{info['subscription_id']}/providers/"
                "Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6",
                "principalId": admin["object_id"],
                "principalType": "ServicePrincipal",
            }
        },
        headers={"Authorization": f"Bearer {arm}"},
        verify=ca,
    )
    put.raise_for_status()
    requests.post(f"{info['control']}/clock/advance", json={"seconds": 60}, verify=ca).raise_for_status()
    kv_token = token_for("https://vault.azure.net/.default")

    def kv_get(session: requests.Session) -> Callable[[], None]:
        url = f"{vault['url']}/secrets/db-password?api-version=7.5"
        headers = {"Authorization": f"Bearer {kv_token}"}
        return lambda: session.get(url, headers=headers).raise_for_status()

    _load("token (client secret)", args.seconds, args.workers, token_call, ca)
    _load("graph list roleDefinitions", args.seconds, args.workers, graph_list, ca)
    _load("key vault get secret", args.seconds, args.workers, kv_get, ca)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    main()
