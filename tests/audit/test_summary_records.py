"""The summary record per lease: built from what the lifecycle really writes, signed, chained, valid against
the published JSON Schemas, verifiable offline, and free of secrets."""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from jitpim.audit import Ledger
from jitpim.audit.schema_json import load_schema
from jitpim.audit.signing import Signer
from jitpim.audit.summary import build_summary, finalize_lease, latest_summary, summary_records, write_run_file
from jitpim.audit.verify import trusted_keys, verify_store
from jitpim.audit.verify_evidence import verify_path
from jitpim.cli import cli
from jitpim.emulator import Emulator
from jitpim.errors import AuditError, LedgerError
from jitpim.testing import github_job_environ

EVENT_VALIDATOR = jsonschema.Draft202012Validator(load_schema("event"))
SUMMARY_VALIDATOR = jsonschema.Draft202012Validator(load_schema("summary"))
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.")


def _valid(validator: jsonschema.Draft202012Validator, document: Any) -> None:
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]


def test_published_schemas_are_valid_json_schema() -> None:
    for name in ("event", "summary"):
        jsonschema.Draft202012Validator.check_schema(load_schema(name))


def _lease_row(lease_id: str, **extra: Any) -> dict[str, Any]:
    row = {
        "lease_id": lease_id,
        "state": "requested",
        "kind": "entra-role",
        "role": "Application Administrator",
        "role_id": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "scope": "/",
        "principal_id": "2b3c4d5e-6f70-4b8c-9d0e-1f2a3b4c5d6e",
        "tenant_id": "5f0c9a2e-3c4b-4d8e-9f1a-2b3c4d5e6f70",
        "mode": "direct",
        "start_at": "2026-01-05T09:00:00+00:00",
        "end_at": "2026-01-05T09:30:00+00:00",
        "requested_duration_s": 3600,
        "granted_duration_s": 1800,
        "request_ids": {"request_name": "0c8b1b3e-4a39-4d43-9d9e-7f1c8b8b6a01"},
        "justification": "rotate the payments key",
        "ticket": "ServiceNow:CHG0042",
        "run": {
            "repository": "contoso/payments",
            "ref": "refs/pull/7/merge",
            "sha": "3f786850e387550fdab836ed7e6dc881de23001b",
            "workflow": "rotate-secrets",
            "job": "rotate",
            "run_id": "9100200300",
            "run_attempt": 2,
            "run_number": 42,
            "actor": "octocat",
            "event_name": "pull_request",
            "pr_number": 7,
            "environment": "production",
            "server_url": "https://github.com",
            "run_url": "https://github.com/contoso/payments/actions/runs/9100200300/attempts/2",
        },
        "release_strategy": "wait",
        "data": {"resolved": {"scope_name": "/ (tenant)"}},
    }
    row.update(extra)
    return row


DETAILS = {
    "decision": {
        "allowed": True,
        "requested_duration": "PT1H",
        "duration": "PT30M",
        "reasons": [
            {
                "code": "clamped",
                "message": "clamped to the policy maximum of 30 minutes",
                "rule": "Expiration_Admin_Assignment",
                "refuses": False,
            }
        ],
        "policy_source": "Graph roleManagementPolicy Directory_5f0c_9b89 (modified 2026-01-01)",
    },
    "policy": {
        "max_duration": "PT30M",
        "require_justification": True,
        "require_approval": True,
        "source": "Directory_5f0c_9b89",
    },
}


def _grant(status: str, request_id: str = "a6f1e0c4-6a1b-4a79-a0a5-1c6e3c2f0d11") -> dict[str, Any]:
    return {
        "kind": "entra-role",
        "status": status,
        "request_id": request_id,
        "resource_id": f"https://graph.microsoft.com/v1.0/roleManagement/directory/roleAssignmentScheduleRequests/{request_id}",
        "start_at": "2026-01-05T09:00:00+00:00",
        "end_at": "2026-01-05T09:30:00+00:00",
        "reused": False,
        "api_status": "PendingApproval" if status == "pending_approval" else "Provisioned",
        "data": {"request_name": "0c8b1b3e-4a39-4d43-9d9e-7f1c8b8b6a01"},
    }


def _full_lifecycle(ledger: Ledger, lease_id: str) -> None:
    """Every event type the lifecycle and rotation append, with the bodies they append."""
    ledger.begin(_lease_row(lease_id), details=DETAILS)
    ledger.transition(
        lease_id,
        "pending_approval",
        "lease.approval_requested",
        {"grant": _grant("pending_approval")},
        request_ids={
            "request_name": "0c8b1b3e-4a39-4d43-9d9e-7f1c8b8b6a01",
            "request_id": "a6f1e0c4-6a1b-4a79-a0a5-1c6e3c2f0d11",
        },
    )
    ledger.transition(lease_id, "granted", "lease.approved", {"grant": _grant("active")})
    ledger.transition(lease_id, "effective", "lease.effective", {"waited_s": 2.5})
    ledger.append_event(
        lease_id,
        "secret.rotated",
        {
            "vault": "kv-payments",
            "secret_name": "db-password",
            "version_id": "8f3a2c",
            "previous_version_id": "77aa01",
            "disabled_version_ids": ["5511ee"],
        },
    )
    ledger.append_event(lease_id, "command.finished", {"exit_code": 3, "signal": None})
    ledger.transition(lease_id, "releasing", "lease.releasing", {})
    ledger.transition(lease_id, "releasing", "lease.release_retried", {"strategy": "waited_for_minimum_window"})
    ledger.transition(lease_id, "released", "lease.released", {"outcome": "released"}, outcome="released", exit_code=3)


def test_full_lifecycle_summary_holds_every_field_and_validates(tmp_path: Path) -> None:
    signer = Signer.generate()
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        _full_lifecycle(ledger, "gh-9100200300-2/entra-role/app-admin")
        record = finalize_lease(ledger, "gh-9100200300-2/entra-role/app-admin", signer)
        for event in ledger.events():
            _valid(EVENT_VALIDATOR, event)
        report = verify_store(ledger, keys=trusted_keys([signer.public]))
    _valid(SUMMARY_VALIDATOR, record)
    assert report.ok and report.signatures == 1, report.to_json()
    assert record["request_ids"]["request_id"] == "a6f1e0c4-6a1b-4a79-a0a5-1c6e3c2f0d11"
    assert record["target"] == {
        "kind": "entra-role",
        "role": "Application Administrator",
        "role_id": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
        "scope": "/",
        "scope_name": "/ (tenant)",
        "tenant_id": "5f0c9a2e-3c4b-4d8e-9f1a-2b3c4d5e6f70",
    }
    assert record["principal"]["id"] == "2b3c4d5e-6f70-4b8c-9d0e-1f2a3b4c5d6e"
    assert (record["justification"], record["ticket"]) == ("rotate the payments key", "ServiceNow:CHG0042")
    assert record["run"]["pr_number"] == 7 and record["run"]["environment"] == "production"
    assert record["run"]["run_attempt"] == 2 and record["run"]["sha"].startswith("3f786850")
    assert record["policy"]["source"] == "Directory_5f0c_9b89"
    assert record["decision"]["reasons"][0]["rule"] == "Expiration_Admin_Assignment"
    assert record["outcome"] == "released" and record["exit_code"] == 3
    assert record["release"] == {"strategy": "wait", "outcome": "released", "detail": None}
    times = record["times"]
    for key in (
        "requested_at",
        "approval_requested_at",
        "approved_at",
        "effective_at",
        "command_finished_at",
        "releasing_at",
        "release_retried_at",
        "released_at",
        "start_at",
        "end_at",
    ):
        assert times[key], key
    assert times["granted_at"] is None and times["denied_at"] is None
    assert record["secrets"][0]["version_ids"] == ["8f3a2c", "77aa01", "5511ee"]
    assert record["secrets"][0]["secret_name"] == "db-password"
    assert record["events"][0]["type"] == "lease.requested" and len(record["events"]) == 9
    assert record["signature"]["alg"] == "Ed25519" and record["signature"]["key_id"] == signer.key_id


def test_failures_denials_and_expiry_validate(tmp_path: Path) -> None:
    signer = Signer.generate()
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        ledger.begin(_lease_row("run/entra-role/denied"), details=DETAILS)
        ledger.transition(
            "run/entra-role/denied",
            "pending_approval",
            "lease.approval_requested",
            {"grant": _grant("pending_approval")},
        )
        ledger.transition(
            "run/entra-role/denied", "failed", "lease.denied", {"grant": _grant("denied")}, outcome="denied"
        )
        ledger.begin(_lease_row("run/entra-role/broken"), details=DETAILS)
        ledger.transition(
            "run/entra-role/broken",
            "failed",
            "lease.grant_failed",
            {"error": {"error": "ProviderApiError", "message": "RoleAssignmentExists", "exit_code": 78}},
            outcome="grant_failed",
        )
        ledger.begin(_lease_row("run/entra-role/stuck"), details=DETAILS)
        ledger.transition("run/entra-role/stuck", "granted", "lease.granted", {"grant": _grant("active")})
        ledger.transition("run/entra-role/stuck", "releasing", "lease.releasing", {})
        ledger.transition(
            "run/entra-role/stuck",
            "release_failed",
            "lease.release_failed",
            {"detail": "403 Forbidden"},
            outcome="release_failed",
        )
        ledger.transition(
            "run/entra-role/stuck",
            "expired",
            "lease.expired",
            {"source": "reconcile", "end_at": "2026-01-05T09:30:00.000000Z"},
        )
        records = [
            finalize_lease(ledger, lid, signer)
            for lid in ("run/entra-role/denied", "run/entra-role/broken", "run/entra-role/stuck")
        ]
        for event in ledger.events():
            _valid(EVENT_VALIDATOR, event)
        assert verify_store(ledger, keys=trusted_keys([signer.public])).ok
    for record in records:
        _valid(SUMMARY_VALIDATOR, record)
    denied, broken, stuck = records
    assert denied["outcome"] == "denied" and denied["failures"][0]["type"] == "lease.denied"
    assert denied["times"]["denied_at"] is not None
    assert broken["failures"][0]["detail"]["message"] == "RoleAssignmentExists"
    assert stuck["release"] == {"strategy": "wait", "outcome": "release_failed", "detail": "403 Forbidden"}
    assert stuck["times"]["expired_at"] is not None and stuck["state"] == "expired"


def test_finalize_is_idempotent_and_supersedes_after_new_events(tmp_path: Path) -> None:
    signer = Signer.generate()
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        ledger.begin(_lease_row("run/x"), details=DETAILS)
        ledger.transition(
            "run/x", "releasing", "lease.left_to_expire", {"end_at": "09:30:00Z"}, outcome="left_to_expire"
        )
        first = finalize_lease(ledger, "run/x", signer)
        assert finalize_lease(ledger, "run/x", signer) == first
        assert len([e for e in ledger.events("run/x") if e["type"] == "lease.summary"]) == 1
        ledger.transition("run/x", "expired", "lease.expired", {"source": "reconcile"})
        second = finalize_lease(ledger, "run/x", signer)
        assert second["supersedes"] == {"seq": first["ledger"]["seq"], "hash": first["ledger"]["hash"]}
        assert second["state"] == "expired" and second["release"]["outcome"] == "left_to_expire"
        assert latest_summary(ledger, "run/x") == second
        assert summary_records(ledger) == [second]
        assert verify_store(ledger, keys=trusted_keys([signer.public])).ok


def test_a_lease_with_no_events_or_unknown_cannot_be_summarised(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        lease = ledger.begin(_lease_row("run/y"))
        with pytest.raises(AuditError):
            build_summary(lease, [])
        with pytest.raises(LedgerError):
            # The guard refuses a token even inside a justification, before anything is written.
            ledger.begin(_lease_row("run/z", justification="eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"))


# -- the real lifecycle, end to end, against the emulator ------------------------------------------------------


@pytest.fixture(name="job")
def _job(fresh_emu: Emulator, tmp_path: Path) -> dict[str, Any]:
    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.apply_settings()
        # The job's signed ID token names the pull request, as GitHub's does (provenance comes from it), and
        # ci-app trusts pull_request tokens of the repository.
        world.github_claims.update({"ref": "refs/pull/7/merge", "event_name": "pull_request"})
        app = next(a for a in world.directory.applications.values() if a.display_name == "payments-ci")
        app.federated_credentials.append(
            replace(
                app.federated_credentials[0],
                id=str(uuid.uuid4()),
                name="pr",
                subject="repo:contoso/payments:pull_request",
            )
        )
    env = github_job_environ(fresh_emu.info, workdir=tmp_path, pr_number=7)
    env["JITPIM_LEDGER"] = str(tmp_path / "state" / "ledger.sqlite3")
    return {"env": env, "info": fresh_emu.info, "tmp": tmp_path}


def _cli(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_every_lease_of_the_lifecycle_gets_a_valid_signed_summary_and_verifies(job: dict[str, Any]) -> None:
    env, info, tmp = job["env"], job["info"], job["tmp"]
    vault = info["vaults"]["kv-payments"]["resource_id"]
    ran = _cli(
        env,
        "exec",
        "--kind",
        "rbac",
        "--role",
        "Key Vault Secrets Officer",
        "--scope",
        vault,
        "--duration",
        "20m",
        "-j",
        "rotate db password",
        "--ticket",
        "ServiceNow:CHG0042",
        "-q",
        "--",
        sys.executable,
        "-c",
        "raise SystemExit(4)",
    )
    assert ran.exit_code == 4, ran.output
    run_file = tmp / "audit" / "run.jsonl"
    finalized = _cli(env, "audit", "finalize", "--run-id", "9100200300", "--run-file", str(run_file), "-o", "json")
    assert finalized.exit_code == 0, finalized.output
    assert f"audit-file={run_file}" in Path(env["GITHUB_OUTPUT"]).read_text()

    ledger_path = Path(env["JITPIM_LEDGER"])
    with Ledger(ledger_path) as ledger:
        leases = ledger.list()
        assert len(leases) == 1
        events = ledger.events()
        records = summary_records(ledger)
    for event in events:
        _valid(EVENT_VALIDATOR, event)
    assert len(records) == 1
    record = records[0]
    _valid(SUMMARY_VALIDATOR, record)
    assert record["exit_code"] == 4 and record["outcome"] == "released"
    assert record["run"]["repository"] == "contoso/payments" and record["run"]["pr_number"] == 7
    assert record["ticket"] == "ServiceNow:CHG0042"
    assert record["request_ids"]["request_id"]  # the role assignment name ARM knows the grant by
    assert [line for line in run_file.read_text().splitlines() if '"record"' in line]

    public = tmp / "public.pem"
    public.write_text(_cli(env, "audit", "public-key").stdout)
    unpinned = _cli(env, "audit", "verify", "-o", "json")
    assert unpinned.exit_code == 84 and json.loads(unpinned.stdout)["pinned"] is False, unpinned.output
    verified = _cli(env, "audit", "verify", "--public-key", str(public), "-o", "json")
    assert verified.exit_code == 0, verified.output
    # The summary is vouched for by the checkpoint written right after it: one signature to check.
    assert json.loads(verified.stdout)["signatures"] == 1 and json.loads(verified.stdout)["covered_by_checkpoints"] == 1
    checked = verify_path(run_file, keys=trusted_keys([_public(public)]))
    assert checked.ok and checked.trusted, checked.to_json()


def _public(path: Path) -> Any:
    from jitpim.audit.signing import load_public_key

    return load_public_key(path)


def test_no_secret_value_or_token_reaches_any_record(job: dict[str, Any]) -> None:
    env, info, tmp = job["env"], job["info"], job["tmp"]
    vault = info["vaults"]["kv-payments"]["resource_id"]
    assert (
        _cli(
            env,
            "exec",
            "--kind",
            "rbac",
            "--role",
            "Key Vault Secrets Officer",
            "--scope",
            vault,
            "--duration",
            "20m",
            "-j",
            "deploy",
            "-q",
            "--",
            sys.executable,
            "-c",
            "pass",
        ).exit_code
        == 0
    )
    run_file = tmp / "run.jsonl"
    assert _cli(env, "audit", "finalize", "--all-finished", "--run-file", str(run_file)).exit_code == 0
    exported = _cli(env, "audit", "export", "--content", "events").stdout
    csv_text = _cli(env, "audit", "export", "--format", "csv").stdout
    shown = _cli(
        env,
        "audit",
        "show",
        json.loads(_cli(env, "audit", "list", "-o", "json").stdout)["leases"][0]["lease_id"],
        "-o",
        "json",
    ).stdout

    from jitpim.audit.signing import default_key_path

    key_file = default_key_path(environ={**os.environ, **env})  # apart from the ledger
    signer_pem = key_file.read_text()
    secrets = [p["client_secret"] for p in info["principals"].values() if p.get("client_secret")]
    secrets += [p["password"] for p in info["principals"].values() if p.get("password")]
    secrets += [env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"], "initial-db-password-v1", "initial-api-key-v1"]
    secrets += [signer_pem.split("-----")[2].strip()]
    raw_seed = base64.b64decode("".join(signer_pem.split("-----")[2].split()))[-32:]
    secrets += [base64.b64encode(raw_seed).decode()]
    ledger_bytes = b"".join(p.read_bytes() for p in Path(env["JITPIM_LEDGER"]).parent.glob("ledger.sqlite3*"))
    haystacks = {
        "ledger": ledger_bytes.decode("utf-8", "replace"),
        "run file": run_file.read_text(),
        "export": exported,
        "csv": csv_text,
        "show": shown,
    }
    for where, text in haystacks.items():
        assert not JWT.search(text), f"a token-shaped string in the {where}"
        assert "PRIVATE KEY" not in text, where
        for secret in secrets:
            assert secret and secret not in text, f"a secret value in the {where}"


def test_run_file_helper_writes_verifiable_records(tmp_path: Path) -> None:
    signer = Signer.generate()
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        _full_lifecycle(ledger, "run/a")
        records = [finalize_lease(ledger, "run/a", signer)]
    path = write_run_file(records, tmp_path / "out" / "jitpim-audit.jsonl", signer=signer)
    report = verify_path(path, keys=trusted_keys([signer.public]))
    assert report.ok and report.checked == 1 and report.signatures == 2
    unsigned = write_run_file(records, tmp_path / "unsigned.jsonl")
    report = verify_path(unsigned, keys=trusted_keys([signer.public]))
    assert report.ok and report.signatures == 1 and "unsigned" in report.notes[0]


def test_a_real_secret_rotation_is_summarised_with_its_version_ids(job: dict[str, Any]) -> None:
    env = job["env"]
    rotated = _cli(
        env,
        "rotate",
        "secret",
        "--vault",
        "kv-payments",
        "--name",
        "db-password",
        "--ticket",
        "ServiceNow:CHG0042",
        "-q",
        "-o",
        "json",
    )
    assert rotated.exit_code == 0, rotated.output
    with Ledger(Path(env["JITPIM_LEDGER"])) as ledger:
        events = ledger.events()
        records = summary_records(ledger)
    for event in events:
        _valid(EVENT_VALIDATOR, event)
    assert len(records) == 1
    _valid(SUMMARY_VALIDATOR, records[0])
    body = next(e["body"] for e in events if e["type"] == "secret.rotated")
    secret = records[0]["secrets"][0]
    assert secret["secret_name"] == "db-password" and secret["vault"] == "kv-payments"
    assert secret["version_id"] == body["version_id"] and secret["previous_version_id"] == body["previous_version_id"]
    assert secret["version_ids"][:2] == [body["version_id"], body["previous_version_id"]]
    assert "initial-db-password-v1" not in json.dumps(records)
    pinned = {**env, "JITPIM_PUBLIC_KEY": _cli(env, "audit", "public-key").stdout}
    assert _cli(pinned, "audit", "verify").exit_code == 0
