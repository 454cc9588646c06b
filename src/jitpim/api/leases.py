"""The lease calls of the front door: plan, hold, exec, elevate, release, extend, reap, status, eligible.

Each takes a `Runtime` and a frozen input, and returns a typed result (or raises a `JitError` with its hint
and exit code). The command line is a thin layer over these; so are the broker and the action.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import timedelta

from ..audit.location import LEDGER_ENV, resolve_ledger_path
from ..audit.records import LeaseRecord
from ..audit.store import AuditStore, is_postgres_dsn, open_store, store_file
from ..errors import JitError, LeaseNotFoundError, LedgerError, UsageError
from ..lifecycle import (
    ExecResult,
    Hold,
    LifecycleOptions,
    Plan,
    Releaser,
    execute,
    held_from_record,
    make_plan,
)
from ..lifecycle import reap as run_reaper
from ..lifecycle import reap_source as reap_source_grants
from ..lifecycle.on_behalf import on_behalf_of
from ..model import LeaseState, TargetKind, evaluate, validate_arm_scope
from ..providers import GrantMarker, get_provider
from ..providers.audiences import audience_by_name
from .inputs import (
    AccessRequest,
    EligibleRequest,
    ExecRequest,
    ExtendRequest,
    ReapRequest,
    ReleaseRequest,
    SourceReapRequest,
    StatusRequest,
)
from .results import (
    ElevateResult,
    EligibleResult,
    ExtendResult,
    LeaseStatus,
    ReapResult,
    ReleaseResult,
    ReleaseRow,
    SourceReapResult,
    StatusResult,
)
from .runtime import Runtime

__all__ = [
    "cloud_environment",
    "elevate",
    "eligible",
    "exec",
    "extend",
    "hold",
    "plan",
    "reap",
    "reap_source",
    "release",
    "status",
]

_ENDED = frozenset({LeaseState.RELEASED, LeaseState.EXPIRED, LeaseState.FAILED})


def plan(rt: Runtime, access: AccessRequest) -> Plan:
    """Resolve the targets, read their policies and decide (validate, clamp); nothing is changed anywhere."""
    return make_plan(access.targets, contexts=rt.session.context, options=rt.options(access.options), clock=rt.clock)


@contextlib.contextmanager
def hold(rt: Runtime, access: AccessRequest) -> Iterator[Hold]:
    """Hold the access while the `with` block runs: granted and effective on entry, released (verified) and
    recorded (signed evidence) on every way out. A refused plan raises before anything is granted; a signal
    during the grant raises `jitpim.lifecycle.Interrupted` after everything granted was released."""
    options = rt.options(access.options)
    planned = make_plan(access.targets, contexts=rt.session.context, options=options, clock=rt.clock)
    with Hold(planned, rt.hold_context(options)) as holding:
        yield holding


def cloud_environment(rt: Runtime) -> dict[str, str]:
    """What a child needs to reach the same cloud as jitpim: the authority, the tenant, and for the emulator
    the CA bundle (trusted explicitly by Azure SDKs through REQUESTS_CA_BUNDLE/SSL_CERT_FILE only when the
    caller set them; jitpim never replaces the user's trust store on its own)."""
    cloud = rt.session.cloud
    identity = rt.session.identity()
    env = {"AZURE_AUTHORITY_HOST": cloud.authority_host, "AZURE_TENANT_ID": identity.tenant_id}
    if cloud.name == "emulator":
        env["JITPIM_EMULATOR_URL"] = cloud.authority_host
        if cloud.ca_bundle:
            env["JITPIM_CA_BUNDLE"] = cloud.ca_bundle
    return env


def exec(rt: Runtime, request: ExecRequest) -> ExecResult:
    """Hold the access exactly as long as a command runs (see `jitpim.lifecycle.execution`). The result's
    `exit_code` is the command's own when every release succeeded; a failed release raises
    `ReleaseFailedError` (85) after the evidence is recorded."""
    options = rt.options(request.access.options)
    for audience in request.child_audiences:
        audience_by_name(rt.session.cloud, audience)  # a bad value is refused before anything is granted
    planned = make_plan(request.access.targets, contexts=rt.session.context, options=options, clock=rt.clock)
    planned.raise_for_refusal()
    return execute(
        planned,
        list(request.argv),
        ledger=rt.ledger,
        run=rt.run,
        clock=rt.clock,
        options=options,
        reporter=rt.timeline,
        environ=rt.environ,
        extra_env={**cloud_environment(rt), **request.env},
        cwd=request.cwd,
        evidence=rt.evidence(),
        stdout_to_stderr=request.stdout_to_stderr,
        pass_credentials=request.pass_credentials,
        child_audiences=request.child_audiences,
    )


def elevate(rt: Runtime, access: AccessRequest) -> ElevateResult:
    """Grant and wait until effective, then leave the access in place for later steps: it ends by `release`,
    at its end at the source, or by `reap` after its end. A later `--start` is not waited for."""
    options = dataclasses.replace(rt.options(access.options), wait_for_start=False)
    provider_for = on_behalf_of(access.on_behalf_of) if access.on_behalf_of else get_provider
    planned = make_plan(
        access.targets, contexts=rt.session.context, options=options, clock=rt.clock, provider_for=provider_for
    )
    with Hold(planned, rt.hold_context(options), held_by="broker" if access.on_behalf_of else "elevate") as holding:
        held = holding.detach()
    return ElevateResult(held)


def _records_to_release(rt: Runtime, request: ReleaseRequest) -> builtins.list[LeaseRecord]:
    chosen = sum(bool(x) for x in (request.lease_ids, request.run_key, request.all_mine))
    if chosen != 1:
        raise UsageError("name the leases to release: LEASE_ID..., --run RUN, or --all (exactly one of them)")
    if request.lease_ids:
        records = []
        for lid in request.lease_ids:
            record = rt.ledger.find(lid)
            if record is None:
                raise LeaseNotFoundError(f"no lease {lid} in the ledger {_ledger_name(rt)}")
            records.append(record)
        return records
    open_leases = rt.ledger.open_leases()
    if request.run_key:
        return [r for r in open_leases if r["lease_id"].startswith(request.run_key + "/")]
    me = rt.session.identity().object_id
    return [r for r in open_leases if r.get("principal_id") == me]


def release(rt: Runtime, request: ReleaseRequest) -> ReleaseResult:
    """Release leases (by id, run, or all of the caller) and verify each is gone; already-ended leases are
    reported as such. A failed release is in the result (`failed`; `raise_for_failure()` raises
    `ReleaseFailedError`, 85), so that every lease's outcome can be shown first."""
    records = _records_to_release(rt, request)
    options = _release_options(rt, request.early_release, request.release_deadline)
    releaser = Releaser(rt.ledger, rt.clock, options, rt.timeline)
    rows: builtins.list[ReleaseRow] = []
    for record in records:
        if record["state"] in _ENDED:
            rows.append(ReleaseRow(record["lease_id"], ended_as=record["state"]))
            continue
        held = held_from_record(record, rt.session.context)
        rows.append(ReleaseRow(record["lease_id"], releaser.release(held)))
    evidence = rt.evidence().record([row.lease_id for row in rows])
    return ReleaseResult(rows, evidence)


def extend(rt: Runtime, request: ExtendRequest) -> ExtendResult:
    """Lengthen a granted or effective lease to `duration` from now, within the policy maximum (refused with
    the rule named otherwise)."""
    record = rt.ledger.find(request.lease_id)
    if record is None:
        raise LeaseNotFoundError(f"no lease {request.lease_id} in the ledger {_ledger_name(rt)}")
    if LeaseState(record["state"]) not in (LeaseState.GRANTED, LeaseState.EFFECTIVE):
        raise UsageError(
            f"lease {request.lease_id} is {record['state']}; only a granted or effective lease can be extended",
            hint="Start a new lease with `jitpim elevate`; `jitpim status --all` shows each lease's state.",
        )
    held = held_from_record(record, rt.session.context)
    policy = held.provider.read_policy(held.resolved, held.ctx)
    if held.resolved.target.kind is TargetKind.RBAC and policy.max_duration is None:
        # As when the lease was planned: a plain role assignment has no expiry at the source, so jitpim's own
        # ceiling is its maximum (the reaper enforces it).
        policy = dataclasses.replace(policy, max_duration=rt.settings.lifecycle.rbac_max_duration)
    target = dataclasses.replace(held.resolved.target, duration=request.duration, start=None)
    decision = evaluate(
        target,
        policy,
        mode=rt.mode,
        now=rt.clock.now(),
        default_duration=request.duration,
        has_mfa=held.ctx.identity.has_mfa,
        strict=True,
    )
    decision.raise_for_refusal()
    # The lease's marker at the source moves with it (for rbac it is the only end there is).
    marker = GrantMarker(request.lease_id, held.resolved.principal_id, decision.end)
    grant = held.provider.extend(held.grant, held.resolved, decision, held.ctx, marker=marker)
    data = dict(record.get("data") or {})
    data["grant"] = grant.to_json()
    rt.ledger.transition(
        request.lease_id,
        record["state"],
        "lease.extended",
        {"end_at": grant.end_at.isoformat() if grant.end_at else None, "grant": grant.to_json()},
        end_at=grant.end_at,
        data=data,
    )
    return ExtendResult(request.lease_id, grant)


def reap(rt: Runtime, request: ReapRequest) -> ReapResult:
    """Release, from the ledger alone, leases whose process is gone, whose end has passed, or whose release
    failed before. A failed release is in the result (`failed`, `raise_for_failure()`)."""
    options = _release_options(rt, request.early_release, request.release_deadline)
    reaped = run_reaper(
        rt.ledger, rt.session.context, clock=rt.clock, options=options, reporter=rt.timeline, dry_run=request.dry_run
    )
    evidence = None
    if not request.dry_run:
        evidence = rt.evidence().record([orphan.record["lease_id"] for orphan, _ in reaped])
    return ReapResult(reaped, request.dry_run, evidence)


def _ledger_if_any(rt: Runtime) -> AuditStore | None:
    """The ledger to consult when one exists here (read-only for a file); None on a runner that has none."""
    location = rt.settings.ledger or rt.settings.environ.get(LEDGER_ENV) or None
    try:
        if is_postgres_dsn(location):
            return open_store(location, environ=rt.settings.environ)
        path = resolve_ledger_path(location, rt.settings.environ)
        return open_store(str(path), environ=rt.settings.environ, read_only=True) if path.exists() else None
    except LedgerError:
        return None  # unreadable: the markers alone decide, as on a runner with no ledger


def reap_source(rt: Runtime, request: SourceReapRequest) -> SourceReapResult:
    """Remove, from the source alone, jitpim-marked grants whose holders have all ended (an ephemeral runner
    that lost its ledger leaves nothing behind). Only the caller's own grants are ended. Failures are in the
    result (`raise_for_failure()`)."""
    kinds = list(request.kinds) or list(TargetKind)
    scopes = [validate_arm_scope(scope) for scope in request.scopes]
    ledger = _ledger_if_any(rt)
    try:
        report = reap_source_grants(
            rt.session.context,
            scopes=scopes,
            kinds=kinds,
            clock=rt.clock,
            reporter=rt.timeline,
            ledger=ledger,
            dry_run=request.dry_run,
        )
    finally:
        if ledger is not None:
            ledger.close()
    return SourceReapResult(report, request.dry_run, ledger is not None, bool(request.scopes or request.kinds))


def _viewing_ledger(rt: Runtime) -> tuple[AuditStore, bool]:
    """The ledger to read, and whether it was opened here (to close): the runtime's, or, when this user may
    read the file but not write it (an auditor's copy, a read-only mount), the same file read-only."""
    try:
        return rt.ledger, False
    except LedgerError:
        location = rt.settings.ledger or rt.settings.environ.get(LEDGER_ENV) or None
        if is_postgres_dsn(location):
            raise
        path = resolve_ledger_path(location, rt.settings.environ)
        if not path.is_file():
            raise
        return open_store(str(path), environ=rt.settings.environ, read_only=True), True


def status(rt: Runtime, request: StatusRequest) -> StatusResult:
    """Leases in the ledger (open ones, or all), the latest finished ones (`recent`), and with `live` whether
    each open one still exists. Works on a ledger this user can read but not write."""
    ledger, opened = _viewing_ledger(rt)
    try:
        every = ledger.list()
        path = store_file(ledger)
        name = str(path) if path is not None else repr(ledger)
    finally:
        if opened:
            ledger.close()
    if request.run_key:
        every = [r for r in every if r["lease_id"].startswith(request.run_key + "/")]
    records = every if request.all_leases else [r for r in every if r["state"] not in _ENDED]
    finished = [] if request.all_leases else [r for r in every if r["state"] in _ENDED]
    recent = [_lease_status(rt, r, live=False) for r in reversed(finished[-request.recent :])] if request.recent else []
    rows = [_lease_status(rt, r, live=request.live) for r in records]
    return StatusResult(name, rows, recent)


def _lease_status(rt: Runtime, record: LeaseRecord, *, live: bool) -> LeaseStatus:
    found: str | None = None
    if live and record["state"] not in _ENDED:
        try:
            held = held_from_record(record, rt.session.context)
            existing = held.provider.find_existing(held.resolved, held.ctx)
            found = "active" if existing is not None else "gone"
        except Exception as exc:
            found = f"unknown ({type(exc).__name__})"
    return LeaseStatus(
        lease_id=record["lease_id"],
        state=LeaseState(record["state"]),
        kind=record["kind"],
        role=record["role"],
        scope=record["scope"],
        principal_id=record.get("principal_id"),
        end_at=record.get("end_at"),
        outcome=record.get("outcome"),
        owner_pid=record.get("owner_pid"),
        live=found,
    )


def eligible(rt: Runtime, request: EligibleRequest) -> EligibleResult:
    """The PIM eligibilities of the calling principal, per kind (a kind that cannot be listed is an error
    entry, not a failure of the whole call)."""
    ctx = rt.session.context()
    result = EligibleResult(ctx.identity)
    for kind in request.kinds or tuple(TargetKind):
        try:
            for target in get_provider(kind).eligible(ctx):
                result.eligible.append(target.to_json())
        except JitError as exc:
            result.errors.append({"kind": str(kind), **exc.to_json()})
    return result


def _release_options(rt: Runtime, early_release: str, deadline: timedelta | None) -> LifecycleOptions:
    base = rt.options()
    return dataclasses.replace(base, early_release=early_release, release_deadline=deadline or base.release_deadline)


def _ledger_name(rt: Runtime) -> str:
    path = store_file(rt.ledger)
    return str(path) if path is not None else repr(rt.ledger)
