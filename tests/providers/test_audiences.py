"""Which audiences a lease's child may get tokens for, from the role's real definition in the emulator."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from jitpim.emulator.core.rbac import RoleAssignment
from jitpim.errors import UsageError
from jitpim.model import Target
from jitpim.providers import get_provider
from jitpim.providers.audiences import ARM_LEGACY_RESOURCE, audience_by_name, lease_audiences
from jitpim.testing import ProviderContexts


def _resources(contexts: ProviderContexts, **flags: Any) -> set[str]:
    ctx = contexts("ci-app")
    target = Target.from_flags(duration="10m", justification="audiences", **flags)
    resolved = get_provider(target.kind).resolve(target, ctx)
    return {a.resource for a in lease_audiences(resolved, ctx)}


def test_a_key_vault_data_role_gets_key_vault_only(contexts: ProviderContexts, info: dict[str, Any]) -> None:
    vault = info["vaults"]["kv-payments"]["resource_id"]
    # Key Vault Secrets Officer also lists management reads; its purpose is the data plane.
    assert _resources(contexts, kind="rbac", role="Key Vault Secrets Officer", scope=vault) == {
        "https://vault.azure.net"
    }


def test_a_management_role_gets_arm_only(contexts: ProviderContexts, info: dict[str, Any]) -> None:
    group = info["vaults"]["kv-payments"]["resource_id"].split("/providers/")[0]
    assert _resources(contexts, kind="rbac", role="Reader", scope=group) == {
        "https://management.azure.com",
        ARM_LEGACY_RESOURCE,
    }


def test_an_entra_role_gets_graph_only(contexts: ProviderContexts) -> None:
    assert _resources(contexts, kind="entra-role", role="Application Administrator", scope="/") == {
        "https://graph.microsoft.com"
    }


def test_named_audiences(contexts: ProviderContexts) -> None:
    cloud = contexts("ci-app").cloud
    assert {a.resource for a in audience_by_name(cloud, "ARM")} == {"https://management.azure.com", ARM_LEGACY_RESOURCE}
    assert [a.resource for a in audience_by_name(cloud, "graph")] == ["https://graph.microsoft.com"]
    assert [a.resource for a in audience_by_name(cloud, "https://servicebus.azure.net/")] == [
        "https://servicebus.azure.net/"
    ]
    for bad in ("", "everything", "http://insecure.example"):
        with pytest.raises(UsageError):
            audience_by_name(cloud, bad)


def test_a_group_gives_data_planes_when_its_azure_roles_cannot_be_read(contexts: ProviderContexts) -> None:
    # Key Vault Operators holds Key Vault Secrets Officer on kv-payments and no directory role; ci-app may not
    # read role assignments at the subscription, so the child gets the data planes, never ARM or Graph.
    assert _resources(contexts, kind="pim-group", role="member", scope="Key Vault Operators") == {
        "https://vault.azure.net",
        "https://storage.azure.com",
    }


def test_a_group_gives_what_it_holds(contexts: ProviderContexts, fresh_emu: Any, info: dict[str, Any]) -> None:
    # With the right to read role assignments at the subscription, the group's roles decide.
    world = fresh_emu.runtime.world
    ci = info["principals"]["ci-app"]["object_id"]
    name = str(uuid.uuid4())
    with world.lock:  # Reader at the subscription (a standing read right an admin could give the pipeline)
        world.rbac.assignments[name] = RoleAssignment(
            name=name,
            scope=f"/subscriptions/{info['subscription_id']}",
            role_definition_id="acdd72a7-3385-48ef-bd42-f606fba81ae7",
            principal_id=ci,
            principal_type="ServicePrincipal",
            created_on=world.clock.now() - timedelta(hours=1),  # long since propagated
        )
    assert _resources(contexts, kind="pim-group", role="member", scope="Key Vault Operators") == {
        "https://vault.azure.net"
    }
