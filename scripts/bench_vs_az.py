"""One CI job's access, side by side on the emulator: the az CLI script users write today vs `jitpim exec -- true`.

The az script (bash, as in a workflow step): fetch the job's GitHub ID token, `az login --service-principal
--federated-token`, `az role assignment create` (Key Vault Secrets Officer on kv-payments, for itself), poll
`az keyvault secret set` every second until the write works, run `true`, `az role assignment delete`. The cloud
registration (a one-time `az cloud register`/`az cloud set`) is done before timing; each run gets a fresh copy
of that configuration, so no token cache carries over.

jitpim: `jitpim exec --kind rbac --role "Key Vault Secrets Officer" --scope VAULT -- true` with the environment
`jitpim emulator env --as ci-app --github` exports (GitHub OIDC, no secret), which grants, waits until access
is effective, runs, releases and writes its signed evidence.

Each is measured with no RBAC propagation delay and with 3 s (`rbac_propagation_seconds`); the emulator is reset
before every run. Prints medians. Usage: `scripts/bench_vs_az.py --az PATH [--runs N]` (`make bench-az`
installs the az CLI into `.venv-az/`).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

_ROOT = Path(__file__).resolve().parents[1]
_RESOLVER = _ROOT / "scripts" / "az_localhost"
_ROLE = "Key Vault Secrets Officer"

# What users write in a workflow step today (the ID token request is what azure/login does).
_AZ_SCRIPT = r"""
set -eu
ID_TOKEN=$(curl -sf -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
  "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=api://AzureADTokenExchange" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"])')
az login --service-principal -u "$AZURE_CLIENT_ID" --tenant "$AZURE_TENANT_ID" --federated-token "$ID_TOKEN" -o none
az role assignment create --assignee "$AZURE_CLIENT_ID" --role "Key Vault Secrets Officer" --scope "$VAULT_ID" -o none
until az keyvault secret set --vault-name kv-payments -n access-probe --value ok -o none 2>/dev/null; do sleep 1; done
true
az role assignment delete --assignee "$AZURE_CLIENT_ID" --role "Key Vault Secrets Officer" --scope "$VAULT_ID"
"""


def _scenario(path: Path, propagation: float) -> None:
    data = yaml.safe_load(files("jitpim.emulator.data").joinpath("default_scenario.yaml").read_text())
    data.setdefault("settings", {})["rbac_propagation_seconds"] = propagation
    path.write_text(json.dumps(data))


def _serve(state: Path, scenario: Path) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "jitpim", "emulator", "serve", "--state-dir", str(state), "--scenario", str(scenario)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    ready = json.loads(proc.stdout.readline())
    return proc, ready


def _reset(ready: dict[str, Any]) -> None:
    context = ssl.create_default_context(cafile=ready["ca_cert"])
    request = urllib.request.Request(f"{ready['control']}/reset", data=b"{}", method="POST")
    with urllib.request.urlopen(request, context=context, timeout=30) as answer:
        answer.read()


def _job_env(state: Path, home: Path) -> dict[str, str]:
    """The environment of a GitHub job of ci-app, as `jitpim emulator env --github` exports it."""
    out = subprocess.run(
        [sys.executable, "-m", "jitpim", "emulator", "env", "--as", "ci-app", "--github", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "GITHUB_", "ACTIONS_", "JITPIM_"))}
    for line in out.splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            name, _, value = words[1].partition("=")
            env[name] = value
        elif len(words) == 2 and words[0] == "unset":
            env.pop(words[1], None)
    env["XDG_STATE_HOME"] = str(home / "state")
    return env


def _az_config(az: str, ready: dict[str, Any], env: dict[str, str], template: Path) -> None:
    base = ready["authority"]
    port = base.rsplit(":", 1)[1]
    env = {**env, "AZURE_CONFIG_DIR": str(template)}
    register = [
        az, "cloud", "register", "-n", "jitpim-emulator",
        "--endpoint-active-directory", base,
        "--endpoint-resource-manager", f"{base}/",
        "--endpoint-active-directory-resource-id", f"{base}/",
        "--endpoint-management", f"{base}/",
        "--endpoint-microsoft-graph-resource-id", f"https://localhost:{port}/graph/",
        "--suffix-keyvault-dns", f".{ready['keyvault_dns_suffix']}",
        "--skip-endpoint-discovery", "-o", "none", "--only-show-errors",
    ]  # fmt: skip
    subprocess.run(register, env=env, check=True)
    subprocess.run([az, "cloud", "set", "-n", "jitpim-emulator", "--only-show-errors"], env=env, check=True)


def _time(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} exited {done.returncode}: {done.stderr[-1500:]}")
    return took


def _measure(az: str, propagation: float, runs: int, work: Path) -> tuple[list[float], list[float]]:
    state, scenario = work / f"emu-{propagation:g}", work / f"scenario-{propagation:g}.json"
    _scenario(scenario, propagation)
    proc, ready = _serve(state, scenario)
    try:
        vault = ready["vaults"]["kv-payments"]["resource_id"]
        template = work / f"az-template-{propagation:g}"
        _az_config(az, ready, _job_env(state, work), template)
        jitpim = shutil.which("jitpim", path=str(Path(sys.executable).parent)) or "jitpim"
        az_times: list[float] = []
        jitpim_times: list[float] = []
        for run in range(runs):
            _reset(ready)
            env = _job_env(state, work)
            config = work / f"az-{propagation:g}-{run}"
            shutil.copytree(template, config)
            az_env = {
                **env,
                "AZURE_CONFIG_DIR": str(config),
                "AZURE_CORE_INSTANCE_DISCOVERY": "false",
                "AZURE_CORE_COLLECT_TELEMETRY": "no",
                "PYTHONPATH": str(_RESOLVER),
                "VAULT_ID": vault,
                "CURL_CA_BUNDLE": env["REQUESTS_CA_BUNDLE"],
                "PATH": f"{Path(az).parent}{os.pathsep}{env.get('PATH', '')}",
            }
            az_times.append(_time(["bash", "-c", _AZ_SCRIPT], az_env))
            _reset(ready)
            env = _job_env(state, work)
            argv = [jitpim, "exec", "-q", "--kind", "rbac", "--role", _ROLE, "--scope", vault, "--duration", "10m",
                    "-j", "bench: one job's access", "--", "true"]  # fmt: skip
            jitpim_times.append(_time(argv, env))
        return az_times, jitpim_times
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--az", default=os.environ.get("JITPIM_AZ") or shutil.which("az"), help="az executable")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not args.az:
        raise SystemExit("no az executable: pass --az PATH or set JITPIM_AZ (make bench-az installs one)")
    version = subprocess.run([args.az, "version", "-o", "tsv", "--query", '"azure-cli"'], capture_output=True,
                             text=True, check=False).stdout.strip()  # fmt: skip
    print(f"az CLI {version}, python {sys.version.split()[0]}, {os.cpu_count()} CPUs; medians of {args.runs} runs")
    print(f"{'RBAC propagation':>17}  {'az script':>10}  {'jitpim exec':>11}  {'ratio':>6}")
    with tempfile.TemporaryDirectory(prefix="bench-vs-az-") as tmp:
        for propagation in (0.0, 3.0):
            az_times, jitpim_times = _measure(args.az, propagation, args.runs, Path(tmp))
            az_median, jitpim_median = statistics.median(az_times), statistics.median(jitpim_times)
            print(
                f"{propagation:>16g}s  {az_median:>9.2f}s  {jitpim_median:>10.2f}s  {jitpim_median / az_median:>5.2f}x"
                f"   (az {min(az_times):.2f}-{max(az_times):.2f}s, jitpim {min(jitpim_times):.2f}-"
                f"{max(jitpim_times):.2f}s)"
            )


if __name__ == "__main__":
    main()
