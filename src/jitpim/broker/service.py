"""The broker's behaviour, without HTTP: verify the caller, decide by policy, record, grant with its own
identity, collect approvals, release, and reap. `jitpim.broker.app` serves this over HTTP; the Azure
Functions app under deploy/ serves the same app.

Grants run on a small worker pool after the decision is answered, so a job learns the decision at once and
polls its request until the access is in force. A request id is chosen by the client (`client_request_id`):
the same job sending the same request again gets the same request back, never a second grant.
"""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import JitError, UsageError
from ..model import Target, format_duration
from ..policy import AccessRequest, Outcome, PolicyDecision, PolicySet, evaluate
from .config import Approver, BrokerConfig
from .granting import Granter
from .notify import Notifier
from .problems import Problem, problem_from
from .records import ApprovalRecord, BrokerRequest, RequestState
from .store import Store
from .tokens import EntraCaller, EntraVerifier, GitHubVerifier

__all__ = ["Broker"]

_log = logging.getLogger("jitpim.broker")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._:@/-]{1,128}$")
_REAPER_LOCK = "reaper"
# A grant still "granting" after this long lost its replica (the lifecycle's own bound is 10 minutes).
_GRANTING_STALE = timedelta(minutes=20)
_KEPT_CLAIMS = (
    "sub", "repository", "repository_owner", "repository_id", "ref", "ref_type", "sha", "environment", "workflow",
    "workflow_ref", "job_workflow_ref", "event_name", "actor", "actor_id", "triggering_actor", "run_id",
    "run_number", "run_attempt", "runner_environment", "base_ref", "head_ref", "iss", "aud", "jti", "iat", "exp",
)  # fmt: skip


def _bearer(header: str | None) -> str:
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Unauthorized", "no bearer token", "Send `Authorization: Bearer <token>`.")
    return token.strip()


class Broker:
    def __init__(
        self,
        config: BrokerConfig,
        policies: PolicySet,
        store: Store,
        github: GitHubVerifier,
        *,
        entra: EntraVerifier | None,
        granter: Granter | None,
        notifier: Notifier | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        workers: int = 4,
    ) -> None:
        self.config = config
        self.policies = policies
        self.store = store
        self.github = github
        self.entra = entra
        self.granter = granter
        self.notifier = notifier or Notifier(())
        self.clock = clock
        self.holder = f"broker-{uuid.uuid4().hex[:12]}"
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jitpim-grant")
        self._inflight: set[Future[None]] = set()
        self._lock = threading.Lock()

    # submitting ----------------------------------------------------------------------------------------
    def submit(self, authorization: str | None, body: Mapping[str, Any]) -> tuple[BrokerRequest, bool]:
        token = _bearer(authorization)
        try:
            claims = self.github.verify(token)
        except JitError as exc:
            raise problem_from(exc) from None
        binding = self.config.repository(str(claims["repository"]))
        if binding is None:
            raise Problem(
                403,
                "UnknownRepository",
                f"repository {claims['repository']!r} is not registered with this broker",
                "Add it under `repositories:` in the broker config, with the principal its jobs use.",
            )
        client_id = body.get("client_request_id")
        if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
            raise Problem(
                400, "BadRequest", "client_request_id is missing or malformed", "Send 1-128 of [A-Za-z0-9._:@/-]."
            )
        raw = body.get("target")
        if not isinstance(raw, Mapping):
            raise Problem(400, "BadRequest", "'target' must be an object", "Send kind, role, scope, duration.")
        try:
            target = Target.from_flags(
                kind=str(raw.get("kind") or ""),
                role=raw.get("role"),
                scope=raw.get("scope"),
                access=raw.get("access"),
                tenant=raw.get("tenant") or binding.tenant_id,
                duration=str(raw.get("duration") or "15m"),
                justification=raw.get("justification"),
                ticket=raw.get("ticket"),
            )
        except (UsageError, ValueError) as exc:
            message = exc.message if isinstance(exc, JitError) else str(exc)
            raise Problem(400, "BadRequest", f"bad target: {message}", getattr(exc, "hint", "")) from None
        assert target.duration is not None
        if target.duration > self.config.max_duration:
            raise Problem(
                400,
                "BadRequest",
                f"duration {format_duration(target.duration)} is over this broker's maximum "
                f"{format_duration(self.config.max_duration)}",
                "Ask for less time (a job can extend with a new request).",
            )
        now = self.clock()
        break_glass = bool(body.get("break_glass"))
        decision = evaluate(
            self.policies,
            AccessRequest(
                claims=claims,
                kind=target.kind.value,
                role=target.role,
                scope=target.scope,
                duration=target.duration,
                now=now,
                justification=target.justification or "",
                ticket=str(target.ticket) if target.ticket else "",
                tenant=target.tenant or "",
                break_glass=break_glass,
            ),
        )
        state, expires = self._initial_state(decision, now)
        request = BrokerRequest(
            request_id=str(uuid.uuid4()),
            client_request_id=client_id,
            subject=str(claims["sub"]),
            repository=str(claims["repository"]),
            state=state,
            claims={k: claims[k] for k in _KEPT_CLAIMS if k in claims},
            target=target.to_json(),
            decision=decision.to_json(),
            created_at=now,
            updated_at=now,
            expires_at=expires,
            principal_id=binding.principal_id,
            review=decision.outcome is Outcome.BREAK_GLASS,
        )
        stored, created = self.store.create(request)
        if created:
            _log.info(
                "request %s from %s: %s (policy %s)",
                stored.request_id,
                stored.repository,
                decision.outcome,
                decision.policy_id,
            )
            kind = "request.break_glass" if decision.outcome is Outcome.BREAK_GLASS else f"request.{state.value}"
            self.notifier.notify({"type": kind, "request": stored.to_json()})
            if state is RequestState.PERMITTED:
                self._schedule(stored.request_id)
        return stored, created

    def _initial_state(self, decision: PolicyDecision, now: datetime) -> tuple[RequestState, datetime | None]:
        if decision.outcome is Outcome.FORBID:
            return RequestState.FORBIDDEN, None
        if decision.outcome is Outcome.APPROVAL_REQUIRED:
            assert decision.approval is not None
            if decision.approval.group not in self.config.approver_groups:
                # A policy naming a group the broker does not know could never be approved: refuse loudly.
                raise Problem(
                    500,
                    "PolicyMisconfigured",
                    f"policy {decision.policy_id!r} names approver group {decision.approval.group!r}, which the "
                    "broker config does not define",
                    "Add the group under `approver_groups:` or fix the policy's @approvers.",
                )
            return RequestState.PENDING_APPROVAL, now + decision.approval.timeout
        return RequestState.PERMITTED, None

    # granting -------------------------------------------------------------------------------------------
    def _schedule(self, request_id: str) -> None:
        future = self._pool.submit(self._grant, request_id)
        with self._lock:
            self._inflight.add(future)
        future.add_done_callback(lambda f: self._inflight.discard(f))

    def _grant(self, request_id: str) -> None:
        now = self.clock()
        claimed = self.store.transition(
            request_id, (RequestState.PERMITTED, RequestState.APPROVED), RequestState.GRANTING, now=now
        )
        if claimed is None:
            return  # another replica (or a retried request) took this step
        if self.granter is None:
            self.store.transition(
                request_id,
                (RequestState.GRANTING,),
                RequestState.FAILED,
                now=self.clock(),
                error={"code": "NoGranter", "message": "this broker has no identity to grant with"},
            )
            return
        try:
            target = Target.from_json(claimed.target)
            details = {
                "broker_request_id": claimed.request_id,
                "client_request_id": claimed.client_request_id,
                "decision": claimed.decision,
                "claims": {k: v for k, v in claimed.claims.items() if k not in ("jti",)},
                "approvals": [a.to_json() for a in claimed.approvals],
                "review": claimed.review,
            }
            result = self.granter.grant(
                target, principal_id=claimed.principal_id, claims=claimed.claims, details=details
            )
        except Exception as exc:  # any failure ends the request as failed; the lifecycle released what landed
            error = exc.to_json() if isinstance(exc, JitError) else {"error": type(exc).__name__}
            _log.warning("grant of request %s failed: %s", request_id, error.get("message") or error.get("error"))
            self.store.transition(
                request_id, (RequestState.GRANTING,), RequestState.FAILED, now=self.clock(), error=error
            )
            return
        done = self.store.transition(
            request_id,
            (RequestState.GRANTING,),
            RequestState.GRANTED,
            now=self.clock(),
            lease=result.to_json(),
            expires_at=result.end_at,
        )
        if done is not None:
            self.notifier.notify({"type": "request.granted", "request": done.to_json()})

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Wait for grants in flight (tests, shutdown)."""
        with self._lock:
            pending = list(self._inflight)
        for future in pending:
            future.result(timeout=timeout)

    # reading ----------------------------------------------------------------------------------------------
    def get(self, request_id: str) -> BrokerRequest:
        found = self.store.get(request_id)
        if found is None:
            raise Problem(404, "NotFound", f"no request {request_id!r}", "List requests with `jitpim approvals list`.")
        return found

    def get_for_job(self, authorization: str | None, request_id: str) -> BrokerRequest:
        claims = self._job(authorization)
        request = self.get(request_id)
        self._same_job(claims, request)
        return request

    def list_for_job(self, authorization: str | None) -> list[BrokerRequest]:
        """The calling job's own requests (same repository and run), newest last."""
        claims = self._job(authorization)
        return [
            r
            for r in self.store.list_requests(repository=str(claims["repository"]))
            if r.claims.get("run_id") == claims.get("run_id")
        ]

    def _job(self, authorization: str | None) -> dict[str, Any]:
        try:
            return self.github.verify(_bearer(authorization))
        except JitError as exc:
            raise problem_from(exc) from None

    @staticmethod
    def _same_job(claims: Mapping[str, Any], request: BrokerRequest) -> None:
        if claims.get("repository") != request.repository or claims.get("run_id") != request.claims.get("run_id"):
            # The same answer as a missing request: a job cannot learn about another job's requests.
            raise Problem(404, "NotFound", f"no request {request.request_id!r} for this job", "Check the request id.")

    # approvals ---------------------------------------------------------------------------------------------
    def approver(self, authorization: str | None) -> EntraCaller:
        if self.entra is None:
            raise Problem(
                501,
                "NotConfigured",
                "this broker has no Entra tenant for approvers",
                "Set entra.tenant_id in its config.",
            )
        try:
            return self.entra.verify(_bearer(authorization))
        except JitError as exc:
            raise problem_from(exc) from None

    def pending(self, authorization: str | None) -> list[BrokerRequest]:
        caller = self.approver(authorization)
        found = []
        for request in self.store.list_requests((RequestState.PENDING_APPROVAL,)):
            group = ((request.decision.get("approval") or {}).get("group")) or ""
            if self._member(group, caller) is not None:
                found.append(request)
        return found

    def _member(self, group: str, caller: EntraCaller) -> Approver | None:
        return next(
            (a for a in self.config.approver_groups.get(group, ()) if a.matches(caller.object_id, caller.name)), None
        )

    def decide(self, authorization: str | None, request_id: str, verdict: str, reason: str) -> BrokerRequest:
        caller = self.approver(authorization)
        if verdict not in ("approve", "deny"):
            raise Problem(400, "BadRequest", f"decision {verdict!r} is not approve or deny", "Use approve or deny.")
        if not reason.strip():
            raise Problem(400, "ReasonRequired", "a reason is required", "Say why, e.g. --reason 'CHG-1234 reviewed'.")
        request = self.get(request_id)
        if request.state is not RequestState.PENDING_APPROVAL:
            raise Problem(
                409,
                "AlreadyDecided",
                f"request {request_id} is {request.state.value}, not pending approval",
                "Nothing to decide; `jitpim approvals show` tells its state.",
            )
        rule = request.decision.get("approval") or {}
        group = str(rule.get("group") or "")
        member = self._member(group, caller)
        if member is None:
            raise Problem(
                403,
                "NotAnApprover",
                f"{caller.name} is not in approver group {group!r} for this request",
                "Ask a member of that group to decide.",
            )
        actors = {str(request.claims.get(k) or "").lower() for k in ("actor", "triggering_actor")} - {""}
        if member.github and member.github.lower() in actors:
            raise Problem(
                403,
                "SelfApproval",
                f"{caller.name} started this run ({member.github}) and cannot approve it",
                "Another member of the group must decide.",
            )
        now = self.clock()
        if request.expires_at is not None and now >= request.expires_at:
            self.store.transition(request_id, (RequestState.PENDING_APPROVAL,), RequestState.TIMED_OUT, now=now)
            raise Problem(
                409,
                "AlreadyDecided",
                f"request {request_id} timed out before this decision",
                "Ask the job to request again.",
            )
        if not self.store.add_approval(
            request_id, ApprovalRecord(caller.object_id, caller.name, verdict, reason.strip(), now)
        ):
            raise Problem(
                409,
                "AlreadyDecided",
                f"{caller.name} already decided on request {request_id}",
                "One decision per approver.",
            )
        current = self.get(request_id)
        if verdict == "deny":
            moved = self.store.transition(request_id, (RequestState.PENDING_APPROVAL,), RequestState.DENIED, now=now)
            if moved is None:
                raise Problem(409, "AlreadyDecided", f"request {request_id} was decided meanwhile", "Check its state.")
            self.notifier.notify({"type": "request.denied", "request": moved.to_json()})
            return moved
        approvals = sum(1 for a in current.approvals if a.decision == "approve")
        if approvals >= int(rule.get("count") or 1):
            moved = self.store.transition(request_id, (RequestState.PENDING_APPROVAL,), RequestState.APPROVED, now=now)
            if moved is not None:
                self.notifier.notify({"type": "request.approved", "request": moved.to_json()})
                self._schedule(request_id)
                return moved
        return self.get(request_id)

    # releasing ----------------------------------------------------------------------------------------------
    def release(self, authorization: str | None, request_id: str) -> BrokerRequest:
        claims = self._job(authorization)
        request = self.get(request_id)
        self._same_job(claims, request)
        return self._release(request, "released by the job")

    def _release(
        self, request: BrokerRequest, reason: str, final: RequestState = RequestState.RELEASED
    ) -> BrokerRequest:
        now = self.clock()
        if request.state in (RequestState.PENDING_APPROVAL, RequestState.APPROVED, RequestState.PERMITTED):
            # Not granted yet: cancelling means it never will be.
            moved = self.store.transition(
                request.request_id,
                (RequestState.PENDING_APPROVAL, RequestState.APPROVED, RequestState.PERMITTED),
                RequestState.RELEASED,
                now=now,
            )
            if moved is not None:
                return moved
            request = self.get(request.request_id)
        if request.state is RequestState.GRANTING:
            raise Problem(409, "Granting", "the grant is still in progress", "Retry the release in a few seconds.")
        if request.state is not RequestState.GRANTED:
            return request  # already released, expired, failed, denied: releasing again is success
        claimed = self.store.transition(request.request_id, (RequestState.GRANTED,), RequestState.RELEASING, now=now)
        if claimed is None:
            return self.get(request.request_id)
        outcome = "failed"
        try:
            assert self.granter is not None
            outcome = self.granter.release(str(claimed.lease.get("lease_id")), reason, claimed.claims)
        except Exception as exc:  # the reaper retries a failed release
            _log.warning("release of request %s failed: %s", request.request_id, type(exc).__name__)
        if outcome == "failed":
            self.store.transition(
                request.request_id,
                (RequestState.RELEASING,),
                RequestState.GRANTED,
                now=self.clock(),
                error={"code": "ReleaseFailed", "message": "release failed; the reaper retries it"},
            )
            raise Problem(502, "ReleaseFailed", "the release failed; the broker's reaper retries it", "Nothing to do.")
        lease = dict(claimed.lease, release=outcome, released_reason=reason)
        moved = self.store.transition(
            request.request_id, (RequestState.RELEASING,), final, now=self.clock(), lease=lease
        )
        result = moved or self.get(request.request_id)
        self.notifier.notify({"type": f"request.{final.value}", "request": result.to_json()})
        return result

    # reaping --------------------------------------------------------------------------------------------------
    def reap(self) -> dict[str, int]:
        """End what is due: approvals past their deadline time out; grants past their end are released at the
        source. One replica at a time (a lock row); each step is a compare-and-set besides."""
        now = self.clock()
        counts = {"timed_out": 0, "expired": 0, "failed": 0, "abandoned": 0}
        if not self.store.try_lock(_REAPER_LOCK, self.holder, now, timedelta(minutes=5)):
            return counts
        try:
            for request in self.store.due(RequestState.PENDING_APPROVAL, now):
                if self.store.transition(
                    request.request_id, (RequestState.PENDING_APPROVAL,), RequestState.TIMED_OUT, now=now
                ):
                    counts["timed_out"] += 1
                    self.notifier.notify({"type": "request.timed_out", "request": request.to_json()})
            for request in self.store.stale(RequestState.GRANTING, now - _GRANTING_STALE):
                counts["abandoned"] += self._abandon(request)
            for request in self.store.due(RequestState.GRANTED, now):
                try:
                    self._release(request, "its end has passed (broker reaper)", final=RequestState.EXPIRED)
                    counts["expired"] += 1
                except Problem:
                    counts["failed"] += 1
        finally:
            self.store.unlock(_REAPER_LOCK, self.holder)
        return counts

    def _abandon(self, request: BrokerRequest) -> int:
        """A grant whose replica stopped mid-way: end what it may have left, then fail the request."""
        released: list[str] = []
        if self.granter is not None:
            try:
                released = self.granter.release_landed(request.principal_id, request.claims, request.target)
            except Exception as exc:  # the next pass retries: the request stays granting until this works
                _log.warning("cleaning up abandoned request %s failed: %s", request.request_id, type(exc).__name__)
                return 0
        error = {
            "code": "Abandoned",
            "message": "the broker replica granting this request stopped; anything it granted was released",
            "released_leases": released,
        }
        moved = self.store.transition(
            request.request_id, (RequestState.GRANTING,), RequestState.FAILED, now=self.clock(), error=error
        )
        return 1 if moved is not None else 0

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.notifier.close()
        if self.granter is not None:
            self.granter.close()
        self.store.close()
