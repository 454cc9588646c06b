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

import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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


# Printable ASCII without `"` and `\\`: canonical JSON writes such a string as itself between quotes.
_PLAIN: Final = re.compile(r"[ !#-\[\]-~]*")


def _json_text(value: Any) -> str:
    if type(value) is str and _PLAIN.fullmatch(value):
        return '"' + value + '"'
    if type(value) is int:
        return str(value)
    return _dump(value)


class _Envelope:
    """The canonical envelope text of stored events, built by splicing (see the module docstring). Lease ids,
    types and versions repeat across events, so their JSON text is cached."""

    def __init__(self) -> None:
        self._cache: dict[tuple[type, Any], str] = {}

    def _cached(self, value: Any) -> str:
        key = (type(value), value)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = _json_text(value)
        return found

    def hash(self, prev_hash: str, seq: Any, lease_id: Any, event_type: Any, at: Any, version: Any, body: str) -> str:
        material = (
            '{"at":' + _json_text(at) + ',"body":' + body + ',"lease_id":' + self._cached(lease_id)
            + ',"schema_version":' + self._cached(version) + ',"seq":' + _json_text(seq)
            + ',"type":' + self._cached(event_type) + "}"
        )  # fmt: skip
        return hashlib.sha256((prev_hash + material).encode("utf-8", errors="surrogatepass")).hexdigest()


def event_hash_from_text(
    prev_hash: str, seq: Any, lease_id: Any, event_type: Any, at: Any, schema_version: Any, body_text: str
) -> str:
    """sha256(prev_hash || canonical envelope) with the stored body text spliced in verbatim (see above)."""
    return _Envelope().hash(prev_hash, seq, lease_id, event_type, at, schema_version, body_text)


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


_BATCH: Final = 256


def _check_summaries(
    batch: Sequence[tuple[Sequence[Any], str]], hashes: Sequence[str], keys: Mapping[str, PublicKey]
) -> list[tuple[int, Problem | None, str | None]]:
    """(seq, problem or None, key id) for each summary row: its signature, then what it lists.

    `expected` is the canonical `"events":[...]` text of the lease's events before the summary as chained:
    when the signed body contains it verbatim (the normal case), it lists exactly those events and parsing
    the body is skipped; otherwise (another writer appended to the lease while it was summarised, or
    tampering) the body is parsed and every listed event checked against the chain."""
    results: list[tuple[int, Problem | None, str | None]] = []
    for row, expected in batch:
        seq, lease_id = row[0], row[1]
        ok, reason, key_id = check_summary_signature(row[8], row[5], keys)
        if not ok:
            problem = Problem(
                "signature", f"event seq {seq}", f"the summary of lease {lease_id} {reason}", seq=seq, lease_id=lease_id
            )
            results.append((seq, problem, key_id))
            continue
        body = str(row[5])
        if expected in body and '"lease_id":' + _json_text(lease_id) + "," in body:
            results.append((seq, None, key_id))
        else:
            results.append((seq, _summary_problem(row, hashes), key_id))
    return results


def _walk(rows: Sequence[Sequence[Any]], report: VerifyReport, on_summary: Any) -> tuple[Problem | None, str]:
    """Walk the chain; (first chain problem or None, hash of the last event checked)."""
    prev = GENESIS_HASH
    envelope = _Envelope()
    for index, row in enumerate(rows):
        seq, lease_id = row[0], row[1]
        expected = index + 1
        where = f"event seq {expected}"
        if seq != expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
            return Problem("deleted", where, f"event seq {missing} is missing (deleted)", seq=expected), prev
        if row[6] != prev:
            kind, message = _classify_prev(rows, index, prev)
            return Problem(kind, where, message, seq=seq, lease_id=lease_id), prev
        if envelope.hash(prev, seq, lease_id, row[2], row[3], row[4], row[5]) != row[7]:
            message = f"the content of event seq {seq} was edited (its hash does not match)"
            return Problem("changed", where, message, seq=seq, lease_id=lease_id), prev
        on_summary(index, row)
        prev = row[7]
        report.checked += 1
    return None, prev


def _head_problem(head: tuple[int, str] | None, last: int, prev: str) -> Problem | None:
    if head is None:
        return Problem("deleted", "chain head", "the chain head record is missing")
    if head[0] > last:
        message = f"events after seq {last} are missing (the chain head records seq {head[0]})"
        return Problem("deleted", f"event seq {last + 1}", message, seq=last + 1)
    if head[0] < last:
        message = f"events after seq {head[0]} were added outside the ledger"
        return Problem("changed", f"event seq {head[0] + 1}", message, seq=head[0] + 1)
    if head[1] != prev:
        return Problem("changed", f"event seq {last}", f"the chain head does not match the hash of seq {last}")
    return None


def verify_rows_fast(
    rows: Sequence[Sequence[Any]],
    head: tuple[int, str] | None,
    *,
    keys: Mapping[str, PublicKey] | None,
    report: VerifyReport,
) -> VerifyReport:
    """Verify raw event rows (`seq, lease_id, type, at, schema_version, body, prev_hash, hash, signature`, in
    seq order) against the chain head; `keys=None` skips signature checks.

    Summary signatures are checked on worker threads while the chain is walked (Ed25519 verification
    releases the GIL), and the earliest problem of either kind is the one reported."""
    hashes = [str(row[7]) for row in rows]  # read by summary checks only below the summary's own seq
    futures: list[Future[list[tuple[int, Problem | None, str | None]]]] = []
    pending: list[tuple[Sequence[Any], str]] = []
    workers = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) if keys is not None else None
    listed: dict[Any, list[str]] = {}  # lease -> canonical text of its events, as a summary lists them

    def on_summary(index: int, row: Sequence[Any]) -> None:
        if workers is None:
            return
        if row[2] != _SUMMARY:
            item = '{"at":' + _json_text(row[3]) + ',"hash":"' + str(row[7]) + '","seq":' + _json_text(row[0])
            listed.setdefault(row[1], []).append(item + ',"type":' + _json_text(row[2]) + "}")
            return
        pending.append((row, '"events":[' + ",".join(listed.get(row[1], ())) + "]"))
        if len(pending) >= _BATCH:
            futures.append(workers.submit(_check_summaries, list(pending), hashes, keys or {}))
            pending.clear()

    try:
        chain_problem, prev = _walk(rows, report, on_summary)
        if workers is not None and pending:
            futures.append(workers.submit(_check_summaries, list(pending), hashes, keys or {}))
        results = [result for future in futures for result in future.result()]
    finally:
        if workers is not None:
            workers.shutdown(wait=True)
    summary_problems = [problem for _, problem, _ in results if problem is not None]
    report.signatures = sum(1 for _, problem, _ in results if problem is None or problem.kind == "mismatch")
    report.key_ids = sorted({key_id for _, _, key_id in results if key_id is not None})
    candidates = [p for p in (chain_problem, *summary_problems) if p is not None]
    if chain_problem is None:
        head_problem = _head_problem(head, len(rows), prev)
        if head_problem is not None:
            candidates.append(head_problem)
    if candidates:
        report.problem = min(candidates, key=lambda p: p.seq if p.seq is not None else len(rows) + 1)
    return report


def _read_rows(conn: Any) -> tuple[list[tuple[Any, ...]], tuple[int, str] | None]:
    query = f"SELECT {', '.join(_COLUMN_NAMES)} FROM events ORDER BY seq"  # noqa: S608 - fixed column names
    found = conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1", ()).fetchone()
    fetch_tuples = getattr(conn, "fetch_tuples", None)  # the PostgreSQL ledger's fast path
    rows = fetch_tuples(query, ()) if callable(fetch_tuples) else conn.execute(query, ()).fetchall()
    if rows and isinstance(rows[0], Mapping):  # dict rows: values in the selected order
        rows = [tuple(row.values()) for row in rows]
    elif rows and not isinstance(rows[0], tuple):  # sqlite3.Row
        rows = [tuple(row) for row in rows]
    if found is None:
        return rows, None
    values = tuple(found.values()) if isinstance(found, Mapping) else tuple(found)
    return rows, (int(values[0]), str(values[1]))


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
