"""The request flow the two Graph PIM target kinds share: `GraphPimProvider`.

Directory roles (`/roleManagement/directory/roleAssignmentSchedule*`) and PIM for Groups
(`/identityGovernance/privilegedAccess/group/assignmentSchedule*`) are one API with different target fields
(`roleDefinitionId` + `directoryScopeId`, or `groupId` + `accessId`). A subclass says where its entity sets
are and how a target is written and recognised; this class does the rest:

    check          the grant request with `isValidationOnly: true`: PIM's own verdict, nothing committed
    grant          `adminAssign` (direct, broker) or `selfActivate` (self), always time-bound (`afterDuration`),
                   `customData` = `jitpim:{request_name}` so a lost response can be found again, and the lease's
                   marker (`providers.marker`) after the justification
    recover        the principal's requests for the target, matched on `customData`; if the service dropped
                   `customData`: same action and justification, created since the attempt (`recovered_by`)
    refresh        GET the request (its `status` is the outcome; HTTP 201 can mean `PendingApproval`)
    find_existing  the principal's assignment schedule instances for the target (standing ones included)
    release        cancel (still pending) / `adminRemove` / `selfDeactivate`; `ActiveDurationTooShort` is
                   TOO_EARLY, `RoleAssignmentDoesNotExist` is ALREADY_GONE
    extend         `adminExtend` / `selfExtend` to the decision's end
    eligible       the caller's eligibility instances (self) or the principal's eligibility schedules (direct)
    holders        the markers in the justifications of the requests behind the assignment schedule
    marked         the caller's live assignments whose requests carry markers (`jitpim reap --source`)
"""

from __future__ import annotations

import abc
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from ..errors import ProviderApiError, ProviderError
from ..model import Decision, Mode, Reason, ReasonCode, Target, TargetKind, Ticket, iso8601_duration
from ._graph import (
    V1,
    annotate,
    custom_data,
    format_time,
    grant_status,
    instance_window,
    parse_time,
    request_refusal,
    request_window,
)
from .base import Grant, GrantStatus, ProviderContext, ReleaseOutcome, ReleaseResult, ResolvedTarget, SourceGrant
from .marker import GrantMarker, parse_markers, strip_markers, with_markers

__all__ = ["GraphPimProvider"]

# PIM refuses removal within five minutes of the start; a few seconds more absorb clock skew.
_REMOVAL_FLOOR = timedelta(minutes=5, seconds=10)
_ACTIONS = {
    "grant": ("adminAssign", "selfActivate"),
    "release": ("adminRemove", "selfDeactivate"),
    "extend": ("adminExtend", "selfExtend"),
}
_PENDING_APPROVAL = frozenset({"PendingApproval", "PendingApprovalProvisioning", "PendingAdminDecision"})
# Requests with these statuses hold no access, so there is nothing to take back.
_NOTHING_GRANTED = (GrantStatus.DENIED, GrantStatus.FAILED, GrantStatus.CANCELED)
_OWN = "graph:own-schedules"
# What jitpim writes into a request's justification, its marker included (PIM's portal keeps 500 characters).
JUSTIFICATION_LIMIT = 500
# Requests that give or lengthen access: the ones whose justification carries a holder's marker.
_GRANTING = frozenset({"adminassign", "selfactivate", "adminextend", "selfextend", "adminrenew", "selfrenew"})
_NO_ACCESS = frozenset({"denied", "admindenied", "failed", "canceled", "invalid", "timedout", "revoked"})


def _marked(justification: str | None, marker: GrantMarker | None) -> str | None:
    return with_markers(justification, [marker], limit=JUSTIFICATION_LIMIT) if marker is not None else justification


def _same_words(row_justification: Any, justification: str | None) -> bool:
    """A request's justification is the person's (possibly shortened, `…`) followed by jitpim's marker."""
    said = strip_markers(row_justification) or None
    if said is None or justification is None:
        return said == (justification or None)
    return said == justification or (said.endswith("…") and justification.startswith(said[:-1]))


def _markers_of(rows: list[dict[str, Any]], schedule_id: str) -> list[GrantMarker]:
    by_lease: dict[str, GrantMarker] = {}
    for row in sorted(rows, key=_created):
        if str(row.get("action") or "").lower() not in _GRANTING:
            continue
        if str(row.get("status") or "").lower() in _NO_ACCESS or row.get("isValidationOnly"):
            continue
        if str(row.get("targetScheduleId") or "").lower() != schedule_id.lower():
            continue
        for marker in parse_markers(row.get("justification")):
            by_lease[marker.lease_id] = marker
    return list(by_lease.values())


def _same(a: Any, b: str) -> bool:
    return str(a or "").lower() == b.lower()


def _created(row: dict[str, Any]) -> datetime:
    return parse_time(row.get("createdDateTime")) or datetime.min.replace(tzinfo=UTC)


class GraphPimProvider(abc.ABC):
    """Base of `GraphDirectoryRoleProvider` and `GraphPimGroupProvider` (see the module docstring)."""

    kind: ClassVar[TargetKind]
    base_path: ClassVar[str]  # e.g. /roleManagement/directory
    requests_set: ClassVar[str]
    instances_set: ClassVar[str]
    eligibility_instances_set: ClassVar[str]
    eligibility_schedules_set: ClassVar[str]
    instance_schedule_key: ClassVar[str]  # the instance property naming its assignment schedule
    permission_hint: ClassVar[str]  # what to grant when PIM answers PermissionScopeNotGranted

    # what a subclass provides ---------------------------------------------------------------------------
    @abc.abstractmethod
    def target_fields(self, resolved: ResolvedTarget) -> dict[str, Any]: ...

    @abc.abstractmethod
    def principal_filter(self, resolved: ResolvedTarget) -> str:
        """The `$filter` that lists the principal's requests and instances for the target's role or group."""
        ...

    @abc.abstractmethod
    def same_target(self, row: dict[str, Any], resolved: ResolvedTarget) -> bool: ...

    @abc.abstractmethod
    def eligibility_filter(self, principal_id: str) -> str: ...

    @abc.abstractmethod
    def resolved_from_row(self, row: dict[str, Any], ctx: ProviderContext) -> ResolvedTarget:
        """The target an instance or request row is about (for grants found at the source)."""
        ...

    @abc.abstractmethod
    def eligibility_target(self, row: dict[str, Any], ctx: ProviderContext) -> Target | None: ...

    # paths and bodies -----------------------------------------------------------------------------------
    def _path(self, entity_set: str) -> str:
        return f"{V1}{self.base_path}/{entity_set}"

    @property
    def _requests(self) -> str:
        return self._path(self.requests_set)

    @staticmethod
    def _action(ctx: ProviderContext, what: str) -> str:
        admin, own = _ACTIONS[what]
        return own if ctx.mode is Mode.SELF else admin

    def _body(
        self, resolved: ResolvedTarget, action: str, *, justification: str | None = None, ticket: Ticket | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"action": action, "principalId": resolved.principal_id, **self.target_fields(resolved)}
        if justification:
            body["justification"] = justification
        if ticket is not None:
            body["ticketInfo"] = {"ticketNumber": ticket.number, "ticketSystem": ticket.system}
        return body

    def _assign_body(
        self, resolved: ResolvedTarget, decision: Decision, ctx: ProviderContext, marker: GrantMarker | None = None
    ) -> dict[str, Any]:
        body = self._body(
            resolved,
            self._action(ctx, "grant"),
            justification=_marked(decision.target.justification, marker),
            ticket=decision.target.ticket,
        )
        schedule: dict[str, Any] = {
            "expiration": {"type": "afterDuration", "duration": iso8601_duration(decision.duration)}
        }
        # A start that is "now" is left out (PIM starts it on receipt), so clock skew cannot turn it into a
        # scheduled grant; only a start still ahead (a maintenance window) is sent.
        if decision.start > ctx.now():
            schedule["startDateTime"] = format_time(decision.start)
        body["scheduleInfo"] = schedule
        return body

    def _grant_from_request(
        self, row: dict[str, Any], ctx: ProviderContext, *, request_name: str | None, previous: Grant | None = None
    ) -> Grant:
        start, end = request_window(row)
        data: dict[str, Any] = dict(previous.data) if previous else {}
        extended = parse_time(data.get("extended_to"))
        if extended is not None and (end is None or extended > end):
            end = extended  # the original request still shows the end it asked for
        found = {
            "request_name": request_name,
            "schedule_id": row.get("targetScheduleId"),
            "approval_id": row.get("approvalId"),
            "action": row.get("action"),
        }
        data.update({k: v for k, v in found.items() if v})
        api_status = str(row.get("status") or "")
        request_id = str(row["id"])
        return Grant(
            kind=self.kind,
            status=grant_status(api_status, start, end, ctx.now()),
            request_id=request_id,
            resource_id=ctx.graph.url_for(f"{self._requests}/{request_id}"),
            start_at=start,
            end_at=end,
            reused=False,
            api_status=api_status,
            data=data,
        )

    @staticmethod
    def _remember_own(ctx: ProviderContext, grant: Grant) -> None:
        """Schedules jitpim created through this context, so `find_existing` does not call them "reused"."""
        own: dict[str, dict[str, str]] = ctx.cache.setdefault(_OWN, {})
        entry = {"request_id": grant.request_id or "", "request_name": str(grant.data.get("request_name") or "")}
        for key in (grant.data.get("schedule_id"), grant.request_id):
            if key:
                own[str(key).lower()] = entry

    # check ----------------------------------------------------------------------------------------------
    def check(self, resolved: ResolvedTarget, decision: Decision, ctx: ProviderContext) -> list[Reason]:
        """PIM's own verdict on the grant request (`isValidationOnly`): raises `PolicyDeniedError` naming the
        rules or `NotEligibleError`; returns reasons for other refusals and for an approval PIM will ask for."""
        body = {**self._assign_body(resolved, decision, ctx), "isValidationOnly": True}
        try:
            # Resending a validation changes nothing, so it may be retried like a read.
            row = ctx.graph.post(self._requests, body, expected=(200, 201), retry_unsafe=True).json or {}
        except ProviderApiError as exc:
            if exc.code == "RoleAssignmentExists":
                message = "an assignment of this access already exists for the principal (it may start later)"
                return [Reason(ReasonCode.POLICY_REFUSED, message + "; release it or wait until it ends", None)]
            if exc.code == "PendingRoleAssignmentRequest":
                message = "a request for this access is already pending; cancel it or wait for its decision"
                return [Reason(ReasonCode.POLICY_REFUSED, message, None)]
            raise request_refusal(
                exc, target=resolved.describe(), doing="the request", permission_hint=self.permission_hint
            ) from None
        if str(row.get("status") or "") in _PENDING_APPROVAL and not decision.needs_approval:
            return [Reason(ReasonCode.APPROVAL_REQUIRED, "PIM will hold the request for an approver", "ApprovalRule")]
        return []

    # grant and recover ----------------------------------------------------------------------------------
    def grant(
        self,
        resolved: ResolvedTarget,
        decision: Decision,
        ctx: ProviderContext,
        *,
        request_name: str,
        marker: GrantMarker | None = None,
    ) -> Grant:
        described = resolved.describe()
        body = {**self._assign_body(resolved, decision, ctx, marker), "customData": custom_data(request_name)}
        try:
            row = ctx.graph.post(self._requests, body, expected=(200, 201)).json
        except ProviderApiError as exc:
            if exc.status is None or exc.status >= 500:
                annotate(exc, described)
                raise  # it may have been applied: the caller looks it up with `recover`, never re-sends blindly
            if exc.code in ("RoleAssignmentExists", "PendingRoleAssignmentRequest"):
                return self._already_there(resolved, ctx, exc, request_name)
            raise request_refusal(
                exc, target=described, doing=f"the {body['action']} request", permission_hint=self.permission_hint
            ) from None
        if not isinstance(row, dict) or not row.get("id"):
            raise ProviderApiError(f"{self._requests} answered without a request id", target=described)
        grant = self._grant_from_request(row, ctx, request_name=request_name)
        self._remember_own(ctx, grant)
        return grant

    def _already_there(
        self, resolved: ResolvedTarget, ctx: ProviderContext, exc: ProviderApiError, request_name: str
    ) -> Grant:
        """PIM says the access exists or is pending: ours (an earlier attempt of this grant), or someone else's."""
        mine = self._lookup_request(resolved, ctx, request_name=request_name, since=None)
        if mine is not None:
            return mine
        if exc.code == "RoleAssignmentExists":
            existing = self.find_existing(resolved, ctx)
            if existing is not None:
                return existing
            raise annotate(
                exc,
                resolved.describe(),
                "An assignment of this access already exists for the principal, starting later; release it or "
                "wait until it ends.",
            ) from None
        raise annotate(
            exc, resolved.describe(), "Another request for this access is pending; cancel it or wait for its decision."
        ) from None

    def recover(
        self, resolved: ResolvedTarget, ctx: ProviderContext, *, request_name: str, since: datetime
    ) -> Grant | None:
        return self._lookup_request(resolved, ctx, request_name=request_name, since=since)

    def _lookup_request(
        self, resolved: ResolvedTarget, ctx: ProviderContext, *, request_name: str, since: datetime | None
    ) -> Grant | None:
        action = self._action(ctx, "grant")
        tag = custom_data(request_name)
        try:
            rows = [
                r
                for r in ctx.graph.paged(self._requests, {"$filter": self.principal_filter(resolved)})
                if self.same_target(r, resolved) and _same(r.get("action"), action) and not r.get("isValidationOnly")
            ]
        except ProviderApiError as exc:
            raise annotate(exc, resolved.describe()) from None
        found = [r for r in rows if r.get("customData") == tag]
        how = "customData"
        if not found and since is not None:
            # A service that does not keep customData: the same action and justification, sent since the attempt.
            justification = resolved.target.justification or None
            found = [
                r
                for r in rows
                if not r.get("customData")
                and _same_words(r.get("justification"), justification)
                and (created := parse_time(r.get("createdDateTime"))) is not None
                and created >= since
            ]
            how = "time_window"
        if not found:
            return None
        row = max(found, key=_created)
        grant = self._grant_from_request(row, ctx, request_name=request_name)
        grant = dataclasses.replace(grant, data={**grant.data, "recovered_by": how})
        self._remember_own(ctx, grant)
        return grant

    # refresh and find_existing --------------------------------------------------------------------------
    def refresh(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> Grant:
        if grant.reused:
            row = self._instance(resolved, ctx)
            if row is None:
                return dataclasses.replace(grant, status=GrantStatus.EXPIRED)
            start, end = instance_window(row)
            return dataclasses.replace(grant, status=GrantStatus.ACTIVE, start_at=start or grant.start_at, end_at=end)
        if not grant.request_id:
            raise ProviderError("the grant carries no request id to poll", target=resolved.describe())
        try:
            row = ctx.graph.get(f"{self._requests}/{grant.request_id}", expected=(200,)).json
        except ProviderApiError as exc:
            raise annotate(exc, resolved.describe()) from None
        if not isinstance(row, dict) or not row.get("id"):
            raise ProviderApiError(f"{self._requests}/{grant.request_id} answered without a request", target=None)
        name = grant.data.get("request_name")
        return self._grant_from_request(row, ctx, request_name=str(name) if name else None, previous=grant)

    def _instance(self, resolved: ResolvedTarget, ctx: ProviderContext) -> dict[str, Any] | None:
        try:
            rows = ctx.graph.paged(self._path(self.instances_set), {"$filter": self.principal_filter(resolved)})
            return next((r for r in rows if self.same_target(r, resolved)), None)
        except ProviderApiError as exc:
            raise annotate(exc, resolved.describe()) from None

    def find_existing(self, resolved: ResolvedTarget, ctx: ProviderContext) -> Grant | None:
        """The principal's active assignment of exactly this target (PIM-made or standing), as a reused grant;
        one jitpim made through this same context (an earlier attempt of this lease) is not "reused"."""
        row = self._instance(resolved, ctx)
        if row is None:
            return None
        start, end = instance_window(row)
        schedule_id = str(row.get(self.instance_schedule_key) or "")
        data: dict[str, Any] = {
            "instance_id": row.get("id"),
            "schedule_id": schedule_id or None,
            "assignment_type": row.get("assignmentType"),
            "member_type": row.get("memberType"),
        }
        markers = self._schedule_markers(resolved, ctx, schedule_id) if schedule_id else []
        data["markers"] = [m.to_json() for m in markers]
        own = (ctx.cache.get(_OWN) or {}).get(schedule_id.lower())
        if own and own.get("request_id") and end is not None:
            request_id = own["request_id"]
            return Grant(
                kind=self.kind,
                status=GrantStatus.ACTIVE,
                request_id=request_id,
                resource_id=ctx.graph.url_for(f"{self._requests}/{request_id}"),
                start_at=start,
                end_at=end,
                reused=False,
                api_status="Provisioned",
                data={k: v for k, v in {**data, "request_name": own.get("request_name")}.items() if v},
            )
        instance_id = str(row.get("id") or "")
        return Grant(
            kind=self.kind,
            status=GrantStatus.ACTIVE,
            request_id=schedule_id or instance_id or None,
            resource_id=ctx.graph.url_for(f"{self._path(self.instances_set)}/{instance_id}") if instance_id else None,
            start_at=start,
            end_at=end,
            reused=True,
            api_status=str(row.get("assignmentType") or "") or None,
            data={k: v for k, v in data.items() if v or k == "markers"},
        )

    def _schedule_markers(self, resolved: ResolvedTarget, ctx: ProviderContext, schedule_id: str) -> list[GrantMarker]:
        try:
            rows = list(ctx.graph.paged(self._requests, {"$filter": self.principal_filter(resolved)}))
        except ProviderApiError as exc:
            raise annotate(exc, resolved.describe()) from None
        return _markers_of([r for r in rows if self.same_target(r, resolved)], schedule_id)

    # markers --------------------------------------------------------------------------------------------
    def holders(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> list[GrantMarker]:
        schedule = grant.data.get("schedule_id")
        return self._schedule_markers(resolved, ctx, str(schedule)) if schedule else []

    def leave(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext, *, lease_id: str) -> None:
        """A request cannot be edited: the marker stays, and its end says when this holder stopped needing it."""
        return None

    def marked(self, ctx: ProviderContext, scopes: list[str]) -> list[SourceGrant]:
        """The caller's live assignments whose requests carry jitpim markers (`scopes` are ARM scopes: unused)."""
        principal = {"$filter": f"principalId eq '{ctx.identity.object_id}'"}
        try:
            rows = list(ctx.graph.paged(self._requests, principal))
            instances = list(ctx.graph.paged(self._path(self.instances_set), principal))
        except ProviderApiError as exc:
            raise annotate(exc, f"{self.kind.value} assignments of {ctx.identity.describe()}") from None
        found: list[SourceGrant] = []
        for row in instances:
            schedule = str(row.get(self.instance_schedule_key) or "")
            markers = _markers_of(rows, schedule) if schedule else []
            if not markers:
                continue
            resolved = self.resolved_from_row(row, ctx)
            start, end = instance_window(row)
            grant = Grant(
                kind=self.kind,
                status=GrantStatus.ACTIVE,
                request_id=schedule,
                resource_id=None,
                start_at=start,
                end_at=end,
                reused=False,
                api_status="Provisioned",
                data={"schedule_id": schedule, "markers": [m.to_json() for m in markers]},
            )
            found.append(SourceGrant(resolved, grant, tuple(markers)))
        return found

    # release --------------------------------------------------------------------------------------------
    def release(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> ReleaseResult:
        if grant.reused:
            # Never take back access jitpim did not create (the lifecycle does not ask; a direct call might).
            return ReleaseResult(ReleaseOutcome.ALREADY_GONE, detail="a reused assignment jitpim did not create")
        if grant.status in _NOTHING_GRANTED:
            return ReleaseResult(ReleaseOutcome.ALREADY_GONE, detail=f"the request ended {grant.api_status}")
        if grant.status is GrantStatus.PENDING_APPROVAL and grant.request_id:
            canceled = self._cancel(grant, resolved, ctx)
            if canceled is not None:
                return canceled
        action = self._action(ctx, "release")
        body = self._body(resolved, action, justification=resolved.target.justification)
        try:
            row = ctx.graph.post(self._requests, body, expected=(200, 201)).json or {}
        except ProviderApiError as exc:
            if exc.code == "ActiveDurationTooShort":
                return ReleaseResult(
                    ReleaseOutcome.TOO_EARLY,
                    retry_at=self._removal_opens(grant, ctx),
                    detail="PIM refuses removal in the first 5 minutes (ActiveDurationTooShort)",
                )
            if exc.code == "RoleAssignmentDoesNotExist" or exc.status == 404:
                return ReleaseResult(ReleaseOutcome.ALREADY_GONE, detail="PIM holds no such assignment any more")
            if exc.status is None or exc.status >= 500:
                annotate(exc, resolved.describe())
                raise  # a retry finds it gone (ALREADY_GONE) if this one was applied
            raise request_refusal(
                exc,
                target=resolved.describe(),
                doing=f"the {action} request",
                permission_hint=self.permission_hint,
                removal=True,
            ) from None
        return ReleaseResult(
            ReleaseOutcome.RELEASED, detail=f"{action} request {row.get('id')} ended {row.get('status') or 'Revoked'}"
        )

    def _cancel(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> ReleaseResult | None:
        """Cancel a request still waiting for approval; None when it was decided meanwhile (then remove)."""
        try:
            ctx.graph.post(f"{self._requests}/{grant.request_id}/cancel", expected=(200, 204))
        except ProviderApiError as exc:
            if exc.status == 404:
                return ReleaseResult(ReleaseOutcome.ALREADY_GONE, detail=f"request {grant.request_id} is gone")
            if exc.status == 400:
                return None  # approved (or denied) since: what it granted is removed below
            annotate(exc, resolved.describe())
            raise
        return ReleaseResult(ReleaseOutcome.RELEASED, detail=f"canceled the pending request {grant.request_id}")

    @staticmethod
    def _removal_opens(grant: Grant, ctx: ProviderContext) -> datetime:
        now = ctx.now()
        opens = (grant.start_at or now) + _REMOVAL_FLOOR
        return opens if opens > now else now + timedelta(seconds=30)

    # extend ---------------------------------------------------------------------------------------------
    def extend(
        self,
        grant: Grant,
        resolved: ResolvedTarget,
        decision: Decision,
        ctx: ProviderContext,
        *,
        marker: GrantMarker | None = None,
    ) -> Grant:
        """Move the grant's end to `decision.end` (the policy bounds the whole window from the grant's start).

        Direct mode (`adminExtend`) takes effect at once. Self mode (`selfExtend`) applies to time-bound
        assignments an administrator made and waits for an administrator's decision; PIM cannot extend an
        activation at all (it answers `RoleAssignmentDoesNotExist`), which is reported as such.
        """
        described = resolved.describe()
        # Whole seconds (what is sent), rounded up so the grant never ends before the decision's end.
        new_end = decision.end.replace(microsecond=0) + timedelta(seconds=1 if decision.end.microsecond else 0)
        if grant.end_at is not None and new_end <= grant.end_at:
            return grant
        action = self._action(ctx, "extend")
        schedule: dict[str, Any] = {"expiration": {"type": "afterDateTime", "endDateTime": format_time(new_end)}}
        if grant.start_at is not None:
            schedule["startDateTime"] = format_time(grant.start_at)
        body = self._body(
            resolved,
            action,
            justification=_marked(decision.target.justification, marker),
            ticket=decision.target.ticket,
        )
        body["scheduleInfo"] = schedule
        try:
            row = ctx.graph.post(self._requests, body, expected=(200, 201)).json or {}
        except ProviderApiError as exc:
            if exc.code == "RoleAssignmentDoesNotExist":
                if ctx.mode is Mode.SELF:
                    raise ProviderError(
                        "PIM does not extend an activation (selfExtend applies to assignments an administrator made)",
                        hint="The activation lasts until its end; activate again when it has ended, or ask an "
                        "administrator to extend it.",
                        target=described,
                    ) from None
                raise ProviderError(
                    "the grant no longer exists (it ended or was released), so it cannot be extended",
                    hint="Request a new grant.",
                    target=described,
                ) from None
            if exc.status is None or exc.status >= 500:
                annotate(exc, described)
                raise
            raise request_refusal(
                exc, target=described, doing=f"the {action} request", permission_hint=self.permission_hint
            ) from None
        status = str(row.get("status") or "")
        _, end = request_window(row)
        if status in ("Provisioned", "Granted"):
            reached = end or new_end
            return dataclasses.replace(
                grant,
                end_at=reached,
                data={**grant.data, "extended_by": row.get("id"), "extended_to": format_time(reached)},
            )
        # PendingAdminDecision / PendingApproval: the end moves only when someone approves.
        return dataclasses.replace(
            grant,
            data={
                **grant.data,
                "extension_request_id": row.get("id"),
                "extension_status": status,
                "extension_requested_to": format_time(new_end),
            },
        )

    # eligible -------------------------------------------------------------------------------------------
    def eligible(self, ctx: ProviderContext) -> list[Target]:
        """Self mode: the caller's eligibilities valid now. Direct mode: eligibility schedules naming the
        principal (an application rarely has any: it obtains access by assignment, which PIM cannot list)."""
        if ctx.mode is Mode.SELF:
            path = self._path(f"{self.eligibility_instances_set}/filterByCurrentUser(on='principal')")
            params: dict[str, str] | None = None
        else:
            path = self._path(self.eligibility_schedules_set)
            params = {"$filter": self.eligibility_filter(ctx.identity.object_id)}
        targets: list[Target] = []
        seen: set[str] = set()
        try:
            for row in ctx.graph.paged(path, params):
                target = self.eligibility_target(row, ctx)
                if target is not None and target.slug not in seen:
                    seen.add(target.slug)
                    targets.append(target)
        except ProviderApiError as exc:
            raise annotate(exc, f"{self.kind.value} eligibilities of {ctx.identity.describe()}") from None
        return targets
