"""What the two ARM providers (`rbac`, `azure-role`) share: scopes, role definitions, the caller's effective
permissions, the effective-access probe (Key Vault data plane or the `permissions` read), and turning ARM
refusals into jitpim errors that name the target and the fix.

API versions: role definitions, role assignments and permissions 2022-04-01; PIM 2020-10-01; the vault
resource 2023-07-01; the Key Vault data plane 7.5 (see shared/reference/arm-pim-rbac-keyvault-oidc.md).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import (
    JitError,
    NotEffectiveError,
    NotEligibleError,
    PolicyDeniedError,
    ProviderApiError,
    UsageError,
)
from ..model import Target, is_guid, validate_arm_scope
from .base import ProviderContext, ResolvedTarget

__all__ = [
    "KEYVAULT_DATA_API",
    "PIM_API",
    "RBAC_API",
    "VAULT_API",
    "ArmScope",
    "RoleDefinition",
    "action_matches",
    "authz_path",
    "caller_permissions",
    "covers_role",
    "lookup_role",
    "parse_arm_time",
    "permits",
    "policy_rules",
    "principal_type",
    "probe_access",
    "refusal",
    "resolve_arm_target",
    "visible_subscriptions",
    "with_target",
]

RBAC_API = "2022-04-01"
PIM_API = "2020-10-01"
VAULT_API = "2023-07-01"
SUBSCRIPTIONS_API = "2022-12-01"
KEYVAULT_DATA_API = "7.5"

_AUTHZ = "providers/Microsoft.Authorization"
_ROLE_ID = re.compile(r"/providers/Microsoft\.Authorization/roleDefinitions/([0-9a-f-]{36})/?$", re.IGNORECASE)
_RULE = re.compile(r"\b([A-Za-z]+Rule)\b")
# ARM's 404 codes for a scope that does not exist (the call itself was fine).
_SCOPE_MISSING = frozenset(
    {"SubscriptionNotFound", "ResourceGroupNotFound", "ResourceNotFound", "ManagementGroupNotFound", "InvalidScope"}
)
_LIST_SECRETS = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"


def authz_path(scope: str, kind: str, *names: str) -> str:
    """`{scope}/providers/Microsoft.Authorization/{kind}[/{name}...]`; the tenant root is `/`."""
    base = scope.rstrip("/")
    return "/".join([f"{base}/{_AUTHZ}/{kind}", *names])


def parse_arm_time(value: Any) -> datetime | None:
    """ARM's date-times (`2025-01-01T10:00:00.1234567Z`, 7 fractional digits) as aware datetimes."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def principal_type(ctx: ProviderContext) -> str:
    """The `principalType` to send: always explicit, so a brand-new principal is not refused as not found."""
    return "ServicePrincipal" if ctx.identity.is_app else "User"


def policy_rules(message: str) -> list[str]:
    """The rule names of `The following policy rules failed: ["ExpirationRule","JustificationRule"]`."""
    seen: list[str] = []
    for name in _RULE.findall(message):
        if name not in seen:
            seen.append(name)
    return seen


# scopes --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArmScope:
    """An ARM scope: a management group, a subscription, a resource group, or a resource under one."""

    path: str
    subscription: str | None = None
    resource_group: str | None = None
    namespace: str | None = None  # e.g. Microsoft.KeyVault
    types: tuple[str, ...] = ()  # e.g. ("vaults",) or ("vaults", "secrets")
    names: tuple[str, ...] = ()  # e.g. ("kv-payments",) or ("kv-payments", "db-password")
    management_group: str | None = None

    @classmethod
    def parse(cls, scope: str) -> ArmScope:
        path = validate_arm_scope(scope)
        parts = path.split("/")[1:]
        if parts[0].lower() == "providers":  # /providers/Microsoft.Management/managementGroups/{name}
            return cls(path=path, management_group=parts[3])
        subscription = parts[1]
        rest = parts[2:]
        group = None
        if rest and rest[0].lower() == "resourcegroups":
            group, rest = rest[1], rest[2:]
        if not rest:
            return cls(path=path, subscription=subscription, resource_group=group)
        namespace, tail = rest[1], rest[2:]
        return cls(
            path=path,
            subscription=subscription,
            resource_group=group,
            namespace=namespace,
            types=tuple(tail[0::2]),
            names=tuple(tail[1::2]),
        )

    @property
    def resource_type(self) -> str | None:
        return f"{self.namespace}/{'/'.join(self.types)}" if self.namespace else None

    def describe(self) -> str:
        """What people call the scope: `kv-payments (Microsoft.KeyVault/vaults)`, `resource group rg-x`, ..."""
        if self.management_group is not None:
            return f"management group {self.management_group}"
        if self.namespace is not None:
            return f"{self.names[-1]} ({self.resource_type})"
        if self.resource_group is not None:
            return f"resource group {self.resource_group}"
        return f"subscription {self.subscription}"

    @property
    def vault_id(self) -> str | None:
        """The vault's resource id when the scope is a Key Vault or something inside one."""
        if (self.namespace or "").lower() != "microsoft.keyvault" or (self.types[:1] or ("",))[0].lower() != "vaults":
            return None
        assert self.subscription is not None and self.resource_group is not None
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/{self.namespace}/{self.types[0]}/{self.names[0]}"
        )

    @property
    def secret_name(self) -> str | None:
        """The secret when the scope is one secret of a vault (`.../vaults/{v}/secrets/{name}`)."""
        if self.vault_id and len(self.types) == 2 and self.types[1].lower() == "secrets":
            return self.names[1]
        return None

    def role_definition_id(self, guid: str) -> str:
        """The role definition id to send in request bodies: subscription-level below a subscription (the form
        the REST docs use), tenant-level for management groups."""
        prefix = f"/subscriptions/{self.subscription}" if self.subscription else ""
        return f"{prefix}/{_AUTHZ}/roleDefinitions/{guid}"

    def same_or_below(self, parent: str) -> bool:
        """True when this scope is `parent` or lies inside it (case-insensitive)."""
        mine = self.path.rstrip("/").lower()
        other = parent.rstrip("/").lower()
        return other in ("", "/") or mine == other or mine.startswith(other + "/")


# role definitions ----------------------------------------------------------------------------------------------
def action_matches(pattern: str, action: str) -> bool:
    """ARM's action wildcards: `*` matches any run of characters, case-insensitively. `action` may itself be a
    pattern (a role's `*/read`), in which case it is compared literally, so `*` covers `*/read`."""
    regex = "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"
    return re.match(regex, action, re.IGNORECASE) is not None


@dataclass(frozen=True)
class RoleDefinition:
    guid: str
    name: str
    role_type: str  # BuiltInRole | CustomRole
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()

    @classmethod
    def from_arm(cls, item: dict[str, Any]) -> RoleDefinition:
        props = item.get("properties") or {}
        permissions = (props.get("permissions") or [{}])[0] or {}

        def strings(key: str) -> tuple[str, ...]:
            return tuple(str(v) for v in permissions.get(key) or [])

        return cls(
            guid=str(item.get("name") or "").lower(),
            name=str(props.get("roleName") or item.get("name") or ""),
            role_type=str(props.get("type") or ""),
            actions=strings("actions"),
            not_actions=strings("notActions"),
            data_actions=strings("dataActions"),
            not_data_actions=strings("notDataActions"),
        )

    def grants(self, action: str, *, data: bool = False) -> bool:
        allow, deny = (self.data_actions, self.not_data_actions) if data else (self.actions, self.not_actions)
        return any(action_matches(p, action) for p in allow) and not any(action_matches(p, action) for p in deny)


def _role_guid(role: str) -> str | None:
    if is_guid(role):
        return role.lower()
    found = _ROLE_ID.search(role)
    return found.group(1).lower() if found else None


def with_target(exc: JitError, target: str) -> JitError:
    exc.target = exc.target or target
    return exc


def _scope_error(exc: ProviderApiError, scope: ArmScope) -> JitError:
    if exc.status == 404 and exc.code in _SCOPE_MISSING:
        return UsageError(
            f"scope {scope.path} does not exist ({exc.code})",
            hint="Check the subscription id, resource group and resource names of --scope.",
        )
    return exc


def lookup_role(ctx: ProviderContext, scope: ArmScope, role: str) -> RoleDefinition:
    """The role definition named `role` (display name, GUID or full id) as it applies at `scope`, cached."""
    key = f"arm:role:{scope.path.lower()}:{role.lower()}"
    cached = ctx.cache.get(key)
    if isinstance(cached, RoleDefinition):
        return cached
    guid = _role_guid(role)
    try:
        found = _role_by_id(ctx, scope, guid) if guid is not None else _role_by_name(ctx, scope, role)
    except ProviderApiError as exc:
        raise _scope_error(exc, scope) from exc
    ctx.cache[key] = found
    ctx.cache[f"arm:role:{scope.path.lower()}:{found.guid}"] = found
    return found


def _role_by_id(ctx: ProviderContext, scope: ArmScope, guid: str) -> RoleDefinition:
    try:
        body = ctx.arm.get(authz_path(scope.path, "roleDefinitions", guid), params={"api-version": RBAC_API}).json
    except ProviderApiError as exc:
        if exc.status == 404 and exc.code not in _SCOPE_MISSING:
            raise UsageError(
                f"no Azure role definition has the id {guid} at {scope.path}",
                hint="Give the role's display name (e.g. 'Key Vault Secrets Officer') or an id that exists; "
                "custom roles must list the scope among their assignable scopes.",
            ) from None
        raise
    return RoleDefinition.from_arm(body or {})


def _role_by_name(ctx: ProviderContext, scope: ArmScope, name: str) -> RoleDefinition:
    quoted = name.replace("'", "''")  # OData escapes a quote by doubling it
    path = authz_path(scope.path, "roleDefinitions")
    items = list(ctx.arm.paged(path, {"$filter": f"roleName eq '{quoted}'", "api-version": RBAC_API}))
    matches = [i for i in items if str((i.get("properties") or {}).get("roleName", "")).lower() == name.lower()]
    if matches:
        return RoleDefinition.from_arm(matches[0])
    names = [
        str((i.get("properties") or {}).get("roleName", "")) for i in ctx.arm.paged(path, {"api-version": RBAC_API})
    ]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    hint = f"Did you mean {' or '.join(repr(c) for c in close)}?" if close else "Check the spelling (names are exact)."
    raise UsageError(f"no Azure role named {name!r} can be assigned at {scope.path}", hint=hint)


def resolve_arm_target(target: Target, ctx: ProviderContext) -> tuple[ResolvedTarget, RoleDefinition]:
    """Resolve an ARM target: the role by name or id at its scope; the caller receives the access."""
    scope = ArmScope.parse(target.scope)
    role = lookup_role(ctx, scope, target.role)
    resolved = ResolvedTarget(
        target=target,
        role_id=role.guid,
        role_name=role.name,
        scope=scope.path,
        scope_name=scope.describe(),
        principal_id=ctx.identity.object_id,
        tenant_id=ctx.identity.tenant_id,
    )
    return resolved, role


# permissions -----------------------------------------------------------------------------------------------------
def caller_permissions(ctx: ProviderContext, scope: str) -> list[dict[str, Any]]:
    """The caller's effective permissions at `scope` (one entry per role assignment that applies there)."""
    return list(ctx.arm.paged(authz_path(scope, "permissions"), {"api-version": RBAC_API}))


def _strings(entry: dict[str, Any], key: str) -> list[str]:
    return [str(v) for v in entry.get(key) or []]


def permits(entries: list[dict[str, Any]], action: str, *, data: bool = False) -> bool:
    """Whether some permission entry allows `action` (conditions cannot be evaluated here and are ignored)."""
    allow, deny = ("dataActions", "notDataActions") if data else ("actions", "notActions")
    return any(
        any(action_matches(p, action) for p in _strings(e, allow))
        and not any(action_matches(p, action) for p in _strings(e, deny))
        for e in entries
    )


def covers_role(entries: list[dict[str, Any]], role: RoleDefinition) -> bool:
    """Whether the permissions include everything `role` grants (so its assignment has taken effect)."""
    wanted = [(a, False) for a in role.actions] + [(a, True) for a in role.data_actions]
    return bool(wanted) and all(permits(entries, action, data=data) for action, data in wanted)


# refusals --------------------------------------------------------------------------------------------------------
def refusal(exc: ProviderApiError, resolved: ResolvedTarget, *, right: str) -> JitError:
    """The jitpim error for an ARM refusal of a grant: policy rules -> PolicyDeniedError, 403 -> NotEligibleError
    (naming the right), anything else the API error itself, each naming the target."""
    target = resolved.describe()
    if exc.code == "RoleAssignmentRequestPolicyValidationFailed":
        rules = policy_rules(exc.message)
        if "EligibilityRule" in rules:
            return NotEligibleError(
                f"Azure PIM found no eligibility for this role at this scope: {exc.message}",
                hint="Ask for an eligibility (see `jitpim eligible`), or use direct mode with the right to assign.",
                target=target,
            )
        return PolicyDeniedError(
            f"Azure PIM refused the request: rules {', '.join(rules) or 'unknown'} failed",
            rules=rules,
            hint="Fix the request for the rules named (duration, --justification, --ticket, MFA) and retry.",
            target=target,
        )
    if exc.status == 403:
        return NotEligibleError(
            f"Azure refused the grant: {exc.message}",
            hint=f"The caller needs {right} at {resolved.scope} (and any ABAC condition on that right must allow "
            f"this role and principal).",
            target=target,
        )
    return with_target(exc, target)


# the effective-access probe ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Vault:
    uri: str
    rbac: bool


def _vault(ctx: ProviderContext, vault_id: str) -> _Vault | None:
    """The vault's data-plane URL (`properties.vaultUri`), or None when the caller may not read the vault."""
    key = f"arm:vault:{vault_id.lower()}"
    if key in ctx.cache:
        cached = ctx.cache[key]
        return cached if isinstance(cached, _Vault) else None
    found: _Vault | None = None
    try:
        props = (ctx.arm.get(vault_id, params={"api-version": VAULT_API}).json or {}).get("properties") or {}
        uri = props.get("vaultUri")
        if isinstance(uri, str) and uri:
            found = _Vault(uri=uri, rbac=props.get("enableRbacAuthorization") is not False)
    except ProviderApiError as exc:
        if exc.status != 403:
            raise
        # Reading the vault needs Microsoft.KeyVault/vaults/read, which data roles lack; on a real cloud the
        # URL follows from the name.
        if ctx.cloud.keyvault_dns_suffix is not None:
            found = _Vault(uri=ctx.cloud.vault_url(vault_id.rsplit("/", 1)[-1]), rbac=True)
    ctx.cache[key] = found
    return found


def _probe_vault(ctx: ProviderContext, scope: ArmScope, vault: _Vault, resolved: ResolvedTarget) -> bool:
    if not vault.rbac:
        raise NotEffectiveError(
            f"the vault {scope.vault_id} uses access policies, so an Azure role grants no data access",
            hint="Switch the vault to the Azure RBAC permission model, or use an access policy instead of jitpim.",
            target=resolved.describe(),
        )
    client = ctx.keyvault(vault.uri)
    path = f"secrets/{scope.secret_name}/versions" if scope.secret_name else "secrets"
    try:
        client.get(path, params={"maxresults": 1, "api-version": KEYVAULT_DATA_API}, expected=(200,))
    except ProviderApiError as exc:
        if exc.status == 403 and exc.inner_code == "ForbiddenByRbac":
            return False  # not yet: the assignment is still propagating
        raise with_target(exc, resolved.describe()) from exc
    return True


def probe_access(ctx: ProviderContext, resolved: ResolvedTarget) -> bool:
    """Does the role work at the scope now? A Key Vault role that can list secrets is tried on the vault's data
    plane (the only proof that counts there); anything else through the caller's effective permissions."""
    scope = ArmScope.parse(resolved.scope)
    role = lookup_role(ctx, scope, resolved.role_id)
    if scope.vault_id is not None and role.grants(_LIST_SECRETS, data=True):
        vault = _vault(ctx, scope.vault_id)
        if vault is not None:
            return _probe_vault(ctx, scope, vault, resolved)
    return covers_role(caller_permissions(ctx, scope.path), role)


def visible_subscriptions(ctx: ProviderContext) -> list[str]:
    """`/subscriptions/{id}` for every subscription the caller can see (`GET /subscriptions`)."""
    return [
        f"/subscriptions/{item['subscriptionId']}"
        for item in ctx.arm.paged("/subscriptions", {"api-version": SUBSCRIPTIONS_API})
        if isinstance(item, dict) and item.get("subscriptionId")
    ]
