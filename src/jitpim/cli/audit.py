"""`jitpim audit list|show|export|verify|flush|reconcile|finalize|public-key`: read, prove and ship the record.

Human output by default, one JSON document with `--output json`. The ledger is `--ledger` / `$JITPIM_LEDGER`
(a SQLite file, or a `postgresql://` DSN). Exit codes: 0 when everything held; 83 (`AuditError`) when a
verification fails, a sink did not take every record (they stay queued for `flush`), or reconcile found
discrepancies (unless `--no-fail`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import AuditError, AuditUnpinnedError, AuditVerificationError, ConfigError, UsageError
from ..safe_text import neutralise
from ._output import emit_json, handle_errors, output_option

__all__ = ["audit"]

F = TypeVar("F", bound=Callable[..., Any])

# Leases whose lifecycle is over: released, expired, failed, and release_failed (the lifecycle ended without
# removing the access: exactly the record a security team needs; a later release supersedes it).
_FINISHED = frozenset({"released", "expired", "failed", "release_failed"})

ledger_option = click.option(
    "--ledger",
    envvar="JITPIM_LEDGER",
    help="Ledger: a SQLite file or a postgresql:// DSN. [default: $XDG_STATE_HOME/jitpim/ledger.sqlite3]",
)


def _filters(func: F) -> F:
    for decorator in reversed(
        (
            click.option("--since", help="Leases created at or after: ISO-8601 time, or a duration ago (7d, 12h)."),
            click.option("--until", help="Leases created at or before: ISO-8601 time, or a duration ago."),
            click.option("--principal", help="Principal object id."),
            click.option("--target", help="Substring of the target kind, role name or id, or scope."),
            click.option("--repository", help="CI repository, owner/name."),
            click.option("--outcome", help="Outcome, e.g. released, left_to_expire, release_failed, denied."),
            click.option("--state", help="Lease state, e.g. released, expired, release_failed."),
            click.option("--run-id", help="CI run id."),
        )
    ):
        func = decorator(func)
    return func


def _when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    except ValueError:
        pass
    from ..model import parse_duration

    try:
        return datetime.now(UTC) - parse_duration(value)
    except Exception:
        raise UsageError(f"{name}: {value!r} is neither an ISO-8601 time nor a duration such as 7d") from None


def _filters_from(kwargs: dict[str, Any]) -> Any:
    from ..audit.export import ExportFilters

    return ExportFilters(
        since=_when(kwargs.pop("since"), "--since"),
        until=_when(kwargs.pop("until"), "--until"),
        principal=kwargs.pop("principal"),
        target=kwargs.pop("target"),
        repository=kwargs.pop("repository"),
        outcome=kwargs.pop("outcome"),
        state=kwargs.pop("state"),
        run_id=kwargs.pop("run_id"),
    )


def _open(ledger: str | None, *, view: bool = False) -> Any:
    """The ledger; with `view`, one this user may read but not write opens read-only (a copy handed to an
    auditor, a ledger on a read-only mount), since listing and showing write nothing."""
    from ..audit.store import open_store
    from ..errors import LedgerError

    try:
        return open_store(ledger)
    except LedgerError:
        if not view:
            raise
    try:
        return open_store(ledger, read_only=True)
    except LedgerError as exc:
        exc.hint = "Check --ledger / JITPIM_LEDGER names a ledger this user may read."
        raise


def _signer(store: Any, *, create: bool) -> Any:
    from ..audit.signing import load_signer
    from ..audit.store import store_file

    return load_signer(ledger_path=store_file(store), create=create)


def _say(line: str) -> None:
    """Print one line of a stored record: its fields (a justification, a ticket, a CI actor) came from
    outside, and a record may be old or tampered with, so control characters are written as escapes and
    cannot start a forged log line or workflow command."""
    click.echo(neutralise(line))


def _short(text: str | None, width: int) -> str:
    text = text or "-"
    return text if len(text) <= width else "..." + text[-(width - 3) :]


@click.group()
def audit() -> None:
    """The audit trail: signed, hash-chained records of every lease, and where they go.

    \b
    Every lease ends with one summary record signed with Ed25519 and chained in the ledger.
    `verify` proves a ledger or an exported file was not altered; `export` writes JSON lines (verifiable)
    or CSV; `flush` retries sinks that failed; `reconcile` compares the ledger with Entra's audit log and
    the live assignments. Reference: docs/reference/audit.md.
    """


@audit.command("list")
@_filters
@ledger_option
@output_option
@handle_errors
def list_(ledger: str | None, output: str, **kwargs: Any) -> None:
    """List leases with their outcome and whether a signed summary exists.

    \b
    Example: jitpim audit list --since 7d --repository contoso/payments --outcome release_failed
    """
    from ..audit.export import select_leases
    from ..audit.summary import SUMMARY_EVENT

    filters = _filters_from(kwargs)
    with _open(ledger, view=True) as store:
        leases = select_leases(store, filters)
        signed = {e["lease_id"] for e in store.events() if e["type"] == SUMMARY_EVENT}
    rows: list[dict[str, Any]] = [
        {
            "lease_id": lease["lease_id"],
            "state": lease["state"],
            "outcome": lease["outcome"],
            "kind": lease["kind"],
            "role": lease["role"],
            "scope": lease["scope"],
            "principal_id": lease["principal_id"],
            "repository": (lease["run"] or {}).get("repository"),
            "run_id": (lease["run"] or {}).get("run_id"),
            "created_at": lease["created_at"],
            "signed": lease["lease_id"] in signed,
        }
        for lease in leases
    ]
    if output == "json":
        emit_json({"leases": rows, "filters": filters.to_json()})
        return
    if not rows:
        click.echo("no leases match")
        return
    click.echo(f"{'LEASE':44} {'STATE':15} {'OUTCOME':15} {'TARGET':40} {'CREATED':20} SIGNED")
    for row in rows:
        target = f"{row['kind']} {row['role']} @ {row['scope']}"
        _say(
            f"{_short(row['lease_id'], 44):44} {row['state']:15} {row['outcome'] or '-':15} "
            f"{_short(target, 40):40} {row['created_at'][:19]:20} {'yes' if row['signed'] else 'no'}"
        )


@audit.command()
@click.argument("lease_id")
@ledger_option
@output_option
@handle_errors
def show(lease_id: str, ledger: str | None, output: str) -> None:
    """Show one lease's summary record (signed, or built now if not finalized) and its events.

    \b
    Example: jitpim audit show gh-9100200300-1/rbac/key-vault-secrets-officer-kv-payments-3e14fa93
    """
    from ..audit.summary import SUMMARY_EVENT, build_summary, latest_summary

    with _open(ledger, view=True) as store:
        lease = store.get(lease_id)
        events = store.events(lease_id)
        record = latest_summary(store, lease_id)
    finalized = record is not None
    if record is None:
        record = build_summary(lease, events)
    if output == "json":
        emit_json({"finalized": finalized, "record": record, "events": events})
        return
    target = record["target"]
    run = record["run"] or {}
    _say(f"Lease {record['lease_id']}  ({'signed' if finalized else 'NOT finalized: no signed summary yet'})")
    _say(f"  target      {target['kind']} {target['role']} on {target['scope_name'] or target['scope']}")
    _say(f"  principal   {record['principal']['id']} (tenant {record['principal']['tenant_id']})")
    _say(f"  state       {record['state']}, outcome {record['outcome'] or '-'}, exit code {record['exit_code']}")
    _say(f"  why         {record['justification'] or '-'}  ticket {record['ticket'] or '-'}")
    if run:
        _say(f"  CI          {run.get('repository')} {run.get('ref')} @ {str(run.get('sha') or '')[:12]}")
        _say(f"              run {run.get('run_id')} attempt {run.get('run_attempt')} by {run.get('actor')}")
    for name, value in record["request_ids"].items():
        _say(f"  {name:11} {value}")
    for secret in record["secrets"]:
        _say(f"  rotated     {secret.get('secret_name')} -> {', '.join(secret['version_ids'])}")
    if finalized:
        signature = record["signature"]
        _say(f"  signature   Ed25519 key {signature['key_id']} (ledger seq {record['ledger']['seq']})")
    _say("  events:")
    for event in events:
        mark = " (signed)" if event["type"] == SUMMARY_EVENT else ""
        _say(f"    {event['seq']:>6}  {event['at']}  {event['type']}{mark}  {event['hash'][:12]}")


@audit.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option(
    "--content",
    type=click.Choice(["summaries", "events"]),
    default="summaries",
    show_default=True,
    help="Signed summary records (one per lease) or the raw chained events.",
)
@click.option("--file", "-f", "file_", type=click.Path(dir_okay=False, path_type=Path), help="Write here, not stdout.")
@_filters
@ledger_option
@handle_errors
def export(fmt: str, content: str, file_: Path | None, ledger: str | None, **kwargs: Any) -> None:
    """Export records as verifiable JSON lines (the evidence format) or as CSV for spreadsheets.

    \b
    Examples:
      jitpim audit export --since 30d -f evidence.jsonl && jitpim audit verify evidence.jsonl
      jitpim audit export --format csv --since 30d -f leases.csv
    """
    import io

    from ..audit.export import chain_head, csv_text, export_events, export_summaries, write_jsonl

    filters = _filters_from(kwargs)
    missing: list[str] = []
    with _open(ledger, view=True) as store:
        if content == "events":
            records = export_events(store, filters)
        else:
            records, missing = export_summaries(store, filters)
        signer = _signer(store, create=False)
        head = chain_head(store)
    if fmt == "csv":
        if content == "events":
            raise UsageError("CSV export holds summaries only; use --format jsonl for events")
        text = csv_text(records)
    else:
        buffer = io.StringIO()
        write_jsonl(records, buffer, content=content, filters=filters, signer=signer, ledger_head=head)  # type: ignore[arg-type]
        text = buffer.getvalue()
    if file_ is None:
        sys.stdout.write(text)
    else:
        file_.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(records)} {content} to {file_}", err=True)
    if missing:
        click.echo(
            f"note: {len(missing)} matching lease(s) have no signed summary yet (jitpim audit finalize)", err=True
        )


PUBLIC_KEY_ENV = "JITPIM_PUBLIC_KEY"


def _pinned_keys(public_keys: Sequence[Path]) -> dict[str, Any]:
    """The keys the user pinned: `--public-key` files, else `$JITPIM_PUBLIC_KEY` (a file, or the key inline)."""
    import os

    from ..audit.signing import PublicKey, load_public_key

    keys = [load_public_key(p) for p in public_keys]
    configured = os.environ.get(PUBLIC_KEY_ENV, "").strip()
    if not keys and configured:
        looks_inline = configured.startswith("-----BEGIN") or not Path(configured).expanduser().is_file()
        keys = [
            PublicKey.from_text(configured, source=f"${PUBLIC_KEY_ENV}")
            if looks_inline
            else load_public_key(Path(configured).expanduser())
        ]
    return {key.key_id: key for key in keys}


def _local_key(ledger_file: Path | None) -> dict[str, Any]:
    """This machine's signing key, without creating one (not pinned: whoever controls this machine could
    have replaced it together with the ledger)."""
    from ..audit.signing import load_signer

    signer = load_signer(ledger_path=ledger_file, create=False)
    return {signer.key_id: signer.public} if signer is not None else {}


def _print_report(report: Any, output: str, *, pinned: bool, extra: dict[str, Any]) -> None:
    if output == "json":
        emit_json({**report.to_json(), "pinned": pinned, **extra})
    elif report.ok:
        what = "events" if report.kind == "ledger" else "records"
        keys = ", ".join(report.key_ids) or "none"
        covered = f", {report.covered} covered by checkpoints" if report.covered else ""
        click.echo(
            click.style("verified: ", fg="green", bold=True)
            + f"{report.source}: {report.checked} {what}, {report.signatures} signatures{covered} (keys: {keys})"
        )
        for note in report.notes:
            _say(f"note: {note}")
    else:
        problem = report.problem
        lease = f" (lease {problem.lease_id})" if problem.lease_id else ""
        # The message names lease ids and fields read from a ledger that may have been tampered with.
        click.echo(
            click.style("BROKEN: ", fg="red", bold=True)
            + neutralise(f"{report.source}: {problem.where}{lease}: {problem.kind}: {problem.message}")
        )


def _pinned_checkpoint(files: Sequence[Path], keys: Any) -> Any:
    """The latest checkpoint in `files` signed by a trusted key (any, with --no-signatures)."""
    from ..audit.checkpoints import read_checkpoints

    found = [checkpoint for path in files for checkpoint in read_checkpoints(path)]
    trusted = [c for c in found if keys is None or c.verify(keys) is None]
    if not trusted:
        raise AuditVerificationError(
            f"no checkpoint in {', '.join(str(p) for p in files)} is signed by a trusted key",
            hint="Pass the public key that signed it (--public-key), or a checkpoint of this ledger.",
        )
    return max(trusted, key=lambda c: c.seq)


@audit.command()
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Pinned public key (PEM or base64) that must have signed; repeat for several. [default: $JITPIM_PUBLIC_KEY]",
)
@click.option(
    "--checkpoint",
    "checkpoints",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A signed checkpoint (a run file, or what a sink received): the ledger must still hold what it attests.",
)
@click.option("--run", "run", help="The run an evidence file must be bound to: gh-RUNID-ATTEMPT, or RUNID.")
@click.option("--repository", help="With --run: the repository (owner/name) the run must be of.")
@click.option("--no-signatures", is_flag=True, help="Check the hash chain only (proves integrity, not who signed).")
@ledger_option
@output_option
@handle_errors
def verify(
    path: Path | None,
    public_keys: tuple[Path, ...],
    checkpoints: tuple[Path, ...],
    run: str | None,
    repository: str | None,
    no_signatures: bool,
    ledger: str | None,
    output: str,
) -> None:
    """Verify a ledger (default) or an exported/run file offline; name the first broken link.

    Checks the hash chain (a changed byte, a deleted, inserted or reordered record), the Ed25519
    signatures of summaries and checkpoints, that each signed summary matches the chain, and that every
    lease row matches the chain. With --checkpoint, a ledger must still hold the events a signed
    checkpoint attests (a cut-off tail fails); with --run, a run file must be bound to that run.

    Exit codes: 0 verified against a pinned key; 83 anything broken; 84 verified, but against no pinned
    key (or with --no-signatures): that proves integrity, not who signed.

    \b
    Examples:
      jitpim audit verify --public-key jitpim.pub                  # this machine's ledger
      jitpim audit verify --public-key jitpim.pub --checkpoint runs/gh-9100200300-1.jsonl
      jitpim audit verify runs/gh-9100200300-1.jsonl --run gh-9100200300-1 --public-key jitpim.pub
    """
    from ..audit.location import resolve_ledger_path
    from ..audit.store import is_postgres_dsn, open_store
    from ..audit.verify import SQLITE_MAGIC, verify_ledger_file, verify_store
    from ..audit.verify_evidence import parse_run, verify_evidence_file

    if repository and not run:
        raise UsageError("--repository goes with --run")
    missing = ConfigError("no public key to check signatures with", hint="Pass --public-key FILE (or --no-signatures).")
    pinned = _pinned_keys(public_keys)
    local_file = None if is_postgres_dsn(ledger) else resolve_ledger_path(ledger)
    is_evidence = path is not None and path.read_bytes()[: len(SQLITE_MAGIC)] != SQLITE_MAGIC
    keys: dict[str, Any] | None = None if no_signatures else (pinned or _local_key(local_file))
    extra: dict[str, Any] = {}
    if is_evidence:
        assert path is not None
        if checkpoints:
            raise UsageError("--checkpoint checks a ledger; to check an evidence file, pass it without --checkpoint")
        expected = parse_run(run, repository) if run else None
        # Without a trusted key, the key embedded in the file checks integrity (and the report says so).
        report = verify_evidence_file(path, keys=keys or ({} if keys is not None else None), expected_run=expected)
        pinned_used = bool(pinned) and not no_signatures and report.trusted
    else:
        if run:
            raise UsageError("--run checks an evidence file: pass the run file to verify")
        if keys is not None and not keys:
            raise missing
        pins = [_pinned_checkpoint(checkpoints, keys)] if checkpoints else []
        if pins:
            extra["checkpoint"] = {"seq": pins[0].seq, "hash": pins[0].hash, "at": pins[0].at}
        if path is None and is_postgres_dsn(ledger):
            with open_store(ledger) as store:
                report = verify_store(store, keys=keys, source=getattr(store, "location", "ledger"), checkpoints=pins)
        else:
            file = path if path is not None else resolve_ledger_path(ledger)
            if not file.is_file():
                raise ConfigError(f"there is no ledger at {file}", hint="Pass --ledger PATH, or the file to verify.")
            report = verify_ledger_file(file, keys=keys, checkpoints=pins)
        if pins and report.ok:
            report.notes.append(f"the ledger holds seq {pins[0].seq} as the checkpoint of {pins[0].at} attests")
        pinned_used = bool(pinned) and not no_signatures
    if report.ok and not pinned_used:
        report.notes.append(
            "signatures were not checked (--no-signatures)"
            if no_signatures
            else "no pinned public key: this proves integrity, not who signed; pin one with --public-key "
            f"or ${PUBLIC_KEY_ENV} (exit code {AuditUnpinnedError.exit_code})"
        )
    _print_report(report, output, pinned=pinned_used, extra=extra)
    if not report.ok:
        sys.exit(AuditVerificationError.exit_code)
    if not pinned_used:
        sys.exit(AuditUnpinnedError.exit_code)


def _sinks(sinks_file: Path | None, access_file: Path | None) -> Any:
    from ..audit.sinks import load_sinks_config

    chosen_access = access_file
    if chosen_access is None:
        import os

        from ..lifecycle import find_access_file

        chosen_access = find_access_file(None, os.environ)
    return load_sinks_config(path=sinks_file, access_file=chosen_access)


sinks_options = (
    click.option(
        "--sinks", "sinks_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Sinks file (JSON/YAML). [default: $JITPIM_SINKS, else the access file's audit.sinks]",
    ),
    click.option(
        "--access-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Access file whose audit.sinks section to use. [default: $JITPIM_ACCESS_FILE, ./jitpim.yaml]",
    ),
)  # fmt: skip


def _print_delivery(report: Any, output: str, extra: dict[str, Any] | None = None) -> None:
    if output == "json":
        emit_json({**(extra or {}), **report.to_json()})
        return
    if not report.results:
        click.echo("no sinks configured")
    for result in report.results:
        status = (
            click.style("ok", fg="green")
            if not (result.failed or result.pending or result.error)
            else (click.style("FAILED", fg="red", bold=True))
        )
        line = f"{result.sink} ({result.type}): {status}, {result.delivered} delivered, {result.pending} pending"
        click.echo(line + (f": {result.error}" if result.error else ""))


@audit.command()
@sinks_options[0]
@sinks_options[1]
@ledger_option
@output_option
@handle_errors
def flush(sinks_file: Path | None, access_file: Path | None, ledger: str | None, output: str) -> None:
    """Deliver records still queued for sinks (after a sink failed). Exit code 83 while any remain."""
    from ..audit.sinks import flush as flush_outbox

    config = _sinks(sinks_file, access_file)
    with _open(ledger) as store:
        report = flush_outbox(store, config)
    _print_delivery(report, output)
    if not report.ok:
        sys.exit(AuditError.exit_code)


@audit.command()
@click.argument("lease_ids", nargs=-1)
@click.option("--run-id", help="Finalize every finished lease of this CI run.")
@click.option("--all-finished", is_flag=True, help="Finalize every finished lease that has no summary yet.")
@click.option("--run-file", type=click.Path(dir_okay=False, path_type=Path), help="Also write the records here.")
@click.option("--deliver/--no-deliver", default=True, show_default=True, help="Send the records to the sinks.")
@sinks_options[0]
@sinks_options[1]
@ledger_option
@output_option
@handle_errors
def finalize(
    lease_ids: tuple[str, ...],
    run_id: str | None,
    all_finished: bool,
    run_file: Path | None,
    deliver: bool,
    sinks_file: Path | None,
    access_file: Path | None,
    ledger: str | None,
    output: str,
) -> None:
    """Sign the summary record of finished leases (the lifecycle does this itself at the end of each lease;
    this is for leases closed elsewhere, e.g. by the reaper), write the run file, and send to the sinks."""
    from ..audit.checkpoints import write_checkpoint
    from ..audit.sinks import deliver as deliver_records
    from ..audit.summary import finalize_lease, write_run_file
    from ..ci.github import GitHubActions

    if not (lease_ids or run_id or all_finished):
        raise UsageError("name leases, or pass --run-id or --all-finished")
    with _open(ledger) as store:
        chosen = list(lease_ids)
        if run_id or all_finished:
            chosen += [
                lease["lease_id"]
                for lease in store.list(run_id=run_id)
                if lease["state"] in _FINISHED and lease["lease_id"] not in chosen
            ]
        signer = _signer(store, create=True)
        records = [finalize_lease(store, lease_id, signer) for lease_id in chosen]
        checkpoint = write_checkpoint(store, signer)  # into the run file and to every sink
        written = (
            write_run_file(records, run_file, signer=signer, checkpoint=checkpoint) if run_file is not None else None
        )
        shipped = [*records, checkpoint]
        report = deliver_records(shipped, _sinks(sinks_file, access_file), ledger=store) if deliver else None
    if written is not None:
        GitHubActions().set_output("audit-file", str(written))
    extra = {"records": len(records), "run_file": str(written) if written else None}
    if output != "json":
        click.echo(f"signed {len(records)} summary record(s) with key {signer.key_id}")
        if written is not None:
            click.echo(f"wrote {written}")
    if report is not None:
        _print_delivery(report, output, extra)
        if not report.ok:
            sys.exit(AuditError.exit_code)
    elif output == "json":
        emit_json(extra)


@audit.command("public-key")
@click.option("--format", "fmt", type=click.Choice(["pem", "base64"]), default="pem", show_default=True)
@ledger_option
@output_option
@handle_errors
def public_key(fmt: str, ledger: str | None, output: str) -> None:
    """Print the public key that verifies this machine's signatures (the key is created on first use)."""
    from ..audit.signing import load_signer
    from ..audit.store import is_postgres_dsn

    if is_postgres_dsn(ledger):
        signer = load_signer(ledger_path=None, create=True)
    else:
        from ..audit.location import resolve_ledger_path

        signer = load_signer(ledger_path=resolve_ledger_path(ledger), create=True)
    assert signer is not None
    text = signer.public.to_pem() if fmt == "pem" else signer.public.to_base64() + "\n"
    if output == "json":
        emit_json({"key_id": signer.key_id, "source": signer.source, "public_key": text.strip(), "format": fmt})
        return
    click.echo(text, nl=False)


@audit.command()
@click.option("--since", default="30d", show_default=True, help="How far back: a duration (30d) or ISO time.")
@click.option("--at", "at_", help="Judge expiries as of this ISO time. [default: now]")
@click.option("--record-expiries", is_flag=True, help="Move leases that expired at the source to 'expired'.")
@click.option("--no-fail", is_flag=True, help="Exit 0 even when discrepancies are found.")
@click.option("--cloud", envvar="JITPIM_CLOUD", help="public, usgovernment, china or emulator.")
@click.option("--emulator-url", envvar="JITPIM_EMULATOR_URL", help="Base URL of a running jitpim emulator.")
@click.option("--ca-bundle", envvar="JITPIM_CA_BUNDLE", type=click.Path(exists=True, dir_okay=False))
@ledger_option
@output_option
@handle_errors
def reconcile(
    since: str,
    at_: str | None,
    record_expiries: bool,
    no_fail: bool,
    cloud: str | None,
    emulator_url: str | None,
    ca_bundle: str | None,
    ledger: str | None,
    output: str,
) -> None:
    """Compare the ledger with Entra's directoryAudits and the live assignments: elevations made outside
    jitpim, leases released in the ledger but still active, and expiries. Exit code 83 on findings.

    The identity (AZURE_* / GitHub OIDC, as for the other commands) needs AuditLog.Read.All and read
    access to the role assignments."""
    from ..cloud import resolve_cloud
    from ..lifecycle import Session, SystemClock
    from ..lifecycle.reconcile import reconcile as run_reconcile
    from ..model import Mode

    start = _when(since, "--since")
    now = _when(at_, "--at") or datetime.now(UTC)
    assert start is not None
    profile = resolve_cloud(cloud, emulator_url=emulator_url, ca_bundle=ca_bundle)
    # Through the providers (they know the APIs), as the identity of the environment (AZURE_* / GitHub OIDC).
    with Session(profile, Mode.DIRECT, SystemClock()) as session, _open(ledger) as store:
        report = run_reconcile(store, session.context, now=now, since=start, record_expiries=record_expiries)
    if output == "json":
        emit_json(report.to_json())
    else:
        click.echo(
            f"reconciled {report.leases} lease(s) and {report.audit_rows} directoryAudits row(s) since {report.since}"
        )
        for finding in report.findings:
            click.echo(click.style(f"{finding.kind}: ", fg="yellow", bold=True) + finding.message)
        for error in report.errors:
            click.echo(click.style("error: ", fg="red", bold=True) + error)
        if report.clean:
            click.echo(click.style("clean: ", fg="green", bold=True) + "the ledger and the source agree")
    if not report.clean and not no_fail:
        sys.exit(AuditError.exit_code)


def _register_report() -> None:
    from .audit_report import report

    audit.add_command(report)


_register_report()
