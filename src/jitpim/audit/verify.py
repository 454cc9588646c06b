"""Offline verification of a ledger: the hash chain, every summary signature, and what each summary covers.

Streams the raw rows through one cursor with flat memory (no JSON parsing of event bodies: an event's hash is
recomputed by splicing its stored canonical body into the envelope text, which is byte-identical to what was
hashed when it was appended, so any edit of a stored byte, even whitespace, changes the hash). Stops at the
**first broken link** and names it: the event seq, the lease, and what happened to it:

    changed     an event's content (body, type, time, lease) or its prev_hash was edited
    deleted     an event is missing (a gap in seq, events gone from the end, or a renumbered chain)
    reordered   an event sits at another position than the one it was chained at
    signature   a summary or checkpoint is unsigned, signed by an untrusted key, or does not verify
    mismatch    a signed summary lists an event whose hash differs from the chain's (the chain was rewritten)
    checkpoint  a checkpoint in the ledger does not attest the head before it
    truncated   the ledger ends before a checkpoint given with `--checkpoint` (its tail was cut off)
    rewritten   the event a given checkpoint attests has another hash (the ledger was rewritten)
    row         a `leases` row differs from the lease as the chain recorded it (edited outside jitpim)

Signatures: a checkpoint vouches for everything before it (its writer re-checked the chain since the previous
checkpoint before signing, see checkpoints.py), so the summaries a later checkpoint by the same key covers
need no check of their own; the latest checkpoint and what follows it are checked, on worker threads.

Exported evidence files are checked by `verify_evidence.py`, where `verify_path` picks the right one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jitpim.audit.canonical import GENESIS_HASH
from jitpim.audit.checkpoint import Checkpoint
from jitpim.audit.lease_rows import check_rows
from jitpim.audit.signing import PublicKey, Signature
from jitpim.audit.store import AuditStore
from jitpim.audit.verify_report import EVENT_COLUMNS, SQLITE_MAGIC, Problem, VerifyReport, plain_rows, stream_rows
from jitpim.errors import AuditError

__all__ = [
    "EVENT_COLUMNS",
    "SQLITE_MAGIC",
    "Problem",
    "VerifyReport",
    "check_summary_signature",
    "event_hash_from_text",
    "plain_rows",
    "stream_rows",
    "trusted_keys",
    "verify_ledger_file",
    "verify_rows_fast",
    "verify_store",
    "walk_chain",
]

_SUMMARY: Final = "lease.summary"
_CHECKPOINT: Final = "ledger.checkpoint"


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
            + ',"schema_version":' + self._cached(version)
            + ',"seq":' + (str(seq) if type(seq) is int else _json_text(seq))
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


# -- streaming the rows ---------------------------------------------------------------------------------------


def _one(lookup: Any, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    row = lookup.execute(sql, params).fetchone()
    if row is None:
        return None
    return tuple(row.values()) if isinstance(row, Mapping) else tuple(row)


def _classify_prev(lookup: Any, seq: int, row_prev: str, expected_prev: str) -> tuple[str, str]:
    """Why event `seq`'s prev_hash does not link to the event before it (asks the ledger where it can)."""
    if lookup is not None:
        later = _one(
            lookup, "SELECT seq FROM events WHERE prev_hash = ? AND seq > ? ORDER BY seq LIMIT 1", (expected_prev, seq)
        )
        if later is not None:
            return (
                "reordered",
                f"event seq {seq} is out of place: the event chained after seq {seq - 1} is at seq {later[0]}",
            )
        earlier = _one(lookup, "SELECT seq FROM events WHERE hash = ? AND seq < ?", (row_prev, seq - 1))
        if earlier is not None:
            return "deleted", f"events after seq {earlier[0]} up to seq {seq} were removed and the rest renumbered"
    if row_prev == GENESIS_HASH and seq > 1:
        return "reordered", f"event seq {seq} was chained as the first event"
    return "changed", f"the prev_hash of event seq {seq} was edited (it does not link to seq {seq - 1})"


def _listed_item(seq: Any, event_type: Any, at: Any, digest: Any) -> str:
    """One event as a summary lists it (`{"at","hash","seq","type"}` in canonical JSON)."""
    return (
        '{"at":' + _json_text(at) + ',"hash":"' + str(digest) + '","seq":' + _json_text(seq)
        + ',"type":' + _json_text(event_type) + "}"
    )  # fmt: skip


def _lease_events_text(lookup: Any, lease_id: Any, before: int) -> str:
    rows = lookup.execute(
        "SELECT seq, type, at, hash FROM events WHERE lease_id = ? AND seq < ? AND type <> ? ORDER BY seq",
        (lease_id, before, _SUMMARY),
    )
    return '"events":[' + ",".join(_listed_item(*row) for row in plain_rows(rows)) + "]"


def _listing_problem(seq: int, lease_id: Any, body_text: str, lookup: Any) -> Problem | None:
    """A signed summary must list events that are in the chain with the same hashes, for its own lease."""
    try:
        body = json.loads(body_text)
    except ValueError:
        return Problem("changed", f"event seq {seq}", "the summary body is not JSON", seq=seq, lease_id=lease_id)
    if not isinstance(body, Mapping) or body.get("lease_id") != lease_id:
        return Problem("mismatch", f"event seq {seq}", "the summary names another lease", seq=seq, lease_id=lease_id)
    for listed in body.get("events") or []:
        at = listed.get("seq") if isinstance(listed, Mapping) else None
        found = _one(lookup, "SELECT hash FROM events WHERE seq = ?", (at,)) if isinstance(at, int) else None
        if not isinstance(at, int) or not 1 <= at < seq or found is None or found[0] != listed.get("hash"):
            return Problem(
                "mismatch",
                f"event seq {seq}",
                f"the signed summary of lease {lease_id} lists event seq {at} with a hash the chain does not have "
                "(the chain was rewritten after the summary was signed)",
                seq=seq,
                lease_id=lease_id,
            )
    return None


@dataclass(frozen=True, slots=True)
class _Signed:
    """A summary or checkpoint whose signature is still to be checked (unless a later checkpoint covers it)."""

    seq: int
    lease_id: str | None
    what: str
    key_id: str | None
    signature: str | None
    body: str


def _check_signed(batch: Sequence[_Signed], keys: Mapping[str, PublicKey]) -> list[tuple[_Signed, Problem | None]]:
    results: list[tuple[_Signed, Problem | None]] = []
    for item in batch:
        ok, reason, _ = check_summary_signature(item.signature, item.body, keys)
        problem = None
        if not ok:
            subject = f"the summary of lease {item.lease_id}" if item.what == _SUMMARY else "the checkpoint"
            problem = Problem(
                "signature", f"event seq {item.seq}", f"{subject} {reason}", seq=item.seq, lease_id=item.lease_id
            )
        results.append((item, problem))
    return results


_CANONICAL_SIGNATURE: Final = '{"alg":"Ed25519","key_id":"'


def _key_id(signature: str | None) -> str | None:
    """The key id a stored signature names (read off its canonical text; parsed when it is not canonical)."""
    if signature is None:
        return None
    if signature.startswith(_CANONICAL_SIGNATURE):
        end = signature.find('"', len(_CANONICAL_SIGNATURE))
        if end > 0:
            return signature[len(_CANONICAL_SIGNATURE) : end]
    try:
        return Signature.from_text(signature).key_id
    except AuditError:
        return None


# Bounds on what a verification holds at once: flat memory however long the chain.
_LISTED_CAP: Final = 100_000  # events remembered (as listed text) for leases not yet summarised
_PENDING_CAP: Final = 4_096  # signatures waiting for a checkpoint that may cover them
_BATCH: Final = 512
_INLINE: Final = 32  # at most this many signatures left at the end are checked on the calling thread


class _Signatures:
    """Signature checks, deferred: items a later checkpoint by the same key covers are dropped; the rest are
    verified on worker threads in batches (Ed25519 verification releases the GIL)."""

    def __init__(self, keys: Mapping[str, PublicKey] | None, report: VerifyReport, own_key_only: bool) -> None:
        self.keys = keys
        self.report = report
        self.own_key_only = own_key_only
        self.pending: list[_Signed] = []
        self.futures: list[Future[list[tuple[_Signed, Problem | None]]]] = []
        self.pool: ThreadPoolExecutor | None = None
        self.problems: list[Problem] = []
        self.key_ids: set[str] = set()

    def add(self, item: _Signed) -> None:
        if self.keys is None:
            return
        if item.key_id is not None:
            self.key_ids.add(item.key_id)
        if self.own_key_only and item.key_id is not None and item.key_id not in self.keys:
            return  # the checkpoint writer vouches only for what its own key signed
        self.pending.append(item)
        if len(self.pending) >= _PENDING_CAP:
            self._submit(self.pending[:_BATCH])
            del self.pending[:_BATCH]

    def covered_by(self, checkpoint: _Signed) -> None:
        """A checkpoint vouches for what its key signed before it: only the checkpoint itself stays to check."""
        kept = [item for item in self.pending if item.key_id != checkpoint.key_id or checkpoint.key_id is None]
        self.report.covered += len(self.pending) - len(kept)
        self.pending = kept
        self.add(checkpoint)

    def _submit(self, batch: Sequence[_Signed]) -> None:
        if self.pool is None:
            self.pool = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)))
        self.futures.append(self.pool.submit(_check_signed, list(batch), self.keys or {}))
        if len(self.futures) > 8:  # keep what is in flight bounded too
            self._collect(self.futures.pop(0))

    def _collect(self, future: Future[list[tuple[_Signed, Problem | None]]]) -> None:
        for _, problem in future.result():
            self._record(problem)

    def _record(self, problem: Problem | None) -> None:
        if problem is None:
            self.report.signatures += 1
        else:
            self.problems.append(problem)

    def finish(self) -> list[Problem]:
        if self.pool is None and len(self.pending) <= _INLINE:  # a few left: no threads to start
            for _, problem in _check_signed(self.pending, self.keys or {}):
                self._record(problem)
            self.pending = []
            return self.problems
        try:
            for start in range(0, len(self.pending), _BATCH):
                self._submit(self.pending[start : start + _BATCH])
            self.pending = []
            while self.futures:
                self._collect(self.futures.pop(0))
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)
        return self.problems


def _checkpoint_problem(seq: int, lease_id: Any, body: str, prev_hash: str, origin: str | None) -> Problem | None:
    """A checkpoint event must attest exactly the head before it."""
    where = f"event seq {seq}"
    try:
        parsed = json.loads(body)
        statement = Checkpoint.from_json({**parsed, "signature": {"alg": "Ed25519", "key_id": "-", "sig": ""}})
    except (ValueError, TypeError, AuditError):
        return Problem("checkpoint", where, "the checkpoint is not a checkpoint statement", seq=seq)
    if lease_id is not None or statement.seq != seq - 1 or statement.hash != prev_hash:
        return Problem("checkpoint", where, f"the checkpoint at seq {seq} does not attest the event before it", seq=seq)
    if origin is not None and statement.origin != origin:
        return Problem("checkpoint", where, f"the checkpoint at seq {seq} names another first event", seq=seq)
    return None


def walk_chain(
    rows: Iterable[Sequence[Any]],
    head: tuple[int, str] | None,
    *,
    keys: Mapping[str, PublicKey] | None,
    report: VerifyReport,
    lookup: Any = None,
    start: tuple[int, str] = (0, GENESIS_HASH),
    own_key_only: bool = False,
    pins: Sequence[Any] = (),
) -> VerifyReport:
    """Verify event rows (`EVENT_COLUMNS`, in seq order, streamed) against the chain head; `keys=None` skips
    signature checks. `lookup` (a connection in the same snapshot) answers the rare questions a single pass
    cannot (where a misplaced event went, what a superseding summary lists). `start` is the `(seq, hash)` the
    rows follow; `pins` are external checkpoints the chain must contain (see checkpoints.py)."""
    signatures = _Signatures(keys, report, own_key_only)
    check_listings = keys is not None
    # Per lease not yet summarised, its events as a summary lists them; summaries whose listing is still to
    # check (a later checkpoint vouches for them, as it does for their signatures: its writer checked both).
    listed: dict[Any, list[tuple[Any, Any, Any, Any]]] = {}
    listed_count = 0
    listings: list[tuple[int, Any, str, list[tuple[Any, Any, Any, Any]] | None]] = []
    listing_problems: list[Problem] = []
    envelope = _Envelope()
    expected, prev = start[0] + 1, start[1]
    origin: str | None = None
    pinned = {pin.seq: pin for pin in pins}
    problem: Problem | None = None
    last = start[0]
    for row in rows:
        seq, lease_id, event_type = row[0], row[1], row[2]
        where = f"event seq {expected}"
        if seq != expected:
            missing = f"{expected}" if seq == expected + 1 else f"{expected}..{seq - 1}"
            problem = Problem("deleted", where, f"event seq {missing} is missing (deleted)", seq=expected)
            break
        if row[6] != prev:
            kind, message = _classify_prev(lookup, seq, row[6], prev)
            problem = Problem(kind, where, message, seq=seq, lease_id=lease_id)
            break
        digest = row[7]
        if envelope.hash(prev, seq, lease_id, event_type, row[3], row[4], row[5]) != digest:
            message = f"the content of event seq {seq} was edited (its hash does not match)"
            problem = Problem("changed", where, message, seq=seq, lease_id=lease_id)
            break
        if seq == 1:
            origin = digest
        if event_type == _SUMMARY:
            if check_listings:
                if lookup is not None:
                    items = listed.pop(lease_id, None)
                    listed_count -= len(items) if items is not None else 0
                else:  # nothing to ask: a superseding summary lists the lease's events again
                    items = list(listed.get(lease_id, ()))
                listings.append((seq, lease_id, str(row[5]), items))
                if len(listings) >= _PENDING_CAP:
                    listing_problems.extend(_check_listings(listings[:_BATCH], lookup))
                    del listings[:_BATCH]
            signatures.add(_Signed(seq, lease_id, _SUMMARY, _key_id(row[8]), row[8], row[5]))
        elif event_type == _CHECKPOINT and lease_id is None:
            problem = _checkpoint_problem(seq, lease_id, row[5], row[6], origin if start[0] == 0 else None)
            if problem is not None:
                break
            report.checkpoints += 1
            listings.clear()
            signatures.covered_by(_Signed(seq, None, _CHECKPOINT, _key_id(row[8]), row[8], row[5]))
        elif lease_id is not None and check_listings:
            listed.setdefault(lease_id, []).append((seq, event_type, row[3], digest))
            listed_count += 1
            if listed_count > _LISTED_CAP:  # forget the oldest leases: their summaries take the slow path
                while listed and listed_count > _LISTED_CAP * 3 // 4:
                    listed_count -= len(listed.pop(next(iter(listed))))
        pin = pinned.get(seq)
        if pin is not None and pin.hash != digest:
            message = (
                f"the checkpoint signed at {pin.at} attests event seq {seq} with another hash: "
                "the ledger was rewritten after it"
            )
            problem = Problem("rewritten", where, message, seq=seq, lease_id=lease_id)
            break
        prev = digest
        last = seq
        expected += 1
        report.checked += 1
    if problem is None:
        listing_problems.extend(_check_listings(listings, lookup))
    candidates = [p for p in (problem, *listing_problems, *signatures.finish()) if p is not None]
    report.key_ids = sorted(signatures.key_ids)
    if problem is None:
        head_problem = _head_problem(head, last, prev)
        if head_problem is not None:
            candidates.append(head_problem)
        candidates.extend(_pin_problems(pins, last, origin if start[0] == 0 else None))
    if candidates:
        report.problem = min(candidates, key=lambda p: p.seq if p.seq is not None else last + 1)
    return report


def _check_listings(
    listings: Sequence[tuple[int, Any, str, list[tuple[Any, Any, Any, Any]] | None]], lookup: Any
) -> list[Problem]:
    found = (_summary_listing(seq, lease_id, body, items, lookup) for seq, lease_id, body, items in listings)
    return [problem for problem in found if problem is not None]


def _summary_listing(
    seq: int, lease_id: Any, body: str, items: list[tuple[Any, Any, Any, Any]] | None, lookup: Any
) -> Problem | None:
    """The fast check (the summary contains the canonical text of its lease's events as chained), then the
    ledger-backed one when the fast check cannot tell (the lease's events were forgotten or superseded)."""
    own = '"lease_id":' + _json_text(lease_id) + ","
    if items is not None and own in body and '"events":[' + ",".join(_listed_item(*i) for i in items) + "]" in body:
        return None
    if lookup is None:
        return Problem(
            "mismatch",
            f"event seq {seq}",
            f"the signed summary of lease {lease_id} does not list the lease's events as chained",
            seq=seq,
            lease_id=lease_id,
        )
    if own in body and _lease_events_text(lookup, lease_id, seq) in body:
        return None
    return _listing_problem(seq, lease_id, body, lookup)


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


def _pin_problems(pins: Sequence[Any], last: int, origin: str | None) -> list[Problem]:
    problems: list[Problem] = []
    for pin in pins:
        if origin is not None and pin.origin != origin:
            problems.append(
                Problem(
                    "rewritten",
                    "event seq 1",
                    f"the checkpoint signed at {pin.at} is of a ledger with another first event: this ledger was "
                    "rewritten from its start, or the checkpoint belongs to another ledger",
                    seq=1,
                )
            )
        elif pin.seq > last:
            problems.append(
                Problem(
                    "truncated",
                    f"event seq {last + 1}",
                    f"the ledger ends at seq {last}, but the checkpoint signed at {pin.at} attests seq {pin.seq}: "
                    "events were cut off its end (and the chain head moved back)",
                    seq=last + 1,
                )
            )
    return problems


def verify_rows_fast(
    rows: Sequence[Sequence[Any]],
    head: tuple[int, str] | None,
    *,
    keys: Mapping[str, PublicKey] | None,
    report: VerifyReport,
) -> VerifyReport:
    """Verify rows already in memory (no ledger to ask): `walk_chain` without a lookup."""
    return walk_chain(rows, head, keys=keys, report=report)


def _head(conn: Any) -> tuple[int, str] | None:
    found = _one(conn, "SELECT seq, hash FROM chain_head WHERE id = 1", ())
    return (int(found[0]), str(found[1])) if found is not None else None


def _rows_checker(
    open_reader: Callable[[], Any] | None,
) -> Callable[[], tuple[Problem | None, list[str], str | None]] | None:
    """Start the lease-row comparison in a forked process on its own connection, so that it runs on another
    core while this one walks the chain; returns what collects its result (None: run it here instead)."""
    # Forking a process that runs other threads can copy a lock one of them holds: then compare here instead.
    if open_reader is None or threading.active_count() > 1 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def run() -> None:
        try:
            with open_reader() as conn:
                report = VerifyReport("rows", "ledger")
                problem = check_rows(conn, report)
                sender.send((problem.to_json() if problem is not None else None, report.notes, None))
        except BaseException as error:  # reported by the parent, which then checks the rows itself
            sender.send((None, [], f"{type(error).__name__}: {error}"))

    process = context.Process(target=run, name="jitpim-verify-rows", daemon=True)
    process.start()
    sender.close()

    def collect() -> tuple[Problem | None, list[str], str | None]:
        try:
            found, notes, error = receiver.recv()
        except EOFError:
            found, notes, error = None, [], "the row checker exited"
        finally:
            process.join()
            receiver.close()
        if found is None:
            return None, list(notes), error
        found.pop("line", None)
        return Problem(line=None, **found), list(notes), error

    return collect


def _verify_conn(
    conn: Any,
    report: VerifyReport,
    keys: Mapping[str, PublicKey] | None,
    pins: Sequence[Any],
    open_reader: Callable[[], Any] | None = None,
) -> None:
    collect = _rows_checker(open_reader)  # forked before any thread starts
    head = _head(conn)
    rows = stream_rows(conn, f"SELECT {EVENT_COLUMNS} FROM events ORDER BY seq")  # noqa: S608 - fixed columns
    walk_chain(rows, head, keys=keys, report=report, lookup=conn, pins=pins)
    if collect is not None:
        row_problem, notes, error = collect()
        if error is not None and report.problem is None:
            raise AuditError(f"cannot compare the lease rows: {error}")
    else:
        row_problem, notes = (check_rows(conn, report), []) if report.problem is None else (None, [])
    report.notes.extend(notes)
    if report.problem is None:
        report.problem = row_problem


@contextlib.contextmanager
def _sqlite_snapshot(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute("BEGIN")
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def _store_snapshot(store: Any) -> Iterator[Any]:
    with store.reopen() as other, other.read_transaction() as conn:
        snapshot = getattr(conn, "repeatable_snapshot", None)
        if callable(snapshot):
            snapshot()
        yield conn


def verify_store(
    store: AuditStore,
    *,
    keys: Mapping[str, PublicKey] | None,
    source: str | None = None,
    checkpoints: Sequence[Any] = (),
) -> VerifyReport:
    """Verify an open ledger (SQLite or PostgreSQL) from one consistent snapshot, streaming; `checkpoints` are
    external checkpoints (already checked to be trusted) the ledger must still contain."""
    report = VerifyReport(source or repr(store), "ledger")
    with store.read_transaction() as conn:
        snapshot = getattr(conn, "repeatable_snapshot", None)  # PostgreSQL: one snapshot for every statement
        if callable(snapshot):
            snapshot()
        reopen = (lambda: _store_snapshot(store)) if callable(getattr(store, "reopen", None)) else None
        _verify_conn(conn, report, keys, checkpoints, reopen)
    return report


def verify_ledger_file(
    path: Path, *, keys: Mapping[str, PublicKey] | None, checkpoints: Sequence[Any] = ()
) -> VerifyReport:
    """Verify a SQLite ledger file read-only (a copy kept as evidence; any schema version), streaming."""
    report = VerifyReport(str(path), "ledger")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise AuditError(f"cannot open the ledger: {error}", target=str(path)) from None
    try:
        conn.execute("BEGIN")  # one snapshot for the walk and the lookups
        _verify_conn(conn, report, keys, checkpoints, lambda: _sqlite_snapshot(path))
    except sqlite3.Error as error:
        raise AuditError(f"cannot read the ledger: {error}", target=str(path)) from None
    finally:
        conn.close()
    return report


def trusted_keys(keys: Iterable[PublicKey]) -> dict[str, PublicKey]:
    return {key.key_id: key for key in keys}
