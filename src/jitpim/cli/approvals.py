"""`jitpim approvals`: list, show, approve and deny requests that wait for an approver, in one place:
broker requests held by the broker's policy (`source: broker`), and people's own activations that PIM
itself holds for approval (`source: pim-graph` for directory roles, `pim-arm` for Azure roles).

The broker is asked when its URL is known (--broker-url, JITPIM_BROKER_URL). PIM is asked when the caller
is a person signed in to Entra (self mode: JITPIM_MODE=self with the person's sign-in), or when --source
names a PIM source.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from ..errors import AuthError, LeaseNotFoundError, UsageError
from ._output import emit_json, handle_errors, output_option

__all__ = ["approvals"]

F = TypeVar("F", bound=Callable[..., Any])
_PIM_SOURCES = ("pim-graph", "pim-arm")
_SOURCES = ("broker", *_PIM_SOURCES)


def _broker_options(func: F) -> F:
    for option in reversed(
        [
            click.option(
                "--broker-url",
                envvar="JITPIM_BROKER_URL",
                help="The broker's URL. [env: JITPIM_BROKER_URL; else the access file's broker: {url}]",
            ),
            click.option(
                "--audience",
                envvar="JITPIM_BROKER_AUDIENCE",
                help="The broker's Entra app (ID URI or client id) to sign in for. [env: JITPIM_BROKER_AUDIENCE]",
            ),
            click.option("--ca-bundle", envvar="JITPIM_CA_BUNDLE", type=click.Path(exists=True, dir_okay=False)),
            click.option(
                "--source",
                "sources",
                multiple=True,
                type=click.Choice(_SOURCES),
                help="Only this source (repeatable): broker, pim-graph (Entra roles), pim-arm (Azure roles). "
                "[default: the broker if its URL is known, and PIM when you are signed in as a person]",
            ),
            output_option,
        ]
    ):
        func = option(func)
    return func


def _broker_url(broker_url: str | None) -> str | None:
    """--broker-url / JITPIM_BROKER_URL, else the access file's `broker: {url}` (JITPIM_ACCESS_FILE, ./jitpim.yaml)."""
    from ._broker_mode import resolve_broker

    return resolve_broker(broker_url, "approver", os.environ)[0]


def _chosen(sources: tuple[str, ...], broker_url: str | None) -> tuple[str, ...]:
    if sources:
        if "broker" in sources and not broker_url:
            raise UsageError(
                "--source broker needs the broker's URL", hint="Give --broker-url or set JITPIM_BROKER_URL."
            )
        return tuple(dict.fromkeys(sources))
    chosen: list[str] = ["broker"] if broker_url else []
    if os.environ.get("JITPIM_MODE", "").strip().lower() == "self":
        chosen += _PIM_SOURCES
    if not chosen:
        raise UsageError(
            "nothing to ask: no broker URL, and you are not signed in as a person (self mode)",
            hint="Give --broker-url (or JITPIM_BROKER_URL) for broker requests; for PIM's own approvals sign in "
            'as yourself and set JITPIM_MODE=self (in the emulator: eval "$(jitpim emulator env --as bob)").',
        )
    return tuple(chosen)


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


@contextmanager
def _pim(ca_bundle: str | None) -> Iterator[Any]:
    """The person's provider context (self mode) for PIM's approval APIs."""
    from ..cloud import resolve_cloud
    from ..lifecycle.session import Session
    from ..lifecycle.waiting import SystemClock
    from ..model import Mode

    with Session(resolve_cloud(ca_bundle=ca_bundle), Mode.SELF, SystemClock()) as session:
        yield session.context()


def _broker_json(request: dict[str, Any]) -> dict[str, Any]:
    return {"source": "broker", **request}


def _line(request: dict[str, Any]) -> str:
    target = request.get("target") or {}
    source = request.get("source", "broker")
    head = f"{request['request_id']}  {request['state']:<16} [{source}] "
    if source != "broker":
        principal = request.get("principal") or {}
        ticket = f", ticket {request['ticket']}" if request.get("ticket") else ""
        return (
            f"{head}{principal.get('name') or principal.get('id')}: {target.get('role')} on {target.get('scope')} "
            f"for {target.get('duration')} ({request.get('justification') or 'no justification'}{ticket})"
        )
    decision = request.get("decision") or {}
    claims = request.get("claims") or {}
    return (
        f"{head}{request.get('repository')}@{claims.get('ref')} "
        f"by {claims.get('actor')}: {target.get('role')} on {target.get('scope')} for {target.get('duration')} "
        f"(policy {decision.get('policy_id')})"
    )


def _split(request_id: str, sources: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """`pim-arm:ID` names its source; a bare id is looked up in each chosen source in turn."""
    prefix, sep, rest = request_id.partition(":")
    if sep and prefix in _SOURCES:
        return rest, (prefix,)
    return request_id, sources


def _find(
    request_id: str,
    sources: tuple[str, ...],
    broker_url: str | None,
    audience: str | None,
    ca_bundle: str | None,
    *,
    fetch: bool = True,
) -> tuple[dict[str, Any], Callable[[str, str], dict[str, Any]]]:
    """The request (as JSON) and a function deciding it (verdict, reason) in its own source."""
    from ..providers import pim_approvals

    key, sources = _split(request_id, sources)
    pim = tuple(s for s in sources if s in _PIM_SOURCES)
    if pim:
        with _pim(ca_bundle) as ctx:
            found = pim_approvals.find(ctx, key, pim)  # type: ignore[arg-type]
        if found is not None:

            def decide_pim(verdict: str, reason: str) -> dict[str, Any]:
                with _pim(ca_bundle) as ctx:
                    return pim_approvals.decide(ctx, found, verdict == "approve", reason).to_json()

            return found.to_json(), decide_pim
    if "broker" in sources:
        client = _client(broker_url, audience, ca_bundle)

        def decide_broker(verdict: str, reason: str) -> dict[str, Any]:
            return _broker_json(client.decide(key, verdict, reason))

        # Deciding needs no read first (the broker checks state and approver itself).
        return ({} if not fetch else _broker_json(client.show(key))), decide_broker
    raise LeaseNotFoundError(
        f"no approval {key!r} in {', '.join(sources)}",
        hint="`jitpim approvals list` shows what waits for you; prefix the id with its source (pim-arm:ID).",
    )


@click.group()
def approvals() -> None:
    """Decide requests held for approval, in one place: broker requests (you must be in the policy's
    approver group) and people's own PIM activations that PIM holds for approval (Entra roles through Graph,
    Azure roles through ARM; you must be an approver in the role's policy). You sign in as yourself, give a
    reason, and cannot approve your own request; a decided request cannot be decided again.

    \b
    Typical use:
      export JITPIM_BROKER_URL=https://broker.contoso.com JITPIM_BROKER_AUDIENCE=api://jitpim-broker
      export JITPIM_MODE=self                      # also PIM's own approvals, as the signed-in person
      jitpim approvals list
      jitpim approvals approve REQUEST_ID --reason "CHG0042 reviewed"
    """


@approvals.command("list")
@_broker_options
@handle_errors
def list_(
    broker_url: str | None, audience: str | None, ca_bundle: str | None, sources: tuple[str, ...], output: str
) -> None:
    """Requests waiting for you: broker requests pending in a group you belong to, and PIM approvals
    assigned to you."""
    from ..providers import pim_approvals

    broker_url = _broker_url(broker_url)
    chosen = _chosen(sources, broker_url)
    found: list[dict[str, Any]] = []
    if "broker" in chosen:
        found += [_broker_json(r) for r in _client(broker_url, audience, ca_bundle).pending()]
    pim = tuple(s for s in chosen if s in _PIM_SOURCES)
    if pim:
        with _pim(ca_bundle) as ctx:
            found += [a.to_json() for a in pim_approvals.pending(ctx, pim)]  # type: ignore[arg-type]
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
def show(
    request_id: str,
    broker_url: str | None,
    audience: str | None,
    ca_bundle: str | None,
    sources: tuple[str, ...],
    output: str,
) -> None:
    """One request: for the broker, verified claims, target, the deciding policy and the claims it read, and
    approvals so far; for PIM, who asked for which role, why, and the approval stage."""
    broker_url = _broker_url(broker_url)
    request, _ = _find(request_id, _chosen(sources, broker_url), broker_url, audience, ca_bundle)
    if output == "json":
        emit_json(request)
        return
    click.echo(_line(request))
    if request["source"] != "broker":
        stage = request.get("approval") or {}
        click.echo(
            f"  approval stage: {stage.get('status')}, result {stage.get('review_result')}"
            + (f" by {stage.get('reviewed_by')}" if stage.get("reviewed_by") else "")
        )
        return
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
        request_id: str,
        reason: str,
        broker_url: str | None,
        audience: str | None,
        ca_bundle: str | None,
        sources: tuple[str, ...],
        output: str,
    ) -> None:
        if not reason.strip():
            raise UsageError("a reason is required", hint='Pass --reason "why" (it is recorded with your name).')
        broker_url = _broker_url(broker_url)
        _, decide = _find(request_id, _chosen(sources, broker_url), broker_url, audience, ca_bundle, fetch=False)
        request = decide(verdict, reason)
        if output == "json":
            emit_json(request)
        else:
            click.echo(f"{verdict}d: " + _line(request))

    functools.update_wrapper(command, command)
    return command


approvals.command("approve", help="Approve a pending request (a reason is required).")(_decide("approve"))
approvals.command("deny", help="Deny a pending request (a reason is required).")(_decide("deny"))
