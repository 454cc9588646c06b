"""`jitpim demo`: the main job end to end, against the embedded emulator, in a few seconds.

It starts the emulator in-process (default scenario, or `--scenario FILE`), simulates a GitHub Actions job
(an OIDC token from the emulated issuer, the job's repository/run/ref provenance), and walks through:

    the write is DENIED (403 ForbiddenByRbac) -> plan -> grant -> effective -> rotate -> validate ->
    release (verified) -> the same write is DENIED again -> the audit record is written and verified

printing a timeline with wall-clock timings and the ids a security team would look up. Waits (RBAC
propagation, the grace period before older versions are disabled) advance the emulator's clock instead of
sleeping; the timeline says each time. Exit code 0 only when every check held.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import ConfigError, JitError, ProviderApiError
from ..lifecycle import Step
from ._demo_job import DemoRecorder
from ._output import emit_json, handle_errors, output_option

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from ..api import SecretRotationResult
    from ..audit.ledger import Ledger
    from ..rotation import SecretValue, VaultSecrets

__all__ = ["demo"]

_TICKET = "ServiceNow:CHG0042001"
_GRACE = timedelta(minutes=1)


@click.command()
@click.option(
    "--scenario", type=click.Path(exists=True, dir_okay=False), help="Emulator scenario (YAML). [default: built in]"
)
@click.option(
    "--broker",
    "broker",
    is_flag=True,
    help="Show the broker instead: a job with no standing right gets access by policy and approval.",
)
@output_option
@handle_errors
def demo(scenario: str | None, output: str, broker: bool) -> None:
    """Rotate a Key Vault secret just in time, end to end, against the embedded emulator: no Azure tenant,
    no credentials, no setup. Shows that the write is denied before and after the access window, and that
    the audit record holds version ids, not values.

    `--broker` shows the broker instead: the job asks with its GitHub ID token, policy auto-approves a job
    on main and holds a pull-request job for an approver, the broker grants with its own identity.

    Waiting for RBAC to propagate is simulated by advancing the emulator's clock (the timeline says so), so
    the whole run takes a few seconds. Exits 0 only when every step held; `--output json` for machines.
    """
    live = None if output == "json" else _print_step
    if live is not None and not broker:
        click.echo("jitpim demo: rotate a Key Vault secret under just-in-time access (embedded emulator)\n")
    recorder = DemoRecorder(live=live)
    if broker:
        from ._demo_broker import run_broker_demo

        if live is not None:
            click.echo("jitpim demo --broker: the CI job holds no standing right; the broker grants by policy\n")
        with tempfile.TemporaryDirectory(prefix="jitpim-demo-broker-") as tmp:
            report = run_broker_demo(recorder, Path(tmp))
    else:
        report = run_demo(scenario, recorder)
    if output == "json":
        emit_json(report)
    else:
        _print_report(report)
    sys.exit(0 if report["ok"] else 1)


def run_demo(scenario: str | None, recorder: DemoRecorder) -> dict[str, Any]:
    """Run the walkthrough; returns the report (see `demo`). Never touches `os.environ`."""
    from ..emulator.server import Emulator

    with tempfile.TemporaryDirectory(prefix="jitpim-demo-") as tmp:
        workdir = Path(tmp)
        try:
            emulator = Emulator(scenario=scenario, state_dir=workdir / "emulator")
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot start the emulator: {exc}") from exc
        emulator.start_background()
        try:
            recorder.step(
                Step(
                    emulator.runtime.clock.now(),
                    "emulator",
                    f"started the embedded emulator at {emulator.base_url} ({scenario or 'default scenario'}): "
                    "Entra ID, Graph, ARM, Key Vault and GitHub's OIDC issuer, over HTTPS with its own CA",
                    data={"startup_s": round(recorder.elapsed(), 3)},
                )
            )
            world = emulator.runtime.world
            return _walkthrough(
                info=emulator.info,
                claims=dict(world.github_claims),
                scenario=world.scenario,
                now=emulator.runtime.clock.now,
                advance=emulator.advance,
                workdir=workdir,
                recorder=recorder,
            )
        finally:
            emulator.stop()


def _first_secret(scenario: dict[str, Any]) -> tuple[str, str]:
    for vault in scenario.get("vaults") or []:
        for secret in vault.get("secrets") or []:
            return str(vault["name"]), str(secret["name"])
    raise ConfigError("the scenario has no vault with a secret to rotate", hint="Add one under `vaults:`.")


def _attempt_write(secrets: VaultSecrets, name: str, value: SecretValue) -> tuple[bool, str]:
    """Try the rotation's write; (denied, what happened). Only a 403 ForbiddenByRbac counts as denied."""
    try:
        written = secrets.set(name, value, tags={"jitpim-demo": "unauthorised-write-attempt"})
    except ProviderApiError as exc:
        denied = exc.status == 403 and exc.inner_code == "ForbiddenByRbac"
        return denied, f"{exc.status} {exc.code}/{exc.inner_code} (x-ms-request-id {exc.request_id})"
    return False, f"the write SUCCEEDED (version {written.version_id}) without the elevation"


def _walkthrough(
    *,
    info: dict[str, Any],
    claims: dict[str, Any],
    scenario: dict[str, Any],
    now: Callable[[], datetime],
    advance: Callable[[float], None],
    workdir: Path,
    recorder: DemoRecorder,
) -> dict[str, Any]:
    from ..api import Runtime, Settings
    from ..api.rotation import check_run_context, rotate_secret_planned, secret_target
    from ..audit.ledger import Ledger
    from ..ci.github import GitHubActions
    from ..ci.provenance import verified_run_context
    from ..cloud import resolve_cloud
    from ..lifecycle import make_plan
    from ..model import Ticket, format_duration
    from ..rotation import SecretRotationRequest, ValidationSpec, VaultSecrets, generate, resolve_vault
    from ._demo_job import VALIDATOR, DemoClock, job_environment
    from .rotate import github_secret_report

    vault_name, secret_name = _first_secret(scenario)
    env = job_environment(info, claims, workdir, path=os.environ.get("PATH", os.defpath))
    # Provenance from the job's ID token, verified against the (emulated) issuer's keys.
    run = verified_run_context(resolve_cloud(environ=env), environ=env)
    ticket = None if run.pr_number is not None else Ticket.parse(_TICKET)
    clock = DemoClock(now, advance, recorder.step)

    def say(name: str, message: str, **data: object) -> None:
        recorder.step(Step(clock.now(), name, message, data=data))

    say(
        "job",
        f"simulated GitHub Actions job: {run.repository} at {run.ref} ({run.event_name}), run {run.run_id} "
        f"attempt {run.run_attempt}, actor {run.actor}"
        + (f", pull request #{run.pr_number}" if run.pr_number else f", change ticket {ticket}"),
        run_url=run.run_url,
    )
    runner_log = io.StringIO()  # the runner consumes workflow commands (::add-mask::); nothing is printed
    github = GitHubActions(environ=env, stdout=runner_log, stderr=runner_log)
    ledger = Ledger.open(env["JITPIM_LEDGER"], environ=env, clock=clock.now)
    rt = Runtime.open(Settings.from_environ(env), clock=clock, live=recorder, github=github, run=run, ledger=ledger)
    session = rt.session
    report: dict[str, Any] = {"scenario": "default" if scenario is None else "custom"}
    value: SecretValue | None = None
    try:
        check_run_context(run, ticket)
        ctx = session.context(None)
        say(
            "identity",
            f"signed in as {ctx.identity.describe()} using {session.credential_choice.kind} "
            "(the job's GitHub ID token exchanged for an Entra token; no secret stored anywhere)",
            object_id=ctx.identity.object_id,
        )
        vault = resolve_vault(ctx.arm, vault_name, subscription_id=env["AZURE_SUBSCRIPTION_ID"])
        value, source = generate()
        github.mask(value.reveal())
        secrets = VaultSecrets(ctx.keyvault(vault.url))
        denied, what = _attempt_write(secrets, secret_name, value)
        say("denied-before", f"writing {secret_name} without the elevation: {what}", denied=denied)
        recorder.check("denied before the window", denied, what)

        target = secret_target(
            vault,
            duration=None,
            justification=f"Scheduled rotation of {secret_name} (jitpim demo)",
            ticket=str(ticket) if ticket else None,
            start=None,
            grace=_GRACE,
            secret_name=secret_name,
        )
        plan = make_plan([target], contexts=session.context, options=rt.options(), clock=clock)
        item = plan.items[0]
        say(
            "plan",
            f"{item.resolved.describe()} for {format_duration(item.decision.duration)} "
            f"({'allowed' if item.decision.allowed else 'REFUSED'}; {item.policy.source or 'policy read'})",
            role_id=item.resolved.role_id,
            scope=item.resolved.scope,
        )
        request = SecretRotationRequest(name=secret_name, expires_in=timedelta(days=90), disable_older_after=_GRACE)
        validation = ValidationSpec.parse([sys.executable, "-c", VALIDATOR])
        result = rotate_secret_planned(rt, plan, vault, request, value, source, validation)
        report["rotation"] = result.to_json()
        github_secret_report(github, result)
        _check_rotation(recorder, result)

        denied, what = _attempt_write(secrets, secret_name, value)
        say("denied-after", f"the same write after the release: {what}", denied=denied)
        recorder.check("denied again after the window", denied, what)
        report["audit"] = _check_audit(recorder, ledger, result, env, say)
        report["ids"] = _lookup_ids(result)
    except JitError as exc:
        say("failed", f"the demo stopped: {exc}", error=exc.to_json())
        recorder.check("walkthrough completed", False, str(exc))
    finally:
        rt.close()
        ledger.close()
    if value is not None:
        _check_no_leak(recorder, value, workdir, env, recorder.timeline_json())
    report.update(
        ok=recorder.ok,
        wall_s=round(recorder.elapsed(), 3),
        emulated_time_advanced_s=round(clock.advanced_s, 3),
        checks=[c.to_json() for c in recorder.checks],
        timeline=recorder.timeline_json(),
        github_step_summary=Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8"),
    )
    return report


def _check_rotation(recorder: DemoRecorder, result: SecretRotationResult) -> None:
    leases = result.leases
    grant = leases[0]["grant"] if leases else {}
    recorder.check(
        "granted and effective",
        bool(leases) and leases[0].get("state") == "effective",
        f"role assignment {grant.get('request_id')}" if leases else "nothing was granted",
    )
    outcome = result.outcome
    rotated = outcome is not None and outcome.final_state == "rotated"
    recorder.check(
        "rotated",
        rotated,
        f"{outcome.secret_name}: version {outcome.previous_version_id} -> {outcome.current_version_id}"
        if outcome
        else "no rotation",
    )
    validation = outcome.validation if outcome else None
    recorder.check(
        "validated", bool(validation and validation.ok), validation.describe() if validation else "not validated"
    )
    releases = result.releases
    released = bool(releases) and all(r.outcome in ("released", "already_gone") for r in releases)
    recorder.check(
        "released and verified gone",
        released,
        ", ".join(f"{r.outcome}" for r in releases) or "nothing was released",
    )


def _check_audit(
    recorder: DemoRecorder,
    ledger: Ledger,
    result: SecretRotationResult,
    env: dict[str, str],
    say: Callable[..., None],
) -> dict[str, Any]:
    from ..audit.signing import load_signer
    from ..audit.verify import trusted_keys, verify_ledger_file

    lease_id = result.leases[0]["lease_id"] if result.leases else None
    events = ledger.events(lease_id) if lease_id else []
    rotated = [e for e in events if e["type"] == "secret.rotated"]
    body = rotated[-1]["body"] if rotated else {}
    has_ids = bool(body.get("version_id") and body.get("previous_version_id"))
    recorder.check(
        "secret.rotated recorded with version ids",
        has_ids,
        f"ledger seq {rotated[-1]['seq']}: {body.get('previous_version_id')} -> {body.get('version_id')}"
        if rotated
        else "no secret.rotated event",
    )
    summaries = result.summaries
    signer = load_signer(ledger_path=ledger.path, environ=env, create=False)
    verified = verify_ledger_file(ledger.path, keys=trusted_keys([signer.public]) if signer else None)
    chain = ledger.verify_chain()
    ok = bool(summaries) and verified.ok and chain.ok and verified.signatures >= len(summaries)
    detail = (
        f"{len(summaries)} signed summary record(s); {verified.checked} events and {verified.signatures} "
        f"signature(s) verified offline (key {', '.join(verified.key_ids) or '-'})"
        if ok
        else (result.audit_error or (verified.problem.message if verified.problem else chain.reason))
    )
    say("audit", f"audit record written and verified: {detail}" if ok else f"audit check FAILED: {detail}")
    recorder.check("audit record written and verified", ok, detail)
    return {
        "ledger_events": verified.checked,
        "signatures": verified.signatures,
        "key_ids": verified.key_ids,
        "secret_rotated": body,
        "summaries": summaries,
    }


def _check_no_leak(
    recorder: DemoRecorder, value: SecretValue, workdir: Path, env: dict[str, str], timeline: list[dict[str, Any]]
) -> None:
    """The new value is in no file the job leaves (ledger, outputs, step summary) and not in the timeline."""
    import json

    needle = value.reveal().encode("utf-8")
    scanned = 0
    places = []
    for path in sorted(workdir.iterdir()):
        if path.is_file():
            data = path.read_bytes()
            scanned += len(data)
            if needle in data:
                places.append(path.name)
    if needle in json.dumps(timeline, default=str).encode("utf-8"):
        places.append("timeline")
    recorder.check(
        "new value never written out",
        not places,
        f"scanned {scanned} bytes of ledger, GitHub outputs and step summary, and the timeline"
        if not places
        else f"FOUND in {', '.join(places)}",
    )


def _lookup_ids(result: SecretRotationResult) -> dict[str, Any]:
    """What a security team looks up afterwards, and where."""
    lease = result.leases[0] if result.leases else {}
    grant = lease.get("grant") or {}
    outcome = result.outcome
    return {
        "lease_id": lease.get("lease_id"),
        "role_assignment_name": grant.get("request_id"),
        "role_assignment_id": grant.get("resource_id"),
        "secret_version_id": outcome.current_version_id if outcome else None,
        "previous_version_id": outcome.previous_version_id if outcome else None,
        "disabled_version_ids": outcome.disabled_version_ids if outcome else [],
        "rotation_id": outcome.rotation_id if outcome else None,
    }


def _print_step(wall: float, step: Step) -> None:
    name = click.style(f"{step.name:<14}", bold=step.name in ("granted", "effective", "released", "written"))
    click.echo(f"  {wall:6.2f}s  {name} {step.message}")


def _print_report(report: dict[str, Any]) -> None:
    click.echo("\nChecks:")
    for check in report["checks"]:
        mark = click.style(" ok ", fg="green") if check["ok"] else click.style("FAIL", fg="red", bold=True)
        click.echo(f"  [{mark}] {check['check']}: {check['detail']}")
    ids = report.get("ids") or {}
    if ids:
        click.echo("\nFor the security team (look these up in Azure and in `jitpim audit show`):")
        labels = {
            "lease_id": "lease",
            "role_assignment_name": "role assignment (name)",
            "role_assignment_id": "role assignment (ARM id)",
            "secret_version_id": "new secret version",
            "previous_version_id": "previous secret version",
            "disabled_version_ids": "disabled versions",
            "rotation_id": "rotation id (tag jitpim-rotation)",
        }
        for key, label in labels.items():
            value = ids.get(key)
            click.echo(f"  {label:<34} {', '.join(value) if isinstance(value, list) else value}")
    verdict = click.style("every step held", fg="green") if report["ok"] else click.style("FAILED", fg="red")
    click.echo(
        f"\n{verdict}: {report['wall_s']:.2f}s wall time; emulated time advanced "
        f"{report['emulated_time_advanced_s']:.1f}s instead of waiting."
    )
