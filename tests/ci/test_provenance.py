"""CI provenance comes from the job's verified GitHub ID token, not from GITHUB_* variables (issue 9 item 8).

Against the emulator's GitHub OIDC issuer over HTTPS: a step that rewrites GITHUB_REPOSITORY cannot change what
the signed record says; a token that is not GitHub's (another key, audience, issuer, or expired) is refused
before anything is granted; without an ID token the record says its provenance is unverified."""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import rsa

from jitpim.audit import Ledger
from jitpim.audit.summary import summary_records
from jitpim.auth.github_oidc import GITHUB_ISSUER, GitHubOidcTokenSource, verify_github_id_token
from jitpim.ci.provenance import run_context_from_claims, verified_run_context
from jitpim.cli import cli
from jitpim.cloud import emulator_profile
from jitpim.emulator import Emulator
from jitpim.errors import AuthError
from jitpim.model import RunContext
from jitpim.testing import github_job_environ

EXCHANGE = "api://AzureADTokenExchange"


@pytest.fixture(name="job")
def _job(fresh_emu: Emulator, tmp_path: Path) -> dict[str, Any]:
    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
    env = github_job_environ(fresh_emu.info, workdir=tmp_path)
    return {"env": env, "info": fresh_emu.info, "emu": fresh_emu, "tmp": tmp_path}


def _exec(env: dict[str, str], info: dict[str, Any]) -> Any:
    args = [
        "exec",
        "--kind",
        "rbac",
        "--role",
        "Key Vault Secrets Officer",
        "--scope",
        info["vaults"]["kv-payments"]["resource_id"],
        "--duration",
        "10m",
        "-j",
        "provenance",
        "--",
        sys.executable,
        "-c",
        "pass",
    ]
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def _record(env: dict[str, str]) -> dict[str, Any]:
    with Ledger(Path(env["JITPIM_LEDGER"])) as ledger:
        records = summary_records(ledger)
    assert len(records) == 1
    return records[0]


def test_a_forged_repository_variable_does_not_reach_the_signed_record(job: dict[str, Any]) -> None:
    env = {**job["env"], "GITHUB_REPOSITORY": "evil/forged", "GITHUB_SHA": "0" * 40}
    result = _exec(env, job["info"])
    assert result.exit_code == 0, result.output
    run = _record(env)["run"]
    assert run["repository"] == "contoso/payments"  # the verified claim, not the variable
    assert run["sha"] == "3f786850e387550fdab836ed7e6dc881de23001b"
    assert run["provenance"] == "github-oidc" and run["verified"] is True
    assert run["workflow_ref"] == "contoso/payments/.github/workflows/rotate.yml@refs/heads/main"
    assert run["job_workflow_ref"] == "contoso/payments/.github/workflows/rotate.yml@refs/heads/main"
    assert run["subject"] == "repo:contoso/payments:ref:refs/heads/main"
    flagged = {m["field"]: m for m in run["mismatches"]}
    assert set(flagged) == {"repository", "sha"}
    assert flagged["repository"] == {
        "field": "repository",
        "variable": "GITHUB_REPOSITORY",
        "claim": "contoso/payments",
        "environment": "evil/forged",
    }
    # ... and the job log shows it as a warning annotation.
    assert "::warning title=jitpim provenance::GITHUB_REPOSITORY='evil/forged'" in result.output


def test_an_honest_job_records_verified_claims_without_mismatches(job: dict[str, Any]) -> None:
    result = _exec(job["env"], job["info"])
    assert result.exit_code == 0, result.output
    run = _record(job["env"])["run"]
    assert run["verified"] is True and run["mismatches"] == []
    assert (run["run_id"], run["run_attempt"], run["actor"], run["event_name"]) == (
        "9100200300",
        1,
        "octocat",
        "workflow_dispatch",
    )
    assert "jitpim provenance" not in result.output


def test_the_deployment_environment_comes_from_the_token(job: dict[str, Any]) -> None:
    world = job["emu"].runtime.world
    with world.lock:
        world.github_claims["environment"] = "production"
    source = GitHubOidcTokenSource(
        job["env"]["ACTIONS_ID_TOKEN_REQUEST_URL"], job["env"]["ACTIONS_ID_TOKEN_REQUEST_TOKEN"], cloud=_cloud(job)
    )
    run = verified_run_context(_cloud(job), environ={**job["env"], "JITPIM_ENVIRONMENT": "staging"}, source=source)
    assert run.environment == "production"
    assert [(m["field"], m["claim"], m["environment"]) for m in run.mismatches] == [
        ("environment", "production", "staging")
    ]


def test_without_an_id_token_provenance_is_marked_unverified(job: dict[str, Any]) -> None:
    env = {
        k: v
        for k, v in job["env"].items()
        if k not in ("ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    }
    warnings: list[str] = []
    run = verified_run_context(_cloud(job), environ={**env, "GITHUB_REPOSITORY": "evil/forged"}, warn=warnings.append)
    assert run.provenance == "environment" and not run.verified
    assert run.repository == "evil/forged"  # all there is, and the record says it is unverified
    assert warnings and "unverified" in warnings[0]
    assert RunContext.from_json(run.to_json()) == run


def _cloud(job: dict[str, Any]) -> Any:
    return emulator_profile(job["info"]["authority"], job["info"]["ca_cert"])


def _forged(claims: dict[str, Any], *, kid: str, key: Any = None, **overrides: Any) -> str:
    now = int(time.time())
    body = {
        **claims,
        "iss": GITHUB_ISSUER,
        "aud": EXCHANGE,
        "sub": "repo:evil/forged:ref:refs/heads/main",
        "iat": now,
        "nbf": now - 60,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
        **overrides,
    }
    signing = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(body, signing, algorithm="RS256", headers={"kid": kid})


def test_tokens_that_are_not_githubs_do_not_verify(job: dict[str, Any]) -> None:
    cloud = _cloud(job)
    world = job["emu"].runtime.world
    kid = world.github_key.kid
    genuine_key = world.github_key.key
    claims = {"repository": "evil/forged", "run_id": "1"}
    cases = {
        "another key under GitHub's key id": _forged(claims, kid=kid),
        "an unknown key id": _forged(claims, kid="attacker", key=genuine_key),
        "another audience": _forged(claims, kid=kid, key=genuine_key, aud="api://Other"),
        "another issuer": _forged(claims, kid=kid, key=genuine_key, iss="https://evil.example"),
        "expired": _forged(claims, kid=kid, key=genuine_key, exp=int(time.time()) - 3600),
    }
    for what, token in cases.items():
        with pytest.raises(AuthError) as caught:
            verify_github_id_token(token, cloud=cloud, audience=EXCHANGE)
        assert token not in str(caught.value), what
    # The genuine issuer's key and claims verify.
    good = _forged(claims, kid=kid, key=genuine_key)
    assert verify_github_id_token(good, cloud=cloud, audience=EXCHANGE)["repository"] == "evil/forged"


def test_a_forged_token_stops_the_command_before_anything_is_granted(
    job: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # ACTIONS_ID_TOKEN_REQUEST_URL rewritten to an endpoint that serves the attacker's tokens: they name GitHub's
    # issuer and key id but are signed with another key. The trust anchor is the cloud profile, not the URL.
    forged = _forged({"repository": "evil/forged", "run_id": "1"}, kid=job["emu"].runtime.world.github_key.kid)

    class AttackerEndpoint:
        audience = EXCHANGE

        def __call__(self) -> str:
            return forged

    with pytest.raises(AuthError, match="does not verify"):
        verified_run_context(_cloud(job), environ=job["env"], source=AttackerEndpoint())  # type: ignore[arg-type]

    monkeypatch.setattr(GitHubOidcTokenSource, "__call__", lambda self: forged)
    result = _exec(job["env"], job["info"])
    assert result.exit_code == 72, result.output
    assert forged not in result.output
    with Ledger(Path(job["env"]["JITPIM_LEDGER"])) as ledger:
        assert ledger.list() == []  # not even a lease was written


def test_claims_map_to_the_run_context() -> None:
    claims = {
        "repository": "contoso/payments",
        "ref": "refs/pull/12/merge",
        "sha": "a" * 40,
        "workflow": "ci",
        "workflow_ref": "contoso/payments/.github/workflows/ci.yml@refs/pull/12/merge",
        "job_workflow_ref": "contoso/shared/.github/workflows/deploy.yml@refs/tags/v1",
        "run_id": "77",
        "run_attempt": "2",
        "run_number": "9",
        "actor": "mona",
        "event_name": "pull_request",
        "environment": "production",
        "sub": "repo:contoso/payments:environment:production",
    }
    run = run_context_from_claims(claims, {"GITHUB_JOB": "deploy", "GITHUB_RUN_ATTEMPT": "1"})
    assert run.pr_number == 12 and run.run_attempt == 2 and run.run_number == 9
    assert run.job == "deploy" and run.job_workflow_ref.startswith("contoso/shared/")  # type: ignore[union-attr]
    assert run.run_key == "gh-77-2"
    assert [m["variable"] for m in run.mismatches] == ["GITHUB_RUN_ATTEMPT"]
    assert json.loads(json.dumps(run.to_json()))["verified"] is True


def test_a_token_of_another_issuer_leaves_provenance_unverified(job: dict[str, Any]) -> None:
    class EnterpriseServer:
        audience = EXCHANGE

        def __call__(self) -> str:
            return _forged(
                {"repository": "contoso/payments"}, kid="ghes", iss="https://ghes.contoso.example/_services/token"
            )

    warnings: list[str] = []
    run = verified_run_context(_cloud(job), environ=job["env"], source=EnterpriseServer(), warn=warnings.append)  # type: ignore[arg-type]
    assert run.provenance == "environment" and not run.verified
    assert "ghes.contoso.example" in warnings[0] and "unverified" in warnings[0]
