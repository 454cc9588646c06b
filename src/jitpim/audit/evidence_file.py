"""The portable evidence file: JSON lines, chained line by line, closed by a signed end line.

    {"type":"jitpim.evidence","format":1,"content":"summaries","created_at":...,"filters":{...},"public_keys":{...},
     "run":{"repository":...,"run_id":...,"run_attempt":...},"checkpoint":{...}}
    {"n":1,"prev_hash":H0,"hash":H1,"record":{...}}
    {"n":2,"prev_hash":H1,"hash":H2,"record":{...}}
    {"type":"jitpim.evidence.end","count":2,"last_hash":H2,"signature":{"alg":"Ed25519","key_id":...,"sig":...}}

Every line is canonical JSON. `H0 = sha256_hex(header line)`, `Hn = sha256_hex(Hn-1 || canonical_json({"n": n,
"record": record}))`; the end line's signature covers `{"count", "last_hash", "type"}`, and through `last_hash`
the header and every record. So a changed byte, a deleted, inserted or reordered line, or a cut-off tail is
named by line number, and each summary record still carries its own Ed25519 signature from the ledger.
`content` is `summaries` (one signed summary per lease: the run file and `jitpim audit export`) or `events`
(raw ledger events, which also keep their ledger hashes). The run file a CI job uploads is this format.

A run file is bound to its CI run: `run` names the repository, run id and attempt, every record in it must be
of that run, and the end signature covers the header, so a file cannot be passed off as another run's
(`jitpim audit verify FILE --run gh-RUNID-ATTEMPT`). `checkpoint` is the ledger's signed checkpoint taken
right after the records were signed (see checkpoints.py): keep the file, and the ledger can later be checked
against it for a cut-off tail (`jitpim audit verify --checkpoint FILE`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final, Literal

from jitpim.audit.canonical import canonical_json
from jitpim.audit.signing import Signer
from jitpim.errors import AuditError

__all__ = [
    "END_TYPE",
    "FORMAT_VERSION",
    "HEADER_TYPE",
    "RUN_FIELDS",
    "Content",
    "end_material",
    "header_hash",
    "line_hash",
    "run_binding",
    "write_evidence",
    "write_evidence_file",
]

HEADER_TYPE: Final = "jitpim.evidence"
END_TYPE: Final = "jitpim.evidence.end"
FORMAT_VERSION: Final = 1
Content = Literal["summaries", "events"]
# What binds a run file to its CI run (a summary record's `run` holds these among others).
RUN_FIELDS: Final = ("repository", "run_id", "run_attempt")


def run_binding(run: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The `{repository, run_id, run_attempt}` of a record's or a job's run (None when it names no run)."""
    if not run or run.get("run_id") is None:
        return None
    return {name: run.get(name) for name in RUN_FIELDS}


def header_hash(header_line: str) -> str:
    return hashlib.sha256(header_line.encode("utf-8")).hexdigest()


def line_hash(prev_hash: str, n: int, record: Any) -> str:
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical_json({"n": n, "record": record}).encode("utf-8"))
    return digest.hexdigest()


def end_material(count: int, last_hash: str) -> dict[str, Any]:
    """What the end line's signature covers."""
    return {"count": count, "last_hash": last_hash, "type": END_TYPE}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write_evidence(
    records: Sequence[Mapping[str, Any]],
    stream: IO[str],
    *,
    content: Content,
    signer: Signer | None = None,
    filters: Mapping[str, Any] | None = None,
    ledger_head: Mapping[str, Any] | None = None,
    run: Mapping[str, Any] | None = None,
    checkpoint: Mapping[str, Any] | None = None,
) -> int:
    """Write the evidence lines to `stream`; returns the number of records. `run` binds the file to a CI run
    (`{repository, run_id, run_attempt}`), `checkpoint` is the ledger's signed checkpoint to carry."""
    header: dict[str, Any] = {
        "type": HEADER_TYPE,
        "format": FORMAT_VERSION,
        "content": content,
        "created_at": _now(),
        "filters": dict(filters or {}),
        "ledger_head": dict(ledger_head) if ledger_head is not None else None,
        # The signer's public key, so a reader can check integrity; trust comes from --public-key.
        "public_keys": {signer.key_id: signer.public.to_base64()} if signer is not None else {},
    }
    # Only present when given, so files without them keep their exact bytes.
    if run is not None:
        header["run"] = run_binding(run)
    if checkpoint is not None:
        header["checkpoint"] = dict(checkpoint)
    header_line = canonical_json(header)
    stream.write(header_line + "\n")
    prev = header_hash(header_line)
    count = 0
    for count, record in enumerate(records, start=1):
        current = line_hash(prev, count, record)
        stream.write(canonical_json({"hash": current, "n": count, "prev_hash": prev, "record": record}) + "\n")
        prev = current
    end: dict[str, Any] = end_material(count, prev)
    end["signature"] = signer.sign_json(end_material(count, prev)).to_json() if signer is not None else None
    stream.write(canonical_json(end) + "\n")
    return count


def write_evidence_file(
    records: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    content: Content,
    signer: Signer | None = None,
    filters: Mapping[str, Any] | None = None,
    ledger_head: Mapping[str, Any] | None = None,
    run: Mapping[str, Any] | None = None,
    checkpoint: Mapping[str, Any] | None = None,
) -> Path:
    """Write an evidence file atomically (a temporary file renamed into place); returns its path."""
    target = Path(path).expanduser()
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with temporary.open("w", encoding="utf-8", newline="\n") as handle:
            write_evidence(
                records,
                handle,
                content=content,
                signer=signer,
                filters=filters,
                ledger_head=ledger_head,
                run=run,
                checkpoint=checkpoint,
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise AuditError(
            f"cannot write the evidence file: {error.strerror or type(error).__name__}", target=str(target)
        ) from None
    return target
