"""`jitpim setup github`: create or correct, idempotently, everything a repository's workflows need in Entra
and Azure to use jitpim, and nothing more.

Direct mode (the CI identity grants itself):

    1. an app registration `jitpim-OWNER-NAME` and its service principal
    2. a federated credential per branch and per environment (issuer GitHub Actions, audience
       api://AzureADTokenExchange, subject `repo:OWNER/NAME:ref:refs/heads/BRANCH` or `...:environment:ENV`)
    3. the Graph application permissions its target kinds need (`jitpim.model.permissions`), consented
    4. for `azure-role`: a custom role holding exactly the PIM request rights, assigned at `--scope`
    5. for `rbac`: Role Based Access Control Administrator on the vault (or `--scope`) with an ABAC condition
       that lets it assign and remove only the given roles, only to itself

Broker mode: the job needs no Azure identity; steps 3-5 go to the broker's identity (`--broker-principal`).

Every step reads first and writes only what differs, so running it again changes nothing (`--what-if`
shows the plan without writing). PIM settings are applied with `jitpim pim-policy apply` from a reviewed file.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import ProviderApiError, ProviderError, UsageError
from ..model.permissions import GRAPH_APP_ID, Kind, needs
from ..providers._arm import ArmScope, lookup_role
from ..providers.base import ProviderContext

__all__ = ["SetupOptions", "SetupStep", "github_subjects", "rbac_condition", "setup_github"]

_V1 = "/v1.0"
_RBAC_API = "2022-04-01"
_GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
_RBAC_ADMIN = "Role Based Access Control Administrator"
CUSTOM_ROLE = "jitpim PIM requester"


@dataclass(frozen=True)
class SetupOptions:
    repo: str
    branches: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    kinds: tuple[Kind, ...] = ("rbac",)
    vault: str | None = None  # ARM id of the vault rbac grants are made on
    roles: tuple[str, ...] = ("Key Vault Secrets Officer",)  # what the rbac delegation may assign
    scope: str | None = None  # ARM scope for azure-role (and rbac when no vault)
    app_name: str | None = None
    mode: Literal["direct", "broker"] = "direct"
    broker_principal: str | None = None
    subscription: str | None = None

    def validate(self) -> None:
        owner, _, name = self.repo.partition("/")
        if not owner or not name or "/" in name or any(c.isspace() for c in self.repo):
            raise UsageError(f"--repo {self.repo!r} is not OWNER/NAME", hint="For example: --repo contoso/payments.")
        if self.mode == "broker" and not self.broker_principal:
            raise UsageError("broker mode needs --broker-principal", hint="Give the broker identity's object id.")
        if "rbac" in self.kinds and not (self.vault or self.scope):
            raise UsageError("an rbac setup needs --vault (or --scope)", hint="Give the ARM id the grants are made on.")
        if "azure-role" in self.kinds and not self.scope:
            raise UsageError("an azure-role setup needs --scope", hint="Give the subscription or group id.")


@dataclass
class SetupStep:
    """One thing setup looked at: `action` is `create`, `update` or `none` (already right)."""

    what: str
    action: Literal["create", "update", "none"]
    detail: str
    done: bool = False
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"what": self.what, "action": self.action, "detail": self.detail, "done": self.done, **self.data}


def github_subjects(options: SetupOptions) -> dict[str, str]:
    """Federated credential name -> subject for each branch and environment (default: the main branch)."""
    branches = options.branches or (() if options.environments else ("main",))
    out = {f"github-branch-{b.replace('/', '-')}": f"repo:{options.repo}:ref:refs/heads/{b}" for b in branches}
    out.update({f"github-env-{e}": f"repo:{options.repo}:environment:{e}" for e in options.environments})
    return out


def rbac_condition(role_guids: Sequence[str], principal_id: str) -> str:
    """The ABAC condition that limits role-assignment writes and deletes to `role_guids` for `principal_id`."""
    roles = ", ".join(sorted(g.lower() for g in role_guids))

    def clause(action: str, source: str) -> str:
        return (
            f"((!(ActionMatches{{'Microsoft.Authorization/roleAssignments/{action}'}})) OR "
            f"(@{source}[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals "
            f"{{{roles}}} AND @{source}[Microsoft.Authorization/roleAssignments:PrincipalId] "
            f"ForAnyOfAnyValues:GuidEquals {{{principal_id.lower()}}}))"
        )

    return f"{clause('write', 'Request')} AND {clause('delete', 'Resource')}"


class _Setup:
    def __init__(self, ctx: ProviderContext, options: SetupOptions, what_if: bool) -> None:
        self.ctx = ctx
        self.options = options
        self.what_if = what_if
        self.steps: list[SetupStep] = []

    def step(self, what: str, action: Literal["create", "update", "none"], detail: str, **data: Any) -> SetupStep:
        found = SetupStep(what, action, detail, data=data)
        self.steps.append(found)
        return found

    # Entra ------------------------------------------------------------------------------------------------
    def application(self) -> tuple[dict[str, Any] | None, str | None]:
        name = self.options.app_name or "jitpim-" + self.options.repo.replace("/", "-")
        flt = "displayName eq '" + name.replace("'", "''") + "'"
        apps = list(self.ctx.graph.paged(f"{_V1}/applications", {"$filter": flt}))
        if apps:
            app = apps[0]
            self.step("app registration", "none", f"{name} (appId {app['appId']})", app_id=app["appId"])
        else:
            step = self.step("app registration", "create", name)
            if self.what_if:
                return None, None
            app = self.ctx.graph.post(
                f"{_V1}/applications", {"displayName": name, "signInAudience": "AzureADMyOrg"}
            ).json
            step.done, step.data["app_id"] = True, app["appId"]
        sps = list(self.ctx.graph.paged(f"{_V1}/servicePrincipals", {"$filter": f"appId eq '{app['appId']}'"}))
        if sps:
            self.step("service principal", "none", sps[0]["id"], object_id=sps[0]["id"])
            return app, str(sps[0]["id"])
        step = self.step("service principal", "create", f"for appId {app['appId']}")
        if self.what_if:
            return app, None
        sp = self.ctx.graph.post(f"{_V1}/servicePrincipals", {"appId": app["appId"]}).json
        step.done, step.data["object_id"] = True, sp["id"]
        return app, str(sp["id"])

    def federated_credentials(self, app: dict[str, Any] | None) -> None:
        wanted = github_subjects(self.options)
        existing = (
            {f["name"]: f for f in self.ctx.graph.paged(f"{_V1}/applications/{app['id']}/federatedIdentityCredentials")}
            if app is not None
            else {}
        )
        for name, subject in wanted.items():
            body = {
                "name": name,
                "issuer": _GITHUB_ISSUER,
                "subject": subject,
                "audiences": ["api://AzureADTokenExchange"],
            }
            have = existing.get(name)
            if (
                have is not None
                and have.get("subject") == subject
                and have.get("issuer") == _GITHUB_ISSUER
                and list(have.get("audiences") or []) == ["api://AzureADTokenExchange"]
            ):
                self.step("federated credential", "none", f"{name}: {subject}")
                continue
            step = self.step("federated credential", "update" if have else "create", f"{name}: {subject}")
            if self.what_if or app is None:
                continue
            path = f"{_V1}/applications/{app['id']}/federatedIdentityCredentials"
            if have is None:
                self.ctx.graph.post(path, body)
            else:
                self.ctx.graph.patch(f"{path}/{have['id']}", {k: v for k, v in body.items() if k != "name"})
            step.done = True

    def graph_permissions(self, principal_id: str | None) -> None:
        mode = self.options.mode
        names = sorted(
            {
                n.name
                for k in self.options.kinds
                for n in needs(mode, k, who="broker" if mode == "broker" else "caller")
                if n.api == "graph" and n.kind == "app"
            }
        )
        if not names:
            return
        graph_sp = self.ctx.graph.get(f"{_V1}/servicePrincipals(appId='{GRAPH_APP_ID}')").json or {}
        role_ids = {r["value"]: r["id"] for r in graph_sp.get("appRoles") or []}
        held: set[str] = set()
        if principal_id is not None:
            rows = self.ctx.graph.paged(f"{_V1}/servicePrincipals/{principal_id}/appRoleAssignments")
            held = {str(r.get("appRoleId")) for r in rows if r.get("resourceId") == graph_sp.get("id")}
        for name in names:
            role_id = role_ids.get(name)
            if role_id is None:
                raise UsageError(f"Microsoft Graph publishes no application permission {name!r}")
            if role_id in held:
                self.step("Graph permission", "none", name)
                continue
            step = self.step("Graph permission", "create", f"{name} (admin consent)")
            if self.what_if or principal_id is None:
                continue
            self.ctx.graph.post(
                f"{_V1}/servicePrincipals/{principal_id}/appRoleAssignments",
                {"principalId": principal_id, "resourceId": graph_sp["id"], "appRoleId": role_id},
            )
            step.done = True

    # Azure ------------------------------------------------------------------------------------------------
    def _assignments(self, scope: str, principal_id: str) -> list[dict[str, Any]]:
        path = f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments"
        items = self.ctx.arm.paged(path, {"$filter": f"principalId eq '{principal_id}'", "api-version": _RBAC_API})
        return [i for i in items if str((i.get("properties") or {}).get("scope", "")).lower() == scope.lower()]

    def _assign(
        self, scope: str, principal_id: str | None, role_guid: str, role_name: str, condition: str | None
    ) -> None:
        existing = None
        if principal_id is not None:
            existing = next(
                (
                    a
                    for a in self._assignments(scope, principal_id)
                    if str((a.get("properties") or {}).get("roleDefinitionId", "")).lower().endswith(role_guid)
                ),
                None,
            )
        props = (existing or {}).get("properties") or {}
        if existing is not None and (props.get("condition") or None) == condition:
            self.step("role assignment", "none", f"{role_name} at {scope}" + (" (conditioned)" if condition else ""))
            return
        step = self.step(
            "role assignment",
            "update" if existing else "create",
            f"{role_name} at {scope}" + (" with an ABAC condition limiting roles and principal" if condition else ""),
        )
        if self.what_if or principal_id is None:
            return
        name = str(existing["name"]) if existing else str(uuid.uuid4())
        sub = ArmScope.parse(scope).subscription
        body: dict[str, Any] = {
            "properties": {
                "roleDefinitionId": f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/"
                + role_guid,
                "principalId": principal_id,
                "principalType": "ServicePrincipal",
                "description": "jitpim setup: " + ("rbac delegation" if condition else "PIM requests"),
            }
        }
        if condition:
            body["properties"].update(condition=condition, conditionVersion="2.0")
        self.ctx.arm.put(
            f"{scope.rstrip('/')}/providers/Microsoft.Authorization/roleAssignments/{name}",
            body,
            params={"api-version": _RBAC_API},
        )
        step.done = True

    def custom_role(self, scope: str, principal_id: str | None) -> None:
        arm_scope = ArmScope.parse(scope)
        sub_scope = f"/subscriptions/{arm_scope.subscription}"
        actions = sorted({n.name for n in needs("direct", "azure-role") if n.api == "arm"})
        path = f"{sub_scope}/providers/Microsoft.Authorization/roleDefinitions"
        found = [
            r
            for r in self.ctx.arm.paged(path, {"$filter": f"roleName eq '{CUSTOM_ROLE}'", "api-version": _RBAC_API})
            if (r.get("properties") or {}).get("roleName") == CUSTOM_ROLE
        ]
        guid = str(found[0]["name"]) if found else str(uuid.uuid5(uuid.NAMESPACE_URL, f"jitpim-role:{sub_scope}"))
        have = (
            sorted(((found[0].get("properties") or {}).get("permissions") or [{}])[0].get("actions") or [])
            if found
            else None
        )
        if have == actions:
            self.step("custom role", "none", f"{CUSTOM_ROLE} ({guid})")
        else:
            step = self.step(
                "custom role", "update" if found else "create", f"{CUSTOM_ROLE}: {len(actions)} PIM request actions"
            )
            if not self.what_if:
                self.ctx.arm.put(
                    f"{path}/{guid}",
                    {
                        "properties": {
                            "roleName": CUSTOM_ROLE,
                            "type": "CustomRole",
                            "description": "Request, read and cancel time-bound PIM assignments (jitpim).",
                            "permissions": [
                                {"actions": actions, "notActions": [], "dataActions": [], "notDataActions": []}
                            ],
                            "assignableScopes": [sub_scope],
                        }
                    },
                    params={"api-version": _RBAC_API},
                )
                step.done = True
        self._assign(scope, principal_id, guid, CUSTOM_ROLE, None)

    def rbac_delegation(self, principal_id: str | None) -> None:
        scope = self.options.vault or self.options.scope
        assert scope is not None
        arm_scope = ArmScope.parse(scope)
        roles = [lookup_role(self.ctx, arm_scope, r).guid for r in self.options.roles]
        admin = lookup_role(self.ctx, arm_scope, _RBAC_ADMIN)
        condition = rbac_condition(roles, principal_id) if principal_id else rbac_condition(roles, "<new principal>")
        self._assign(scope, principal_id, admin.guid, _RBAC_ADMIN, condition)


def setup_github(ctx: ProviderContext, options: SetupOptions, *, what_if: bool = False) -> list[SetupStep]:
    """Plan (what_if) or make the estate `options` describe; returns every step with its action."""
    options.validate()
    run = _Setup(ctx, options, what_if)
    try:
        if options.mode == "broker":
            principal: str | None = options.broker_principal
        else:
            app, principal = run.application()
            run.federated_credentials(app)
        run.graph_permissions(principal)
        if "azure-role" in options.kinds and options.scope:
            run.custom_role(options.scope, principal)
        if "rbac" in options.kinds:
            run.rbac_delegation(principal)
    except ProviderApiError as exc:
        if exc.status == 403:
            raise ProviderError(
                f"setup stopped: {exc.message}",
                hint="Run setup as an administrator: Application Administrator (app, credentials), Privileged Role "
                "Administrator (Graph permissions) and Owner or User Access Administrator on the scope.",
            ) from None
        raise
    return run.steps
