"""The one summary record per lease: built from the lease row and its events, signed, chained, handed out.

`finalize_lease(store, lease_id, signer)` is called at the end of each lease. It builds the record (see
`summary.schema.json`), signs its canonical JSON with Ed25519, and appends it as a `lease.summary` event
whose `signature` column holds the signature, in one insert. The record lists every earlier event of the
lease by seq and hash, so the signature covers the lifecycle exactly as chained in the ledger. Calling it
again is idempotent; when events arrived after the last summary (a reaper released the lease later), a new
summary is written that `supersedes` the previous one.

Copies handed out (the run file, exports, sinks) are the record plus `ledger` (seq, time, hash and
prev_hash of its event) and `signature`; `verify.py` checks them offline.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from jitpim.audit.canonical import canonical_json
from jitpim.audit.events import COMMAND_FINISHED, LEASE_REQUESTED, SECRET_ROTATED
from jitpim.audit.records import EventRecord, LeaseRecord
from jitpim.audit.schema_json import SUMMARY_SCHEMA_VERSION
from jitpim.audit.signing import Signature, Signer, load_signer
from jitpim.audit.store import AuditStore, store_file
from jitpim.errors import AuditError

__all__ = [
    "RECORD_TYPE",
    "SUMMARY_EVENT",
    "build_summary",
    "distributed_record",
    "finalize_lease",
    "latest_summary",
    "signed_body",
    "signer_for",
    "summary_records",
    "write_run_file",
]

SUMMARY_EVENT: Final = "lease.summary"
RECORD_TYPE: Final = "jitpim.lease.summary"

# Event type -> the `times` key it stamps (its first occurrence).
_TIMES: Final = {
    LEASE_REQUESTED: "requested_at",
    "lease.approval_requested": "approval_requested_at",
    "lease.approved": "approved_at",
    "lease.denied": "denied_at",
    "lease.granted": "granted_at",
    "lease.effective": "effective_at",
    COMMAND_FINISHED: "command_finished_at",
    "lease.releasing": "releasing_at",
    "lease.release_retried": "release_retried_at",
    "lease.left_to_expire": "left_to_expire_at",
    "lease.released": "released_at",
    "lease.release_failed": "release_failed_at",
    "lease.expired": "expired_at",
    "lease.grant_failed": "failed_at",
}
_TIME_KEYS: Final = (
    "created_at",
    *_TIMES.values(),
    "start_at",
    "end_at",
    "updated_at",
)
_RUN_FIELDS: Final = (
    "repository",
    "ref",
    "sha",
    "workflow",
    "job",
    "run_id",
    "run_attempt",
    "run_number",
    "actor",
    "event_name",
    "pr_number",
    "environment",
    "server_url",
    "run_url",
    "workflow_ref",
    "job_workflow_ref",
    "subject",
    "provenance",
)
_RUN_INTS: Final = frozenset({"run_attempt", "run_number", "pr_number"})
_MISMATCH_FIELDS: Final = ("field", "variable", "claim", "environment")
_SECRET_TEXT_FIELDS: Final = ("vault", "secret_name", "app_id", "version_id", "previous_version_id")


def _is_failure(event_type: str) -> bool:
    return event_type.endswith((".failed", "_failed")) or event_type == "lease.denied"


def _run(run: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not run:
        return None
    out: dict[str, Any] = {}
    for name in _RUN_FIELDS:
        value = run.get(name)
        if name in _RUN_INTS:
            out[name] = value if isinstance(value, int) and not isinstance(value, bool) else None
        else:
            out[name] = str(value) if value is not None else None
    # Provenance: whether the fields come from a verified GitHub ID token, and where the environment disagreed.
    out["verified"] = out["provenance"] == "github-oidc"
    mismatches = run.get("mismatches")
    out["mismatches"] = [
        {key: (str(m[key]) if m.get(key) is not None else None) for key in _MISMATCH_FIELDS}
        for m in (mismatches if isinstance(mismatches, list) else [])
        if isinstance(m, Mapping)
    ]
    return out


def _request_ids(lease: LeaseRecord) -> dict[str, str | None]:
    return {str(k): (str(v) if v is not None else None) for k, v in sorted(lease["request_ids"].items())}


def _details(events: Sequence[EventRecord]) -> Mapping[str, Any]:
    for event in events:
        if event["type"] == LEASE_REQUESTED:
            details = event["body"].get("details")
            return details if isinstance(details, Mapping) else {}
    return {}


def _decision(details: Mapping[str, Any]) -> dict[str, Any] | None:
    decision = details.get("decision")
    if not isinstance(decision, Mapping):
        return None
    out = {k: v for k, v in decision.items() if k != "target"}  # the target is recorded once, in `target`
    out.setdefault("allowed", True)
    reasons = decision.get("reasons")
    out["reasons"] = [dict(r) for r in reasons if isinstance(r, Mapping)] if isinstance(reasons, list) else []
    return out


def _version_ids(value: Any, key: str = "") -> list[str]:
    """Every string under a key ending in version_id / version_ids (the evidence a rotation leaves)."""
    found: list[str] = []
    normalised = key.lower().replace("-", "_")
    if isinstance(value, str) and normalised.endswith("version_id"):
        found.append(value)
    elif isinstance(value, list) and normalised.endswith(("version_ids", "version_id")):
        found.extend(item for item in value if isinstance(item, str))
    elif isinstance(value, Mapping):
        for child_key, child in value.items():
            found.extend(_version_ids(child, str(child_key)))
    return found


def _secret(event: EventRecord) -> dict[str, Any]:
    body = {k: v for k, v in event["body"].items() if k != "lease_state"}
    entry: dict[str, Any] = {"seq": event["seq"], "at": event["at"]}
    for name in _SECRET_TEXT_FIELDS:
        value = body.get(name)
        entry[name] = value if isinstance(value, str) else None
    if entry["version_id"] is None and isinstance(body.get("new_version_id"), str):
        entry["version_id"] = body["new_version_id"]
    # The new version first, then the one it replaced, then any others (disabled, rolled back...).
    leading = [entry["version_id"], entry["previous_version_id"]]
    entry["version_ids"] = list(dict.fromkeys([v for v in leading if v] + _version_ids(body)))
    entry["details"] = body
    return entry


def _failure_detail(body: Mapping[str, Any]) -> Any:
    for key in ("error", "detail"):
        if key in body:
            return body[key]
    grant = body.get("grant")
    if isinstance(grant, Mapping):
        return {"api_status": grant.get("api_status"), "status": grant.get("status")}
    return None


def _release(lease: LeaseRecord, events: Sequence[EventRecord]) -> dict[str, Any]:
    outcome: str | None = None
    detail: str | None = None
    for event in events:
        body = event["body"]
        if event["type"] == "lease.released" and isinstance(body.get("outcome"), str):
            outcome = body["outcome"]
        elif event["type"] == "lease.left_to_expire":
            outcome = "left_to_expire"
        elif event["type"] == "lease.release_failed":
            outcome = "release_failed"
            detail = str(body.get("detail")) if body.get("detail") is not None else None
        elif event["type"] == "lease.expired" and outcome is None:
            outcome = "expired"
    return {"strategy": lease["release_strategy"], "outcome": outcome, "detail": detail}


def _target(lease: LeaseRecord) -> dict[str, Any]:
    resolved = lease["data"].get("resolved")
    scope_name = resolved.get("scope_name") if isinstance(resolved, Mapping) else None
    return {
        "kind": lease["kind"],
        "role": lease["role"],
        "role_id": lease["role_id"],
        "scope": lease["scope"],
        "scope_name": scope_name if isinstance(scope_name, str) else None,
        "tenant_id": lease["tenant_id"],
    }


def build_summary(
    lease: LeaseRecord, events: Sequence[EventRecord], *, supersedes: EventRecord | None = None
) -> dict[str, Any]:
    """The summary record (unsigned, without `ledger`) of `lease` from its lifecycle `events` (seq order)."""
    lifecycle = [e for e in events if e["type"] != SUMMARY_EVENT]
    if not lifecycle:
        raise AuditError("a lease with no events cannot be summarised", target=lease["lease_id"])
    details = _details(lifecycle)
    times: dict[str, str | None] = dict.fromkeys(_TIME_KEYS)
    times.update(created_at=lease["created_at"], updated_at=lease["updated_at"])
    times.update(start_at=lease["start_at"], end_at=lease["end_at"])
    for event in lifecycle:
        key = _TIMES.get(event["type"])
        if key is None and _is_failure(event["type"]):
            key = "failed_at"
        if key is not None and times.get(key) is None:
            times[key] = event["at"]
    exit_code = lease["exit_code"]
    if exit_code is None:
        finished = [e for e in lifecycle if e["type"] == COMMAND_FINISHED]
        code = finished[-1]["body"].get("exit_code") if finished else None
        exit_code = code if isinstance(code, int) and not isinstance(code, bool) else None
    policy = details.get("policy")
    return {
        "record_type": RECORD_TYPE,
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "lease_id": lease["lease_id"],
        "state": lease["state"],
        "outcome": lease["outcome"],
        "exit_code": exit_code,
        "mode": lease["mode"],
        "target": _target(lease),
        "principal": {"id": lease["principal_id"], "tenant_id": lease["tenant_id"]},
        "justification": lease["justification"],
        "ticket": lease["ticket"],
        "run": _run(lease["run"]),
        "request_ids": _request_ids(lease),
        "policy": dict(policy) if isinstance(policy, Mapping) else None,
        "decision": _decision(details),
        "times": times,
        "durations": {"requested_s": lease["requested_duration_s"], "granted_s": lease["granted_duration_s"]},
        "release": _release(lease, lifecycle),
        "secrets": [_secret(e) for e in lifecycle if e["type"] == SECRET_ROTATED],
        "failures": [
            {"seq": e["seq"], "type": e["type"], "at": e["at"], "detail": _failure_detail(e["body"])}
            for e in lifecycle
            if _is_failure(e["type"])
        ],
        "notes": list(lease["notes"]),
        "events": [{"seq": e["seq"], "type": e["type"], "at": e["at"], "hash": e["hash"]} for e in lifecycle],
        "supersedes": {"seq": supersedes["seq"], "hash": supersedes["hash"]} if supersedes is not None else None,
    }


def distributed_record(event: EventRecord) -> dict[str, Any]:
    """The handed-out copy of a `lease.summary` event: its body plus `ledger` and `signature`."""
    if event["type"] != SUMMARY_EVENT:
        raise AuditError(f"event seq {event['seq']} is a {event['type']}, not a {SUMMARY_EVENT}")
    if event["signature"] is None:
        raise AuditError(f"the summary at seq {event['seq']} is not signed", target=event["lease_id"])
    record = dict(event["body"])
    record["ledger"] = {"seq": event["seq"], "at": event["at"], "hash": event["hash"], "prev_hash": event["prev_hash"]}
    record["signature"] = Signature.from_text(event["signature"]).to_json()
    return record


def signed_body(record: Mapping[str, Any]) -> dict[str, Any]:
    """What the signature of a handed-out record covers: the record without `ledger` and `signature`."""
    return {k: v for k, v in record.items() if k not in ("ledger", "signature")}


def _covers_everything(summary: EventRecord, lifecycle: Sequence[EventRecord]) -> bool:
    covered = summary["body"].get("events")
    if not isinstance(covered, list) or not covered or not lifecycle:
        return False
    last = covered[-1]
    return isinstance(last, Mapping) and last.get("seq") == lifecycle[-1]["seq"]


def signer_for(store: AuditStore, environ: Mapping[str, str] | None = None) -> Signer:
    """The signing key for records of `store` (see signing.py: the configured key, else the one beside the
    ledger file, generated on first use)."""
    signer = load_signer(ledger_path=store_file(store), environ=environ, create=True)
    assert signer is not None  # create=True always yields a key or raises ConfigError
    return signer


def finalize_lease(ledger: AuditStore, lease_id: str, signer: Signer) -> dict[str, Any]:
    """Write the signed `lease.summary` of `lease_id` (once per state of its events) and return the record
    as handed out. Raises LeaseNotFoundError for an unknown lease, LedgerError when it cannot be written."""
    lease = ledger.get(lease_id)
    events = ledger.events(lease_id)
    summaries = [e for e in events if e["type"] == SUMMARY_EVENT]
    lifecycle = [e for e in events if e["type"] != SUMMARY_EVENT]
    previous = summaries[-1] if summaries else None
    if previous is not None and _covers_everything(previous, lifecycle):
        return distributed_record(previous)
    body = build_summary(lease, lifecycle, supersedes=previous)
    signature = signer.sign_json(body)
    event = ledger.append_event(lease_id, SUMMARY_EVENT, body, signature=signature.to_text())
    return distributed_record(event)


def latest_summary(store: AuditStore, lease_id: str) -> dict[str, Any] | None:
    """The newest handed-out summary of a lease, or None when it was never finalized."""
    summaries = [e for e in store.events(lease_id) if e["type"] == SUMMARY_EVENT]
    return distributed_record(summaries[-1]) if summaries else None


def summary_records(store: AuditStore, lease_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The newest summary of each lease (all leases, or those named), in chain order of the summaries."""
    wanted = set(lease_ids) if lease_ids is not None else None
    latest: dict[str, EventRecord] = {}
    for event in store.events():
        if event["type"] != SUMMARY_EVENT or event["lease_id"] is None:
            continue
        if wanted is None or event["lease_id"] in wanted:
            latest[event["lease_id"]] = event
    return [distributed_record(e) for e in sorted(latest.values(), key=lambda e: e["seq"])]


def write_run_file(
    records: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    signer: Signer | None = None,
    run: Mapping[str, Any] | None = None,
    checkpoint: Mapping[str, Any] | None = None,
) -> Path:
    """Write `records` (handed-out summaries) as a chained evidence file a CI job uploads as an artifact;
    returns the path. The file is bound to `run` (else to the run its records share, when they all name the
    same one) and carries `checkpoint`. See `evidence_file.py` for the format; `jitpim audit verify FILE`
    checks it."""
    from jitpim.audit.evidence_file import run_binding, write_evidence_file

    if run is None:
        runs = {canonical_json(run_binding(record.get("run"))) for record in records}
        if len(runs) == 1 and records:
            run = run_binding(records[0].get("run"))
    return write_evidence_file(records, path, content="summaries", signer=signer, run=run, checkpoint=checkpoint)
