"""`jitpim audit show`: one lease's summary record and its events."""

from __future__ import annotations

import click

from .._output import emit_json, handle_errors, output_option
from ._shared import _open, _say, ledger_option

__all__ = ["show"]


@click.command()
@click.argument("lease_id")
@ledger_option
@output_option
@handle_errors
def show(lease_id: str, ledger: str | None, output: str) -> None:
    """Show one lease's summary record (signed, or built now if not finalized) and its events.

    \b
    Example: jitpim audit show gh-9100200300-1/rbac/key-vault-secrets-officer-kv-payments-3e14fa93
    """
    from ...audit.summary import SUMMARY_EVENT, build_summary, latest_summary

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
