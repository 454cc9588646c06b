"""Target kind `rbac`: a plain Azure role assignment, created for the lease and deleted after it.

    grant    PUT  {scope}/providers/Microsoft.Authorization/roleAssignments/{request_name}   (2022-04-01)
    release  DELETE the same (200 released, 204 already gone)

A plain assignment has no expiry at the source, so there is no PIM policy to read: the ledger, the reaper and
the markers in the assignment's `description` are the backstop, and the lifecycle applies its own ceiling. The
description holds one marker per lease holding the assignment (`providers.marker`): `extend` moves a lease's
end there, a second lease joining the assignment adds its marker, `leave` removes it, and `jitpim reap --source`
deletes an assignment once every marker's end has passed, with no ledger at all. The assignment's name is the
lease's request name, so a re-sent PUT is harmless (same name, same content: 200) and a lost response is
recovered with a GET by name. `check` evaluates the ABAC condition on the caller's right to assign
(`_arm_conditions`), so `plan` refuses a role the condition does not allow; a 403 on the PUT still becomes
`NotEligibleError` carrying the API's message.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from typing import Any, ClassVar

from ..errors import NotEligibleError, ProviderApiError
from ..model import Decision, PolicyView, Reason, ReasonCode, Target, TargetKind
from ._arm import (
    RBAC_API,
    ArmScope,
    authz_path,
    caller_permissions,
    parse_arm_time,
    permits,
    principal_type,
    probe_access,
    refusal,
    resolve_arm_target,
    with_target,
)
from ._arm_conditions import ConditionVerdict, write_allowed
from ._arm_eligible import assignable_roles
from .base import (
    Grant,
    GrantStatus,
    ProviderContext,
    ReleaseOutcome,
    ReleaseResult,
    ResolvedTarget,
    SourceGrant,
)
from .marker import GrantMarker, parse_markers, with_markers

__all__ = ["ArmRoleAssignmentProvider"]

_WRITE = "Microsoft.Authorization/roleAssignments/write"
# "The role assignment already exists. The ID of the existing role assignment is {32 hex digits}."
_EXISTING = re.compile(r"\b([0-9a-f]{32})\b", re.IGNORECASE)
# ARM keeps up to 2048 characters of description; jitpim stays well inside that.
DESCRIPTION_LIMIT = 1024
_DESCRIPTION = "jitpim just-in-time access"


def _iso(decision: Decision) -> str:
    return decision.end.isoformat(timespec="seconds")


def _guid_from_hex(text: str) -> str:
    h = text.lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class ArmRoleAssignmentProvider:
    kind: ClassVar[TargetKind] = TargetKind.RBAC

    # names -> ids --------------------------------------------------------------------------------------------
    def resolve(self, target: Target, ctx: ProviderContext) -> ResolvedTarget:
        resolved, _ = resolve_arm_target(target, ctx)
        return resolved

    def read_policy(self, resolved: ResolvedTarget, ctx: ProviderContext) -> PolicyView:
        # No PIM policy governs a plain assignment and it has no end at the source; max_duration None lets the
        # lifecycle apply its own ceiling, which the ledger and the reaper enforce.
        return PolicyView(source="rbac: no PIM policy for a plain role assignment; jitpim's own ceiling applies")

    def check(self, resolved: ResolvedTarget, decision: Decision, ctx: ProviderContext) -> list[Reason]:
        """The caller's own right to create this assignment, as ARM will judge it: the write action at the scope,
        and the ABAC condition on that right (constrained delegation names the roles and principals allowed)."""
        entries = caller_permissions(ctx, resolved.scope)
        if not permits(entries, _WRITE):
            return [
                Reason(
                    ReasonCode.NOT_ELIGIBLE,
                    f"{ctx.identity.describe()} lacks {_WRITE} at {resolved.scope}, so it cannot create the role "
                    f"assignment (give it e.g. Role Based Access Control Administrator there, with a condition "
                    f"limited to {resolved.role_name!r} and itself)",
                    "EligibilityRule",
                )
            ]
        verdict = write_allowed(
            entries,
            _WRITE,
            role_definition_id=resolved.role_id,
            principal_id=resolved.principal_id,
            principal_type=principal_type(ctx),
        )
        if verdict is ConditionVerdict.DENIED:
            return [
                Reason(
                    ReasonCode.NOT_ELIGIBLE,
                    f"{ctx.identity.describe()} may write role assignments at {resolved.scope} only under a condition "
                    f"that does not allow {resolved.role_name!r} for this principal, so Azure would refuse it (403)",
                    "EligibilityRule",
                )
            ]
        return []

    # grants ----------------------------------------------------------------------------------------------------
    def _path(self, resolved: ResolvedTarget, name: str) -> str:
        return authz_path(resolved.scope, "roleAssignments", name)

    def _grant_from(
        self, item: dict[str, Any], resolved: ResolvedTarget, *, reused: bool, end_at: datetime | None
    ) -> Grant:
        props = item.get("properties") or {}
        name = str(item.get("name") or "")
        markers = parse_markers(props.get("description"))
        if end_at is None and markers:
            end_at = max(m.end for m in markers)  # no end at the source: the last holder's marker is its end
        return Grant(
            kind=self.kind,
            status=GrantStatus.ACTIVE,
            request_id=name,
            resource_id=str(item.get("id") or self._path(resolved, name)),
            start_at=parse_arm_time(props.get("createdOn")),
            end_at=end_at,
            reused=reused,
            api_status="Created",
            data={
                "request_name": name,
                "role_assignment_id": item.get("id"),
                "role_definition_id": props.get("roleDefinitionId"),
                "principal_id": props.get("principalId"),
                "scope": props.get("scope") or resolved.scope,
                # Nothing at the source ends this assignment: the lease's end is enforced by jitpim.
                "expires_at_source": False,
                "markers": [m.to_json() for m in markers],
            },
        )

    def _matches(self, item: dict[str, Any], resolved: ResolvedTarget) -> bool:
        props = item.get("properties") or {}
        return (
            str(props.get("principalId", "")).lower() == resolved.principal_id.lower()
            and str(props.get("roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower() == resolved.role_id
            and str(props.get("scope", "")).rstrip("/").lower() == resolved.scope.rstrip("/").lower()
        )

    def find_existing(self, resolved: ResolvedTarget, ctx: ProviderContext) -> Grant | None:
        """The principal's assignment of this role at exactly this scope, as a reused grant: `end_at` is the
        last marker's end when jitpim made it (`data["markers"]`), None for a standing assignment."""
        path = authz_path(resolved.scope, "roleAssignments")
        params = {"$filter": f"principalId eq '{resolved.principal_id}'", "api-version": RBAC_API}
        try:
            items = list(ctx.arm.paged(path, params))
        except ProviderApiError as exc:
            if exc.status == 403:
                return None  # cannot list here; a duplicate PUT answers 409 and is looked up then
            raise with_target(exc, resolved.describe()) from exc
        for item in items:
            if self._matches(item, resolved):
                return self._grant_from(item, resolved, reused=True, end_at=None)
        return None

    def _body(
        self, item_or_resolved: dict[str, Any] | ResolvedTarget, ctx: ProviderContext, description: str
    ) -> dict[str, Any]:
        """A PUT body: for a new assignment (from `resolved`) or to rewrite an existing one's description."""
        if isinstance(item_or_resolved, ResolvedTarget):
            resolved = item_or_resolved
            role_definition_id = ArmScope.parse(resolved.scope).role_definition_id(resolved.role_id)
            principal, kind = resolved.principal_id, principal_type(ctx)
            extra: dict[str, Any] = {}
        else:
            props = item_or_resolved.get("properties") or {}
            role_definition_id = str(props.get("roleDefinitionId") or "")
            principal = str(props.get("principalId") or "")
            kind = str(props.get("principalType") or "") or principal_type(ctx)
            # A PUT replaces the assignment's properties: keep a condition someone put there.
            extra = {k: props[k] for k in ("condition", "conditionVersion") if props.get(k)}
        body = {
            "roleDefinitionId": role_definition_id,
            "principalId": principal,
            "principalType": kind,
            "description": description,
            **extra,
        }
        return {"properties": body}

    def grant(
        self,
        resolved: ResolvedTarget,
        decision: Decision,
        ctx: ProviderContext,
        *,
        request_name: str,
        marker: GrantMarker | None = None,
    ) -> Grant:
        if marker is not None:
            description = with_markers(_DESCRIPTION, [marker], limit=DESCRIPTION_LIMIT)
        else:
            end = decision.end.isoformat(timespec="seconds")
            description = f"{_DESCRIPTION} until {end} (lease request {request_name})"
        body = self._body(resolved, ctx, description)
        try:
            # The name makes the PUT idempotent: re-sending it after a lost response answers 200, not a duplicate.
            response = ctx.arm.put(
                self._path(resolved, request_name), body, params={"api-version": RBAC_API}, retry_unsafe=True
            )
        except ProviderApiError as exc:
            if exc.status == 409 and exc.code == "RoleAssignmentExists":
                existing = self._existing_after_conflict(resolved, ctx, exc)
                if existing is not None:
                    return existing
            raise refusal(exc, resolved, right=_WRITE) from exc
        return self._grant_from(response.json or {}, resolved, reused=False, end_at=decision.end)

    def _existing_after_conflict(
        self, resolved: ResolvedTarget, ctx: ProviderContext, exc: ProviderApiError
    ) -> Grant | None:
        """The assignment a 409 RoleAssignmentExists names: someone else's, so it is reused and never deleted."""
        found = _EXISTING.search(exc.message)
        if found is not None:
            try:
                item = ctx.arm.get(
                    self._path(resolved, _guid_from_hex(found.group(1))), params={"api-version": RBAC_API}
                ).json
            except ProviderApiError:
                item = None
            if isinstance(item, dict) and self._matches(item, resolved):
                return self._grant_from(item, resolved, reused=True, end_at=None)
        return self.find_existing(resolved, ctx)

    def recover(
        self, resolved: ResolvedTarget, ctx: ProviderContext, *, request_name: str, since: datetime
    ) -> Grant | None:
        try:
            item = ctx.arm.get(self._path(resolved, request_name), params={"api-version": RBAC_API}).json
        except ProviderApiError as exc:
            if exc.status == 404:
                return None
            raise with_target(exc, resolved.describe()) from exc
        if not isinstance(item, dict) or not self._matches(item, resolved):
            return None
        return self._grant_from(item, resolved, reused=False, end_at=None)

    def refresh(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> Grant:
        name = grant.request_id or ""
        try:
            ctx.arm.get(self._path(resolved, name), params={"api-version": RBAC_API}, expected=(200,))
        except ProviderApiError as exc:
            if exc.status == 404:
                return dataclasses.replace(grant, status=GrantStatus.REVOKED, api_status="NotFound")
            raise with_target(exc, resolved.describe()) from exc
        return dataclasses.replace(grant, status=GrantStatus.ACTIVE, api_status="Created")

    def probe(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> bool:
        return probe_access(ctx, resolved)

    def release(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> ReleaseResult:
        if grant.reused:
            # Not ours: someone else's standing assignment must survive the lease.
            return ReleaseResult(ReleaseOutcome.ALREADY_GONE, detail="reused assignment left in place")
        name = grant.request_id or ""
        try:
            response = ctx.arm.delete(self._path(resolved, name), params={"api-version": RBAC_API})
        except ProviderApiError as exc:
            if exc.status == 403:
                raise NotEligibleError(
                    f"Azure refused to delete the role assignment {name}: {exc.message}",
                    hint=f"The caller needs Microsoft.Authorization/roleAssignments/delete at {resolved.scope}; "
                    "the assignment stays until someone with that right removes it (`jitpim reap` retries).",
                    target=resolved.describe(),
                ) from exc
            raise with_target(exc, resolved.describe()) from exc
        if response.status == 204:
            return ReleaseResult(ReleaseOutcome.ALREADY_GONE, detail=f"role assignment {name} did not exist")
        return ReleaseResult(ReleaseOutcome.RELEASED, detail=f"deleted role assignment {name}")

    def _get(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> dict[str, Any] | None:
        try:
            item = ctx.arm.get(
                self._path(resolved, grant.request_id or ""), params={"api-version": RBAC_API}, expected=(200,)
            ).json
        except ProviderApiError as exc:
            if exc.status == 404:
                return None
            raise with_target(exc, resolved.describe()) from exc
        return item if isinstance(item, dict) else None

    def _rewrite(
        self,
        item: dict[str, Any],
        resolved: ResolvedTarget,
        ctx: ProviderContext,
        markers: list[GrantMarker],
    ) -> dict[str, Any]:
        """PUT the assignment again with `markers` in its description (the only property ARM lets change)."""
        props = item.get("properties") or {}
        ordered = sorted(markers, key=lambda m: m.end, reverse=True)
        description = with_markers(props.get("description"), ordered, limit=DESCRIPTION_LIMIT)
        # Too many holders for the description: keep the markers that end last (they decide the end).
        while len(description) > DESCRIPTION_LIMIT and len(ordered) > 1:
            ordered.pop()
            description = with_markers(props.get("description"), ordered, limit=DESCRIPTION_LIMIT)
        try:
            response = ctx.arm.put(
                self._path(resolved, str(item.get("name") or "")),
                self._body(item, ctx, description),
                params={"api-version": RBAC_API},
                retry_unsafe=True,
            )
        except ProviderApiError as exc:
            raise refusal(exc, resolved, right=_WRITE) from exc
        body = dict(response.json) if isinstance(response.json, dict) else dict(item)
        return {**body, "_created": response.status == 201}

    def extend(
        self,
        grant: Grant,
        resolved: ResolvedTarget,
        decision: Decision,
        ctx: ProviderContext,
        *,
        marker: GrantMarker | None = None,
    ) -> Grant:
        """No expiry at the source to move: the lease's marker in the description gets the new end (or a lease
        joining the assignment adds its marker), so `reap --source` keeps it until then."""
        item = self._get(grant, resolved, ctx)
        if item is None:
            raise ProviderApiError(
                f"the role assignment {grant.request_id} no longer exists, so there is nothing to extend",
                status=404,
                code="RoleAssignmentNotFound",
                hint="Start a new lease.",
                target=resolved.describe(),
            )
        current = parse_markers((item.get("properties") or {}).get("description"))
        if marker is not None and (current or not grant.reused):
            kept = [m for m in current if m.lease_id != marker.lease_id]
            item = self._rewrite(item, resolved, ctx, [*kept, marker])
        fresh = self._grant_from(item, resolved, reused=grant.reused, end_at=None)
        data = {**grant.data, "markers": fresh.data["markers"], "extended": {"method": "marker", "end": _iso(decision)}}
        end = decision.end if grant.end_at is None or decision.end > grant.end_at else grant.end_at
        return dataclasses.replace(fresh, end_at=end, reused=grant.reused, data=data)

    def holders(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext) -> list[GrantMarker]:
        item = self._get(grant, resolved, ctx)
        return parse_markers((item.get("properties") or {}).get("description")) if item else []

    def leave(self, grant: Grant, resolved: ResolvedTarget, ctx: ProviderContext, *, lease_id: str) -> None:
        item = self._get(grant, resolved, ctx)
        if item is None:
            return
        current = parse_markers((item.get("properties") or {}).get("description"))
        if not any(m.lease_id == lease_id for m in current):
            return
        rewritten = self._rewrite(item, resolved, ctx, [m for m in current if m.lease_id != lease_id])
        if rewritten.get("_created"):
            # The last holder deleted it between our read and our write, and the PUT created it again: take
            # that back (ARM offers no conditional PUT on role assignments).
            name = str(item.get("name") or "")
            ctx.arm.delete(self._path(resolved, name), params={"api-version": RBAC_API})

    def marked(self, ctx: ProviderContext, scopes: list[str]) -> list[SourceGrant]:
        """Role assignments at or below `scopes` whose description carries jitpim markers (403 at a scope
        raises: a scope the caller cannot read is reported, never skipped)."""
        found: dict[str, SourceGrant] = {}
        for scope in scopes:
            path = authz_path(ArmScope.parse(scope).path, "roleAssignments")
            for item in ctx.arm.paged(path, {"api-version": RBAC_API}):
                props = item.get("properties") or {}
                markers = parse_markers(props.get("description"))
                key = str(item.get("id") or "").lower()
                if not markers or key in found:
                    continue
                role_guid = str(props.get("roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower()
                at = str(props.get("scope") or scope)
                target = Target.from_flags(kind=self.kind, role=role_guid, scope=at)
                resolved = ResolvedTarget(
                    target=target,
                    role_id=role_guid,
                    role_name=role_guid,
                    scope=ArmScope.parse(at).path,
                    scope_name=ArmScope.parse(at).describe(),
                    principal_id=str(props.get("principalId") or "").lower(),
                    tenant_id=ctx.identity.tenant_id,
                )
                grant = self._grant_from(item, resolved, reused=False, end_at=None)
                found[key] = SourceGrant(resolved, grant, tuple(markers))
        return list(found.values())

    def eligible(self, ctx: ProviderContext) -> list[Target]:
        return assignable_roles(ctx)
