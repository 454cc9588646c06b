"""Rotation under elevation: what `jitpim rotate secret`, `jitpim rotate app-credential` and `jitpim demo`
share. The rotation library (`jitpim.rotation`) rotates while access is held; this module obtains the access
with the lifecycle's `Elevation` (plan -> grant -> effective -> ... -> release, verified), wires signals,
progress and the ledger into the rotators, and writes the signed audit summary of each lease afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..audit.ledger import Ledger
from ..ci.github import GitHubActions
from ..errors import JitError, RotationError, UsageError
from ..lifecycle import (
    Clock,
    Elevation,
    Interrupted,
    LifecycleOptions,
    Plan,
    ReleaseReport,
    Session,
    SignalGuard,
    Step,
    Timeline,
)
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
    client_secret_token_check,
    run_validation,
)
from ._evidence import collect_evidence

__all__ = [
    "AppRotationResult",
    "RotationRuntime",
    "SecretRotationResult",
    "check_run_context",
    "github_secret_report",
    "rotate_app_credential",
    "rotate_secret",
    "secret_target",
]

_TAG_LIMIT = 256  # Key Vault tag values
SECRETS_OFFICER = "Key Vault Secrets Officer"


@dataclass
class RotationRuntime:
    """Everything a rotation command runs with; `environ` is explicit so that the demo can simulate a job
    without touching `os.environ`."""

    session: Session
    ledger: Ledger
    run: RunContext
    clock: Clock
    timeline: Timeline
    github: GitHubActions
    environ: Mapping[str, str]
    options: LifecycleOptions = field(default_factory=LifecycleOptions)

    def say(self, name: str, message: str, lease_id: str | None = None, **data: Any) -> None:
        self.timeline.step(Step(self.clock.now(), name, message, lease_id, data))


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
    """What a rotation result reports about the elevation it ran under."""

    leases: list[dict[str, Any]] = field(default_factory=list)
    releases: list[ReleaseReport] = field(default_factory=list)
    interrupted_by: int | None = None
    summaries: list[dict[str, Any]] = field(default_factory=list)
    audit_error: str | None = None

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
        if self.interrupted_by is not None:
            return 128 + self.interrupted_by
        if self.outcome is None or not self.outcome.succeeded:
            return RotationError.exit_code
        return 0

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
        if self.interrupted_by is not None:
            return 128 + self.interrupted_by
        if self.outcome is None or not self.outcome.succeeded:
            return RotationError.exit_code
        return 0

    def to_json(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "rotation": self.outcome.to_json() if self.outcome else None,
            **self.held_json(),
        }


def _under_elevation(
    rt: RotationRuntime, plan: Plan, held: _Held, body: Callable[[Elevation, SignalGuard, str], None]
) -> None:
    """Run `body(elevation, guard, lease_id)` while the plan's access is held; release (verified) on every
    exit path; a signal ends it with `held.interrupted_by` set; finally write each lease's audit summary."""
    plan.raise_for_refusal()
    guard = SignalGuard()
    elevation = Elevation(plan, rt.ledger, rt.run, rt.clock, rt.options, rt.timeline, guard=guard)
    lease_ids: list[str] = []
    try:
        with guard:
            try:
                with elevation:
                    held.leases = [h.to_json() for h in elevation.held]
                    lease_ids = [h.lease_id for h in elevation.held]
                    body(elevation, guard, lease_ids[0])
            except Interrupted as exc:
                held.interrupted_by = exc.signum
                rt.say("interrupted", f"{exc}; everything granted was released")
        if held.interrupted_by is None and guard.interrupted_by is not None:
            held.interrupted_by = guard.interrupted_by
    finally:
        held.releases = list(elevation.releases)
        try:
            evidence = collect_evidence(
                rt.ledger, rt.run, rt.github, lease_ids, environ=rt.environ, say=lambda m: rt.say("audit", m)
            )
            held.summaries = evidence.records if evidence is not None else []
        except JitError as exc:
            held.audit_error = str(exc)
            rt.say("audit", f"could not write the audit summary: {exc}")


def _validator(
    rt: RotationRuntime, spec: ValidationSpec, guard: SignalGuard, lease_id: str, vault_url: str
) -> Callable[[SecretVersion, SecretValue], ValidationResult]:
    def validate(version: SecretVersion, value: SecretValue) -> ValidationResult:
        rt.say("validate", f"running {spec.describe()} with the new value (via {spec.via})", lease_id)
        return run_validation(
            spec,
            value,
            environ=rt.environ,
            extra_env={
                "JITPIM_SECRET_NAME": version.name,
                "JITPIM_SECRET_VERSION": version.version_id,
                "JITPIM_VAULT_URL": vault_url,
            },
            signals=guard.forwarding_to,
        )

    return validate


def rotate_secret(
    rt: RotationRuntime,
    plan: Plan,
    vault: VaultRef,
    request: SecretRotationRequest,
    value: SecretValue,
    source: ValueSource,
    validation: ValidationSpec | None,
) -> SecretRotationResult:
    """Rotate one Key Vault secret under the plan's elevation (see the module docstring). A rotation that
    fails other than by a failed validation raises `RotationError` after the release."""
    result = SecretRotationResult(vault=vault)

    def body(elevation: Elevation, guard: SignalGuard, lease_id: str) -> None:
        ctx = rt.session.context(None)
        secrets = VaultSecrets(ctx.keyvault(vault.url))
        actor = rt.run.actor or ctx.identity.describe()
        rotator = SecretRotator(
            secrets,
            clock=rt.clock,
            say=lambda step, message, data: rt.say(step, message, lease_id, **data),
            record=lambda event, record: _append(rt.ledger, lease_id, event, record),
            shield=guard.deferred,
        )
        tagged = SecretRotationRequest(
            name=request.name,
            provenance_tags={**provenance_tags(rt.run, lease_id, actor), **request.provenance_tags},
            content_type=request.content_type,
            expires_in=request.expires_in,
            disable_older_after=request.disable_older_after,
            vault_name=vault.name,
        )
        validate = _validator(rt, validation, guard, lease_id, vault.url) if validation else None
        try:
            result.outcome = rotator.rotate(tagged, value, validate=validate, value_source=source)
        finally:
            result.outcome = result.outcome or rotator.last_outcome

    _under_elevation(rt, plan, result, body)
    return result


def _append(ledger: Ledger, lease_id: str, event: str, body: dict[str, Any]) -> None:
    ledger.append_event(lease_id, event, body)


def rotate_app_credential(
    rt: RotationRuntime,
    plan: Plan,
    request: AppCredentialRequest,
    store: VaultRef | None,
    *,
    mask: Callable[[SecretValue], None],
) -> AppRotationResult:
    """Rotate an app registration's client secret under the plan's elevation (see the module docstring)."""
    result = AppRotationResult()

    def body(elevation: Elevation, guard: SignalGuard, lease_id: str) -> None:
        ctx = rt.session.context(None)
        actor = rt.run.actor or ctx.identity.describe()
        rotator = AppCredentialRotator(
            ctx.graph,
            tenant_id=ctx.identity.tenant_id,
            clock=rt.clock,
            token_check=client_secret_token_check(rt.session.cloud),
            default_scope=rt.session.cloud.graph_scope,
            store=VaultSecrets(ctx.keyvault(store.url)) if store else None,
            say=lambda step, message, data: rt.say(step, message, lease_id, **data),
            record=lambda event, record: _append(rt.ledger, lease_id, event, record),
            shield=guard.deferred,
            on_new_value=mask,
        )
        tagged = AppCredentialRequest(
            app=request.app,
            display_name=request.display_name,
            lifetime=request.lifetime,
            validate_scope=request.validate_scope,
            remove_key_ids=request.remove_key_ids,
            keep_old=request.keep_old,
            store_name=request.store_name,
            provenance_tags={**provenance_tags(rt.run, lease_id, actor), **request.provenance_tags},
        )
        try:
            result.outcome = rotator.rotate(tagged)
        finally:
            result.outcome = result.outcome or rotator.last_outcome

    _under_elevation(rt, plan, result, body)
    return result


def github_secret_report(github: GitHubActions, result: SecretRotationResult) -> None:
    """Step outputs `rotation-state`, `secret-version`, `previous-version` (plus the lease outputs) and a
    step-summary section; no-ops outside GitHub Actions."""
    from ._report import github_report

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
