"""`jitpim extend`: lengthen a running lease within the policy's maximum."""

from __future__ import annotations

from typing import Any

import click

from ..errors import LeaseNotFoundError, UsageError
from ._common import common_options, duration_option, echo_json, open_runtime, with_common
from ._output import handle_errors

__all__ = ["extend"]


@click.command()
@click.argument("lease_id")
@click.option("--duration", required=True, help="New total length from now, e.g. 30m (within the policy maximum).")
@common_options
@handle_errors
@with_common
def extend(common: Any, lease_id: str, duration: str) -> None:
    """Lengthen a running lease so a long deployment does not lose its access mid-run. Uses the API's
    extend action where it exists, else a new grant before the old one ends. Refused with the rule named
    when the policy forbids it (exit 73). Only a granted or effective lease can be extended.

    \b
    Example:
      jitpim extend gh-9100200300-1/rbac/key-vault-secrets-officer-kv-payments-3e14fa93 --duration 45m
    """
    import dataclasses

    from ..lifecycle import LifecycleOptions, held_from_record
    from ..model import LeaseState, TargetKind, evaluate
    from ..providers import GrantMarker

    length = duration_option(duration, "--duration")
    with open_runtime(common) as rt:
        record = rt.ledger.find(lease_id)
        if record is None:
            raise LeaseNotFoundError(f"no lease {lease_id} in the ledger {rt.ledger.path}")
        if LeaseState(record["state"]) not in (LeaseState.GRANTED, LeaseState.EFFECTIVE):
            raise UsageError(
                f"lease {lease_id} is {record['state']}; only a granted or effective lease can be extended",
                hint="Start a new lease with `jitpim elevate`; `jitpim status --all` shows each lease's state.",
            )
        held = held_from_record(record, rt.session.context)
        policy = held.provider.read_policy(held.resolved, held.ctx)
        if held.resolved.target.kind is TargetKind.RBAC and policy.max_duration is None:
            # As when the lease was planned: a plain role assignment has no expiry at the source, so
            # jitpim's own ceiling is its maximum (the reaper enforces it).
            policy = dataclasses.replace(policy, max_duration=LifecycleOptions().rbac_max_duration)
        target = dataclasses.replace(held.resolved.target, duration=length, start=None)
        decision = evaluate(
            target,
            policy,
            mode=common.mode,
            now=rt.clock.now(),
            default_duration=length,
            has_mfa=held.ctx.identity.has_mfa,
            strict=True,
        )
        decision.raise_for_refusal()
        # The lease's marker at the source moves with it (for rbac it is the only end there is).
        marker = GrantMarker(lease_id, held.resolved.principal_id, decision.end)
        grant = held.provider.extend(held.grant, held.resolved, decision, held.ctx, marker=marker)
        data = dict(record.get("data") or {})
        data["grant"] = grant.to_json()
        rt.ledger.transition(
            lease_id,
            record["state"],
            "lease.extended",
            {"end_at": grant.end_at.isoformat() if grant.end_at else None, "grant": grant.to_json()},
            end_at=grant.end_at,
            data=data,
        )
        if common.output == "json":
            echo_json({"lease_id": lease_id, "grant": grant.to_json()})
        else:
            click.echo(f"{lease_id}: now ends at {grant.end_at:%Y-%m-%d %H:%M:%SZ}" if grant.end_at else lease_id)
