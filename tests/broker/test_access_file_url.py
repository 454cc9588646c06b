"""`--mode broker` finds the broker's URL and audience in the access file (`broker: {url, audience}`) when
neither the flag nor the environment gives them; a profile may choose `mode: broker` itself."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from jitpim.cli import cli
from jitpim.testing import github_job_environ

from .conftest import AUDIENCE, BrokerWorld
from .test_flow import _job_can_write, jitpim_assignments


def test_a_profile_in_broker_mode_takes_the_broker_from_the_access_file(bw: BrokerWorld, tmp_path: Path) -> None:
    vault = bw.info["vaults"]["kv-payments"]["resource_id"]
    access = tmp_path / "access.yaml"
    access.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "broker": {"url": bw.url, "audience": AUDIENCE},
                "profiles": {
                    "rotate": {
                        "mode": "broker",
                        "targets": [
                            {"kind": "rbac", "role": "Key Vault Secrets Officer", "scope": vault, "duration": "10m"}
                        ],
                    }
                },
            }
        )
    )
    env = github_job_environ(bw.info, workdir=tmp_path / "job", extra={"JITPIM_ACCESS_FILE": str(access)})
    assert "JITPIM_BROKER_URL" not in env and "JITPIM_BROKER_AUDIENCE" not in env
    runner = CliRunner()
    result = runner.invoke(
        cli, ["elevate", "--access-file", str(access), "--profile", "rotate", "-j", "rotate", "-o", "json"], env=env
    )
    assert result.exit_code == 0, result.output
    granted = json.loads(result.output)["requests"]
    assert [r["state"] for r in granted] == ["granted"]
    bw.emu.advance(5)
    assert _job_can_write(bw)

    released = runner.invoke(cli, ["release", "--mode", "broker", "--all", "-o", "json"], env=env)
    assert released.exit_code == 0, released.output
    assert json.loads(released.output)["releases"][0]["state"] == "released"
    assert jitpim_assignments(bw) == []


def test_without_a_url_anywhere_broker_mode_says_where_to_put_it(bw: BrokerWorld, tmp_path: Path) -> None:
    env = github_job_environ(
        bw.info, workdir=tmp_path / "job", extra={"JITPIM_ACCESS_FILE": str(tmp_path / "none.yaml")}
    )
    (tmp_path / "none.yaml").write_text(
        "version: 1\nprofiles:\n  p:\n    targets:\n      - {kind: entra-role, role: Global Administrator, scope: /}\n"
    )
    result = CliRunner().invoke(cli, ["release", "--mode", "broker", "--all"], env=env)
    assert result.exit_code == 64, result.output
    assert "access file" in result.output
