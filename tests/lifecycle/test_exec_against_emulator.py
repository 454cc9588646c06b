"""`jitpim exec` as a user runs it: a separate process, against the emulator over HTTPS, as a GitHub Actions
job authenticating with OIDC. The Key Vault write works only inside the window; every exit path releases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from jitpim.emulator import Emulator
from jitpim.testing import github_job_environ

OFFICER = "Key Vault Secrets Officer"

# Outside `jitpim exec`: write a Key Vault secret with Microsoft's own client, as the CI identity itself.
WRITER = textwrap.dedent(
    """
    import os, sys, requests
    from azure.identity import ClientAssertionCredential
    from azure.keyvault.secrets import SecretClient
    ca = os.environ["JITPIM_CA_BUNDLE"]
    def assertion():
        r = requests.get(os.environ["ACTIONS_ID_TOKEN_REQUEST_URL"] + "&audience=api://AzureADTokenExchange",
                         headers={"Authorization": "Bearer " + os.environ["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]},
                         verify=ca, timeout=10)
        return r.json()["value"]
    cred = ClientAssertionCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], assertion,
                                     authority=os.environ["AZURE_AUTHORITY_HOST"], connection_verify=ca)
    client = SecretClient(os.environ["VAULT_URL"], cred, verify_challenge_resource=False, connection_verify=ca)
    client.set_secret("db-password", sys.argv[1])
    """
)


# The same work inside `jitpim exec`: unmodified DefaultAzureCredential, served the lease's Key Vault tokens.
CHILD_WRITER = textwrap.dedent(
    """
    import os, sys
    from azure.identity import DefaultAzureCredential
    from azure.keyvault.secrets import SecretClient
    client = SecretClient(os.environ["VAULT_URL"], DefaultAzureCredential(), verify_challenge_resource=False,
                          connection_verify=os.environ["JITPIM_CA_BUNDLE"])
    client.set_secret("db-password", sys.argv[1])
    """
)


def _write(info: dict[str, Any], value: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    child_env = {**env, "AZURE_AUTHORITY_HOST": info["authority"], "VAULT_URL": info["vaults"]["kv-payments"]["url"]}
    return subprocess.run(
        [sys.executable, "-c", WRITER, value], env=child_env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(name="job")
def _job(fresh_emu: Emulator, tmp_path: Path) -> dict[str, Any]:
    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    info = fresh_emu.info
    env = github_job_environ(info, workdir=tmp_path)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    return {"info": info, "env": env, "tmp": tmp_path, "emu": fresh_emu}


def _exec_args(info: dict[str, Any], *child: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "jitpim",
        "exec",
        "--kind",
        "rbac",
        "--role",
        OFFICER,
        "--scope",
        info["vaults"]["kv-payments"]["resource_id"],
        "--duration",
        "10m",
        "--justification",
        "rotate the db password",
        "--",
        *child,
    ]


def _ci_grants(emu: Emulator) -> list[Any]:
    """Assignments to ci-app other than its standing ones (the scenario's)."""
    world = emu.runtime.world
    ci = emu.info["principals"]["ci-app"]["object_id"]
    with world.lock:
        return [
            a
            for a in world.rbac.assignments.values()
            if a.principal_id == ci and a.role_definition_id == "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
        ]


def test_write_works_only_inside_the_window(job: dict[str, Any]) -> None:
    info, env = job["info"], job["env"]
    before = _write(info, "v-before", env)
    assert before.returncode != 0 and "ForbiddenByRbac" in before.stderr
    child = [sys.executable, "-c", CHILD_WRITER, "v-inside"]
    child_env = {**env, "VAULT_URL": info["vaults"]["kv-payments"]["url"]}
    result = subprocess.run(
        _exec_args(info, *child), env=child_env, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    after = _write(info, "v-after", env)
    assert after.returncode != 0 and "ForbiddenByRbac" in after.stderr
    assert _ci_grants(job["emu"]) == []
    outputs = Path(env["GITHUB_OUTPUT"]).read_text()
    assert "lease-ids" in outputs and "exit-code" in outputs and "audit-file" in outputs
    public = subprocess.run(
        [sys.executable, "-m", "jitpim", "audit", "public-key"], env=env, capture_output=True, text=True, timeout=60
    )
    verified = subprocess.run(
        [sys.executable, "-m", "jitpim", "audit", "verify"],
        env={**env, "JITPIM_PUBLIC_KEY": public.stdout},  # pinned: the key the verifier trusts
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "jitpim exec" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()


@pytest.mark.parametrize(("code", "expected"), [("sys.exit(3)", 3), ("os.abort()", 128 + signal.SIGABRT)])
def test_child_failure_or_crash_passes_its_code_and_releases(job: dict[str, Any], code: str, expected: int) -> None:
    info, env = job["info"], job["env"]
    result = subprocess.run(
        _exec_args(info, sys.executable, "-c", f"import os, sys; {code}"),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == expected, result.stderr
    assert _ci_grants(job["emu"]) == []


def _start_waiting_child(job: dict[str, Any]) -> tuple[subprocess.Popen[str], Path]:
    """jitpim exec with a child that writes a marker once it runs, then waits to be signalled."""
    marker = job["tmp"] / "child-started"
    got = job["tmp"] / "child-got-signal"
    script = (
        "import pathlib, signal, sys, time\n"
        f"def on(sig, frame):\n    pathlib.Path({str(got)!r}).write_text(str(sig)); sys.exit(128 + sig)\n"
        "for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP): signal.signal(s, on)\n"
        f"pathlib.Path({str(marker)!r}).write_text(str(__import__('os').getpid()))\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen(
        _exec_args(job["info"], sys.executable, "-c", script),
        env=job["env"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    return proc, got


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_signal_to_jitpim_is_forwarded_then_access_released(job: dict[str, Any], sig: int) -> None:
    proc, got = _start_waiting_child(job)
    assert len(_ci_grants(job["emu"])) == 1, "access is held while the child runs"
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert got.read_text() == str(int(sig)), "the child received the signal"
    assert proc.returncode == 128 + sig, err
    assert _ci_grants(job["emu"]) == []


def _alive(pid: int) -> bool:
    """Running (a zombie nobody has reaped yet counts as dead: it runs nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _wait_dead(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_sigkill_leaves_a_lease_that_reap_releases(job: dict[str, Any]) -> None:
    """SIGKILL gives jitpim no chance to release: its child dies with it (parent-death signal), and the lease
    it leaves is released by `jitpim reap`."""
    proc, _ = _start_waiting_child(job)
    child = int((job["tmp"] / "child-started").read_text())
    assert len(_ci_grants(job["emu"])) == 1
    proc.kill()
    proc.wait(timeout=30)
    assert _wait_dead(child, 5), "the child outlived jitpim"
    assert len(_ci_grants(job["emu"])) == 1
    reaped = subprocess.run(
        [sys.executable, "-m", "jitpim", "reap", "--output", "json"],
        env=job["env"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert reaped.returncode == 0, reaped.stderr
    report = json.loads(reaped.stdout)
    assert [r["release"]["outcome"] for r in report["reaped"]] == ["released"]
    assert _ci_grants(job["emu"]) == []


def _recorded(ledger: str, event_type: str) -> bool:
    from jitpim.audit.ledger import Ledger

    with Ledger.open(ledger, read_only=True) as store:
        return any(event["type"] == event_type for event in store.events())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_reap_ends_what_a_killed_job_left_running(job: dict[str, Any]) -> None:
    """The child dies with jitpim, but what it started in the background does not: `jitpim reap` ends the
    job's process group before it releases the lease."""
    marker = job["tmp"] / "background"
    proc = subprocess.Popen(
        _exec_args(job["info"], "sh", "-c", f"sleep 60 & echo $! > {marker}; wait"),
        env=job["env"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text().strip():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    background = int(marker.read_text())
    # jitpim records the command's PID right after starting it; a SIGKILL in between leaves nothing to find.
    while not _recorded(job["env"]["JITPIM_LEDGER"], "command.started"):
        assert time.monotonic() < deadline, "command.started was never recorded"
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=30)
    assert _alive(background), "the background process outlives jitpim (only the child gets the death signal)"
    reaped = subprocess.run(
        [sys.executable, "-m", "jitpim", "reap"], env=job["env"], capture_output=True, text=True, timeout=120
    )
    assert reaped.returncode == 0, reaped.stderr
    assert "ended the command's process group" in reaped.stderr
    assert _wait_dead(background, 5), "reap left the job's background process running"
    assert _ci_grants(job["emu"]) == []


def test_a_child_ignoring_signals_is_killed_and_the_release_fits_githubs_cancel_window(job: dict[str, Any]) -> None:
    """GitHub cancels a job with SIGINT, SIGTERM ~7.5 s later and SIGKILL ~2.5 s after that. A child that
    ignores signals gets the default 5 s grace after the forwarded SIGINT, then its process group is killed,
    and the release is done well before GitHub's SIGKILL."""
    marker = job["tmp"] / "stubborn"
    script = f"trap '' INT TERM HUP; echo $$ > {marker}; exec sleep 60"
    proc = subprocess.Popen(
        _exec_args(job["info"], "sh", "-c", script),
        env=job["env"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text().strip():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    child = int(marker.read_text())
    assert len(_ci_grants(job["emu"])) == 1
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    took = time.monotonic() - sent
    assert 4.5 <= took < 10.0, f"jitpim took {took:.1f}s after SIGINT (GitHub kills at 10 s): {err}"
    assert proc.returncode == 128 + signal.SIGKILL, err
    assert not _alive(child)
    assert _ci_grants(job["emu"]) == []


def test_plan_refuses_missing_justification_before_sending_anything(job: dict[str, Any]) -> None:
    info, env = job["info"], job["env"]
    scope = info["vaults"]["kv-payments"]["resource_id"].rsplit("/providers/", 1)[0]
    counted = requests.get(f"{info['control']}/state", verify=info["ca_cert"], timeout=10).json()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jitpim",
            "plan",
            "--kind",
            "azure-role",
            "--role",
            "Contributor",
            "--scope",
            scope,
            "--mode",
            "direct",
            "--duration",
            "30m",
            "--output",
            "json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 73, result.stderr
    plan = json.loads(result.stdout)
    rules = {r.get("rule") for t in plan["targets"] for r in t["decision"]["reasons"]}
    assert "JustificationRule" in rules
    after = requests.get(f"{info['control']}/state", verify=info["ca_cert"], timeout=10).json()
    assert after["role_assignments"] == counted["role_assignments"]


def test_nested_exec_is_refused(job: dict[str, Any]) -> None:
    env = {**job["env"], "JITPIM_LEASES": "gh-1-1/rbac/x"}
    result = subprocess.run(
        _exec_args(job["info"], "true"), env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 80
    assert "inside another jitpim exec" in result.stderr


# Four parallel jobs of one identity on one target (issue 9 item 4). Each child announces it started, waits
# until all four have, then ends in turn (child i after child i-1), so every release happens while others hold.
BARRIER = textwrap.dedent(
    """
    import os, sys, time
    folder, index = sys.argv[1], int(sys.argv[2])
    open(os.path.join(folder, f"started-{index}"), "w").close()
    deadline = time.monotonic() + 90
    def wait_for(*names):
        while not all(os.path.exists(os.path.join(folder, n)) for n in names):
            if time.monotonic() > deadline:
                sys.exit(3)
            time.sleep(0.05)
    wait_for(*(f"started-{i}" for i in range(4)))
    if index:
        wait_for(f"done-{index - 1}")
    open(os.path.join(folder, f"done-{index}"), "w").close()
    """
)


def test_parallel_jobs_share_one_grant_and_the_last_releases_it(job: dict[str, Any]) -> None:
    info, env, tmp = job["info"], job["env"], job["tmp"]
    barrier = tmp / "barrier"
    barrier.mkdir()
    procs = [
        subprocess.Popen(
            _exec_args(info, sys.executable, "-c", BARRIER, str(barrier), str(i)),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    results = [(p.wait(timeout=150), *p.communicate()) for p in procs]
    assert [code for code, _, _ in results] == [0, 0, 0, 0], [err[-3000:] for code, _, err in results if code]
    from jitpim.audit.ledger import Ledger

    with Ledger.open(env["JITPIM_LEDGER"], read_only=True) as ledger:
        outcomes = sorted(str(r["outcome"]) for r in ledger.list())
        lost = [e for e in ledger.events() if e["type"] == "lease.access_lost"]
        story = [(e["lease_id"], e["type"], e["body"].get("outcome")) for e in ledger.events()]
    assert _ci_grants(job["emu"]) == [], story
    assert outcomes.count("handed_over") >= 2 and "released" in outcomes, outcomes
    assert "reused" not in outcomes and lost == []
