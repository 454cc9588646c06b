"""Offline verification of an evidence file (the run file, `jitpim audit export` JSON lines).

Checks, naming the first broken line: the header; every line is canonical JSON (an edited byte, even
whitespace, is caught); the line chain (`n`, `prev_hash`, `hash`: deleted, inserted or reordered lines); the
end line (count, last hash, signature: a cut-off tail); every summary record's own Ed25519 signature; and
for exported ledger events, each event's ledger hash and the links between consecutive events.

A run file is also checked against the run it is bound to: every record must be of the header's run, and with
`expected_run` (`jitpim audit verify FILE --run gh-RUNID-ATTEMPT`) the header must name that run, so one
run's file cannot stand in for another's. The checkpoint a run file carries must be signed by a trusted key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from jitpim.audit.canonical import canonical_json
from jitpim.audit.evidence_file import (
    END_TYPE,
    FORMAT_VERSION,
    HEADER_TYPE,
    end_material,
    header_hash,
    line_hash,
    run_binding,
)
from jitpim.audit.signing import PublicKey, Signature
from jitpim.audit.summary import SUMMARY_EVENT, signed_body
from jitpim.audit.verify import (
    SQLITE_MAGIC,
    Problem,
    VerifyReport,
    check_summary_signature,
    event_hash_from_text,
    verify_ledger_file,
)
from jitpim.errors import AuditError, ConfigError

__all__ = ["parse_run", "verify_evidence_file", "verify_evidence_lines", "verify_path"]

_END_KEYS = frozenset({"type", "count", "last_hash", "signature"})
_LINE_KEYS = frozenset({"n", "prev_hash", "hash", "record"})


def _embedded_keys(header: Mapping[str, Any]) -> dict[str, PublicKey]:
    keys: dict[str, PublicKey] = {}
    embedded = header.get("public_keys")
    if isinstance(embedded, Mapping):
        for key_text in embedded.values():
            if isinstance(key_text, str):
                try:
                    key = PublicKey.from_text(key_text, source="the file's embedded key")
                except ConfigError:
                    continue
                keys[key.key_id] = key
    return keys


def parse_run(text: str, repository: str | None = None) -> dict[str, Any]:
    """A run as `--run` names it: `gh-RUNID-ATTEMPT` (the run key of `jitpim release --run`), `RUNID-ATTEMPT`,
    or `RUNID` (any attempt); `repository` (owner/name) when given. Raises AuditError naming the forms."""
    body = text[3:] if text.startswith("gh-") else text
    run_id, _, attempt = body.partition("-")
    if not run_id.isdigit() or (attempt and not attempt.isdigit()):
        raise AuditError(
            f"not a run: {text!r}",
            hint="Name the run as gh-RUNID-ATTEMPT (e.g. gh-9100200300-1), RUNID-ATTEMPT, or RUNID.",
        )
    expected: dict[str, Any] = {"run_id": run_id}
    if attempt:
        expected["run_attempt"] = int(attempt)
    if repository:
        expected["repository"] = repository
    return expected


def _describe(run: Mapping[str, Any] | None) -> str:
    if not run:
        return "no run"
    attempt = f" attempt {run.get('run_attempt')}" if run.get("run_attempt") is not None else ""
    return f"{run.get('repository') or '?'} run {run.get('run_id')}{attempt}"


def _header_problem(
    header: Mapping[str, Any], keys: Mapping[str, PublicKey], expected_run: Mapping[str, Any] | None
) -> Problem | None:
    """The header's run binding against `expected_run`, and its checkpoint's signature."""
    bound = header.get("run")
    if expected_run is not None:
        if not isinstance(bound, Mapping):
            return Problem("mismatch", "line 1", f"the file is bound to no run, not {_describe(expected_run)}", line=1)
        differs = [name for name, value in expected_run.items() if str(bound.get(name)) != str(value)]
        if differs:
            return Problem(
                "mismatch",
                "line 1",
                f"the file is bound to {_describe(bound)}, not {_describe({**bound, **expected_run})}",
                line=1,
            )
    if header.get("checkpoint") is not None:
        from jitpim.audit.checkpoints import Checkpoint

        try:
            reason = Checkpoint.from_json(header["checkpoint"]).verify(keys)
        except AuditError as exc:
            reason = exc.message
        if reason is not None:
            return Problem("signature", "line 1", f"the file's checkpoint {reason}", line=1)
    return None


def _run_problem(record: Any, header: Mapping[str, Any], line: int) -> Problem | None:
    """A record of another run than the one the file is bound to."""
    if "run" not in header or not isinstance(record, Mapping):
        return None
    own = run_binding(record.get("run") if isinstance(record.get("run"), Mapping) else None)
    if own != header["run"]:
        return Problem(
            "mismatch",
            f"line {line + 1}",
            f"the record of lease {record.get('lease_id')} is of {_describe(own)}, but the file is bound to "
            f"{_describe(header['run'])}",
            line=line + 1,
            lease_id=record.get("lease_id") if isinstance(record.get("lease_id"), str) else None,
        )
    return None


def _record_problem(
    record: Any,
    line: int,
    content: str,
    keys: Mapping[str, PublicKey],
    report: VerifyReport,
    previous_event: Mapping[str, Any] | None,
) -> Problem | None:
    where = f"line {line + 1}"
    if not isinstance(record, Mapping):
        return Problem("changed", where, "the record is not an object", line=line + 1)
    lease_id = record.get("lease_id")
    if content == "summaries":
        try:
            signature = Signature.from_json(record.get("signature"))
        except AuditError as exc:
            return Problem(
                "signature", where, f"the record of lease {lease_id} {exc.message}", line=line + 1, lease_id=lease_id
            )
        key = keys.get(signature.key_id)
        if key is None:
            return Problem(
                "signature",
                where,
                f"the record of lease {lease_id} is signed by key {signature.key_id}, which is not a trusted key",
                line=line + 1,
                lease_id=lease_id,
            )
        if not key.verify(signature, canonical_json(signed_body(record)).encode("utf-8")):
            return Problem(
                "signature",
                where,
                f"the signature of the record of lease {lease_id} does not verify",
                line=line + 1,
                lease_id=lease_id,
            )
        report.signatures += 1
        return None
    # content == "events": the ledger's own hash of each event, and links between consecutive events.
    body = record.get("body")
    try:
        body_text = canonical_json(body)
        computed = event_hash_from_text(
            str(record.get("prev_hash")),
            record.get("seq"),
            lease_id,
            record.get("type"),
            record.get("at"),
            record.get("schema_version"),
            body_text,
        )
    except (TypeError, ValueError):
        return Problem("changed", where, "the event cannot be re-hashed", line=line + 1, lease_id=lease_id)
    if computed != record.get("hash"):
        return Problem(
            "changed",
            where,
            f"event seq {record.get('seq')} does not match its ledger hash",
            line=line + 1,
            lease_id=lease_id,
        )
    if (
        previous_event is not None
        and record.get("seq") == (previous_event.get("seq") or 0) + 1
        and record.get("prev_hash") != previous_event.get("hash")
    ):
        return Problem(
            "changed",
            where,
            f"event seq {record.get('seq')} does not link to seq {previous_event.get('seq')}",
            line=line + 1,
            lease_id=lease_id,
        )
    if record.get("type") == SUMMARY_EVENT:
        ok, reason, _ = check_summary_signature(record.get("signature"), body_text, keys)
        if not ok:
            return Problem(
                "signature", where, f"the summary of lease {lease_id} {reason}", line=line + 1, lease_id=lease_id
            )
        report.signatures += 1
    return None


def _out_of_place(n: Any, position: int, lines: list[Any]) -> Problem:
    where = f"line {position + 1}"
    expected = position  # record numbers start at 1 on the second line
    later = [i for i, parsed in enumerate(lines) if isinstance(parsed, Mapping) and parsed.get("n") == expected]
    if isinstance(n, int) and n < expected:
        return Problem(
            "reordered",
            where,
            f"record {n} appears again where record {expected} belongs (reordered or duplicated)",
            line=position + 1,
        )
    if later and later[0] > position:
        return Problem("reordered", where, f"record {expected} was moved to line {later[0] + 1}", line=position + 1)
    return Problem("deleted", where, f"record {expected} is missing (deleted)", line=position + 1)


def verify_evidence_lines(
    lines: list[str],
    *,
    source: str,
    keys: Mapping[str, PublicKey] | None,
    expected_run: Mapping[str, Any] | None = None,
) -> VerifyReport:
    report = VerifyReport(source, "evidence")
    parsed: list[Any] = []
    for index, text in enumerate(lines):
        try:
            value = json.loads(text)
        except ValueError:
            report.problem = Problem(
                "changed", f"line {index + 1}", "the line is not valid JSON (it was edited)", line=index + 1
            )
            return report
        if canonical_json(value) != text:
            report.problem = Problem(
                "changed", f"line {index + 1}", "the line is not canonical JSON (it was edited)", line=index + 1
            )
            return report
        parsed.append(value)
    if not parsed or not isinstance(parsed[0], Mapping) or parsed[0].get("type") != HEADER_TYPE:
        report.problem = Problem("changed", "line 1", "not a jitpim evidence file (no header line)", line=1)
        return report
    header = parsed[0]
    if header.get("format") != FORMAT_VERSION or header.get("content") not in ("summaries", "events"):
        report.problem = Problem("changed", "line 1", "unknown evidence format or content", line=1)
        return report
    content = str(header["content"])
    if keys is None or not keys:
        keys = _embedded_keys(header)
        report.trusted = False
        report.notes.append(
            "signatures were checked against the key embedded in the file; pass --public-key to check who signed it"
        )
    report.key_ids = sorted(keys)
    header_problem = _header_problem(header, keys, expected_run)
    if header_problem is not None:
        report.problem = header_problem
        return report
    prev = header_hash(lines[0])
    previous_event: Mapping[str, Any] | None = None
    position = 1
    while position < len(parsed):
        line = parsed[position]
        if isinstance(line, Mapping) and line.get("type") == END_TYPE:
            break
        where = f"line {position + 1}"
        if not isinstance(line, Mapping) or set(line) != _LINE_KEYS:
            report.problem = Problem("changed", where, "not a record line", line=position + 1)
            return report
        if line.get("n") != position:
            report.problem = _out_of_place(line.get("n"), position, parsed)
            return report
        if line.get("prev_hash") != prev:
            report.problem = Problem(
                "changed", where, f"record {position} does not link to the line before it", line=position + 1
            )
            return report
        if line_hash(prev, position, line["record"]) != line.get("hash"):
            report.problem = Problem(
                "changed",
                where,
                f"record {position} was edited (its hash does not match)",
                line=position + 1,
                lease_id=_lease(line["record"]),
            )
            return report
        problem = _record_problem(line["record"], position, content, keys, report, previous_event)
        if problem is None and content == "summaries":
            problem = _run_problem(line["record"], header, position)
        if problem is not None:
            report.problem = problem
            return report
        if content == "events":
            previous_event = line["record"]
        prev = str(line["hash"])
        report.checked += 1
        position += 1
    return _check_end(parsed, position, prev, keys, report)


def _lease(record: Any) -> str | None:
    value = record.get("lease_id") if isinstance(record, Mapping) else None
    return value if isinstance(value, str) else None


def _check_end(
    parsed: list[Any], position: int, prev: str, keys: Mapping[str, PublicKey], report: VerifyReport
) -> VerifyReport:
    where = f"line {position + 1}"
    if position >= len(parsed):
        report.problem = Problem("deleted", where, "the end line is missing (the file was cut off)", line=position + 1)
        return report
    end = parsed[position]
    count = position - 1
    if set(end) != _END_KEYS:
        report.problem = Problem("changed", where, "the end line's fields were edited", line=position + 1)
        return report
    if end.get("count") != count:
        problem = (
            Problem(
                "deleted",
                where,
                f"record {count + 1} is missing: the end line counts {end.get('count')}",
                line=position + 1,
            )
            if isinstance(end.get("count"), int) and end["count"] > count
            else Problem(
                "changed",
                where,
                f"the end line counts {end.get('count')} records, the file has {count}",
                line=position + 1,
            )
        )
        report.problem = problem
        return report
    if end.get("last_hash") != prev:
        report.problem = Problem(
            "changed", where, "the end line does not close the chain of records", line=position + 1
        )
        return report
    if position + 1 < len(parsed):
        report.problem = Problem(
            "changed", f"line {position + 2}", "lines were added after the end line", line=position + 2
        )
        return report
    if end.get("signature") is None:
        report.notes.append("the end line is unsigned (written without a signing key)")
        return report
    try:
        signature = Signature.from_json(end.get("signature"))
    except AuditError as exc:
        report.problem = Problem("signature", where, f"the end line {exc.message}", line=position + 1)
        return report
    key = keys.get(signature.key_id)
    if key is None or not key.verify(signature, canonical_json(end_material(count, prev)).encode("utf-8")):
        report.problem = Problem("signature", where, "the end line's signature does not verify", line=position + 1)
        return report
    report.signatures += 1
    return report


def verify_evidence_file(
    path: Path, *, keys: Mapping[str, PublicKey] | None, expected_run: Mapping[str, Any] | None = None
) -> VerifyReport:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AuditError(
            f"cannot read the evidence file: {error.strerror or type(error).__name__}", target=str(path)
        ) from None
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()
    lines: list[str] = []
    for index, raw in enumerate(raw_lines):
        try:
            lines.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            report = VerifyReport(str(path), "evidence")
            report.problem = Problem(
                "changed", f"line {index + 1}", "the line is not UTF-8 (it was edited)", line=index + 1
            )
            return report
    return verify_evidence_lines(lines, source=str(path), keys=keys, expected_run=expected_run)


def verify_path(path: Path, *, keys: Mapping[str, PublicKey] | None, checkpoints: Sequence[Any] = ()) -> VerifyReport:
    """A SQLite ledger file or an evidence (JSON lines) file, told apart by their first bytes."""
    try:
        with path.open("rb") as handle:
            start = handle.read(len(SQLITE_MAGIC))
    except OSError as error:
        raise AuditError(f"cannot read: {error.strerror or type(error).__name__}", target=str(path)) from None
    if start == SQLITE_MAGIC:
        return verify_ledger_file(path, keys=keys, checkpoints=checkpoints)
    return verify_evidence_file(path, keys=keys)
