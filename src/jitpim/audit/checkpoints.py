"""Signed checkpoints of the hash chain: what makes a cut-off tail or a rewritten ledger detectable.

A checkpoint is jitpim's signed statement "the chain of ledger `origin` had `seq` events, the last with hash
`hash`, at time `at`", like Certificate Transparency's signed tree heads:

    {"record_type": "jitpim.checkpoint", "origin": H1, "seq": N, "hash": HN, "at": "...Z",
     "signature": {"alg": "Ed25519", "key_id": "...", "sig": "..."}}

`origin` is the hash of the ledger's first event (which ledger), the signature covers the canonical JSON of
every field but `signature` (and `ledger`, the place of the checkpoint's own event, on handed-out copies).

At the end of every command that ends leases, `write_checkpoint` appends one as a `ledger.checkpoint` event
(its body is the signed statement, its `prev_hash` the attested hash), ships it to every sink and writes it
into the run file. Whoever later holds one (a sink's copy, a CI artifact) can check a ledger against it:
`jitpim audit verify --checkpoint FILE` fails when the ledger ends before `seq` (the tail was cut and the
chain head moved back) or when event `seq` has another hash (the ledger was rewritten).

Before signing, the writer re-checks the chain since the previous checkpoint (links, hashes, that earlier
checkpoint's signature, and the signatures of the summaries in between): a checkpoint never vouches for a
chain that was already altered. Because each checkpoint vouches for everything before it, verification needs
the signatures of the latest checkpoint and of what follows it, not of every summary, which is what keeps a
million-event verification within seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jitpim.audit.canonical import GENESIS_HASH
from jitpim.audit.checkpoint import CHECKPOINT_EVENT, CHECKPOINT_RECORD, Checkpoint, checkpoint_material
from jitpim.audit.signing import Signature, Signer
from jitpim.audit.verify import VerifyReport, walk_chain
from jitpim.audit.verify_report import EVENT_COLUMNS, plain_rows
from jitpim.errors import AuditError, AuditVerificationError

if TYPE_CHECKING:
    from jitpim.audit.store import AuditStore, Db

__all__ = [
    "CHECKPOINT_EVENT",
    "CHECKPOINT_RECORD",
    "Checkpoint",
    "checkpoint_material",
    "checkpoint_record",
    "latest_checkpoint",
    "read_checkpoints",
    "write_checkpoint",
]


def checkpoint_record(event: Mapping[str, Any]) -> dict[str, Any]:
    """The handed-out copy of a `ledger.checkpoint` event: the statement, its signature, and `ledger` (where
    its own event sits, which is also the record's identity in the sink outbox)."""
    if event["type"] != CHECKPOINT_EVENT or event["signature"] is None:
        raise AuditError(f"event seq {event['seq']} is not a signed checkpoint")
    record = dict(event["body"])
    record["signature"] = Signature.from_text(event["signature"]).to_json()
    record["ledger"] = {"seq": event["seq"], "at": event["at"], "hash": event["hash"], "prev_hash": event["prev_hash"]}
    return record


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _rows(db: Db, after: int, upto: int) -> Iterator[Sequence[Any]]:
    query = f"SELECT {EVENT_COLUMNS} FROM events WHERE seq > ? AND seq <= ? ORDER BY seq"  # noqa: S608 - constant
    return plain_rows(db.execute(query, (after, upto)))


def _check_since_last(db: Db, head_seq: int, head_hash: str, signer: Signer) -> None:
    """Refuse to sign over a chain altered since the previous checkpoint (see the module docstring)."""
    last = db.execute(
        "SELECT seq, prev_hash, hash FROM events WHERE lease_id IS NULL AND type = ? ORDER BY seq DESC LIMIT 1",
        (CHECKPOINT_EVENT,),
    ).fetchone()
    start_seq, start_hash = 0, GENESIS_HASH
    if last is not None:
        values = tuple(last.values()) if isinstance(last, Mapping) else tuple(last)
        start_seq, start_hash = int(values[0]) - 1, str(values[1])
    report = VerifyReport("the ledger", "ledger")
    keys = {signer.key_id: signer.public}
    walk_chain(
        _rows(db, start_seq, head_seq),
        (head_seq, head_hash),
        keys=keys,
        report=report,
        lookup=db,
        start=(start_seq, start_hash),
        own_key_only=True,
    )
    if report.problem is not None:
        raise AuditVerificationError(
            f"refusing to sign a checkpoint: {report.problem.where}: {report.problem.message}",
            hint="The ledger was altered since the last checkpoint: run `jitpim audit verify` and investigate.",
        )


def write_checkpoint(store: AuditStore, signer: Signer, *, at: str | None = None) -> dict[str, Any]:
    """Sign the current chain head and append it as a `ledger.checkpoint` event; returns the handed-out record.
    When the head already is a checkpoint (nothing happened since), that one is returned."""
    with store.read_transaction() as db:
        head = db.execute("SELECT type, signature FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    if head is not None and head["type"] == CHECKPOINT_EVENT and head["signature"] is not None:
        found = latest_checkpoint(store)
        if found is not None and found["signature"]["key_id"] == signer.key_id:
            return found

    def build(db: Db, head_seq: int, head_hash: str) -> tuple[Mapping[str, object], str]:
        _check_since_last(db, head_seq, head_hash, signer)
        first = db.execute("SELECT hash FROM events WHERE seq = 1").fetchone()
        origin = str(first["hash"]) if first is not None else GENESIS_HASH
        material = checkpoint_material(origin, head_seq, head_hash, at or _now())
        return material, signer.sign_json(material).to_text()

    event = store.append_signed(CHECKPOINT_EVENT, build)
    return checkpoint_record(event)


def latest_checkpoint(store: AuditStore) -> dict[str, Any] | None:
    """The newest checkpoint in the ledger as handed out, or None."""
    with store.read_transaction() as db:
        row = db.execute(
            "SELECT seq, lease_id, type, at, body, prev_hash, hash, signature FROM events "
            "WHERE lease_id IS NULL AND type = ? ORDER BY seq DESC LIMIT 1",
            (CHECKPOINT_EVENT,),
        ).fetchone()
    if row is None:
        return None
    event = {name: row[name] for name in ("seq", "lease_id", "type", "at", "prev_hash", "hash", "signature")}
    event["body"] = json.loads(row["body"])
    return checkpoint_record(event)


def _candidates(value: Any) -> Iterator[Any]:
    """Where a checkpoint can sit in what jitpim writes: itself, a run file's header, a sink's envelope."""
    if isinstance(value, list):
        for item in value:
            yield from _candidates(item)
    elif isinstance(value, Mapping):
        if value.get("record_type") == CHECKPOINT_RECORD:
            yield value
        for key in ("checkpoint", "record", "event", "records"):
            if key in value:
                yield from _candidates(value[key])


def read_checkpoints(path: Path) -> list[Checkpoint]:
    """Every checkpoint in a file: one checkpoint (JSON), JSON lines (a sink's log, a run file or an export),
    or a JSON array. Raises AuditError when there is none."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        raise AuditError(f"cannot read the checkpoint file: {reason}", target=str(path)) from None
    values: Iterable[Any]
    try:
        values = [json.loads(text)]
    except ValueError:
        values = []
        for line in text.splitlines():
            try:
                values.append(json.loads(line))
            except ValueError:
                continue
    found: list[Checkpoint] = []
    for candidate in _candidates(list(values)):
        try:
            found.append(Checkpoint.from_json(candidate))
        except AuditError:
            continue
    if not found:
        raise AuditError(
            "the file holds no jitpim checkpoint",
            target=str(path),
            hint="Pass a run file (runs/*.jsonl), or a checkpoint record a sink received.",
        )
    return found
