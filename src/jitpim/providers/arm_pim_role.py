"""Target kind `azure-role`: PIM for Azure resources through ARM `roleAssignmentScheduleRequests` (2020-10-01).

    direct  AdminAssign (principal = the caller, AfterDuration)   release AdminRemove   extend AdminExtend
    self    SelfActivate (linkedRoleEligibilityScheduleId)        release SelfDeactivate extend SelfExtend

Every request is a PUT of a new GUID under the target scope. The grant's name is the lease's request name, so a
lost response is recovered with a GET by that name. Release and extend send new requests (new GUIDs) and look
at the outcome: `RoleAssignmentDoesNotExist` means already gone, `ActiveDurationTooShort` means PIM's first
five minutes (TOO_EARLY, retry when the window opens).
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta
from typing import Any, ClassVar

from ..errors import JitError, ProviderApiError, ProviderError
from ..model import MINIMUM_DURATION, Decision, Mode, PolicyView, Reason, ReasonCode, Target, TargetKind
from ._arm import (
    PIM_API,
    ArmScope,
    authz_path,
    caller_permissions,
    parse_arm_time,
    permits,
    policy_rules,
    probe_access,
    refusal,
    resolve_arm_target,
    with_target,
)
from ._arm_eligible import eligibility_for, eligibility_instances, eligible_targets
from ._arm_pim import (
    REQUESTS,
    grant_from_instance,
    grant_from_request,
    marked_justification,
    new_request_name,
    read_pim_policy,
    request_body,
    request_markers,
    schedule_markers,
    schedule_window,
)
from .base import Grant, GrantStatus, ProviderContext, ReleaseOutcome, ReleaseResult, ResolvedTarget, SourceGrant
from .marker import GrantMarker

__all__ = ["ArmPimRoleProvider"]


def _scope_path(scope: str) -> str:
    return ArmScope.parse(scope).path


_WRITE = "Microsoft.Authorization/roleAssignmentScheduleRequests/write"
# Past the five-minute floor by a margin, so the retry is not refused by a clock a little behind ours.
_RETRY_MARGIN = timedelta(seconds=5)
_TRANSPORT_ATTEMPTS = 3
_CANCELABLE = (GrantStatus.PENDING_APPROVAL, GrantStatus.PROVISIONING, GrantStatus.SCHEDULED)


def _self_request(grant: Grant) -> bool:
    return str(grant.data.get("request_type") or "").startswith("Self")


def _transport(exc: ProviderApiError) -> bool:
    return exc.status is None or exc.status in (500, 502, 503, 504)


class ArmPimRoleProvider:
    kind: ClassVar[TargetKind] = TargetKind.AZURE_ROLE

    # names -> ids, policy, pre-flight ---------------------------------------------------------------------------
    def resolve(self, target: Target, ctx: ProviderContext) -> ResolvedTarget:
        resolved, _ = resolve_arm_target(target, ctx)
        return resolved

    def read_policy(self, resolved: ResolvedTarget, ctx: ProviderContext) -> PolicyView:
        return read_pim_policy(ctx, resolved)

    def _linked(self, resolved: ResolvedTarget, ctx: ProviderContext) -> str | None:
        found = eligibility_for(ctx, resolved.role_id, resolved.scope)
        if found is None:
            return None
        props = found.get("properties") or {}
        return str(props.get("roleEligibilityScheduleId") or "") or None

    def _body(
        self,
        resolved: ResolvedTarget,
        decision: Decision,
        ctx: ProviderContext,
        linked: str | None,
        marker: GrantMarker | None = None,
    ) -> dict[str, Any]:
        later = decision.target.start is not None and decision.start > ctx.now()
        return request_body(
            resolved,
            "SelfActivate" if ctx.mode is Mode.SELF else "AdminAssign",
            justification=marked_justification(decision.target.justification, marker),
            ticket=decision.target.ticket,
            start=decision.start if later else None,
            duration=decision.duration,
            linked_eligibility_id=linked,
        )

    def check(self, resolved: ResolvedTarget, decision: Decision, ctx: ProviderContext) -> list[Reason]:
        linked = None
        if ctx.mode is Mode.SELF:
            linked = self._linked(resolved, ctx)
            if linked is None:
                return [self._not_eligible(resolved, ctx)]
        body = self._body(resolved, decision, ctx, linked)
        reasons = self._validate(resolved, ctx, body)
        if reasons is not None:
            return reasons
        # No validate action here: fall back to the caller's permissions (self mode has its eligibility).
        if ctx.mode is Mode.SELF or permits(caller_permissions(ctx, resolved.scope), _WRITE):
            return []
        return [
            Reason(
                ReasonCode.NOT_ELIGIBLE,
                f"{ctx.identity.describe()} lacks {_WRITE} at {resolved.scope}, so it cannot assign "
                f"{resolved.role_name!r} to itself",
                "EligibilityRule",
            )
        ]

    def _not_eligible(self, resolved: ResolvedTarget, ctx: ProviderContext) -> Reason:
        held = []
        for item in eligibility_instances(ctx):
            props = item.get("properties") or {}
            name = ((props.get("expandedProperties") or {}).get("roleDefinition") or {}).get("displayName")
            held.append(f"{name or props.get('roleDefinitionId')} at {props.get('scope')}")
        have = f" (eligible for: {'; '.join(held)})" if held else " (no Azure eligibilities at all)"
        return Reason(
            ReasonCode.NOT_ELIGIBLE,
            f"{ctx.identity.describe()} has no PIM eligibility for {resolved.role_name!r} at {resolved.scope} "
            f"or above{have}",
            "EligibilityRule",
        )

    def _validate(self, resolved: ResolvedTarget, ctx: ProviderContext, body: dict[str, Any]) -> list[Reason] | None:
        """PIM's own dry run (`.../{name}/validate`); None when this API does not offer it."""
        path = authz_path(resolved.scope, REQUESTS, new_request_name(), "validate")
        try:
            ctx.arm.post(path, body, params={"api-version": PIM_API}, expected=(200,))
        except ProviderApiError as exc:
            if exc.status == 405 or exc.code in ("InvalidResourceType", "NoRegisteredProviderFound"):
                return None
            return self._reasons(exc, resolved, ctx)
        return []

    def _reasons(self, exc: ProviderApiError, resolved: ResolvedTarget, ctx: ProviderContext) -> list[Reason]:
        code = exc.code or ""
        if code == "RoleAssignmentRequestPolicyValidationFailed":
            text = f"Azure PIM's validation refused the request: {exc.message}"
            if "EligibilityRule" in policy_rules(exc.message):
                return [Reason(ReasonCode.NOT_ELIGIBLE, text, "EligibilityRule")]
            return [Reason(ReasonCode.POLICY_REFUSED, text, r or None) for r in policy_rules(exc.message) or [""]]
        if exc.status == 403:
            return [
                Reason(
                    ReasonCode.NOT_ELIGIBLE,
                    f"{ctx.identity.describe()} may not request {resolved.role_name!r} at {resolved.scope} "
                    f"(it needs {_WRITE} there): {exc.message}",
                    "EligibilityRule",
                )
            ]
        messages = {
            "RoleAssignmentExists": "an assignment of this role at this scope already exists (possibly one that "
            "starts later); release or cancel it first",
            "PendingRoleAssignmentRequest": "a request for this role at this scope is already pending; cancel it "
            "or wait for its approver",
            "ActiveDurationTooShort": "PIM refuses windows shorter than five minutes",
        }
        if exc.status == 400:
            rule = "ExpirationRule" if code == "ActiveDurationTooShort" else None
            text = messages.get(code, exc.message)
            return [Reason(ReasonCode.POLICY_REFUSED, f"Azure PIM refused the request ({code}): {text}", rule)]
        raise with_target(exc, resolved.describe())

    # grants -------------------------------------------------------------------------------------------------------
    def _request_path(self, resolved: ResolvedTarget, name: str) -> str:
        return authz_path(resolved.scope, REQUESTS, name)

    def _get_request(self, resolved: ResolvedTarget, ctx: ProviderContext, name: str) -> dict[str, Any] | None:
        try:
            body = ctx.arm.get(self._request_path(resolved, name), params={"api-version": PIM_API}, expected=(200,))
        except ProviderApiError as exc:
            if exc.status == 404:
                return None
            raise with_target(exc, resolved.describe()) from exc
        return body.json if isinstance(body.json, dict) else None

    def find_existing(self, resolved: ResolvedTarget, ctx: ProviderContext) -> Grant | None:
        path = authz_path(resolved.scope, "roleAssignmentScheduleInstances")
        mine = resolved.principal_id.lower() == ctx.identity.object_id.lower()
        wanted = "asTarget()" if mine else f"principalId eq '{resolved.principal_id}'"
        now = ctx.now()
        try:
            items = list(ctx.arm.paged(path, {"$filter": wanted, "api-version": PIM_API}))
        except ProviderApiError as exc:
            raise with_target(exc, resolved.describe()) from exc
        for item in items:
            props = item.get("properties") or {}
            start = parse_arm_time(props.get("startDateTime"))
            end = parse_arm_time(props.get("endDateTime"))
            if (
                str(props.get("principalId", "")).lower() == resolved.principal_id.lower()
                and str(props.get("roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower() == resolved.role_id
                and str(props.get("scope", "")).rstrip("/").lower() == resolved.scope.rstrip("/").lower()
                and str(props.get("status") or "Provisioned") == "Provisioned"
                and (start is None or start <= now)
                and (end is None or now < end)
            ):
                found = grant_from_instance(item)
                schedule = found.data.get("schedule_id")
                markers = schedule_markers(ctx, resolved, str(schedule)) if schedule else []
                return dataclasses.replace(found, data={**found.data, "markers": [m.to_json() for m in markers]})
        return None

    def grant(
        self,
        resolved: ResolvedTarget,
        decision: Decision,
        ctx: ProviderContext,
        *,
        request_name: str,
        marker: GrantMarker | None = None,
    ) -> Grant:
        linked = self._linked(resolved, ctx) if ctx.mode is Mode.SELF else None
        body = self._body(resolved, decision, ctx, linked, marker)
        try:
            response = ctx.arm.put(self._request_path(resolved, request_name), body, params={"api-version": PIM_API})
        except ProviderApiError as exc:
            if exc.code == "RoleAssignmentRequestExists":
                # This lease's own request, sent before: the answer is what it became.
                found = self._get_request(resolved, ctx, request_name)
                if found is not None:
                    return grant_from_request(found, ctx.now())
            if exc.code == "RoleAssignmentExists":
                existing = self.find_existing(resolved, ctx)
                if existing is not None:
                    return existing
            raise refusal(exc, resolved, right=_WRITE if ctx.mode is not Mode.SELF else "an eligibility") from exc
        return grant_from_request(response.json or {}, ctx.now())

    def recover(
        self, resolved: ResolvedTarget, ctx: ProviderContext, *, request_name: str, since: datetime
    ) -> Grant | None:
        found = self._get_request(resolved, ctx, request_name)
        return grant_from_request(found, ctx.now()) if found is not None else None

    def refresh(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> Grant:
        now = ctx.now()
        if not grant.request_id:  # a reused assignment: is it still there?
            found = self.find_existing(resolved, ctx)
            if found is not None:
                return found
            ended = grant.end_at is not None and grant.end_at <= now
            return dataclasses.replace(grant, status=GrantStatus.EXPIRED if ended else GrantStatus.REVOKED)
        item = self._get_request(resolved, ctx, grant.request_id)
        if item is None:
            raise ProviderError(
                f"the PIM request {grant.request_id} is no longer listed at {resolved.scope}",
                hint="Check the lease with `jitpim status`; the assignment ends at its expiry at the source.",
                target=resolved.describe(),
            )
        fresh = grant_from_request(item, now)
        fresh = dataclasses.replace(fresh, data={**grant.data, **{k: v for k, v in fresh.data.items() if v}})
        schedule = fresh.data.get("schedule_id")
        if fresh.status in (GrantStatus.ACTIVE, GrantStatus.SCHEDULED) and schedule:
            window = schedule_window(ctx, resolved, str(schedule))
            if window is None:
                end = fresh.end_at
                gone = GrantStatus.EXPIRED if end is not None and end <= now else GrantStatus.REVOKED
                return dataclasses.replace(fresh, status=gone)
            start, end = window
            fresh = dataclasses.replace(fresh, start_at=start or fresh.start_at, end_at=end or fresh.end_at)
        return fresh

    def probe(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> bool:
        return probe_access(ctx, resolved)

    # release ------------------------------------------------------------------------------------------------------
    def _cancel(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> bool:
        """Cancel a request that is not active yet; False when it can no longer be canceled (it went live)."""
        path = self._request_path(resolved, str(grant.request_id)) + "/cancel"
        try:
            ctx.arm.post(path, params={"api-version": PIM_API}, expected=(200, 204))
        except ProviderApiError as exc:
            if exc.code == "RequestCannotBeCancelled":
                return False
            raise with_target(exc, resolved.describe()) from exc
        return True

    def release(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> ReleaseResult:
        if grant.reused:
            return ReleaseResult(ReleaseOutcome.ALREADY_GONE, detail="reused assignment left in place")
        if grant.request_id and grant.status in _CANCELABLE and self._cancel(grant, resolved, ctx):
            return ReleaseResult(ReleaseOutcome.RELEASED, detail=f"canceled request {grant.request_id}")
        request_type = "SelfDeactivate" if _self_request(grant) else "AdminRemove"
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._remove(grant, resolved, ctx, request_type)
            except ProviderApiError as exc:
                if _transport(exc) and attempt < _TRANSPORT_ATTEMPTS:
                    # Removal is idempotent by effect: a new request either removes it or finds it gone.
                    continue
                right = _WRITE if request_type == "AdminRemove" else "the activation it deactivates"
                raise refusal(exc, resolved, right=right) from exc

    def _remove(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext, request_type: str) -> ReleaseResult:
        what = grant.request_id or grant.data.get("schedule_id")
        body = request_body(resolved, request_type, justification=f"jitpim release of {what}")
        name = new_request_name()
        try:
            response = ctx.arm.put(self._request_path(resolved, name), body, params={"api-version": PIM_API})
        except ProviderApiError as exc:
            if exc.code == "RoleAssignmentDoesNotExist":
                return ReleaseResult(ReleaseOutcome.ALREADY_GONE, detail=exc.message)
            if exc.code == "ActiveDurationTooShort":
                opens = (grant.start_at or ctx.now()) + MINIMUM_DURATION + _RETRY_MARGIN
                return ReleaseResult(ReleaseOutcome.TOO_EARLY, retry_at=opens, detail=exc.message)
            raise
        status = str((response.json or {}).get("properties", {}).get("status") or "")
        return ReleaseResult(ReleaseOutcome.RELEASED, detail=f"{request_type} request {name}: {status}")

    # extend -------------------------------------------------------------------------------------------------------
    def extend(
        self,
        grant: Grant,
        resolved: ResolvedTarget,
        decision: Decision,
        ctx: ProviderContext,
        *,
        marker: GrantMarker | None = None,
    ) -> Grant:
        if grant.reused:
            raise ProviderError(
                "this access was already in place, not granted by jitpim, so jitpim does not change it",
                hint="Extend it where it was granted, or let jitpim grant its own (release the existing one first).",
                target=resolved.describe(),
            )
        self_mode = _self_request(grant)
        start = grant.start_at or ctx.now()
        end = decision.end
        request_type = "SelfExtend" if self_mode else "AdminExtend"
        body = request_body(
            resolved,
            request_type,
            justification=marked_justification(decision.target.justification, marker),
            ticket=decision.target.ticket,
            start=start,
            # Whole seconds (what PIM counts), rounded up so the grant never ends before the decision's end.
            duration=timedelta(seconds=math.ceil((end - start).total_seconds())),
        )
        name = new_request_name()
        try:
            response = ctx.arm.put(self._request_path(resolved, name), body, params={"api-version": PIM_API})
        except ProviderApiError as exc:
            if exc.code == "RoleAssignmentRequestPolicyValidationFailed" or exc.status == 403:
                raise refusal(exc, resolved, right=_WRITE) from exc
            return self._extend_by_new_grant(grant, resolved, decision, ctx, exc, request_type, marker)
        extended = grant_from_request(response.json or {}, ctx.now())
        extension = {"method": request_type, "request_name": name, "api_status": extended.api_status}
        if extended.status is GrantStatus.ACTIVE:
            # The end as the source now holds it (PIM counts whole seconds).
            schedule = grant.data.get("schedule_id")
            window = schedule_window(ctx, resolved, str(schedule)) if schedule else None
            end = (window[1] if window else None) or end
            return dataclasses.replace(grant, end_at=end, data={**grant.data, "extension": extension})
        # SelfExtend waits for an administrator: the current window stands until then.
        return dataclasses.replace(grant, data={**grant.data, "extension": extension})

    def _extend_by_new_grant(
        self,
        grant: Grant,
        resolved: ResolvedTarget,
        decision: Decision,
        ctx: ProviderContext,
        refused: ProviderApiError,
        method: str,
        marker: GrantMarker | None,
    ) -> Grant:
        """The API refused to extend: ask for a new grant that overlaps the old one before it ends."""
        self_mode = method == "SelfExtend"
        linked = self._linked(resolved, ctx) if self_mode else None
        body = request_body(
            resolved,
            "SelfActivate" if self_mode else "AdminAssign",
            justification=marked_justification(decision.target.justification, marker),
            ticket=decision.target.ticket,
            duration=decision.end - ctx.now(),
            linked_eligibility_id=linked,
        )
        name = new_request_name()
        try:
            response = ctx.arm.put(self._request_path(resolved, name), body, params={"api-version": PIM_API})
        except ProviderApiError as exc:
            error: JitError = refusal(exc, resolved, right=_WRITE)
            if exc.code == "RoleAssignmentExists":
                error = ProviderApiError(
                    f"Azure PIM refused to extend this assignment ({refused.code}: {refused.message}) and refuses a "
                    f"second, overlapping one ({exc.code})",
                    status=refused.status,
                    code=refused.code,
                    request_id=refused.request_id,
                    hint="PIM cannot lengthen an activation: ask for the full duration up front, or release and "
                    "activate again once PIM's five-minute minimum has passed.",
                    target=resolved.describe(),
                )
            raise error from exc
        new = grant_from_request(response.json or {}, ctx.now())
        extension = {
            "method": f"new {'SelfActivate' if self_mode else 'AdminAssign'} (the API refused {method})",
            "request_name": name,
            "replaces_request": grant.request_id,
            "refused_with": refused.code,
        }
        return dataclasses.replace(new, data={**new.data, "extension": extension})

    # markers ------------------------------------------------------------------------------------------------------
    def holders(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> list[GrantMarker]:
        schedule = grant.data.get("schedule_id")
        return schedule_markers(ctx, resolved, str(schedule)) if schedule else []

    def leave(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext, *, lease_id: str) -> None:
        """A request cannot be edited: the marker stays, and its end says when this holder stopped needing it."""
        return None

    def marked(self, ctx: ProviderContext, scopes: list[str]) -> list[SourceGrant]:
        """Live PIM assignments at or below `scopes` whose granting requests carry jitpim markers."""
        found: dict[str, SourceGrant] = {}
        for scope in scopes:
            path = _scope_path(scope)
            requests = list(ctx.arm.paged(authz_path(path, REQUESTS), {"api-version": PIM_API}))
            instances = ctx.arm.paged(authz_path(path, "roleAssignmentScheduleInstances"), {"api-version": PIM_API})
            for item in instances:
                props = item.get("properties") or {}
                schedule = str(props.get("roleAssignmentScheduleId") or "").rstrip("/").rsplit("/", 1)[-1]
                if not schedule or schedule.lower() in found or str(props.get("status")) != "Provisioned":
                    continue
                markers = request_markers(requests, schedule)
                if not markers:
                    continue
                role_guid = str(props.get("roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower()
                at = str(props.get("scope") or scope)
                resolved = ResolvedTarget(
                    target=Target.from_flags(kind=self.kind, role=role_guid, scope=at),
                    role_id=role_guid,
                    role_name=role_guid,
                    scope=_scope_path(at),
                    scope_name=at,
                    principal_id=str(props.get("principalId") or "").lower(),
                    tenant_id=ctx.identity.tenant_id,
                )
                instance = grant_from_instance(item)
                self_made = any(
                    str((r.get("properties") or {}).get("requestType")) == "SelfActivate"
                    and str((r.get("properties") or {}).get("targetRoleAssignmentScheduleId") or "")
                    .rstrip("/")
                    .rsplit("/", 1)[-1]
                    .lower()
                    == schedule.lower()
                    for r in requests
                )
                grant = dataclasses.replace(
                    instance,
                    reused=False,
                    data={
                        **instance.data,
                        "request_type": "SelfActivate" if self_made else "AdminAssign",
                        "markers": [m.to_json() for m in markers],
                    },
                )
                found[schedule.lower()] = SourceGrant(resolved, grant, tuple(markers))
        return list(found.values())

    def eligible(self, ctx: ProviderContext) -> list[Target]:
        return eligible_targets(ctx)
