"""`jitpim approvals`: list, show, approve and deny broker requests that wait for approval."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..errors import AuthError, UsageError
from ._output import emit_json, handle_errors, output_option

__all__ = ["approvals"]

F = TypeVar("F", bound=Callable[..., Any])


def _broker_options(func: F) -> F:
    for option in reversed(
        [
            click.option("--broker-url", envvar="JITPIM_BROKER_URL", help="The broker's URL. [env: JITPIM_BROKER_URL]"),
            click.option(
                "--audience",
                envvar="JITPIM_BROKER_AUDIENCE",
                help="The broker's Entra app (ID URI or client id) to sign in for. [env: JITPIM_BROKER_AUDIENCE]",
            ),
            click.option("--ca-bundle", envvar="JITPIM_CA_BUNDLE", type=click.Path(exists=True, dir_okay=False)),
            output_option,
        ]
    ):
        func = option(func)
    return func


def _client(broker_url: str | None, audience: str | None, ca_bundle: str | None) -> Any:
    from ..broker.client import BrokerClient

    if not broker_url:
        raise UsageError("no broker URL", hint="Give --broker-url or set JITPIM_BROKER_URL.")

    def token() -> str:
        # A token obtained by the approver's own tooling (az account get-access-token --resource <audience>).
        given = os.environ.get("JITPIM_APPROVER_TOKEN")
        if given:
            return given
        if not audience:
            raise AuthError(
                "no approver sign-in: set JITPIM_APPROVER_TOKEN or give --audience to sign in with your Azure login",
                hint="e.g. --audience api://jitpim-broker (the broker's app ID URI).",
            )
        from ..auth import credential_for
        from ..cloud import resolve_cloud
        from ..model import Mode

        with credential_for(resolve_cloud(), mode=Mode.SELF) as choice:
            return str(choice.credential.get_token(f"{audience.rstrip('/')}/.default").token)

    return BrokerClient(broker_url, token, ca_bundle=ca_bundle)


def _line(request: dict[str, Any]) -> str:
    target = request.get("target") or {}
    decision = request.get("decision") or {}
    claims = request.get("claims") or {}
    return (
        f"{request['request_id']}  {request['state']:<16} {request.get('repository')}@{claims.get('ref')} "
        f"by {claims.get('actor')}: {target.get('role')} on {target.get('scope')} for {target.get('duration')} "
        f"(policy {decision.get('policy_id')})"
    )


@click.group()
def approvals() -> None:
    """Decide broker requests held for approval. You sign in as yourself (Entra); you must be in the
    policy's approver group, give a reason, and cannot approve a run you started yourself.

    \b
    Typical use:
      export JITPIM_BROKER_URL=https://broker.contoso.com JITPIM_BROKER_AUDIENCE=api://jitpim-broker
      jitpim approvals list
      jitpim approvals approve REQUEST_ID --reason "CHG0042 reviewed"
    """


@approvals.command("list")
@_broker_options
@handle_errors
def list_(broker_url: str | None, audience: str | None, ca_bundle: str | None, output: str) -> None:
    """Requests waiting for you (pending, in a group you belong to)."""
    found = _client(broker_url, audience, ca_bundle).pending()
    if output == "json":
        emit_json({"value": found})
        return
    if not found:
        click.echo("nothing waits for your approval")
    for request in found:
        click.echo(_line(request))


@approvals.command()
@click.argument("request_id")
@_broker_options
@handle_errors
def show(request_id: str, broker_url: str | None, audience: str | None, ca_bundle: str | None, output: str) -> None:
    """One request: verified claims, target, the deciding policy and the claims it read, approvals so far."""
    request = _client(broker_url, audience, ca_bundle).show(request_id)
    if output == "json":
        emit_json(request)
        return
    click.echo(_line(request))
    decision = request.get("decision") or {}
    click.echo(f"  decision: {decision.get('outcome')} — {decision.get('message')}")
    for path, value in (decision.get("claims") or {}).items():
        click.echo(f"    {path} = {value!r}")
    for approval in request.get("approvals") or []:
        click.echo(f"  {approval['decision']} by {approval['approver']} at {approval['at']}: {approval['reason']}")


def _decide(verdict: str) -> Callable[..., None]:
    @click.argument("request_id")
    @click.option("--reason", "-r", required=True, help="Why (required; recorded with your name).")
    @_broker_options
    @handle_errors
    def command(
        request_id: str, reason: str, broker_url: str | None, audience: str | None, ca_bundle: str | None, output: str
    ) -> None:
        request = _client(broker_url, audience, ca_bundle).decide(request_id, verdict, reason)
        if output == "json":
            emit_json(request)
        else:
            click.echo(f"{verdict}d: " + _line(request))

    functools.update_wrapper(command, command)
    return command


approvals.command("approve", help="Approve a pending request (a reason is required).")(_decide("approve"))
approvals.command("deny", help="Deny a pending request (a reason is required).")(_decide("deny"))
