"""`jitpim exec`: hold just-in-time access for exactly as long as a command runs."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ..errors import AuditSinkError, JitError
from ..model import Mode
from . import _broker_mode
from ._common import (
    common_options,
    echo_json,
    lifecycle_options,
    lifecycle_settings,
    open_runtime,
    target_options,
    targets_from,
    with_common,
)
from ._evidence import record_evidence
from ._output import handle_errors
from ._report import cloud_environment, github_report, summary_text

__all__ = ["exec_"]


@click.command(name="exec", context_settings={"allow_interspersed_args": False})
@target_options
@common_options
@lifecycle_options
@_broker_mode.broker_options
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@handle_errors
@with_common
def exec_(common: Any, command: tuple[str, ...], **kwargs: Any) -> None:
    """Grant the targets, wait until the access really works, run COMMAND, then release everything and
    verify the release, whether COMMAND succeeds, fails or crashes, or jitpim gets SIGINT/SIGTERM/SIGHUP
    (forwarded to COMMAND first).

    Exits with COMMAND's own exit code when every release succeeded; 85 when a release failed (the
    most severe outcome); see docs/reference/exit-codes.md for the rest. Refuses to run inside another
    `jitpim exec`.

    \b
    Examples:
      jitpim exec --kind rbac --role "Key Vault Secrets Officer" --scope "$VAULT_ID" \\
        --duration 10m -j "rotate db password" -- ./rotate.sh
      jitpim exec --profile rotate-kv -- az keyvault secret set ...
    """
    from ..lifecycle import check_not_nested, execute, make_plan

    check_not_nested(os.environ)
    broker_url, broker_audience = kwargs.pop("broker_url"), kwargs.pop("broker_audience")
    targets, profile_mode = targets_from(kwargs)
    mode = Mode(profile_mode) if profile_mode else common.mode
    options = lifecycle_settings(mode, kwargs)
    if mode is Mode.BROKER:
        timeout = options.approval_timeout.total_seconds()
        return _broker_mode.exec_(common, targets, list(command), broker_url, broker_audience, timeout)
    with open_runtime(common, mode) as rt:
        plan = make_plan(targets, contexts=rt.session.context, options=options, clock=rt.clock)
        plan.raise_for_refusal()
        try:
            result = execute(
                plan,
                list(command),
                ledger=rt.ledger,
                run=rt.run,
                clock=rt.clock,
                options=options,
                reporter=rt.timeline,
                environ=os.environ,
                extra_env=cloud_environment(rt),
            )
        except JitError:
            # A failed grant or release still leaves evidence: sign what this process recorded.
            mine = [r["lease_id"] for r in rt.ledger.list() if r.get("owner_pid") == os.getpid()]
            record_evidence(rt, mine, quiet=common.quiet or common.output == "json")
            raise
        github_report(rt.github, "jitpim exec", result.leases, result.releases, result.exit_code)
        evidence = record_evidence(
            rt, [r.lease_id for r in result.releases], quiet=common.quiet or common.output == "json"
        )
        exit_code = result.exit_code
        if exit_code == 0 and evidence is not None and evidence.sinks_failed:
            exit_code = AuditSinkError.exit_code
        if common.output == "json":
            echo_json(
                {
                    **result.to_json(),
                    "exit_code": exit_code,
                    "audit": evidence.to_json() if evidence else None,
                    "timeline": [s.to_json() for s in rt.timeline.steps],
                }
            )
        elif not common.quiet:
            click.echo(summary_text(result.leases, result.releases, result.exit_code), err=True)
    sys.exit(exit_code)
