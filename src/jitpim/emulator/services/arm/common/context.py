"""ARM plumbing shared by every Microsoft.Authorization handler: api-version checks, scopes, ids, the request
context handed to handlers, and the response/list envelopes.

ARM treats paths case-insensitively and returns ids in the canonical casing of the resource, so scopes are
parsed here once into a `Scope` whose `path` is canonical (the casing the scenario declared).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ....core.errors import ArmError
from ....core.tokens import Caller
from ....core.world import World

__all__ = [
    "API_VERSIONS",
    "DEPLOYMENT_VERSIONS",
    "KEYVAULT_VERSIONS",
    "RESOURCE_MANAGER_VERSIONS",
    "STORAGE_VERSIONS",
    "Ctx",
    "Scope",
    "check_api_version",
    "expanded_properties",
    "guid_of",
    "parse_scope",
    "principal_display",
    "require_scope",
    "require_subscription",
    "role_definition_id",
    "role_guid_from_id",
    "scope_display_name",
]

# Versions this emulator serves per Microsoft.Authorization resource type (lower-cased type name). Shapes are
# identical across the listed versions for the fields emulated here. A well-formed version outside the list is
# answered like ARM answers it for a provider type: 400 NoRegisteredProviderFound naming the supported ones.
_RBAC = (
    "2018-01-01-preview",
    "2018-09-01-preview",
    "2020-04-01-preview",
    "2020-08-01-preview",
    "2020-10-01-preview",
    "2021-04-01-preview",
    "2022-01-01-preview",
    "2022-04-01",
)
_PIM = ("2020-10-01", "2020-10-01-preview", "2022-04-01-preview", "2024-02-01-preview", "2024-09-01-preview")
API_VERSIONS: dict[str, tuple[str, ...]] = {
    "roleassignments": _RBAC,
    "roledefinitions": ("2018-01-01-preview", "2022-04-01", "2022-05-01-preview"),
    "permissions": ("2018-01-01-preview", "2022-04-01", "2022-05-01-preview"),
    "roleassignmentschedulerequests": _PIM,
    "roleassignmentschedules": _PIM,
    "roleassignmentscheduleinstances": _PIM,
    "roleeligibilityschedulerequests": _PIM,
    "roleeligibilityschedules": _PIM,
    "roleeligibilityscheduleinstances": _PIM,
    "rolemanagementpolicies": _PIM,
    "rolemanagementpolicyassignments": _PIM,
    "roleassignmentapprovals": ("2021-01-01-preview",),
}
# Microsoft.Resources (subscriptions, resource groups): the list ARM itself prints in InvalidApiVersionParameter.
RESOURCE_MANAGER_VERSIONS: tuple[str, ...] = (
    "2024-11-01",
    "2024-08-01",
    "2024-06-01-preview",
    "2024-03-01",
    "2023-07-01",
    "2023-07-01-preview",
    "2023-03-01-preview",
    "2022-12-01",
    "2022-11-01-preview",
    "2022-09-01",
    "2022-06-01",
    "2022-05-01",
    "2022-03-01-preview",
    "2022-01-01",
    "2021-04-01",
    "2021-01-01",
    "2020-10-01",
    "2020-09-01",
    "2020-08-01",
    "2020-07-01",
    "2020-06-01",
    "2020-05-01",
    "2020-01-01",
    "2019-11-01",
    "2019-10-01",
    "2019-09-01",
    "2019-08-01",
    "2019-07-01",
    "2019-06-01",
    "2019-05-10",
    "2019-05-01",
    "2019-03-01",
    "2018-11-01",
    "2018-09-01",
    "2018-08-01",
    "2018-07-01",
    "2018-06-01",
    "2018-05-01",
    "2018-02-01",
    "2018-01-01",
    "2017-12-01",
    "2017-08-01",
    "2017-06-01",
    "2017-05-10",
    "2017-05-01",
    "2017-03-01",
    "2016-09-01",
    "2016-07-01",
    "2016-06-01",
    "2016-02-01",
    "2015-11-01",
    "2015-01-01",
    "2014-04-01-preview",
    "2014-04-01",
)
# Microsoft.Resources/deployments: the list above and the newer version azure-mgmt-resource-deployments 2.x sends.
DEPLOYMENT_VERSIONS: tuple[str, ...] = ("2026-06-01", *RESOURCE_MANAGER_VERSIONS)
KEYVAULT_VERSIONS: tuple[str, ...] = (
    "2025-05-01",
    "2024-12-01-preview",
    "2024-11-01",
    "2024-04-01-preview",
    "2023-07-01",
    "2023-02-01",
    "2022-11-01",
    "2022-07-01",
    "2022-02-01-preview",
    "2021-11-01-preview",
    "2021-10-01",
    "2021-06-01-preview",
    "2021-04-01-preview",
    "2019-09-01",
    "2018-02-14",
    "2016-10-01",
    "2015-06-01",
)
STORAGE_VERSIONS: tuple[str, ...] = (
    "2025-01-01",
    "2024-01-01",
    "2023-05-01",
    "2023-04-01",
    "2023-01-01",
    "2022-09-01",
    "2022-05-01",
    "2021-09-01",
    "2021-08-01",
    "2021-06-01",
    "2021-04-01",
    "2021-02-01",
    "2021-01-01",
    "2019-06-01",
)
_VERSION_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview|-beta|-alpha|-privatepreview)?$", re.IGNORECASE)


def _missing_version() -> ArmError:
    return ArmError(
        400,
        "MissingApiVersionParameter",
        "The api-version query parameter (?api-version=) is required for all requests.",
    )


def check_api_version(query: dict[str, str], resource_type: str | None, supported: tuple[str, ...]) -> str:
    """The request's api-version, or ARM's 400 for a missing, malformed or unsupported one.

    `resource_type` names the provider type (Microsoft.Authorization types); None means a Microsoft.Resources
    or Microsoft.KeyVault read, which ARM itself validates with InvalidApiVersionParameter.
    """
    version = query.get("api-version")
    if version is None or not version.strip():
        raise _missing_version()
    listed = ",".join(supported)
    if not _VERSION_SHAPE.match(version) or (resource_type is None and version not in supported):
        raise ArmError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{version}' is invalid. The supported versions are '{listed}'.",
        )
    if version not in supported:
        raise ArmError(
            400,
            "NoRegisteredProviderFound",
            f"No registered resource provider found for location 'global' and API version '{version}' for type "
            f"'{resource_type}'. The supported api-versions are '{', '.join(supported)}'. The supported locations "
            "are ''.",
        )
    return version


def guid_of(value: str) -> str | None:
    """The canonical lower-case GUID in `value` (a bare GUID), or None."""
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        return None


def role_guid_from_id(value: str) -> str | None:
    """The role definition GUID of `{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}`."""
    match = re.search(r"/providers/microsoft\.authorization/roledefinitions/([^/]+)/?$", value.strip(), re.IGNORECASE)
    return guid_of(match.group(1)) if match else None


@dataclass(frozen=True)
class Scope:
    """A parsed ARM scope. `path` is canonical ("/" for the tenant root)."""

    path: str
    kind: str  # tenant | subscription | resourcegroup | resource | managementgroup
    subscription: str | None = None
    resource_group: str | None = None
    resource_type: str | None = None  # e.g. Microsoft.KeyVault/vaults
    resource_name: str | None = None
    management_group: str | None = None

    @property
    def prefix(self) -> str:
        """The scope as a path prefix for ids ("" for the tenant root)."""
        return "" if self.path == "/" else self.path

    def display_type(self) -> str:
        return {
            "tenant": "managementgroup",
            "subscription": "subscription",
            "resourcegroup": "resourcegroup",
            "resource": "resource",
            "managementgroup": "managementgroup",
        }[self.kind]


def _invalid_scope(raw: str) -> ArmError:
    return ArmError(400, "InvalidScope", f"The scope '{raw}' is not valid.")


def parse_scope(world: World, raw: str) -> Scope:
    """Parse (and canonicalise) a scope path; `providers/Microsoft.Subscription/subscriptions/{id}` is accepted
    as the subscription, as the PIM spec examples spell it."""
    text = "/" + "/".join(p for p in raw.split("/") if p)
    parts = [p for p in text.split("/") if p]
    lowered = [p.lower() for p in parts]
    if not parts:
        return Scope("/", "tenant")
    if lowered[:3] == ["providers", "microsoft.subscription", "subscriptions"] and len(parts) >= 4:
        parts, lowered = parts[2:], lowered[2:]
    if lowered[:3] == ["providers", "microsoft.management", "managementgroups"] and len(parts) == 4:
        return Scope(
            f"/providers/Microsoft.Management/managementGroups/{parts[3]}", "managementgroup", management_group=parts[3]
        )
    if lowered[0] != "subscriptions" or len(parts) < 2:
        raise _invalid_scope(raw)
    sub = world.subscription_id if parts[1].lower() == world.subscription_id.lower() else parts[1]
    if len(parts) == 2:
        return Scope(f"/subscriptions/{sub}", "subscription", subscription=sub)
    if lowered[2] != "resourcegroups" or len(parts) < 4:
        raise _invalid_scope(raw)
    rg_path = f"/subscriptions/{sub}/resourceGroups/{parts[3]}"
    existing = world.resource(rg_path)
    rg = existing.name if existing else parts[3]
    if len(parts) == 4:
        return Scope(f"/subscriptions/{sub}/resourceGroups/{rg}", "resourcegroup", subscription=sub, resource_group=rg)
    # /providers/{namespace}/{type}/{name}[/{type}/{name}...]
    if lowered[4] != "providers" or len(parts) < 8 or (len(parts) - 6) % 2 != 0:
        raise _invalid_scope(raw)
    full = f"/subscriptions/{sub}/resourceGroups/{rg}/" + "/".join(parts[4:])
    resource = world.resource(full)
    path = resource.id if resource else full
    canonical = [p for p in path.split("/") if p]
    namespace = canonical[5]
    types = canonical[6::2]
    names = canonical[7::2]
    return Scope(
        path,
        "resource",
        subscription=sub,
        resource_group=rg,
        resource_type=namespace + "/" + "/".join(types),
        resource_name=names[-1],
    )


def require_scope(world: World, scope: Scope) -> None:
    """404 in ARM's words when the scope does not exist in the emulated tenant."""
    if scope.kind == "tenant":
        return
    if scope.kind == "managementgroup":
        raise ArmError(
            404,
            "ManagementGroupNotFound",
            f"The management group '{scope.management_group}' could not be found. The emulated tenant "
            "has no management groups; use the subscription or '/' instead.",
        )
    if (scope.subscription or "").lower() != world.subscription_id.lower():
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{scope.subscription}' could not be found.")
    if scope.kind == "subscription":
        return
    if world.resource(f"/subscriptions/{scope.subscription}/resourceGroups/{scope.resource_group}") is None:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{scope.resource_group}' could not be found.")
    if scope.kind == "resource" and world.resource(scope.path) is None:
        raise ArmError(
            404,
            "ResourceNotFound",
            f"The Resource '{scope.resource_type}/{scope.resource_name}' under resource group "
            f"'{scope.resource_group}' was not found. For more details please go to "
            "https://aka.ms/ARMResourceNotFoundFix",
        )


def require_subscription(world: World, scope: Scope) -> None:
    """ARM answers SubscriptionNotFound before it authorizes anything below a subscription."""
    if scope.subscription is not None and scope.subscription.lower() != world.subscription_id.lower():
        raise ArmError(404, "SubscriptionNotFound", f"The subscription '{scope.subscription}' could not be found.")


def role_definition_id(scope: Scope | str, guid: str) -> str:
    """A role definition id as ARM returns it for objects at `scope`: subscription-prefixed below a
    subscription, tenant-level (`/providers/...`) otherwise."""
    path = scope.path if isinstance(scope, Scope) else scope
    parts = [p for p in path.split("/") if p]
    prefix = f"/subscriptions/{parts[1]}" if len(parts) >= 2 and parts[0].lower() == "subscriptions" else ""
    return f"{prefix}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def scope_display_name(world: World, scope: Scope) -> str:
    if scope.kind == "tenant":
        return "Tenant Root Group"
    resource = world.resource(scope.path)
    if resource is None:
        return scope.path.rsplit("/", 1)[-1]
    return str(resource.properties.get("displayName") or resource.name)


def principal_display(world: World, principal_id: str) -> dict[str, Any]:
    directory = world.directory
    kind = directory.principal_kind(principal_id) or "User"
    email = None
    if kind == "User":
        user = directory.users.get(principal_id)
        email = (user.mail or user.user_principal_name) if user else None
    return {"id": principal_id, "displayName": directory.display_name(principal_id), "email": email, "type": kind}


def expanded_properties(world: World, scope: Scope, role_guid: str, principal_id: str) -> dict[str, Any]:
    definition = world.rbac.definitions.get(role_guid)
    return {
        "scope": {"id": scope.path, "displayName": scope_display_name(world, scope), "type": scope.display_type()},
        "roleDefinition": {
            "id": role_definition_id(scope, role_guid),
            "displayName": definition.role_name if definition else None,
            "type": definition.role_type if definition else None,
        },
        "principal": principal_display(world, principal_id),
    }


@dataclass
class Ctx:
    """Everything a handler needs, resolved before the world lock is taken."""

    world: World
    caller: Caller
    method: str
    scope: Scope
    names: list[str]  # path segments after the resource type
    query: dict[str, str]
    body: dict[str, Any]
    api_version: str
    url: str = ""  # the request's absolute URL, for list pages' `nextLink`
    now: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.now = self.world.clock.now()

    @property
    def filter(self) -> str | None:
        value = self.query.get("$filter")
        return value if value and value.strip() else None
