"""The ledger fails closed: when it cannot be written, it raises LedgerError and nothing is granted."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jitpim.audit import LATEST_VERSION, Ledger
from jitpim.errors import LedgerError

NOBODY = 65534
MARKER = "justification-marker-7f3a"  # must never appear in an error message


def _row() -> dict[str, object]:
    return {
        "lease_id": "run-3/rbac/contributor",
        "state": "requested",
        "kind": "rbac",
        "role": "Contributor",
        "scope": "/subscriptions/00000000-0000-0000-0000-000000000001",
        "mode": "direct",
        "justification": MARKER,
    }


def _unprivileged(action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run `action` as a user file permissions apply to: as is, or (when root) in a child as nobody.

    Root ignores directory and file modes, so a read-only directory only means something to another user.
    """
    if os.geteuid() != 0:
        return action()
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(reader)
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            outcome = action()
        except BaseException:
            outcome = {"crash": traceback.format_exc()}
        os.write(writer, json.dumps(outcome).encode())
        os.close(writer)
        os._exit(0)
    os.close(writer)
    chunks = []
    while chunk := os.read(reader, 65536):
        chunks.append(chunk)
    os.close(reader)
    os.waitpid(pid, 0)
    outcome: dict[str, Any] = json.loads(b"".join(chunks))
    assert "crash" not in outcome, outcome.get("crash")
    return outcome


def _reachable_by_others(directory: Path) -> bool:
    """True when another user can reach `directory`: it and every directory above it are searchable (o+x)."""
    try:
        return all(os.stat(part).st_mode & 0o001 for part in (directory, *directory.parents))
    except OSError:
        return False


def _shared_temp_root() -> Path:
    """A temporary directory another user can reach, whatever TMPDIR is: pytest's tmp_path and a private
    TMPDIR (0700, as on many desktops and CI sandboxes) are out of nobody's reach, so the first reachable of
    TMPDIR, /tmp, /var/tmp and /dev/shm is used."""
    for candidate in (tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"):
        path = Path(candidate).resolve()
        if path.is_dir() and _reachable_by_others(path) and os.access(path, os.W_OK):
            return path
    pytest.skip("no temporary directory on this machine is reachable by an unprivileged user")


@pytest.fixture(name="workdir")
def _workdir(tmp_path: Path) -> Iterator[Path]:
    """A directory the (possibly unprivileged) test user owns and can reach."""
    if os.geteuid() != 0:
        yield tmp_path
        return
    # The test makes its own world-reachable directory: it must not depend on TMPDIR's mode.
    directory = Path(tempfile.mkdtemp(prefix="jitpim-ledger-test-", dir=_shared_temp_root()))
    os.chmod(directory, 0o755)
    os.chown(directory, NOBODY, NOBODY)
    assert _reachable_by_others(directory)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


def test_the_workdir_is_reachable_by_nobody_even_under_a_private_tmpdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read-only-ledger tests run as nobody; with TMPDIR private (0700), their directory still works."""
    private = tmp_path / "private-tmp"
    private.mkdir(mode=0o700)
    monkeypatch.setenv("TMPDIR", str(private))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    assert tempfile.gettempdir() == str(private)
    fixture = _workdir.__wrapped__(tmp_path)  # type: ignore[attr-defined]
    directory = next(fixture)
    try:
        assert not str(directory).startswith(str(private))
        assert _reachable_by_others(directory)
        if os.geteuid() == 0:
            assert _unprivileged(lambda: {"listed": os.listdir(directory)}) == {"listed": []}
    finally:
        fixture.close()


def _try_to_grant(path: Path, prepare: Callable[[], None]) -> dict[str, Any]:
    """The lifecycle's order: write ahead, then grant. Reports whether the grant ran and what was raised."""

    def action() -> dict[str, Any]:
        prepare()
        granted = []
        try:
            with Ledger(path) as ledger:
                ledger.begin(_row())
                granted.append(True)  # the grant call would be here
        except LedgerError as error:
            return {
                "granted": bool(granted),
                "error": type(error).__name__,
                "message": str(error),
                "hint": error.hint,
                "exit_code": error.exit_code,
            }
        return {"granted": bool(granted), "error": None}

    return _unprivileged(action)


def test_read_only_directory_for_a_new_ledger(workdir: Path) -> None:
    read_only = workdir / "ro"
    path = read_only / "ledger.sqlite3"

    def prepare() -> None:
        read_only.mkdir()
        read_only.chmod(0o555)

    outcome = _try_to_grant(path, prepare)
    assert outcome["granted"] is False
    assert outcome["error"] == "LedgerError"
    assert outcome["exit_code"] == 79
    assert str(path) in outcome["message"]
    assert "Permission denied" in outcome["message"]
    assert "nothing was granted" in outcome["hint"]
    assert not path.exists()


def test_read_only_directory_for_an_existing_ledger(workdir: Path) -> None:
    directory = workdir / "state"
    path = directory / "ledger.sqlite3"

    def prepare() -> None:
        Ledger(path).close()  # a healthy ledger; closing removes its -wal/-shm files
        directory.chmod(0o555)  # ...which now cannot be created again

    outcome = _try_to_grant(path, prepare)
    assert outcome["granted"] is False
    assert outcome["error"] == "LedgerError"
    assert str(path) in outcome["message"]
    assert MARKER not in outcome["message"]


def test_read_only_ledger_file(workdir: Path) -> None:
    path = workdir / "ledger.sqlite3"

    def prepare() -> None:
        Ledger(path).close()
        path.chmod(0o400)

    outcome = _try_to_grant(path, prepare)
    assert outcome["granted"] is False
    assert outcome["error"] == "LedgerError"
    assert str(path) in outcome["message"]
    # It fails at open, before any planning work, not first at begin().
    assert "cannot open the ledger: attempt to write a readonly database" in outcome["message"]
    assert MARKER not in outcome["message"]


def test_a_read_only_ledger_can_still_be_viewed(workdir: Path) -> None:
    path = workdir / "ledger.sqlite3"

    def action() -> dict[str, Any]:
        with Ledger(path) as ledger:
            ledger.begin(_row())
        path.chmod(0o400)
        with Ledger(path, read_only=True) as viewer:
            leases = [lease["lease_id"] for lease in viewer.open_leases()]
            verified = viewer.verify_chain().ok
            try:
                viewer.append_event(None, "ledger.noted")
            except LedgerError as error:
                refused = str(error)
            else:
                refused = ""
        return {"leases": leases, "verified": verified, "refused": refused}

    outcome = _unprivileged(action)
    assert outcome == {
        "leases": ["run-3/rbac/contributor"],
        "verified": True,
        "refused": f"{path}: cannot write the ledger: attempt to write a readonly database",
    }


def test_read_only_needs_an_existing_ledger(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="no ledger at this path"):
        Ledger(tmp_path / "missing.sqlite3", read_only=True)
    assert not (tmp_path / "missing.sqlite3").exists()


def test_parent_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    with pytest.raises(LedgerError, match="Not a directory"):
        Ledger(blocker / "ledger.sqlite3")


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    path.write_bytes(b"this is not sqlite, it is a text file that someone put here by mistake\n" * 20)
    with pytest.raises(LedgerError, match="not a database") as caught:
        Ledger(path)
    assert str(path) in str(caught.value)


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    with Ledger(path) as ledger:
        ledger.begin(_row())
    raw = sqlite3.connect(path)
    with raw:
        raw.execute(
            "INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)",
            (LATEST_VERSION + 1, "2031-01-01T00:00:00.000000Z", "from the future"),
        )
    raw.close()

    with pytest.raises(LedgerError) as caught:
        Ledger(path)
    message = str(caught.value)
    assert f"schema version {LATEST_VERSION + 1}" in message
    assert f"newer than this jitpim supports ({LATEST_VERSION})" in message
    assert "Upgrade jitpim" in caught.value.hint
    assert caught.value.exit_code == 79

    raw = sqlite3.connect(path)
    try:
        assert raw.execute("SELECT MAX(version) FROM schema_version").fetchone() == (LATEST_VERSION + 1,)
        assert raw.execute("SELECT COUNT(*) FROM leases").fetchone() == (1,)
    finally:
        raw.close()


def test_a_body_json_cannot_carry_is_refused_before_writing(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite3") as ledger:
        ledger.begin(_row())
        with pytest.raises(LedgerError, match="not JSON-serialisable"):
            ledger.append_event("run-3/rbac/contributor", "command.finished", {"at": object()})
        with pytest.raises(LedgerError, match="JSON-serialisable"):
            ledger.update("run-3/rbac/contributor", data={"nan": float("nan")})
        assert len(ledger.events()) == 1
        assert ledger.verify_chain().ok


def test_status_and_audit_list_read_a_ledger_this_user_cannot_write(workdir: Path, tmp_path: Path) -> None:
    """A read-only ledger (file and folder: an auditor's copy, a read-only mount) is still listed and shown;
    only writing commands refuse it."""
    from click.testing import CliRunner

    from jitpim.cli import cli

    folder = workdir / "ro"
    path = folder / "ledger.sqlite3"
    # Every module the commands import, imported now: the child may not reach this interpreter's files.
    warm = tmp_path / "warm.sqlite3"
    with Ledger(warm) as ledger:
        ledger.begin(_row())
    for args in (["audit", "list"], ["audit", "show", "run-3/rbac/contributor"], ["status"], ["status", "--all"]):
        CliRunner().invoke(cli, args, env={"JITPIM_LEDGER": str(warm)}, catch_exceptions=False)

    def action() -> dict[str, Any]:
        folder.mkdir()
        with Ledger(path) as ledger:
            ledger.begin(_row())
        path.chmod(0o444)
        folder.chmod(0o555)
        env = {"JITPIM_LEDGER": str(path), "HOME": str(workdir)}
        results = {}
        for args in (
            ["audit", "list"],
            ["audit", "show", "run-3/rbac/contributor"],
            ["audit", "list", "-o", "json"],
            ["status"],
            ["status", "--all", "-o", "json"],
        ):
            result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
            results[" ".join(args)] = (result.exit_code, result.output)
        return {"results": results, "files": sorted(p.name for p in folder.iterdir())}

    outcome = _unprivileged(action)
    for command, (code, output) in outcome["results"].items():
        assert code == 0, (command, output)
        assert "run-3/rbac/contributor" in output
    assert outcome["files"] == ["ledger.sqlite3"]  # nothing was created beside it
