"""`jitpim audit list|show|export|verify|finalize` through the CLI: human output, `--output json`, filters,
CSV, and exit code 83 naming the first broken link."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from jitpim.audit import Ledger
from jitpim.cli import cli


def _seed(path: Path) -> None:
    with Ledger(path) as ledger:
        for n, (repo, principal, outcome) in enumerate(
            [
                ("contoso/payments", "p-1", "released"),
                ("contoso/web", "p-2", "release_failed"),
                ("contoso/payments", "p-1", None),
            ]
        ):
            lid = f"gh-{n}-1/rbac/lease-{n}"
            ledger.begin(
                {
                    "lease_id": lid,
                    "state": "requested",
                    "kind": "rbac",
                    "role": "Key Vault Secrets Officer",
                    "role_id": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
                    "mode": "direct",
                    "principal_id": principal,
                    "scope": f"/subscriptions/s/resourceGroups/rg-{n}",
                    "justification": '=HYPERLINK("x")' if n == 0 else "deploy",
                    "run": {"repository": repo, "run_id": str(n), "run_attempt": 1, "sha": "abc"},
                }
            )
            if outcome is not None:
                ledger.transition(lid, "granted", "lease.granted", {})
                ledger.transition(lid, "releasing", "lease.releasing", {})
                ledger.transition(
                    lid,
                    outcome,
                    "lease.released" if outcome == "released" else "lease.release_failed",
                    {"outcome": outcome} if outcome == "released" else {"detail": "403"},
                    outcome=outcome,
                )


@pytest.fixture(name="env")
def _env(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "state" / "ledger.sqlite3"
    _seed(path)
    return {"JITPIM_LEDGER": str(path), "HOME": str(tmp_path)}


def _run(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(cli, ["audit", *args], env=env, catch_exceptions=False)


def test_finalize_list_show(env: dict[str, str]) -> None:
    finalized = _run(env, "finalize", "--all-finished", "--no-deliver", "-o", "json")
    assert finalized.exit_code == 0, finalized.output
    assert json.loads(finalized.stdout)["records"] == 2  # the open lease is not finalized
    listed = json.loads(_run(env, "list", "-o", "json").stdout)["leases"]
    assert [(row["lease_id"], row["signed"]) for row in listed] == [
        ("gh-0-1/rbac/lease-0", True),
        ("gh-1-1/rbac/lease-1", True),
        ("gh-2-1/rbac/lease-2", False),
    ]
    text = _run(env, "list").output
    assert "gh-1-1/rbac/lease-1" in text and "release_failed" in text and "SIGNED" in text
    shown = _run(env, "show", "gh-1-1/rbac/lease-1")
    assert "signed" in shown.output and "lease.release_failed" in shown.output and "Ed25519 key" in shown.output
    unsigned = json.loads(_run(env, "show", "gh-2-1/rbac/lease-2", "-o", "json").stdout)
    assert unsigned["finalized"] is False and unsigned["record"]["lease_id"] == "gh-2-1/rbac/lease-2"
    missing = CliRunner().invoke(cli, ["audit", "show", "nope"], env=env)
    assert missing.exit_code == 82


def test_filters_and_exports(env: dict[str, str], tmp_path: Path) -> None:
    assert _run(env, "finalize", "--all-finished", "--no-deliver").exit_code == 0

    def ids(*filters: str) -> list[str]:
        return [r["lease_id"] for r in json.loads(_run(env, "list", "-o", "json", *filters).stdout)["leases"]]

    assert ids("--repository", "contoso/payments") == ["gh-0-1/rbac/lease-0", "gh-2-1/rbac/lease-2"]
    assert ids("--principal", "p-2") == ["gh-1-1/rbac/lease-1"]
    assert ids("--outcome", "released") == ["gh-0-1/rbac/lease-0"]
    assert ids("--target", "rg-2") == ["gh-2-1/rbac/lease-2"]
    assert ids("--run-id", "1") == ["gh-1-1/rbac/lease-1"]
    assert ids("--since", "1h", "--until", "2999-01-01T00:00:00Z") == ids()
    assert ids("--since", "2999-01-01T00:00:00Z") == []
    bad = CliRunner().invoke(cli, ["audit", "list", "--since", "yesterday-ish"], env=env)
    assert bad.exit_code == 64

    out = tmp_path / "payments.jsonl"
    exported = _run(env, "export", "--repository", "contoso/payments", "--file", str(out))
    assert exported.exit_code == 0 and "1 matching lease(s) have no signed summary" in exported.output
    lines = out.read_text().splitlines()
    assert json.loads(lines[0])["filters"] == {"repository": "contoso/payments"}
    # 3 begins, 2 x (granted, releasing, released or release_failed), 2 summaries, 1 checkpoint
    assert json.loads(lines[0])["ledger_head"]["seq"] == 12
    assert [json.loads(line)["record"]["lease_id"] for line in lines[1:-1]] == ["gh-0-1/rbac/lease-0"]
    assert _run(env, "verify", str(out)).exit_code == 84  # intact, but checked against no pinned key
    public = tmp_path / "public.pem"
    public.write_text(_run(env, "public-key").stdout)
    assert _run(env, "verify", str(out), "--public-key", str(public)).exit_code == 0

    rows = list(csv.DictReader(io.StringIO(_run(env, "export", "--format", "csv").stdout)))
    assert [r["lease_id"] for r in rows] == ["gh-0-1/rbac/lease-0", "gh-1-1/rbac/lease-1"]
    assert rows[0]["justification"] == '\'=HYPERLINK("x")'  # a spreadsheet must not run it as a formula
    assert rows[0]["repository"] == "contoso/payments" and rows[0]["key_id"] and rows[0]["ledger_hash"]
    events = _run(env, "export", "--content", "events").stdout.splitlines()
    # header and end, 3 begins, 2 x (granted, releasing, ended), 2 summaries, 1 checkpoint
    assert len(events) == 2 + 3 + 2 * 3 + 2 + 1
    assert _run(env, "export", "--content", "events", "--format", "csv").exit_code == 64


def test_verify_names_the_first_broken_link_with_exit_83(env: dict[str, str], tmp_path: Path) -> None:
    assert _run(env, "finalize", "--all-finished", "--no-deliver").exit_code == 0
    public = tmp_path / "public.pem"
    public.write_text(_run(env, "public-key").stdout)
    ok = _run(env, "verify", "--public-key", str(public))
    assert ok.exit_code == 0 and ok.output.startswith("verified: "), ok.output
    assert "1 signatures, 2 covered by checkpoints" in ok.output  # the checkpoint vouches for both summaries
    unpinned = _run(env, "verify")
    assert unpinned.exit_code == 84 and "no pinned public key" in unpinned.output
    conn = sqlite3.connect(env["JITPIM_LEDGER"], isolation_level=None)
    conn.execute("DROP TRIGGER events_append_only_update")
    conn.execute("UPDATE events SET at = '2020-01-01T00:00:00.000000Z' WHERE seq = 2")
    conn.close()
    broken = CliRunner().invoke(cli, ["audit", "verify"], env=env)
    assert broken.exit_code == 83
    assert "BROKEN: " in broken.output and "event seq 2" in broken.output and "changed" in broken.output
    as_json = json.loads(CliRunner().invoke(cli, ["audit", "verify", "-o", "json"], env=env).stdout)
    assert as_json["ok"] is False and as_json["problem"]["seq"] == 2
    stranger = tmp_path / "stranger.pem"
    from jitpim.audit.signing import Signer

    stranger.write_text(Signer.generate().public.to_pem())
    chain_only = CliRunner().invoke(cli, ["audit", "verify", "--no-signatures", "--public-key", str(stranger)], env=env)
    assert chain_only.exit_code == 83


def test_verify_needs_a_key_for_signatures(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    _seed(path)
    env = {"JITPIM_LEDGER": str(path), "HOME": str(tmp_path), "XDG_CONFIG_HOME": ""}
    result = CliRunner().invoke(cli, ["audit", "verify"], env=env)
    assert result.exit_code == 71 and "no public key" in result.output
    chain_only = CliRunner().invoke(cli, ["audit", "verify", "--no-signatures"], env=env)
    assert chain_only.exit_code == 84 and "signatures were not checked" in chain_only.output


def test_show_and_list_print_no_raw_control_characters(tmp_path: Path) -> None:
    """A stored record holding a line break, a workflow command and ESC sequences (an old record, or one
    written before validation): `audit show` and `audit list` print them as escapes, one line each."""
    path = tmp_path / "ledger.sqlite3"
    forged = "deploy\n::warning::forged\x1b[2K\u2028"
    with Ledger(path) as ledger:
        ledger.begin(
            {
                "lease_id": "gh-9-1/rbac/lease-9",
                "state": "requested",
                "kind": "rbac",
                "role": "Reader\x1b]0;title\x07",
                "mode": "direct",
                "principal_id": "p-9",
                "scope": "/subscriptions/s\n::error::x",
                "justification": forged,
                "ticket": "CHG:1\n::add-mask::x",
                "run": {"repository": "contoso/payments", "run_id": "9", "actor": "\n::notice::octocat"},
            }
        )
    env = {"JITPIM_LEDGER": str(path), "HOME": str(tmp_path)}
    for args in (("show", "gh-9-1/rbac/lease-9"), ("list",)):
        result = _run(env, *args)
        assert result.exit_code == 0, result.output
        assert "\x1b" not in result.output and "\x07" not in result.output and "\u2028" not in result.output
        assert not [line for line in result.output.splitlines() if line.lstrip().startswith("::")], result.output
    shown = _run(env, "show", "gh-9-1/rbac/lease-9").output
    assert "deploy\\n::warning::forged\\x1b[2K\\u2028" in shown
