"""Offline verification of a ledger: the hash chain, every summary signature, and what each summary covers.

Reads the raw rows (no JSON parsing of event bodies: an event's hash is recomputed by splicing its stored
canonical body into the envelope text, which is byte-identical to what was hashed when it was appended, so
any edit of a stored byte, even whitespace, changes the hash). Stops at the **first broken link** and names
it: the event seq, the lease, and what happened to it:

    changed    an event's content (body, type, time, lease) or its prev_hash was edited
    deleted    an event is missing (a gap in seq, events gone from the end, or a renumbered chain)
    reordered  an event sits at another position than the one it was chained at
    signature  a summary is unsigned, signed by an untrusted key, or its signature does not verify
    mismatch   a signed summary lists an event whose hash differs from the chain's (the chain was rewritten)

Exported evidence files are checked by `verify_evidence.py`; `verify_path` picks the right one.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from jitpim.audit.canonical import GENESIS_HASH
from jitpim.audit.signing import PublicKey, Signature
from jitpim.audit.store import AuditStore
from jitpim.errors import AuditError, AuditVerificationError

__all__ = [
    "Problem",
    "VerifyReport",
    "check_summary_signature",
    "event_hash_from_text",
    "trusted_keys",
    "verify_ledger_file",
    "verify_path",
    "verify_rows_fast",
    "verify_store",
]

_SUMMARY: Final = "lease.summary"
_COLUMN_NAMES: Final = ("seq", "lease_id", "type", "at", "schema_version", "body", "prev_hash", "hash", "signature")
SQLITE_MAGIC: Final = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Problem:
    """The first broken link: what kind, where (`event seq 17` or `line 5`), and a sentence."""

    kind: str
    where: str
    message: str
    seq: int | None = None
    line: int | None = None
    lease_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "where": self.where,
            "message": self.message,
            "seq": self.seq,
            "line": self.line,
            "lease_id": self.lease_id,
        }


@dataclass
class VerifyReport:
    """What was checked and the first problem found (None when everything verified)."""

    source: str
    kind: str  # "ledger" | "evidence"
    checked: int = 0  # events (ledger) or records (evidence file)
    signatures: int = 0  # signatures verified
    trusted: bool = True  # False when only keys embedded in the file itself were available
    key_ids: list[str] = field(default_factory=list)
    problem: Problem | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source": self.source,
            "kind": self.kind,
            "checked": self.checked,
            "signatures": self.signatures,
            "trusted_keys": self.trusted,
            "key_ids": self.key_ids,
            "problem": self.problem.to_json() if self.problem else None,
            "notes": self.notes,
        }

    def raise_for_problem(self) -> None:
        if self.problem is not None:
            raise AuditVerificationError(
                f"{self.problem.where}: {self.problem.message}",
                target=self.source,
                hint="The audit trail was altered after it was written, or checked with the wrong public key.",
            )


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def event_hash_from_text(
    prev_hash: str, seq: Any, lease_id: Any, event_type: Any, at: Any, schema_version: Any, body_text: str
) -> str:
    """sha256(prev_hash || canonical envelope) with the stored body text spliced in verbatim (see above)."""
    import hashlib

    material = (
        f'{{"at":{_dump(at)},"body":{body_text},"lease_id":{_dump(lease_id)},'
        f'"schema_version":{_dump(schema_version)},"seq":{_dump(seq)},"type":{_dump(event_type)}}}'
    )
    digest = hashlib.sha256(prev_hash.encode("ascii", errors="replace"))
    digest.update(material.encode("utf-8", errors="surrogatepass"))
    return digest.hexdigest()


def check_summary_signature(
    signature_text: str | None, body_text: str, keys: Mapping[str, PublicKey]
) -> tuple[bool, str, str | None]:
    """(ok, reason, key_id) for one stored summary: present, parseable, trusted key, valid over the body."""
    if signature_text is None:
        return False, "is not signed", None
    try:
        signature = Signature.from_text(signature_text)
    except AuditError as exc:
        return False, f"has an unreadable signature ({exc.message})", None
    key = keys.get(signature.key_id)
    if key is None:
        return False, f"is signed by key {signature.key_id}, which is not a trusted key", signature.key_id
    if not key.verify(signature, body_text.encode("utf-8", errors="surrogatepass")):
        return False, f"has a signature that does not verify with key {signature.key_id}", signature.key_id
    return True, "signature verified", signature.key_id


def _classify_prev(rows: Sequence[Sequence[Any]], index: int, expected_prev: str) -> tuple[str, str]:
    """Why row `index`'s prev_hash does not link to the event before it."""
    row = rows[index]
    seq = row[0]
    for later in range(index + 1, len(rows)):
        if rows[later][6] == expected_prev:
            return (
                "reordered",
                f"event seq {seq} is out of place: the event chained after seq {seq - 1} is at seq {rows[later][0]}",
            )
    earlier = {rows[i][7]: rows[i][0] for i in range(index - 1)}
    if row[6] in earlier:
        gone = earlier[row[6]]
        return "deleted", f"events after seq {gone} up to seq {seq} were removed and the rest renumbered"
    if row[6] == GENESIS_HASH and index > 0:
        return "reordered", f"event seq {seq} was chained as the first event"
    return "changed", f"the prev_hash of event seq {seq} was edited (it does not link to seq {seq - 1})"


def _summary_problem(row: Sequence[Any], hashes: Sequence[str]) -> Problem | None:
    """A signed summary must list events that are in the chain with the same hashes, for its own lease."""
    seq, lease_id = row[0], row[1]
    try:
        body = json.loads(row[5])
    except ValueError:
        return Problem("changed", f"event seq {seq}", "the summary body is not JSON", seq=seq, lease_id=lease_id)
    if body.get("lease_id") != lease_id:
        return Problem("mismatch", f"event seq {seq}", "the summary names another lease", seq=seq, lease_id=lease_id)
    for listed in body.get("events") or []:
        at = listed.get("seq") if isinstance(listed, Mapping) else None
        if not isinstance(at, int) or not 1 <= at < seq or hashes[at - 1] != listed.get("hash"):
            return Problem(
                "mismatch",
                f"event seq {seq}",
                f"the signed summary of lease {lease_id} lists event seq {at} with a hash the chain does not have "
                "(the chain was rewritten after the summary was signed)",
                seq=seq,
                lease_id=lease_id,
            )
    return None


def verify_rows_fast(
    rows: Sequence[Sequence[Any]],
    head: tuple[int, str] | None,
    *,
    keys: Mapping[str, PublicKey] | None,
    report: VerifyReport,
) -> VerifyReport:
    """Verify raw event rows (`seq, lease_id, type, at, schema_version, body, prev_hash, hash, signature`, in
    seq order) against the chain head; `keys=None` skips signature checks."""
    prev = GENESIS_HASH
    hashes: list[str] = []
    for index, row in enumerate(rows):
        seq, lease_id = row[0], row[1]
        expected = index + 1
        where = f"event seq {expected}"
        if seq != expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
            report.problem = Problem("deleted", where, f"event seq {missing} is missing (deleted)", seq=expected)
            return report
        if row[6] != prev:
            kind, message = _classify_prev(rows, index, prev)
            report.problem = Problem(kind, where, message, seq=seq, lease_id=lease_id)
            return report
        if event_hash_from_text(prev, seq, lease_id, row[2], row[3], row[4], row[5]) != row[7]:
            report.problem = Problem(
                "changed",
                where,
                f"the content of event seq {seq} was edited (its hash does not match)",
                seq=seq,
                lease_id=lease_id,
            )
            return report
        if row[2] == _SUMMARY and keys is not None:
            ok, reason, key_id = check_summary_signature(row[8], row[5], keys)
            if not ok:
                report.problem = Problem(
                    "signature", where, f"the summary of lease {lease_id} {reason}", seq=seq, lease_id=lease_id
                )
                return report
            if key_id is not None and key_id not in report.key_ids:
                report.key_ids.append(key_id)
            report.signatures += 1
            mismatch = _summary_problem(row, hashes)
            if mismatch is not None:
                report.problem = mismatch
                return report
        hashes.append(row[7])
        prev = row[7]
        report.checked += 1
    last = len(rows)
    if head is None:
        report.problem = Problem("deleted", "chain head", "the chain head record is missing")
    elif head[0] > last:
        report.problem = Problem(
            "deleted",
            f"event seq {last + 1}",
            f"events after seq {last} are missing (the chain head records seq {head[0]})",
            seq=last + 1,
        )
    elif head[0] < last:
        report.problem = Problem(
            "changed",
            f"event seq {head[0] + 1}",
            f"events after seq {head[0]} were added outside the ledger",
            seq=head[0] + 1,
        )
    elif head[1] != prev:
        report.problem = Problem(
            "changed", f"event seq {last}", f"the chain head does not match the hash of seq {last}"
        )
    return report


def _read_rows(conn: Any) -> tuple[list[tuple[Any, ...]], tuple[int, str] | None]:
    # Rows are read by column name: sqlite3.Row and psycopg's dict rows both support it.
    query = f"SELECT {', '.join(_COLUMN_NAMES)} FROM events ORDER BY seq"  # noqa: S608 - fixed column names
    rows = [tuple(row[name] for name in _COLUMN_NAMES) for row in conn.execute(query, ()).fetchall()]
    found = conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1", ()).fetchone()
    head = (int(found["seq"]), str(found["hash"])) if found is not None else None
    return rows, head


def verify_store(store: AuditStore, *, keys: Mapping[str, PublicKey] | None, source: str | None = None) -> VerifyReport:
    """Verify an open ledger (SQLite or PostgreSQL) from one consistent snapshot."""
    report = VerifyReport(source or repr(store), "ledger")
    with store.read_transaction() as conn:
        rows, head = _read_rows(conn)
    return verify_rows_fast(rows, head, keys=keys, report=report)


def verify_ledger_file(path: Path, *, keys: Mapping[str, PublicKey] | None) -> VerifyReport:
    """Verify a SQLite ledger file read-only (a copy kept as evidence; any schema version)."""
    report = VerifyReport(str(path), "ledger")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        conn.row_factory = sqlite3.Row
    except sqlite3.Error as error:
        raise AuditError(f"cannot open the ledger: {error}", target=str(path)) from None
    try:
        rows, head = _read_rows(conn)
    except sqlite3.Error as error:
        raise AuditError(f"cannot read the ledger: {error}", target=str(path)) from None
    finally:
        conn.close()
    return verify_rows_fast(rows, head, keys=keys, report=report)


def verify_path(path: Path, *, keys: Mapping[str, PublicKey] | None) -> VerifyReport:
    """A SQLite ledger file or an evidence (JSON lines) file, told apart by their first bytes."""
    try:
        with path.open("rb") as handle:
            start = handle.read(len(SQLITE_MAGIC))
    except OSError as error:
        raise AuditError(f"cannot read: {error.strerror or type(error).__name__}", target=str(path)) from None
    if start == SQLITE_MAGIC:
        return verify_ledger_file(path, keys=keys)
    from jitpim.audit.verify_evidence import verify_evidence_file

    return verify_evidence_file(path, keys=keys)


def trusted_keys(keys: Iterable[PublicKey]) -> dict[str, PublicKey]:
    return {key.key_id: key for key in keys}
