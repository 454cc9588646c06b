"""The lease ledger's API: write-ahead begin, transitions, queries, location and file permissions."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from jitpim.audit import (
    LATEST_VERSION,
    LEASE_GRANTED,
    LEASE_RELEASED,
    LEASE_REQUESTED,
    Ledger,
    current_owner,
    default_ledger_path,
    owner_is_alive,
    resolve_ledger_path,
)
from jitpim.audit.schema import MIGRATIONS
from jitpim.errors import LeaseNotFoundError, LedgerError


def _row(lease_id: str = "run-1/azure-role/kv-officer", **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "lease_id": lease_id,
        "state": "requested",
        "kind": "azure-role",
        "role": "Key Vault Secrets Officer",
        "role_id": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        "scope": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
        "Microsoft.KeyVault/vaults/kv",
        "principal_id": "11111111-1111-1111-1111-111111111111",
        "tenant_id": "22222222-2222-2222-2222-222222222222",
        "mode": "direct",
        "requested_duration_s": 900,
        "justification": "rotate the db password",
        "ticket": "JIRA:OPS-1",
        "run": {"repository": "org/repo", "run_id": "9001", "run_attempt": "1", "sha": "abc123"},
        "release_strategy": "admin-remove",
    }
    row.update(overrides)
    return row


@pytest.fixture(name="ledger")
def _ledger(tmp_path: Path) -> Any:
    with Ledger(tmp_path / "state" / "ledger.sqlite3") as ledger:
        yield ledger


def test_begin_commits_the_lease_and_its_event_before_the_grant_runs(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    seen: dict[str, object] = {}

    def grant() -> str:
        # A separate connection (as a reaper in another process would use) must already see both rows.
        raw = sqlite3.connect(path)
        try:
            seen["state"] = raw.execute(
                "SELECT state FROM leases WHERE lease_id = ?", ("run-1/azure-role/kv-officer",)
            ).fetchone()
            seen["events"] = raw.execute("SELECT type, lease_id FROM events ORDER BY seq").fetchall()
        finally:
            raw.close()
        return "request-id-1"

    with Ledger(path) as ledger:
        record = ledger.begin(_row())
        request_id = grant()  # the caller grants only after begin() returned
        ledger.transition(record["lease_id"], "granted", LEASE_GRANTED, {"request_id": request_id})

    assert seen["state"] == ("requested",)
    assert seen["events"] == [(LEASE_REQUESTED, "run-1/azure-role/kv-officer")]


def test_begin_survives_the_process_being_killed_right_after(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    script = (
        "import os, signal, sys\n"
        "from jitpim.audit import Ledger\n"
        "ledger = Ledger(sys.argv[1])\n"
        "ledger.begin({'lease_id': 'run-2/rbac/reader', 'state': 'requested', 'kind': 'rbac', 'role': 'Reader',\n"
        "              'scope': '/subscriptions/x', 'mode': 'direct'})\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(path)], timeout=60, check=False)
    assert result.returncode == -signal.SIGKILL

    with Ledger(path) as ledger:
        lease = ledger.get("run-2/rbac/reader")
        assert lease["state"] == "requested"
        assert [lease["lease_id"] for lease in ledger.open_leases()] == ["run-2/rbac/reader"]
        assert owner_is_alive(lease["owner_pid"] or 0, lease["owner_host"] or "", lease["owner_started_at"]) is False
        assert ledger.verify_chain().ok


def test_begin_records_the_lease_snapshot_and_owner(ledger: Ledger) -> None:
    record = ledger.begin(_row(), details={"policy_version": "v7"})
    owner = current_owner()
    assert record["owner_pid"] == os.getpid()
    assert record["owner_host"] == owner.host
    assert record["owner_started_at"] == owner.started_at
    assert owner_is_alive(record["owner_pid"] or 0, record["owner_host"] or "", record["owner_started_at"]) is True
    assert record["request_ids"] == {}
    assert record["notes"] == []
    assert record["data"] == {}
    assert record["created_at"] == record["updated_at"]

    (event,) = ledger.events()
    assert event["type"] == LEASE_REQUESTED
    assert event["seq"] == 1
    assert event["schema_version"] == 1
    assert event["signature"] is None
    assert event["body"]["details"] == {"policy_version": "v7"}
    snapshot = event["body"]["lease"]
    assert snapshot["justification"] == "rotate the db password"
    assert snapshot["run"]["run_id"] == "9001"
    assert snapshot["owner_pid"] == os.getpid()
    assert "created_at" not in snapshot


def test_begin_refuses_bad_rows_and_writes_nothing(ledger: Ledger) -> None:
    with pytest.raises(LedgerError, match="begins in state"):
        ledger.begin(_row(state="granted"))
    with pytest.raises(LedgerError, match="unknown lease field 'colour'"):
        ledger.begin({**_row(), "colour": "blue"})
    with pytest.raises(LedgerError, match="'scope' must be set"):
        ledger.begin(_row(scope=None))
    with pytest.raises(LedgerError, match="set by the ledger"):
        ledger.begin(_row(created_at="2025-01-01T00:00:00Z"))
    with pytest.raises(LedgerError, match="must be an integer"):
        ledger.begin(_row(requested_duration_s="15m"))
    with pytest.raises(LedgerError, match="must be a JSON object"):
        ledger.begin(_row(run=["not", "an", "object"]))
    with pytest.raises(LedgerError, match="timezone-aware"):
        ledger.begin(_row(start_at=datetime(2025, 1, 1, 9, 0)))  # noqa: DTZ001 - the point of the test
    assert ledger.list() == []
    assert ledger.events() == []


def test_duplicate_lease_id_is_refused(ledger: Ledger) -> None:
    ledger.begin(_row())
    with pytest.raises(LedgerError, match="already in the ledger"):
        ledger.begin(_row())
    assert len(ledger.events()) == 1


def test_transition_updates_the_row_and_appends_one_event_atomically(ledger: Ledger) -> None:
    ledger.begin(_row())
    end = datetime(2025, 3, 1, 11, 15, tzinfo=timezone(timedelta(hours=2)))
    lease, event = ledger.transition(
        "run-1/azure-role/kv-officer",
        "granted",
        LEASE_GRANTED,
        {"request_id": "r-1"},
        request_ids={"grant": "r-1"},
        granted_duration_s=900,
        end_at=end,
        notes=["clamped to policy max"],
    )
    assert lease["state"] == "granted"
    assert lease["request_ids"] == {"grant": "r-1"}
    assert lease["end_at"] == "2025-03-01T09:15:00.000000Z"  # normalised to UTC
    assert lease["notes"] == ["clamped to policy max"]
    assert event["type"] == LEASE_GRANTED
    changes = event["body"].pop("lease_changes")  # what the row became: the chain can rebuild it
    assert event["body"] == {"lease_state": {"from": "requested", "to": "granted"}, "request_id": "r-1"}
    assert changes["state"] == "granted" and changes["request_ids"] == {"grant": "r-1"}
    assert changes["updated_at"] == event["at"] == lease["updated_at"]
    assert ledger.get("run-1/azure-role/kv-officer") == lease

    # A refused transition changes nothing: not the row, not the chain.
    with pytest.raises(LedgerError):
        ledger.transition("run-1/azure-role/kv-officer", "released", "Not A Type")
    with pytest.raises(LedgerError):
        ledger.transition("run-1/azure-role/kv-officer", "released", LEASE_RELEASED, granted_duration_s="x")
    assert ledger.get("run-1/azure-role/kv-officer")["state"] == "granted"
    assert [e["type"] for e in ledger.events()] == [LEASE_REQUESTED, LEASE_GRANTED]


def test_missing_leases_raise_lease_not_found(ledger: Ledger) -> None:
    with pytest.raises(LeaseNotFoundError) as caught:
        ledger.get("nope")
    assert caught.value.exit_code == 82
    assert ledger.find("nope") is None
    with pytest.raises(LeaseNotFoundError):
        ledger.update("nope", outcome="ok")
    with pytest.raises(LeaseNotFoundError):
        ledger.transition("nope", "released", LEASE_RELEASED)
    with pytest.raises(LeaseNotFoundError):
        ledger.append_event("nope", "command.finished", {"exit_code": 0})
    assert ledger.events() == []


def test_update_changes_fields_but_not_identity(ledger: Ledger) -> None:
    ledger.begin(_row())
    updated = ledger.update("run-1/azure-role/kv-officer", outcome="success", exit_code=0, data={"probe": "ok"})
    assert (updated["outcome"], updated["exit_code"], updated["data"]) == ("success", 0, {"probe": "ok"})
    with pytest.raises(LedgerError, match="cannot be changed"):
        ledger.update("run-1/azure-role/kv-officer", lease_id="other")
    with pytest.raises(LedgerError, match="cannot be changed"):
        ledger.update("run-1/azure-role/kv-officer", created_at=datetime.now(UTC))
    # update() records what it changed as a lease.updated event, so the row stays derivable from the chain
    assert [e["type"] for e in ledger.events()] == ["lease.requested", "lease.updated"]


def test_list_filters_and_open_leases(ledger: Ledger) -> None:
    ledger.begin(_row("run-1/rbac/a", kind="rbac"))
    ledger.begin(_row("run-1/rbac/b", kind="rbac", principal_id="p-2"))
    ledger.begin(_row("run-2/entra-role/c", kind="entra-role", run={"run_id": "9002"}))
    ledger.begin(_row("local/pim-group/d", kind="pim-group", state="planned", run=None))
    for lease_id, states in (
        ("run-1/rbac/a", ("granted", "releasing", "released")),
        ("run-1/rbac/b", ("granted", "releasing", "release_failed")),
        ("run-2/entra-role/c", ("expired",)),
    ):
        for state in states:
            ledger.transition(lease_id, state, "lease.state_changed")

    def ids(records: list[Any]) -> list[str]:
        return [record["lease_id"] for record in records]

    assert ids(ledger.list(run_id="9001")) == ["run-1/rbac/a", "run-1/rbac/b"]
    assert ids(ledger.list(principal_id="p-2")) == ["run-1/rbac/b"]
    assert ids(ledger.list(state="expired")) == ["run-2/entra-role/c"]
    assert ids(ledger.list(state=["planned", "released"])) == ["run-1/rbac/a", "local/pim-group/d"]
    assert ids(ledger.list(kind="rbac", active_only=True)) == ["run-1/rbac/b"]
    # release_failed may still hold access, so it stays open; released/expired do not.
    assert ids(ledger.open_leases()) == ["run-1/rbac/b", "local/pim-group/d"]
    assert [e["seq"] for e in ledger.events("run-1/rbac/b")] == [2, 8, 9, 10]
    assert [e["seq"] for e in ledger.events(after_seq=9)] == [10, 11]


def test_events_carry_the_injected_clock(tmp_path: Path) -> None:
    moment = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
    with Ledger(tmp_path / "l.sqlite3", clock=lambda: moment) as ledger:
        lease = ledger.begin(_row())
        event = ledger.append_event(None, "ledger.noted", {"what": "no lease"})
    assert lease["created_at"] == "2030-06-01T12:00:00.000000Z"
    assert event["at"] == "2030-06-01T12:00:00.000000Z"
    assert event["lease_id"] is None


def test_file_and_directory_are_private_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "new" / "nested" / "ledger.sqlite3"
    before = stat.S_IMODE(tmp_path.stat().st_mode)
    old_umask = os.umask(0)
    try:
        with Ledger(path) as ledger:
            ledger.begin(_row())
            wal = Path(f"{path}-wal")
            assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(tmp_path.stat().st_mode) == before  # existing directories are left alone


def test_the_file_is_a_wal_database_at_the_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with Ledger(path) as ledger:
        assert ledger.schema_version == LATEST_VERSION
        assert ledger.migrate() == LATEST_VERSION  # idempotent
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        applied = raw.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        assert applied == [(migration.version,) for migration in MIGRATIONS]
        columns = [row[1] for row in raw.execute("PRAGMA table_info(events)")]
        assert columns == [
            "seq",
            "lease_id",
            "type",
            "at",
            "schema_version",
            "body",
            "prev_hash",
            "hash",
            "signature",
        ]
    finally:
        raw.close()


def test_location_precedence() -> None:
    home = {"HOME": "/home/ci"}
    assert default_ledger_path(home) == Path("/home/ci/.local/state/jitpim/ledger.sqlite3")
    xdg = {**home, "XDG_STATE_HOME": "/var/state"}
    assert default_ledger_path(xdg) == Path("/var/state/jitpim/ledger.sqlite3")
    # The XDG spec says relative paths are invalid and must be ignored.
    assert default_ledger_path({**home, "XDG_STATE_HOME": "rel/state"}) == default_ledger_path(home)
    configured = {**xdg, "JITPIM_LEDGER": "/srv/jitpim.sqlite3"}
    assert resolve_ledger_path(None, configured) == Path("/srv/jitpim.sqlite3")
    assert resolve_ledger_path("/tmp/explicit.sqlite3", configured) == Path("/tmp/explicit.sqlite3")
    assert resolve_ledger_path(None, {**xdg, "JITPIM_LEDGER": ""}) == Path("/var/state/jitpim/ledger.sqlite3")


def test_default_location_is_created_privately(tmp_path: Path) -> None:
    state = tmp_path / "xdg"
    state.mkdir()
    with Ledger(environ={"XDG_STATE_HOME": str(state), "HOME": str(tmp_path)}) as ledger:
        assert ledger.path == state / "jitpim" / "ledger.sqlite3"
    assert stat.S_IMODE((state / "jitpim").stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "jitpim" / "ledger.sqlite3").stat().st_mode) == 0o600


def test_closed_ledger_refuses_work(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite3")
    ledger.close()
    ledger.close()  # idempotent
    with pytest.raises(LedgerError, match="closed"):
        ledger.begin(_row())
