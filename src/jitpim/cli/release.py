"""`jitpim release`: end leases granted by `jitpim elevate` (or left behind), and verify they are gone."""

from __future__ import annotations

from typing import Any

import click

from ..errors import LeaseNotFoundError, ReleaseFailedError, UsageError
from ..model import Mode
from . import _broker_mode
from ._common import common_options, echo_json, open_runtime, with_common
from ._evidence import record_evidence
from ._output import handle_errors

__all__ = ["release"]


@click.command()
@click.argument("lease_ids", nargs=-1)
@click.option("--run", "run_key", help="Release every open lease of this CI run (lease ids start with it).")
@click.option("--all", "all_", is_flag=True, help="Release every open lease of the calling principal.")
@click.option(
    "--early-release",
    type=click.Choice(["wait", "expire"]),
    default="wait",
    show_default=True,
    help="When PIM refuses removal in the first 5 minutes: wait for the window, or leave it to expire.",
)
@common_options
@_broker_mode.broker_options
@handle_errors
@with_common
def release(
    common: Any,
    lease_ids: tuple[str, ...],
    run_key: str | None,
    all_: bool,
    early_release: str,
    broker_url: str | None,
    broker_audience: str | None,
) -> None:
    """Release leases by id, by CI run (`--run gh-RUNID-ATTEMPT`), or all open leases of the calling
    principal (`--all`), then verify each is gone. Already-gone access counts as released.

    With --mode broker the ids are broker request ids, and --run/--all release every open request of this
    job through the broker (it retries while the broker is unreachable).

    Exits 85 if any release failed (access may remain: run `jitpim reap` or check `jitpim status`).

    \b
    Examples:
      jitpim release gh-9100200300-1/rbac/key-vault-secrets-officer-kv-payments-3e14fa93
      jitpim release --run "gh-$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT"   # the last step of a job
      jitpim release --all --early-release expire
    """
    from ..lifecycle import LifecycleOptions, Releaser, held_from_record

    if sum(bool(x) for x in (lease_ids, run_key, all_)) != 1:
        raise UsageError("name the leases to release: LEASE_ID..., --run RUN, or --all (exactly one of them)")
    if common.mode is Mode.BROKER:
        # Broker requests are named by request id; --run/--all release every open request of this job.
        return _broker_mode.release(common, lease_ids, bool(run_key or all_), broker_url, broker_audience)
    with open_runtime(common) as rt:
        open_leases = rt.ledger.open_leases()
        if lease_ids:
            records = []
            for lid in lease_ids:
                record = rt.ledger.find(lid)
                if record is None:
                    raise LeaseNotFoundError(f"no lease {lid} in the ledger {rt.ledger.path}")
                records.append(record)
        elif run_key:
            records = [r for r in open_leases if r["lease_id"].startswith(run_key + "/")]
        else:
            me = rt.session.identity().object_id
            records = [r for r in open_leases if r.get("principal_id") == me]
        options = LifecycleOptions(mode=common.mode, early_release=early_release)
        releaser = Releaser(rt.ledger, rt.clock, options, rt.timeline)
        reports = []
        for record in records:
            if record["state"] in ("released", "expired", "failed"):
                reports.append({"lease_id": record["lease_id"], "outcome": f"already {record['state']}"})
                continue
            held = held_from_record(record, rt.session.context)
            reports.append(releaser.release(held).to_json())
        evidence = record_evidence(rt, [r["lease_id"] for r in reports], quiet=common.output == "json")
        if common.output == "json":
            echo_json({"releases": reports, "audit": evidence.to_json() if evidence else None})
        else:
            if not reports:
                click.echo("no open leases matched")
            for report in reports:
                click.echo(
                    f"{report['lease_id']}: {report['outcome']}"
                    + (f" ({report['detail']})" if report.get("detail") else "")
                )
        failed = [r["lease_id"] for r in reports if r["outcome"] == "failed"]
        if failed:
            raise ReleaseFailedError("release failed for " + ", ".join(failed))
