"""Rotation under elevation: `rotate_secret` and `rotate_app_credential`. The rotation library
(`jitpim.rotation`) rotates while access is held; here each rotation is `hold(plan, body)`: the lifecycle's
one hold grants and waits until effective, owns signals, releases (verified) on every way out and records
the evidence; the body wires progress, the ledger and signal shielding into the rotator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..errors import RotationError, UsageError
from ..lifecycle import Hold, HoldOutcome, LifecycleOptions, Plan, ReleaseReport, hold, make_plan
from ..model import RunContext, Target, Ticket, format_duration
from ..rotation import (
    AppCredentialOutcome,
    AppCredentialRequest,
    AppCredentialRotator,
    RotationOutcome,
    SecretRotationRequest,
    SecretRotator,
    SecretValue,
    SecretVersion,
    ValidationResult,
    ValidationSpec,
    ValueSource,
    VaultRef,
    VaultSecrets,
    check_secret_name,
    client_secret_token_check,
    resolve_app,
    resolve_vault,
    run_validation,
)
from .inputs import AppCredentialInput, SecretRotationInput
from .runtime import Runtime

__all__ = [
    "SECRETS_OFFICER",
    "AppRotationResult",
    "SecretRotationResult",
    "check_run_context",
    "rotate_app_credential",
    "rotate_app_credential_planned",
    "rotate_secret",
    "rotate_secret_planned",
    "secret_target",
]

_TAG_LIMIT = 256  # Key Vault tag values
SECRETS_OFFICER = "Key Vault Secrets Officer"


def check_run_context(run: RunContext, ticket: Ticket | None) -> None:
    """In CI, a rotation must name its repository, ref and run, and come from a pull request or name a change
    ticket: that is what a security team traces a secret change back to."""
    if not run.is_ci:
        return
    missing = [
        name
        for name, value in (
            ("GITHUB_REPOSITORY", run.repository),
            ("GITHUB_REF", run.ref),
            ("GITHUB_RUN_ID", run.run_id),
        )
        if not value
    ]
    if missing:
        raise UsageError(
            f"the CI run context is incomplete: {', '.join(missing)} not set",
            hint="Run inside a GitHub Actions job (the runner sets these).",
        )
    if run.pr_number is None and ticket is None:
        raise UsageError(
            f"a rotation from {run.ref} (not a pull request) needs a change ticket",
            hint="Pass --ticket SYSTEM:NUMBER, e.g. --ticket ServiceNow:CHG0042001.",
        )


def secret_target(
    vault: VaultRef,
    *,
    duration: str | None,
    justification: str | None,
    ticket: str | None,
    start: str | None,
    grace: timedelta | None = None,
    secret_name: str = "",
) -> Target:
    """The default elevation of a secret rotation: Key Vault Secrets Officer on the vault, long enough for the
    rotation plus any grace period before older versions are disabled."""
    if duration is None:
        duration = format_duration(timedelta(minutes=10) + (grace or timedelta(0)))
    return Target.from_flags(
        kind="rbac",
        role=SECRETS_OFFICER,
        scope=vault.resource_id,
        duration=duration,
        justification=justification or f"Rotate secret {secret_name} in {vault.name} (jitpim rotate secret)",
        ticket=ticket,
        start=start,
    )


def provenance_tags(run: RunContext, lease_id: str, actor: str) -> dict[str, str]:
    return {
        "jitpim-run": (run.run_url or run.run_key or "local")[:_TAG_LIMIT],
        "jitpim-lease": lease_id[:_TAG_LIMIT],
        "jitpim-actor": actor[:_TAG_LIMIT],
    }


@dataclass
class _Held:
    """What a rotation result reports about the hold it ran under."""

    leases: list[dict[str, Any]] = field(default_factory=list)
    releases: list[ReleaseReport] = field(default_factory=list)
    interrupted_by: int | None = None
    summaries: list[dict[str, Any]] = field(default_factory=list)
    audit_error: str | None = None
    held: HoldOutcome[None] | None = None

    def _take(self, outcome: HoldOutcome[None]) -> None:
        self.held = outcome
        self.leases = outcome.leases
        self.releases = outcome.releases
        self.interrupted_by = outcome.interrupted_by
        self.summaries = outcome.evidence.records if outcome.evidence is not None else []
        self.audit_error = outcome.audit_error

    def _exit_code(self, succeeded: bool) -> int:
        code = (
            128 + self.interrupted_by
            if self.interrupted_by is not None
            else 0
            if succeeded
            else RotationError.exit_code
        )
        return self.held.exit_code(code) if self.held is not None else code

    def held_json(self) -> dict[str, Any]:
        return {
            "leases": self.leases,
            "releases": [r.to_json() for r in self.releases],
            "interrupted_by_signal": self.interrupted_by,
            "audit": {"summaries": self.summaries, "error": self.audit_error},
        }


@dataclass
class SecretRotationResult(_Held):
    vault: VaultRef | None = None
    outcome: RotationOutcome | None = None

    @property
    def exit_code(self) -> int:
        return self._exit_code(self.outcome is not None and self.outcome.succeeded)

    def to_json(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "vault": self.vault.to_json() if self.vault else None,
            "rotation": self.outcome.to_json() if self.outcome else None,
            **self.held_json(),
        }


@dataclass
class AppRotationResult(_Held):
    outcome: AppCredentialOutcome | None = None

    @property
    def exit_code(self) -> int:
        return self._exit_code(self.outcome is not None and self.outcome.succeeded)

    def to_json(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "rotation": self.outcome.to_json() if self.outcome else None,
            **self.held_json(),
        }


def _say(rt: Runtime, lease_id: str) -> Callable[[str, str, Mapping[str, Any]], None]:
    return lambda step, message, data: rt.say(step, message, lease_id, **data)


def _record(rt: Runtime, lease_id: str) -> Callable[[str, dict[str, Any]], None]:
    def record(event: str, body: dict[str, Any]) -> None:
        rt.ledger.append_event(lease_id, event, body)

    return record


def _mask(rt: Runtime) -> Callable[[SecretValue], None]:
    def mask(value: SecretValue) -> None:
        rt.github.mask(value.reveal())

    return mask


def _validator(
    rt: Runtime, spec: ValidationSpec, holding: Hold, lease_id: str, vault_url: str
) -> Callable[[SecretVersion, SecretValue], ValidationResult]:
    def validate(version: SecretVersion, value: SecretValue) -> ValidationResult:
        rt.say("validate", f"running {spec.describe()} with the new value (via {spec.via})", lease_id)
        return run_validation(
            spec,
            value,
            environ=rt.settings.environ,
            extra_env={
                "JITPIM_SECRET_NAME": version.name,
                "JITPIM_SECRET_VERSION": version.version_id,
                "JITPIM_VAULT_URL": vault_url,
            },
            signals=holding.guard.forwarding_to,
        )

    return validate


def rotate_secret_planned(
    rt: Runtime,
    plan: Plan,
    vault: VaultRef,
    request: SecretRotationRequest,
    value: SecretValue,
    source: ValueSource,
    validation: ValidationSpec | None,
    options: LifecycleOptions | None = None,
) -> SecretRotationResult:
    """Rotate one Key Vault secret under an already-made plan's elevation (`rotate_secret` plans it; the demo
    shows its plan first). A rotation that fails other than by a failed validation raises `RotationError`
    after the release."""
    check_secret_name(request.name)
    plan.raise_for_refusal()
    result = SecretRotationResult(vault=vault)

    def body(holding: Hold) -> None:
        lease_id = holding.lease_ids[0]
        ctx = rt.session.context(None)
        actor = rt.run.actor or ctx.identity.describe()
        rotator = SecretRotator(
            VaultSecrets(ctx.keyvault(vault.url)),
            clock=rt.clock,
            say=_say(rt, lease_id),
            record=_record(rt, lease_id),
            shield=holding.guard.deferred,
        )
        tagged = SecretRotationRequest(
            name=request.name,
            provenance_tags={**provenance_tags(rt.run, lease_id, actor), **request.provenance_tags},
            content_type=request.content_type,
            expires_in=request.expires_in,
            disable_older_after=request.disable_older_after,
            vault_name=vault.name,
        )
        validate = _validator(rt, validation, holding, lease_id, vault.url) if validation else None
        try:
            result.outcome = rotator.rotate(tagged, value, validate=validate, value_source=source)
        finally:
            result.outcome = result.outcome or rotator.last_outcome

    result._take(_hold(rt, plan, rt.options(options), body, result))
    return result


def _hold(
    rt: Runtime, plan: Plan, options: LifecycleOptions, body: Callable[[Hold], None], result: _Held
) -> HoldOutcome[None]:
    """`hold(plan, body)`, keeping what the result reports even when the body raises (after the release)."""
    holder: list[Hold] = []

    def tracked(holding: Hold) -> None:
        holder.append(holding)
        body(holding)

    try:
        return hold(plan, tracked, rt.hold_context(options))
    except BaseException:
        if holder:
            result._take(holder[0].outcome(None))
        raise


def rotate_secret(rt: Runtime, request: SecretRotationInput) -> SecretRotationResult:
    """Rotate one Key Vault secret under just-in-time elevation: grant (by default Key Vault Secrets Officer
    on the vault), wait until writes work, write the new version (tagged with run, lease and actor; never the
    value), validate it, roll back on failure, release and record."""
    check_secret_name(request.name)  # before anything is resolved, planned or granted
    targets = list(request.targets)
    ticket = Ticket.parse(request.ticket) if request.ticket else (targets[0].ticket if targets else None)
    check_run_context(rt.run, ticket)
    vault = resolve_vault(rt.session.context(None).arm, request.vault, subscription_id=request.subscription_id)
    if not targets:
        targets = [
            secret_target(
                vault,
                duration=request.duration,
                justification=request.justification,
                ticket=request.ticket,
                start=request.start,
                grace=request.disable_older_after,
                secret_name=request.name,
            )
        ]
    options = rt.options(request.options)
    plan = make_plan(targets, contexts=rt.session.context, options=options, clock=rt.clock)
    plan.raise_for_refusal()
    value, source = request.value()
    rt.github.mask(value.reveal())
    rt.say("value", f"new value ready ({source.kind}: {source.detail}); it is never printed")
    rotation = SecretRotationRequest(
        name=request.name,
        content_type=request.content_type,
        expires_in=request.expires_in,
        disable_older_after=request.disable_older_after,
    )
    return rotate_secret_planned(rt, plan, vault, rotation, value, source, request.validation, request.options)


def rotate_app_credential(rt: Runtime, request: AppCredentialInput) -> AppRotationResult:
    """Make-before-break rotation of an app registration's client secret under just-in-time elevation
    (by default Cloud Application Administrator scoped to the app, plus Key Vault Secrets Officer on the vault
    it is stored in)."""
    if request.store_in:
        check_secret_name(request.store_in[1])  # before anything is granted
    targets = list(request.targets)
    ticket = Ticket.parse(request.ticket) if request.ticket else (targets[0].ticket if targets else None)
    check_run_context(rt.run, ticket)
    ctx = rt.session.context(None)
    app = resolve_app(ctx.graph, request.app)
    store = request.store_in
    vault = resolve_vault(ctx.arm, store[0], subscription_id=request.subscription_id) if store else None
    if not targets:
        justification = request.justification or f"Rotate the client secret of {app.display_name} (jitpim)"
        duration = request.duration or format_duration(timedelta(minutes=10))
        targets = [
            Target.from_flags(
                kind="entra-role",
                role="Cloud Application Administrator",
                scope=f"/{app.object_id}",
                duration=duration,
                justification=justification,
                ticket=request.ticket,
                start=request.start,
            )
        ]
        if vault is not None and store is not None:
            targets.append(
                secret_target(
                    vault,
                    duration=duration,
                    justification=justification,
                    ticket=request.ticket,
                    start=request.start,
                    secret_name=store[1],
                )
            )
    options = rt.options(request.options)
    plan = make_plan(targets, contexts=rt.session.context, options=options, clock=rt.clock)
    plan.raise_for_refusal()
    rotation = AppCredentialRequest(
        app=app.app_id,
        display_name=f"jitpim {rt.run.run_key or 'local'}",
        lifetime=request.lifetime,
        validate_scope=request.validate_scope,
        remove_key_ids=request.remove_key_ids,
        keep_old=request.keep_old,
        store_name=store[1] if store else None,
    )
    return rotate_app_credential_planned(rt, plan, rotation, vault, request.options)


def rotate_app_credential_planned(
    rt: Runtime,
    plan: Plan,
    rotation: AppCredentialRequest,
    vault: VaultRef | None,
    options: LifecycleOptions | None = None,
) -> AppRotationResult:
    """Rotate an app registration's client secret under an already-made plan's elevation, storing the new
    secret in `vault` (when given) as `rotation.store_name`."""
    plan.raise_for_refusal()
    result = AppRotationResult()

    def body(holding: Hold) -> None:
        lease_id = holding.lease_ids[0]
        session_ctx = rt.session.context(None)
        actor = rt.run.actor or session_ctx.identity.describe()
        rotator = AppCredentialRotator(
            session_ctx.graph,
            tenant_id=session_ctx.identity.tenant_id,
            clock=rt.clock,
            token_check=client_secret_token_check(rt.session.cloud),
            default_scope=rt.session.cloud.graph_scope,
            store=VaultSecrets(session_ctx.keyvault(vault.url)) if vault else None,
            say=_say(rt, lease_id),
            record=_record(rt, lease_id),
            shield=holding.guard.deferred,
            on_new_value=_mask(rt),
        )
        tagged = AppCredentialRequest(
            app=rotation.app,
            display_name=rotation.display_name,
            lifetime=rotation.lifetime,
            validate_scope=rotation.validate_scope,
            remove_key_ids=rotation.remove_key_ids,
            keep_old=rotation.keep_old,
            store_name=rotation.store_name,
            provenance_tags={**provenance_tags(rt.run, lease_id, actor), **rotation.provenance_tags},
        )
        try:
            result.outcome = rotator.rotate(tagged)
        finally:
            result.outcome = result.outcome or rotator.last_outcome

    result._take(_hold(rt, plan, rt.options(options), body, result))
    return result
