"""Target kind `rbac`: a plain Azure role assignment, created for the lease and deleted after it.

    grant    PUT  {scope}/providers/Microsoft.Authorization/roleAssignments/{request_name}   (2022-04-01)
    release  DELETE the same (200 released, 204 already gone)

A plain assignment has no expiry at the source, so there is no PIM policy to read: the ledger and the reaper
are the backstop, and the lifecycle applies its own ceiling. The assignment's name is the lease's request name,
so a re-sent PUT is harmless (same name, same content: 200) and a lost response is recovered with a GET by name.
ABAC conditions on the caller's right to assign cannot be evaluated client-side: a 403 on the PUT becomes
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
from ._arm_eligible import assignable_roles
from .base import Grant, GrantStatus, ProviderContext, ReleaseOutcome, ReleaseResult, ResolvedTarget

__all__ = ["ArmRoleAssignmentProvider"]

_WRITE = "Microsoft.Authorization/roleAssignments/write"
# "The role assignment already exists. The ID of the existing role assignment is {32 hex digits}."
_EXISTING = re.compile(r"\b([0-9a-f]{32})\b", re.IGNORECASE)


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
        entries = caller_permissions(ctx, resolved.scope)
        if permits(entries, _WRITE):
            return []
        return [
            Reason(
                ReasonCode.NOT_ELIGIBLE,
                f"{ctx.identity.describe()} lacks {_WRITE} at {resolved.scope}, so it cannot create the role "
                f"assignment (give it e.g. Role Based Access Control Administrator there, with a condition "
                f"limited to {resolved.role_name!r} and itself)",
                "EligibilityRule",
            )
        ]

    # grants ----------------------------------------------------------------------------------------------------
    def _path(self, resolved: ResolvedTarget, name: str) -> str:
        return authz_path(resolved.scope, "roleAssignments", name)

    def _grant_from(
        self, item: dict[str, Any], resolved: ResolvedTarget, *, reused: bool, end_at: datetime | None
    ) -> Grant:
        props = item.get("properties") or {}
        name = str(item.get("name") or "")
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

    def grant(self, resolved: ResolvedTarget, decision: Decision, ctx: ProviderContext, *, request_name: str) -> Grant:
        scope = ArmScope.parse(resolved.scope)
        body = {
            "properties": {
                "roleDefinitionId": scope.role_definition_id(resolved.role_id),
                "principalId": resolved.principal_id,
                "principalType": principal_type(ctx),
                "description": f"jitpim just-in-time access until {decision.end.isoformat(timespec='seconds')} "
                f"(lease request {request_name})",
            }
        }
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

    def extend(self, grant: Grant, resolved: ResolvedTarget, decision: Decision, ctx: ProviderContext) -> Grant:
        # Nothing to change at the source (no expiry there): the lease's new end is what jitpim enforces.
        refreshed = self.refresh(grant, resolved, ctx)
        if refreshed.status is not GrantStatus.ACTIVE:
            raise ProviderApiError(
                f"the role assignment {grant.request_id} no longer exists, so there is nothing to extend",
                status=404,
                code="RoleAssignmentNotFound",
                hint="Start a new lease.",
                target=resolved.describe(),
            )
        data = {**grant.data, "extended": {"method": "ledger", "end": decision.end.isoformat()}}
        return dataclasses.replace(refreshed, end_at=decision.end, data=data)

    def eligible(self, ctx: ProviderContext) -> list[Target]:
        return assignable_roles(ctx)
