"""`jitpim audit verify`: prove a ledger or an evidence file was not altered (chain, signatures, checkpoints)."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ...errors import AuditUnpinnedError, AuditVerificationError, ConfigError, UsageError
from ...safe_text import neutralise
from .._output import emit_json, handle_errors, output_option
from ._shared import _say, ledger_option

if TYPE_CHECKING:
    from ...audit.checkpoint import Checkpoint
    from ...audit.signing import PublicKey
    from ...audit.verify_report import VerifyReport

__all__ = ["verify"]


PUBLIC_KEY_ENV = "JITPIM_PUBLIC_KEY"


def _pinned_keys(public_keys: Sequence[Path]) -> dict[str, Any]:
    """The keys the user pinned: `--public-key` files, else `$JITPIM_PUBLIC_KEY` (a file, or the key inline)."""
    import os

    from ...audit.signing import PublicKey, load_public_key

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
    from ...audit.signing import load_signer

    signer = load_signer(ledger_path=ledger_file, create=False)
    return {signer.key_id: signer.public} if signer is not None else {}


def _print_report(report: VerifyReport, output: str, *, pinned: bool, extra: dict[str, Any]) -> None:
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
        assert problem is not None  # not ok: there is a problem
        lease = f" (lease {problem.lease_id})" if problem.lease_id else ""
        # The message names lease ids and fields read from a ledger that may have been tampered with.
        click.echo(
            click.style("BROKEN: ", fg="red", bold=True)
            + neutralise(f"{report.source}: {problem.where}{lease}: {problem.kind}: {problem.message}")
        )


def _pinned_checkpoint(files: Sequence[Path], keys: Mapping[str, PublicKey] | None) -> Checkpoint:
    """The latest checkpoint in `files` signed by a trusted key (any, with --no-signatures)."""
    from ...audit.checkpoints import read_checkpoints

    found = [checkpoint for path in files for checkpoint in read_checkpoints(path)]
    trusted = [c for c in found if keys is None or c.verify(keys) is None]
    if not trusted:
        raise AuditVerificationError(
            f"no checkpoint in {', '.join(str(p) for p in files)} is signed by a trusted key",
            hint="Pass the public key that signed it (--public-key), or a checkpoint of this ledger.",
        )
    return max(trusted, key=lambda c: c.seq)


@click.command()
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
    from ...audit.location import resolve_ledger_path
    from ...audit.store import is_postgres_dsn, open_store
    from ...audit.verify import SQLITE_MAGIC, verify_ledger_file, verify_store
    from ...audit.verify_evidence import parse_run, verify_evidence_file

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
