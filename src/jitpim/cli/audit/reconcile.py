"""`jitpim audit reconcile`: the ledger against Entra's audit log and the live assignments."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from ...errors import AuditError
from .._output import emit_json, handle_errors, output_option
from ._shared import _open, _when, ledger_option

__all__ = ["reconcile"]


@click.command()
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
    from ...cloud import resolve_cloud
    from ...lifecycle import Session, SystemClock
    from ...lifecycle.reconcile import reconcile as run_reconcile
    from ...model import Mode

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
