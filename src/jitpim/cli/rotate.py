"""`jitpim rotate secret` and `jitpim rotate app-credential`: rotation under just-in-time elevation."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from ..errors import UsageError
from ..model import Mode, Target
from ._common import (
    CommonOptions,
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

if TYPE_CHECKING:
    from ..api import AppRotationResult, Runtime, SecretRotationResult, ValueFactory
    from ..ci.github import GitHubActions
    from ..rotation import ValidationSpec

__all__ = ["github_secret_report", "rotate"]

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


def _custom_targets(kwargs: dict[str, Any]) -> tuple[list[Target], str | None] | None:
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


def _value(kwargs: dict[str, Any]) -> ValueFactory:
    """How to make the new value (run once the elevation is planned and allowed), per the value options
    (popped; checked now)."""
    from ..rotation import from_file, from_generator, from_stream, generate

    generator, from_stdin, path = kwargs.pop("generator"), kwargs.pop("from_stdin"), kwargs.pop("from_file")
    length, alphabet = kwargs.pop("length"), kwargs.pop("alphabet")
    if sum(bool(x) for x in (generator, from_stdin, path)) > 1:
        raise UsageError("give at most one of --generator, --from-stdin, --from-file")
    if (generator or from_stdin or path) and (length is not None or alphabet is not None):
        raise UsageError("--length and --alphabet apply to generated values only")
    if generator:
        return lambda: from_generator(generator)
    if from_stdin:
        return from_stream
    if path:
        return lambda: from_file(path)
    return lambda: generate(length if length is not None else 40, alphabet)


def _validation(kwargs: dict[str, Any]) -> ValidationSpec | None:
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
def secret(common: CommonOptions, **kwargs: Any) -> None:
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
    from .. import api

    expires_in = _optional_duration(kwargs.pop("expires_in"), "--expires-in")
    grace = _optional_duration(kwargs.pop("disable_older_after"), "--disable-older-after", zero_ok=True)
    validation = _validation(kwargs)
    custom = _custom_targets(kwargs)
    flags = _pop_target_flags(kwargs) if custom is None else {}
    mode = Mode(custom[1]) if custom and custom[1] else common.mode
    options = lifecycle_settings(mode, kwargs)
    request = api.SecretRotationInput(
        vault=kwargs.pop("vault"),
        name=kwargs.pop("secret_name"),
        subscription_id=kwargs.pop("subscription"),
        value=_value(kwargs),
        validation=validation,
        content_type=kwargs.pop("content_type"),
        expires_in=expires_in,
        disable_older_after=grace,
        targets=tuple(custom[0]) if custom else (),
        duration=flags.get("duration"),
        justification=flags.get("justification"),
        ticket=flags.get("ticket"),
        start=flags.get("start"),
        options=options,
    )
    with open_runtime(common, mode) as rt:
        result = api.rotate_secret(rt, request)
        _report_secret(rt, common, result)
    sys.exit(result.exit_code)


def github_secret_report(github: GitHubActions, result: SecretRotationResult) -> None:
    """Step outputs `rotation-state`, `secret-version`, `previous-version` (plus the lease outputs) and a
    step-summary section; no-ops outside GitHub Actions."""
    github_report(github, "jitpim rotate secret", result.leases, result.releases, result.exit_code)
    outcome = result.outcome
    if outcome is None or not github.active:
        return
    github.set_output("rotation-state", outcome.final_state)
    github.set_output("secret-version", outcome.current_version_id or "")
    github.set_output("previous-version", outcome.previous_version_id or "")
    github.add_summary(
        f"Secret `{outcome.secret_name}` in `{outcome.vault_name or outcome.vault_url}`: **{outcome.final_state}** "
        f"(current version `{outcome.current_version_id}`, previous `{outcome.previous_version_id}`)\n"
    )


def _report_secret(rt: Runtime, common: CommonOptions, result: SecretRotationResult) -> None:
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
def app_credential(common: CommonOptions, **kwargs: Any) -> None:
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
    from .. import api

    lifetime = duration_option(kwargs.pop("lifetime"), "--lifetime")
    store = _split_store(kwargs.pop("store_in"))
    custom = _custom_targets(kwargs)
    flags = _pop_target_flags(kwargs) if custom is None else {}
    mode = Mode(custom[1]) if custom and custom[1] else common.mode
    options = lifecycle_settings(mode, kwargs)
    request = api.AppCredentialInput(
        app=kwargs.pop("app"),
        store_in=store,
        subscription_id=kwargs.pop("subscription"),
        validate_scope=kwargs.pop("validate_scope"),
        lifetime=lifetime,
        remove_key_ids=tuple(kwargs.pop("remove_key_id")) or None,
        keep_old=kwargs.pop("keep_old"),
        targets=tuple(custom[0]) if custom else (),
        duration=flags.get("duration"),
        justification=flags.get("justification"),
        ticket=flags.get("ticket"),
        start=flags.get("start"),
        options=options,
    )
    with open_runtime(common, mode) as rt:
        result = api.rotate_app_credential(rt, request)
        _report_app(rt, common, result)
    sys.exit(result.exit_code)


def _report_app(rt: Runtime, common: CommonOptions, result: AppRotationResult) -> None:
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
