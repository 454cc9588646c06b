"""The resource types a deployment can write, each through the backend its REST API uses:

    Microsoft.Resources/resourceGroups          provider_resources.put_resource_group (subscription scope)
    Microsoft.Resources/deployments             a nested deployment (the engine runs it)
    Microsoft.KeyVault/vaults                   provider_resources.put_vault
    Microsoft.KeyVault/vaults/secrets           provider_resources.put_secret
    Microsoft.Storage/storageAccounts           provider_resources.put_storage_account
    Microsoft.Authorization/roleAssignments     role_assignments.put (the ABAC conditions of the deployer apply)
    Microsoft.Authorization/roleDefinitions     role_definitions.put

For each: its API versions, its write action (checked before anything is written), the write itself, and its
current state in the template's shape (what-if compares the template's properties with it; `reference()` reads
it). Anything else is `InvalidResourceType`; an API version outside the list is `NoRegisteredProviderFound`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ....core.errors import ArmError
from ....core.world import World
from ...keyvault.state import KeyVaultState
from ..common.context import (
    API_VERSIONS,
    DEPLOYMENT_VERSIONS,
    KEYVAULT_VERSIONS,
    RESOURCE_MANAGER_VERSIONS,
    STORAGE_VERSIONS,
    Ctx,
    guid_of,
    role_definition_id,
)
from ..common.context import role_guid_from_id as role_guid
from ..provider_resources import backend as resources
from ..provider_resources.shapes import storage_account_json
from ..resources.shapes import resource_group_json, vault_json
from ..role_assignments import backend as role_assignments
from ..role_assignments.shapes import role_assignment_to_arm
from ..role_definitions import backend as role_definitions
from ..template_language.template import PlannedResource

__all__ = ["TYPES", "ResourceType", "resource_type", "write_attributes"]


@dataclass(frozen=True)
class ResourceType:
    name: str
    api_versions: tuple[str, ...]
    write_action: str
    write: Callable[[Ctx], Any] | None  # None: the engine handles it (nested deployments)
    current: Callable[[World, PlannedResource], dict[str, Any] | None]
    # Where the resource may sit: "subscription", "resourcegroup", or "any" (extension resources).
    placement: str = "any"


def _resource_group(world: World, planned: PlannedResource) -> dict[str, Any] | None:
    found = world.resource(planned.id)
    return resource_group_json(found) if found is not None else None


def _vault(world: World, planned: PlannedResource) -> dict[str, Any] | None:
    found = world.resource(planned.id)
    return vault_json(world, found) if found is not None and found.type == "Microsoft.KeyVault/vaults" else None


def _secret(world: World, planned: PlannedResource) -> dict[str, Any] | None:
    vault_id = planned.id.rsplit("/secrets/", 1)[0]
    vault = world.resource(vault_id)
    if vault is None:
        return None
    secret = world.service("keyvault", KeyVaultState).vaults[vault.name].secret(planned.short_name)
    if secret is None:
        return None
    latest = secret.latest
    return {
        "id": f"{vault.id}/secrets/{secret.name}",
        "name": f"{vault.name}/{secret.name}",
        "type": "Microsoft.KeyVault/vaults/secrets",
        "tags": dict(latest.tags or {}),
        "properties": {"contentType": latest.content_type, "attributes": {"enabled": latest.enabled}},
    }


def _storage(world: World, planned: PlannedResource) -> dict[str, Any] | None:
    found = world.resource(planned.id)
    return storage_account_json(found) if found is not None and found.type == planned.type else None


def _assignment(world: World, planned: PlannedResource) -> dict[str, Any] | None:
    found = world.rbac.assignments.get(planned.short_name.lower())
    if found is None or found.scope.lower() != planned.scope.lower():
        return None
    return role_assignment_to_arm(world, found)


def _definition(world: World, planned: PlannedResource) -> dict[str, Any] | None:
    guid = guid_of(planned.short_name)
    found = world.rbac.definitions.get(guid) if guid else None
    return found.to_arm(planned.scope) if found is not None else None


def _nested(world: World, planned: PlannedResource) -> dict[str, Any] | None:
    return None


TYPES: dict[str, ResourceType] = {
    t.name.lower(): t
    for t in (
        ResourceType(
            "Microsoft.Resources/resourceGroups",
            RESOURCE_MANAGER_VERSIONS,
            resources.RG_WRITE,
            resources.put_resource_group,
            _resource_group,
            "subscription",
        ),
        ResourceType(
            "Microsoft.Resources/deployments",
            DEPLOYMENT_VERSIONS,
            "Microsoft.Resources/deployments/write",
            None,
            _nested,
        ),
        ResourceType(
            "Microsoft.KeyVault/vaults",
            KEYVAULT_VERSIONS,
            resources.VAULT_WRITE,
            resources.put_vault,
            _vault,
            "resourcegroup",
        ),
        ResourceType(
            "Microsoft.KeyVault/vaults/secrets",
            KEYVAULT_VERSIONS,
            resources.SECRET_WRITE,
            resources.put_secret,
            _secret,
            "resourcegroup",
        ),
        ResourceType(
            "Microsoft.Storage/storageAccounts",
            STORAGE_VERSIONS,
            resources.STORAGE_WRITE,
            resources.put_storage_account,
            _storage,
            "resourcegroup",
        ),
        ResourceType(
            "Microsoft.Authorization/roleAssignments",
            API_VERSIONS["roleassignments"],
            "Microsoft.Authorization/roleAssignments/write",
            role_assignments.put,
            _assignment,
        ),
        ResourceType(
            "Microsoft.Authorization/roleDefinitions",
            API_VERSIONS["roledefinitions"],
            "Microsoft.Authorization/roleDefinitions/write",
            role_definitions.put,
            _definition,
        ),
    )
}


def resource_type(planned: PlannedResource, location: str | None) -> ResourceType:
    """The served type of a planned resource; ARM's errors for an unknown type or API version."""
    found = TYPES.get(planned.type.lower())
    if found is None:
        namespace, _, rest = planned.type.partition("/")
        raise ArmError(
            400,
            "InvalidResourceType",
            f"The resource type '{rest}' could not be found in the namespace '{namespace}' for api version "
            f"'{planned.api_version}'.",
        )
    at = "subscription" if planned.scope.count("/") == 2 else "resourcegroup" if planned.scope.count("/") == 4 else ""
    if found.placement not in ("any", at):
        where = "a resource group" if found.placement == "resourcegroup" else "a subscription"
        raise ArmError(
            400,
            "InvalidTemplate",
            f"The template resource '{planned.name}' of type '{planned.type}' can only be deployed at {where}: "
            f"deploy it from a template at that scope (or a nested deployment into it).",
        )
    if planned.api_version not in found.api_versions:
        raise ArmError(
            400,
            "NoRegisteredProviderFound",
            f"No registered resource provider found for location '{location or 'global'}' and API version "
            f"'{planned.api_version}' for type '{planned.type.partition('/')[2]}'. The supported api-versions are "
            f"'{', '.join(found.api_versions)}'.",
        )
    return found


def write_attributes(planned: PlannedResource) -> dict[str, list[str]] | None:
    """The request attributes an ABAC condition tests for a role assignment write (None for other types)."""
    if planned.type.lower() != "microsoft.authorization/roleassignments":
        return None
    props = planned.body.get("properties") or {}
    role = role_guid(str(props.get("roleDefinitionId") or "")) or ""
    principal = guid_of(str(props.get("principalId") or "")) or ""
    attrs = {
        "microsoft.authorization/roleassignments:roledefinitionid": [role],
        "microsoft.authorization/roleassignments:principalid": [principal],
    }
    if props.get("principalType"):
        attrs["microsoft.authorization/roleassignments:principaltype"] = [str(props["principalType"])]
    return attrs


def canonical_role_definition_id(scope: str, value: str) -> str:
    guid = role_guid(value)
    return role_definition_id(scope, guid) if guid else value
