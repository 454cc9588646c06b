"""The two-step and inspection commands (elevate, status, extend, release, eligible, reap, plan) through the
CLI, in-process with click's runner, against the emulator; and nothing secret in any output or the ledger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jitpim.cli import cli
from jitpim.emulator import Emulator
from jitpim.testing import github_job_environ

OFFICER_ID = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"


@pytest.fixture(name="env")
def _env(fresh_emu: Emulator, tmp_path: Path) -> dict[str, str]:
    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    return github_job_environ(fresh_emu.info, workdir=tmp_path)


def _run(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result


def _officer_args(info: dict[str, Any]) -> list[str]:
    return [
        "--kind",
        "rbac",
        "--role",
        "Key Vault Secrets Officer",
        "--scope",
        info["vaults"]["kv-payments"]["resource_id"],
        "--duration",
        "20m",
        "-j",
        "deploy",
        "-o",
        "json",
        "-q",
    ]


def _grants(emu: Emulator) -> int:
    world = emu.runtime.world
    ci = emu.info["principals"]["ci-app"]["object_id"]
    with world.lock:
        return sum(
            1 for a in world.rbac.assignments.values() if a.principal_id == ci and a.role_definition_id == OFFICER_ID
        )


def test_elevate_status_extend_release_by_run(fresh_emu: Emulator, env: dict[str, str]) -> None:
    info = fresh_emu.info
    elevated = _run(env, "elevate", *_officer_args(info))
    assert elevated.exit_code == 0, elevated.output
    leases = json.loads(elevated.stdout)["leases"]
    lease_id = leases[0]["lease_id"]
    assert lease_id.startswith("gh-9100200300-1/rbac/")
    assert _grants(fresh_emu) == 1
    assert "lease-ids=" + lease_id in Path(env["GITHUB_OUTPUT"]).read_text()

    status = json.loads(_run(env, "status", "--live", "-o", "json").stdout)
    assert [(row["lease_id"], row["state"], row["live"]) for row in status["leases"]] == [
        (lease_id, "effective", "active")
    ]
    extended = _run(env, "extend", lease_id, "--duration", "45m", "-o", "json")
    assert extended.exit_code == 0, extended.output

    released = _run(env, "release", "--run", "gh-9100200300-1", "-o", "json")
    assert released.exit_code == 0, released.output
    assert [r["outcome"] for r in json.loads(released.stdout)["releases"]] == ["released"]
    assert _grants(fresh_emu) == 0
    assert json.loads(_run(env, "status", "-o", "json").stdout)["leases"] == []


@pytest.mark.parametrize("quiet", [True, False], ids=["quiet", "with-summary"])
def test_elevate_prints_only_the_lease_id_on_stdout(fresh_emu: Emulator, env: dict[str, str], quiet: bool) -> None:
    """`L=$(jitpim elevate -q ...)` captures exactly the lease id; the summary (without -q) goes to stderr."""
    args = [a for a in _officer_args(fresh_emu.info) if a not in ("-o", "json", "-q")]
    elevated = CliRunner().invoke(cli, ["elevate", *args, *(["-q"] if quiet else [])], env=env)
    assert elevated.exit_code == 0, elevated.output
    lease_id = elevated.stdout.strip()
    assert elevated.stdout == lease_id + "\n" and lease_id.startswith("gh-9100200300-1/rbac/")
    assert (lease_id in elevated.stderr) is not quiet
    released = _run(env, "release", lease_id, "-o", "json")
    assert released.exit_code == 0, released.output
    assert _grants(fresh_emu) == 0


def test_release_needs_exactly_one_selector(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["release"], env=env)
    assert result.exit_code == 64
    assert "exactly one" in result.stderr


def test_release_of_unknown_lease_says_so(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["release", "nope/rbac/x"], env=env)
    assert result.exit_code == 82
    assert "no lease nope/rbac/x" in result.stderr


def test_plan_text_names_every_clamp(fresh_emu: Emulator, env: dict[str, str]) -> None:
    scope = fresh_emu.info["vaults"]["kv-payments"]["resource_id"]
    result = CliRunner().invoke(
        cli,
        [
            "plan",
            "--kind",
            "rbac",
            "--role",
            "Key Vault Secrets Officer",
            "--scope",
            scope,
            "--duration",
            "2m",
            "-j",
            "x",
        ],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert "raised" in result.stdout or "minimum" in result.stdout
    assert _grants(fresh_emu) == 0


def test_eligible_lists_alice_eligibilities(fresh_emu: Emulator, tmp_path: Path) -> None:
    info = fresh_emu.info
    alice = info["principals"]["alice"]
    env = {
        "AZURE_USERNAME": alice["user_principal_name"],
        "AZURE_PASSWORD": alice["password"],
        "AZURE_TENANT_ID": info["tenant_id"],
        "JITPIM_CLOUD": "emulator",
        "JITPIM_EMULATOR_URL": info["authority"],
        "JITPIM_CA_BUNDLE": info["ca_cert"],
        "JITPIM_LEDGER": str(tmp_path / "l.sqlite3"),
        "JITPIM_MODE": "self",
    }
    result = CliRunner().invoke(cli, ["eligible", "-o", "json"], env=env)
    assert result.exit_code == 0, result.output
    found = {(e["kind"], e["role"]) for e in json.loads(result.stdout)["eligible"]}
    assert ("entra-role", "Application Administrator") in found or any(k == "entra-role" for k, _ in found)
    assert any(k == "azure-role" for k, _ in found)
    assert any(k == "pim-group" for k, _ in found)


def test_reap_with_nothing_to_do(env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli, ["reap"], env=env)
    assert result.exit_code == 0
    assert "nothing to reap" in result.stdout


def test_no_secret_or_token_in_output_or_ledger(fresh_emu: Emulator, tmp_path: Path) -> None:
    """With a client secret in the environment and tokens flowing, neither appears in stdout, stderr,
    the GitHub files or the ledger."""
    info = fresh_emu.info
    secret = info["principals"]["ci-app"]["client_secret"]
    env = github_job_environ(info, workdir=tmp_path)
    for name in ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        env.pop(name)
    env["AZURE_CLIENT_SECRET"] = secret
    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    scope = info["vaults"]["kv-payments"]["resource_id"]
    outputs = []
    for args in (
        ["plan", *_officer_args(info)[:-3]],
        ["elevate", *_officer_args(info)],
        ["status", "--live", "-o", "json"],
        ["release", "--all"],
        ["plan", "--kind", "rbac", "--role", "Owner", "--scope", scope],
    ):
        result = CliRunner().invoke(cli, args, env=env)
        outputs += [result.stdout, result.stderr]
    ledger = Path(env["JITPIM_LEDGER"]).read_bytes()
    files = Path(env["GITHUB_OUTPUT"]).read_text() + Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    everything = "\n".join(outputs) + files
    assert secret not in everything
    assert secret.encode() not in ledger
    assert "eyJ" not in everything, "a JWT leaked into the output"
    assert b"eyJ" not in ledger
    assert _grants(fresh_emu) == 0


def _alice_env(info: dict[str, Any], tmp_path: Path, *, mfa: bool = True) -> dict[str, str]:
    alice = info["principals"]["alice"]
    return {
        "AZURE_USERNAME": alice["user_principal_name"],
        "AZURE_PASSWORD": alice["password"],
        "AZURE_TENANT_ID": info["tenant_id"],
        "JITPIM_CLOUD": "emulator",
        "JITPIM_EMULATOR_URL": info["authority"],
        "JITPIM_CA_BUNDLE": info["ca_cert"],
        "JITPIM_LEDGER": str(tmp_path / "l.sqlite3"),
        "JITPIM_MODE": "self",
    }


@pytest.mark.parametrize(
    ("who", "args", "code", "rule"),
    [
        # Too long, with --strict: the policy maximum of Key Vault Secrets Officer (azure-role) is 8 h.
        (
            "alice",
            [
                "--kind",
                "azure-role",
                "--role",
                "Key Vault Secrets Officer",
                "--scope",
                "{vault}",
                "--duration",
                "12h",
                "-j",
                "x",
                "--strict",
            ],
            73,
            "ExpirationRule",
        ),
        # Global Administrator needs a ticket (and MFA, and approval) in the default scenario.
        (
            "alice",
            ["--kind", "entra-role", "--role", "Global Administrator", "--scope", "/", "-j", "x"],
            73,
            "TicketingRule",
        ),
        # alice signed in without MFA (set below) asks for a role whose activation requires it.
        (
            "alice-no-mfa",
            ["--kind", "entra-role", "--role", "Global Administrator", "--scope", "/", "-j", "x", "--ticket", "CHG:1"],
            73,
            "MfaRule",
        ),
        # alice holds no eligibility for Owner.
        ("alice", ["--kind", "azure-role", "--role", "Owner", "--scope", "{rg}", "-j", "x"], 74, "EligibilityRule"),
    ],
    ids=["too-long-strict", "ticket-required", "mfa-required", "not-eligible"],
)
def test_plan_names_the_refusing_rule(
    fresh_emu: Emulator, tmp_path: Path, who: str, args: list[str], code: int, rule: str
) -> None:
    info = fresh_emu.info
    vault = info["vaults"]["kv-payments"]["resource_id"]
    rg = vault.split("/providers/")[0]
    args = [a.replace("{vault}", vault).replace("{rg}", rg) for a in args]
    if who == "alice-no-mfa":
        world = fresh_emu.runtime.world
        with world.lock:
            world.directory.users[info["principals"]["alice"]["object_id"]].mfa = False
    env = _alice_env(info, tmp_path) if who.startswith("alice") else github_job_environ(info, workdir=tmp_path)
    before = json.dumps(fresh_emu.runtime.world.services()["graph"].dump(fresh_emu.runtime.clock.now()), default=str)
    result = CliRunner().invoke(cli, ["plan", *args, "-o", "json"], env=env)
    assert result.exit_code == code, result.output
    reasons = [r for t in json.loads(result.stdout)["targets"] for r in t["decision"]["reasons"]]
    assert rule in {r.get("rule") for r in reasons}, reasons
    after = json.dumps(fresh_emu.runtime.world.services()["graph"].dump(fresh_emu.runtime.clock.now()), default=str)
    assert before == after, "planning changed nothing"


def test_plan_writes_nothing_not_even_the_ledger(fresh_emu: Emulator, env: dict[str, str]) -> None:
    scope = fresh_emu.info["vaults"]["kv-payments"]["resource_id"]
    result = CliRunner().invoke(
        cli, ["plan", "--kind", "rbac", "--role", "Key Vault Secrets Officer", "--scope", scope, "-j", "x"], env=env
    )
    assert result.exit_code == 0, result.output
    assert not Path(env["JITPIM_LEDGER"]).exists()
