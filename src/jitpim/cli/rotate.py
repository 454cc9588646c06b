"""`jitpim rotate secret` and `jitpim rotate app-credential`: rotation under just-in-time elevation."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import Any

import click

from ..errors import UsageError
from ..model import Mode
from ._common import (
    common_options,
    duration_option,
    echo_json,
    lifecycle_options,
    lifecycle_settings,
    open_runtime,
    target_options,
    targets_from,
    with_common,
)
from ._output import handle_errors
from ._report import github_report, summary_text

__all__ = ["rotate"]

_TARGET_FLAGS = ("kind", "role", "scope", "access", "tenant", "duration", "justification", "ticket", "start")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def rotate() -> None:
    """Rotate a secret under just-in-time elevation: grant exactly the access the rotation needs, rotate,
    validate (rolling back on failure), release, and record version ids, never values."""


def _optional_duration(value: str | None, name: str, *, zero_ok: bool = False) -> timedelta | None:
    if value is None:
        return None
    if zero_ok and value.strip().lower() in ("0", "0s", "now"):
        return timedelta(0)
    return duration_option(value, name)


def _runtime(rt: Any, kwargs: dict[str, Any], mode: Mode) -> Any:
    from ..ci.github import GitHubActions
    from ._rotation_run import RotationRuntime

    # With --output json, stdout is one JSON document: workflow commands (::add-mask::) go to stderr, which the
    # runner reads for commands as well.
    github = GitHubActions(stdout=sys.stderr) if rt.options.output == "json" else rt.github
    return RotationRuntime(
        session=rt.session,
        ledger=rt.ledger,
        run=rt.run,
        clock=rt.clock,
        timeline=rt.timeline,
        github=github,
        environ=os.environ,
        options=lifecycle_settings(mode, kwargs),
    )


def _ticket(text: str | None) -> Any:
    from ..model import Ticket

    return Ticket.parse(text) if text else None


def _custom_targets(kwargs: dict[str, Any]) -> tuple[list[Any], str | None] | None:
    """The targets the flags or a profile give, or None when the command's default elevation applies."""
    if kwargs.get("kind") or kwargs.get("profile"):
        return targets_from(kwargs)
    return None


def _pop_target_flags(kwargs: dict[str, Any]) -> dict[str, Any]:
    flags = {k: kwargs.pop(k) for k in _TARGET_FLAGS}
    kwargs.pop("profile")
    kwargs.pop("access_file")
    for name in ("kind", "role", "scope", "access", "tenant"):
        if flags[name]:
            raise UsageError(f"--{name} needs --kind (a custom target)")
    return flags


def _value(kwargs: dict[str, Any]) -> Any:
    """The new value and where it came from, per the value options (popped)."""
    from ..rotation import from_file, from_generator, from_stream, generate

    generator, from_stdin, path = kwargs.pop("generator"), kwargs.pop("from_stdin"), kwargs.pop("from_file")
    length, alphabet = kwargs.pop("length"), kwargs.pop("alphabet")
    if sum(bool(x) for x in (generator, from_stdin, path)) > 1:
        raise UsageError("give at most one of --generator, --from-stdin, --from-file")
    if (generator or from_stdin or path) and (length is not None or alphabet is not None):
        raise UsageError("--length and --alphabet apply to generated values only")
    if generator:
        return from_generator(generator)
    if from_stdin:
        return from_stream()
    if path:
        return from_file(path)
    return generate(length if length is not None else 40, alphabet)


def _validation(kwargs: dict[str, Any]) -> Any:
    from ..rotation import ValidationSpec

    command, via = kwargs.pop("validate_command"), kwargs.pop("validate_via")
    timeout = duration_option(kwargs.pop("validate_timeout"), "--validate-timeout")
    if not command:
        return None
    spec = ValidationSpec.parse(command, via=via, timeout=timeout)
    spec.check_runnable(os.environ)
    return spec


subscription_option = click.option(
    "--subscription",
    envvar="AZURE_SUBSCRIPTION_ID",
    help="Subscription id to find a vault by name or URL in. [default: $AZURE_SUBSCRIPTION_ID]",
)


@rotate.command("secret")
@click.option("--vault", required=True, help="Vault name, data-plane URL (https://...), or ARM resource id.")
@click.option("--name", "secret_name", required=True, help="The secret to rotate (it must exist).")
@subscription_option
@click.option("--length", type=int, help="Length of a generated value. [default: 40]")
@click.option("--alphabet", help="alnum, alnum-symbols (default), hex, urlsafe, or the characters themselves.")
@click.option("--generator", help="Command whose stdout is the new value (run without a shell).")
@click.option("--from-stdin", is_flag=True, help="Read the new value from stdin (an externally issued one).")
@click.option("--from-file", type=click.Path(dir_okay=False), help="Read the new value from a file.")
@click.option("--validate", "validate_command", help="Command that must exit 0 with the new value (see below).")
@click.option("--validate-via", type=click.Choice(["fd", "file"]), default="fd", show_default=True)
@click.option("--validate-timeout", default="5m", show_default=True, help="How long validation may take.")
@click.option("--expires-in", help="Set the new version's expiry this far ahead, e.g. 90d.")
@click.option("--disable-older-after", help="Disable older versions after this grace period (0 = at once).")
@click.option("--content-type", help="Content type of the new version. [default: the current one's]")
@target_options
@common_options
@lifecycle_options
@handle_errors
@with_common
def secret(common: Any, **kwargs: Any) -> None:
    """Rotate one Key Vault secret. By default jitpim grants itself Key Vault Secrets Officer on the vault
    (plain RBAC, released and verified afterwards), waits until writes work, writes the new version
    (tagged with run, lease and actor; never the value), validates it, and on failure restores the previous
    value as a new version and exits 81. Override the elevation with --kind/--role/--scope or --profile.

    The value is generated (--length, --alphabet), taken from a --generator command's stdout, or read with
    --from-stdin / --from-file. It is never printed, never in a process's argv or environment, and masked in
    GitHub Actions. --validate CMD receives it on the file descriptor named by $JITPIM_SECRET_FD (or, with
    --validate-via file, in the 0600 file $JITPIM_SECRET_FILE, removed afterwards).

    In GitHub Actions the run must come from a pull request or name --ticket.

    \b
    Example:
      jitpim rotate secret --vault kv-payments --name db-password --ticket ServiceNow:CHG0042001 \\
        --validate './check-db-login.sh' --disable-older-after 1h
    """
    from ..lifecycle import make_plan
    from ..rotation import SecretRotationRequest, resolve_vault
    from ._rotation_run import check_run_context, rotate_secret, secret_target

    expires_in = _optional_duration(kwargs.pop("expires_in"), "--expires-in")
    grace = _optional_duration(kwargs.pop("disable_older_after"), "--disable-older-after", zero_ok=True)
    validation = _validation(kwargs)
    custom = _custom_targets(kwargs)
    flags = _pop_target_flags(kwargs) if custom is None else {}
    mode = Mode(custom[1]) if custom and custom[1] else common.mode
    with open_runtime(common, mode) as base:
        rt = _runtime(base, kwargs, mode)
        ticket = _ticket(flags.get("ticket")) or (custom[0][0].ticket if custom else None)
        check_run_context(rt.run, ticket)
        vault = resolve_vault(rt.session.context(None).arm, kwargs.pop("vault"), subscription_id=kwargs["subscription"])
        name = kwargs.pop("secret_name")
        targets = (
            custom[0]
            if custom
            else [
                secret_target(
                    vault,
                    duration=flags["duration"],
                    justification=flags["justification"],
                    ticket=flags["ticket"],
                    start=flags["start"],
                    grace=grace,
                    secret_name=name,
                )
            ]
        )
        plan = make_plan(targets, contexts=rt.session.context, options=rt.options, clock=rt.clock)
        plan.raise_for_refusal()
        value, source = _value(kwargs)
        rt.github.mask(value.reveal())
        rt.say("value", f"new value ready ({source.kind}: {source.detail}); it is never printed")
        request = SecretRotationRequest(
            name=name, content_type=kwargs.pop("content_type"), expires_in=expires_in, disable_older_after=grace
        )
        result = rotate_secret(rt, plan, vault, request, value, source, validation)
        _report_secret(rt, common, result)
    sys.exit(result.exit_code)


def _report_secret(rt: Any, common: Any, result: Any) -> None:
    from ._rotation_run import github_secret_report

    outcome = result.outcome
    github_secret_report(rt.github, result)
    if common.output == "json":
        echo_json({**result.to_json(), "timeline": [s.to_json() for s in rt.timeline.steps]})
        return
    if outcome is not None:
        line = (
            f"{outcome.secret_name} in {outcome.vault_name or outcome.vault_url}: {outcome.final_state}; "
            f"current version {outcome.current_version_id} (previous {outcome.previous_version_id})"
        )
        click.echo(line)
        if outcome.reason:
            click.echo(f"reason: {outcome.reason}", err=True)
    if not common.quiet:
        click.echo(summary_text(result.leases, result.releases, result.exit_code), err=True)


def _split_store(text: str | None) -> tuple[str, str] | None:
    if not text:
        return None
    vault, sep, name = text.rstrip("/").rpartition("/")
    if not sep or not vault or not name:
        raise UsageError(f"--store-in {text!r} is not VAULT/SECRET", hint="e.g. --store-in kv-payments/payments-api")
    return vault, name


@rotate.command("app-credential")
@click.option("--app", required=True, help="Application: client id (appId), object id, or display name.")
@click.option("--store-in", help="Store the new secret in Key Vault as VAULT/SECRET (vault name, URL or id).")
@click.option("--validate-scope", help="Token scope to validate the new secret with. [default: Microsoft Graph]")
@click.option("--lifetime", default="90d", show_default=True, help="How long the new client secret is valid.")
@click.option(
    "--remove-key-id",
    multiple=True,
    help="keyId of an old secret to remove. [default: the one the stored secret's jitpim-key-id tag names]",
)
@click.option("--keep-old", is_flag=True, help="Do not remove any old client secret.")
@subscription_option
@target_options
@common_options
@lifecycle_options
@handle_errors
@with_common
def app_credential(common: Any, **kwargs: Any) -> None:
    """Make-before-break rotation of an app registration's client secret: addPassword, store the new
    secret in Key Vault (--store-in), validate it by obtaining a token with it (retrying while Entra
    replicates it), then removePassword of the old one. On failure the new secret is removed and the
    stored one restored, and the command exits 81.

    The default elevation is Cloud Application Administrator scoped to that one application (a
    time-bound PIM assignment), plus Key Vault Secrets Officer on the vault with --store-in. PIM refuses
    to remove an assignment in its first 5 minutes: --early-release expire leaves it to end at its expiry.

    \b
    Example:
      jitpim rotate app-credential --app payments-api --store-in kv-payments/payments-api-secret \\
        --ticket ServiceNow:CHG0042001 --lifetime 90d
    """
    from ..lifecycle import make_plan
    from ..model import Target, format_duration
    from ..rotation import AppCredentialRequest, resolve_app, resolve_vault
    from ._rotation_run import check_run_context, rotate_app_credential, secret_target

    lifetime = duration_option(kwargs.pop("lifetime"), "--lifetime")
    store = _split_store(kwargs.pop("store_in"))
    custom = _custom_targets(kwargs)
    flags = _pop_target_flags(kwargs) if custom is None else {}
    mode = Mode(custom[1]) if custom and custom[1] else common.mode
    with open_runtime(common, mode) as base:
        rt = _runtime(base, kwargs, mode)
        ticket = _ticket(flags.get("ticket")) or (custom[0][0].ticket if custom else None)
        check_run_context(rt.run, ticket)
        ctx = rt.session.context(None)
        app = resolve_app(ctx.graph, kwargs["app"])
        vault = resolve_vault(ctx.arm, store[0], subscription_id=kwargs["subscription"]) if store else None
        if custom:
            targets = custom[0]
        else:
            justification = flags["justification"] or f"Rotate the client secret of {app.display_name} (jitpim)"
            duration = flags["duration"] or format_duration(timedelta(minutes=10))
            targets = [
                Target.from_flags(
                    kind="entra-role",
                    role="Cloud Application Administrator",
                    scope=f"/{app.object_id}",
                    duration=duration,
                    justification=justification,
                    ticket=flags["ticket"],
                    start=flags["start"],
                )
            ]
            if vault is not None and store is not None:
                targets.append(
                    secret_target(
                        vault,
                        duration=duration,
                        justification=justification,
                        ticket=flags["ticket"],
                        start=flags["start"],
                        secret_name=store[1],
                    )
                )
        plan = make_plan(targets, contexts=rt.session.context, options=rt.options, clock=rt.clock)
        request = AppCredentialRequest(
            app=app.app_id,
            display_name=f"jitpim {rt.run.run_key or 'local'}",
            lifetime=lifetime,
            validate_scope=kwargs.pop("validate_scope"),
            remove_key_ids=tuple(kwargs.pop("remove_key_id")) or None,
            keep_old=kwargs.pop("keep_old"),
            store_name=store[1] if store else None,
        )
        result = rotate_app_credential(rt, plan, request, vault, mask=lambda value: rt.github.mask(value.reveal()))
        _report_app(rt, common, result)
    sys.exit(result.exit_code)


def _report_app(rt: Any, common: Any, result: Any) -> None:
    outcome = result.outcome
    github = rt.github
    github_report(github, "jitpim rotate app-credential", result.leases, result.releases, result.exit_code)
    if outcome is not None and github.active:
        github.set_output("rotation-state", outcome.final_state)
        github.set_output("key-id", outcome.new_key_id or "")
        if outcome.version_id:
            github.set_output("secret-version", outcome.version_id)
    if common.output == "json":
        echo_json({**result.to_json(), "timeline": [s.to_json() for s in rt.timeline.steps]})
        return
    if outcome is not None and outcome.app is not None:
        removed = ", ".join(outcome.removed_key_ids) or "none"
        click.echo(
            f"{outcome.app.display_name}: {outcome.final_state}; new key {outcome.new_key_id}, removed {removed}"
            + (f"; stored as {outcome.secret_name}/{outcome.version_id}" if outcome.version_id else "")
        )
        if outcome.reason:
            click.echo(f"reason: {outcome.reason}", err=True)
    if not common.quiet:
        click.echo(summary_text(result.leases, result.releases, result.exit_code), err=True)
