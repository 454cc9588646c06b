"""Tamper evidence: flipping any byte, deleting or reordering any record, or a wrong signature makes
verification fail and name the place, in a ledger and in an exported evidence file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from jitpim.audit import Ledger
from jitpim.audit.canonical import canonical_json, chain_hash
from jitpim.audit.events import event_material
from jitpim.audit.evidence_file import write_evidence_file
from jitpim.audit.signing import Signer
from jitpim.audit.summary import finalize_lease
from jitpim.audit.verify import VerifyReport, trusted_keys, verify_ledger_file
from jitpim.audit.verify_evidence import verify_evidence_lines, verify_path


def _lease(lease_id: str) -> dict[str, Any]:
    return {
        "lease_id": lease_id,
        "state": "requested",
        "kind": "rbac",
        "role": "Key Vault Secrets Officer",
        "role_id": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
        "scope": "/subscriptions/1b2c3d4e-5f60-4718-9a0b-c1d2e3f40516/resourceGroups/rg-payments",
        "principal_id": "2b3c4d5e-6f70-4b8c-9d0e-1f2a3b4c5d6e",
        "mode": "direct",
        "justification": "deploy ünïcode ✓",
        "run": {"repository": "contoso/payments", "run_id": "9100200300", "run_attempt": 1},
    }


def _ledger(path: Path, signer: Signer, leases: int = 2) -> list[dict[str, Any]]:
    records = []
    with Ledger(path) as ledger:
        for n in range(leases):
            lid = f"gh-9100200300-1/rbac/lease-{n}"
            ledger.begin(_lease(lid), details={"decision": {"allowed": True, "reasons": []}})
            ledger.transition(
                lid,
                "granted",
                "lease.granted",
                {"grant": {"kind": "rbac", "status": "active", "request_id": f"name-{n}"}},
                request_ids={"request_id": f"name-{n}"},
            )
            ledger.append_event(lid, "command.finished", {"exit_code": 0, "signal": None})
            ledger.transition(lid, "releasing", "lease.releasing", {})
            ledger.transition(lid, "released", "lease.released", {"outcome": "released"}, outcome="released")
            records.append(finalize_lease(ledger, lid, signer))
    return records


def _raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for trigger in ("events_append_only_update", "events_append_only_delete", "events_signature_once"):
        conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    return conn


def _verify(path: Path, signer: Signer) -> VerifyReport:
    return verify_ledger_file(path, keys=trusted_keys([signer.public]))


@pytest.fixture(name="setup")
def _setup(tmp_path: Path) -> tuple[Path, Signer, list[dict[str, Any]]]:
    signer = Signer.generate()
    path = tmp_path / "ledger.sqlite3"
    records = _ledger(path, signer)
    assert _verify(path, signer).ok
    return path, signer, records


def _copy(path: Path, target: Path) -> Path:
    source = sqlite3.connect(path)
    dest = sqlite3.connect(target)
    source.backup(dest)
    source.close()
    dest.close()
    return target


def test_flipping_any_byte_of_an_event_body_names_that_event(setup: tuple[Path, Signer, Any], tmp_path: Path) -> None:
    path, signer, _ = setup
    with sqlite3.connect(path) as conn:
        body = conn.execute("SELECT body FROM events WHERE seq = 2").fetchone()[0].encode("utf-8")
    for index in range(len(body)):
        flipped = bytearray(body)
        flipped[index] ^= 0x01
        copy = _copy(path, tmp_path / f"copy-{index}.sqlite3")
        with _raw(copy) as raw:
            raw.execute("UPDATE events SET body = ? WHERE seq = 2", (bytes(flipped).decode("utf-8", "replace"),))
        report = _verify(copy, signer)
        assert not report.ok, index
        assert report.problem is not None and report.problem.seq == 2 and report.problem.kind == "changed", index
        copy.unlink()


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("type", "lease.effective"),
        ("at", "2020-01-01T00:00:00.000000Z"),
        ("lease_id", "gh-9100200300-1/rbac/lease-1"),
        ("schema_version", 2),
        ("hash", "f" * 64),
        ("prev_hash", "e" * 64),
    ],
)
def test_editing_any_column_names_that_event(setup: tuple[Path, Signer, Any], column: str, value: Any) -> None:
    path, signer, _ = setup
    with _raw(path) as raw:
        raw.execute(f"UPDATE events SET {column} = ? WHERE seq = 3", (value,))
    report = _verify(path, signer)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.seq) == ("changed", 3), report.problem


def test_a_deleted_event_is_named(setup: tuple[Path, Signer, Any]) -> None:
    path, signer, _ = setup
    with _raw(path) as raw:
        raw.execute("DELETE FROM events WHERE seq = 4")
    report = _verify(path, signer)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.seq) == ("deleted", 4)
    assert "seq 4 is missing" in report.problem.message


def test_deleting_the_last_events_is_caught_by_the_chain_head(setup: tuple[Path, Signer, Any]) -> None:
    path, signer, _ = setup
    with _raw(path) as raw:
        last = raw.execute("SELECT MAX(seq) FROM events").fetchone()[0]
        raw.execute("DELETE FROM events WHERE seq >= ?", (last - 1,))
    report = _verify(path, signer)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.seq) == ("deleted", last - 1)


def test_reordered_events_are_named(setup: tuple[Path, Signer, Any]) -> None:
    path, signer, _ = setup
    columns = "lease_id, type, at, schema_version, body, prev_hash, hash, signature"
    with _raw(path) as raw:
        three = raw.execute(f"SELECT {columns} FROM events WHERE seq = 3").fetchone()
        four = raw.execute(f"SELECT {columns} FROM events WHERE seq = 4").fetchone()
        assignments = ", ".join(f"{c.strip()} = ?" for c in columns.split(","))
        raw.execute("UPDATE events SET hash = 'x' WHERE seq = 3")  # free the UNIQUE hash first
        raw.execute(f"UPDATE events SET {assignments} WHERE seq = 4", three)
        raw.execute(f"UPDATE events SET {assignments} WHERE seq = 3", four)
    report = _verify(path, signer)
    assert report.problem is not None
    assert (report.problem.kind, report.problem.seq) == ("reordered", 3), report.problem
    assert "seq 4" in report.problem.message


def test_a_wrong_or_missing_signature_is_named(setup: tuple[Path, Signer, Any], tmp_path: Path) -> None:
    path, signer, _ = setup
    forger = Signer.generate()
    with sqlite3.connect(path) as conn:
        seq, body = conn.execute("SELECT seq, body FROM events WHERE type = 'lease.summary' ORDER BY seq").fetchone()
    # A signature by another key: not trusted.
    copy = _copy(path, tmp_path / "forged.sqlite3")
    with _raw(copy) as raw:
        raw.execute("UPDATE events SET signature = ? WHERE seq = ?", (forger.sign(body.encode()).to_text(), seq))
    report = _verify(copy, signer)
    assert report.problem is not None and (report.problem.kind, report.problem.seq) == ("signature", seq)
    assert forger.key_id in report.problem.message and "not a trusted key" in report.problem.message
    # The right key id but bytes that do not verify.
    bad = json.loads(signer.sign(b"something else").to_text())
    copy = _copy(path, tmp_path / "bad.sqlite3")
    with _raw(copy) as raw:
        raw.execute("UPDATE events SET signature = ? WHERE seq = ?", (canonical_json(bad), seq))
    report = _verify(copy, signer)
    assert (
        report.problem is not None
        and report.problem.kind == "signature"
        and "does not verify" in report.problem.message
    )
    # No signature at all.
    copy = _copy(path, tmp_path / "unsigned.sqlite3")
    with _raw(copy) as raw:
        raw.execute("UPDATE events SET signature = NULL WHERE seq = ?", (seq,))
    report = _verify(copy, signer)
    assert report.problem is not None and "is not signed" in report.problem.message
    # Checked against a key that did not sign it.
    report = verify_ledger_file(path, keys=trusted_keys([forger.public]))
    assert report.problem is not None and report.problem.kind == "signature"


def test_a_rewritten_chain_is_caught_by_the_signed_summaries(setup: tuple[Path, Signer, Any]) -> None:
    """Edit an event and recompute every hash after it (what someone without the signing key can do)."""
    path, signer, _ = setup
    with _raw(path) as raw:
        rows = raw.execute("SELECT seq, lease_id, type, at, schema_version, body FROM events ORDER BY seq").fetchall()
        prev = "0" * 64
        raw.execute("UPDATE events SET hash = 'tmp-' || seq")
        for seq, lease_id, event_type, at, version, body in rows:
            if seq == 2:
                body = body.replace('"request_id":"name-0"', '"request_id":"name-X"')
            material = event_material(
                seq=seq, lease_id=lease_id, event_type=event_type, at=at, schema_version=version, body=json.loads(body)
            )
            digest = chain_hash(prev, material)
            raw.execute("UPDATE events SET body = ?, prev_hash = ?, hash = ? WHERE seq = ?", (body, prev, digest, seq))
            prev = digest
        raw.execute("UPDATE chain_head SET hash = ? WHERE id = 1", (prev,))
    report = _verify(path, signer)
    assert report.problem is not None
    assert report.problem.kind == "mismatch" and report.problem.seq == 6, report.problem  # lease-0's summary
    assert "seq 2" in report.problem.message


# -- evidence files ---------------------------------------------------------------------------------------------


def _evidence(tmp_path: Path, signer: Signer, *, sign_end: bool = True) -> tuple[Path, list[dict[str, Any]]]:
    records = _ledger(tmp_path / "source.sqlite3", signer, leases=2)
    path = write_evidence_file(
        records, tmp_path / "run.jsonl", content="summaries", signer=signer if sign_end else None
    )
    return path, records


def test_flipping_any_byte_of_an_evidence_file_fails(tmp_path: Path) -> None:
    signer = Signer.generate()
    path, _ = _evidence(tmp_path, signer)
    data = path.read_bytes()
    keys = trusted_keys([signer.public])
    assert verify_path(path, keys=keys).ok
    for index in range(len(data)):
        flipped = bytearray(data)
        flipped[index] ^= 0x01
        path.write_bytes(bytes(flipped))
        report = verify_path(path, keys=keys)
        assert not report.ok, f"byte {index} ({chr(data[index])!r}) flipped and still verified"
        assert report.problem is not None and report.problem.line is not None
    path.write_bytes(data)
    assert verify_path(path, keys=keys).ok


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_deleted_reordered_and_cut_off_records_are_named(tmp_path: Path) -> None:
    signer = Signer.generate()
    path, _ = _evidence(tmp_path, signer)
    keys = trusted_keys([signer.public])
    lines = _lines(path)
    assert len(lines) == 4  # header, two records, end

    deleted = verify_evidence_lines([lines[0], lines[2], lines[3]], source="x", keys=keys)
    assert deleted.problem is not None and (deleted.problem.kind, deleted.problem.line) == ("deleted", 2)

    swapped = verify_evidence_lines([lines[0], lines[2], lines[1], lines[3]], source="x", keys=keys)
    assert swapped.problem is not None and (swapped.problem.kind, swapped.problem.line) == ("reordered", 2)
    assert "moved to line 3" in swapped.problem.message

    cut = verify_evidence_lines(lines[:3], source="x", keys=keys)
    assert cut.problem is not None and cut.problem.kind == "deleted" and "cut off" in cut.problem.message

    last_dropped = verify_evidence_lines([lines[0], lines[1], lines[3]], source="x", keys=keys)
    assert last_dropped.problem is not None and last_dropped.problem.kind == "deleted"

    # Dropping the last record and rewriting the end line to match: only the end signature gives it away.
    end = json.loads(lines[3])
    second = json.loads(lines[1])
    forged_end = canonical_json({**end, "count": 1, "last_hash": second["hash"]})
    forged = verify_evidence_lines([lines[0], lines[1], forged_end], source="x", keys=keys)
    assert forged.problem is not None and (forged.problem.kind, forged.problem.line) == ("signature", 3)

    duplicated = verify_evidence_lines([lines[0], lines[1], lines[1], lines[2], lines[3]], source="x", keys=keys)
    assert duplicated.problem is not None and duplicated.problem.line == 3


def test_a_record_with_a_wrong_signature_is_named_even_when_the_file_chain_is_rebuilt(tmp_path: Path) -> None:
    signer = Signer.generate()
    forger = Signer.generate()
    records = _ledger(tmp_path / "source.sqlite3", signer)
    tampered = [dict(r) for r in records]
    tampered[1]["justification"] = "nothing to see"
    tampered[1]["signature"] = forger.sign_json(
        {k: v for k, v in tampered[1].items() if k not in ("ledger", "signature")}
    ).to_json()
    # The forger rebuilds the whole file (new chain, end line signed with their own key).
    path = write_evidence_file(tampered, tmp_path / "forged.jsonl", content="summaries", signer=forger)
    report = verify_path(path, keys=trusted_keys([signer.public]))
    assert report.problem is not None and (report.problem.kind, report.problem.line) == ("signature", 3)
    assert records[1]["lease_id"] == report.problem.lease_id
    # Without a trusted key only the key embedded in the file (the forger's) is known: the genuine record
    # signed by the real key no longer verifies either.
    assert not verify_path(path, keys=None).ok
    # An untouched file checks out against its embedded key, and the report says that proves integrity only.
    genuine = write_evidence_file(records, tmp_path / "genuine.jsonl", content="summaries", signer=signer)
    report = verify_path(genuine, keys=None)
    assert report.ok and not report.trusted and "embedded" in report.notes[0]


def test_an_events_export_keeps_the_ledger_hashes(tmp_path: Path) -> None:
    signer = Signer.generate()
    path = tmp_path / "ledger.sqlite3"
    _ledger(path, signer)
    with Ledger(path) as ledger:
        events = [dict(e) for e in ledger.events()]
    out = write_evidence_file(events, tmp_path / "events.jsonl", content="events", signer=signer)
    keys = trusted_keys([signer.public])
    report = verify_path(out, keys=keys)
    assert report.ok and report.checked == len(events) and report.signatures == 3, report.to_json()
    events[3]["body"] = {**events[3]["body"], "exit_code": 1}
    rebuilt = write_evidence_file(events, tmp_path / "edited.jsonl", content="events", signer=signer)
    report = verify_path(rebuilt, keys=keys)
    assert report.problem is not None and report.problem.line == 5 and "ledger hash" in report.problem.message
