"""What ARM refuses, refused the same way and with nothing created: a bad template (an unknown function, an
unknown resource type, a missing or disallowed parameter, an unsupported API version) is 400 with ARM's code
from PUT and from validate; a deployer without the rights is 403 `AuthorizationFailed`; a resource that fails
while the deployment runs fails the deployment with `DeploymentFailed` and its operation names the cause. The
permissions template grants jitpim's identity exactly the conditioned delegation, which ARM then enforces."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from jitpim.emulator import Emulator
from jitpim.testing import arm_authorization_client_as, role_definition_id

TEMPLATES = Path(__file__).resolve().parents[2] / "deploy" / "templates"
OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


def _template(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((TEMPLATES / name).read_text())
    return loaded


def _client(info: dict[str, Any], who: str) -> Any:
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    from jitpim.testing import ARM_SCOPE, app_credential

    return DeploymentsMgmtClient(
        app_credential(info, who),
        info["subscription_id"],
        base_url=info["arm"],
        connection_verify=info["ca_cert"],
        credential_scopes=[ARM_SCOPE],
        polling_interval=0,
    )


def _group_body(info: dict[str, Any], template: dict[str, Any] | None = None, **values: str) -> dict[str, Any]:
    params = {
        "vaultName": "kv-estate-two",
        "dbPassword": "pw",
        "storageAccountName": "stestatetwo",
        "ciPrincipalId": info["principals"]["ci-app"]["object_id"],
        **values,
    }
    return {
        "properties": {
            "mode": "Incremental",
            "template": template or _template("estate.group.json"),
            "parameters": {k: {"value": v} for k, v in params.items() if v != "<omit>"},
        }
    }


@pytest.fixture(name="info")
def _info(emu: Emulator) -> dict[str, Any]:
    emu.reset()
    return emu.info


def _resource_count(emu: Emulator) -> tuple[int, int, int]:
    world = emu.runtime.world
    with world.lock:
        return len(world.resources), len(world.rbac.assignments), len(world.rbac.definitions)


def _refused(info: dict[str, Any], body: dict[str, Any]) -> HttpResponseError:
    deployments = _client(info, "deployer").deployments
    with pytest.raises(HttpResponseError) as invalid:  # validate answers 400 with the error, as ARM does
        deployments.begin_validate("rg-payments", "bad", body).result()
    with pytest.raises(HttpResponseError) as caught:
        deployments.begin_create_or_update("rg-payments", "bad", body).result()
    assert caught.value.error is not None and invalid.value.error is not None
    assert caught.value.error.code == invalid.value.error.code
    with pytest.raises(HttpResponseError) as missing:
        deployments.get("rg-payments", "bad")
    assert missing.value.status_code == 404  # the refused deployment was never stored
    return caught.value


def test_unknown_function(info: dict[str, Any], emu: Emulator) -> None:
    template = _template("estate.group.json")
    template["resources"][0]["name"] = "[uniqueString(resourceGroup().id)]"
    before = _resource_count(emu)
    error = _refused(info, _group_body(info, template))
    assert error.status_code == 400 and error.error.code == "InvalidTemplate"
    assert "uniqueString" in error.error.message
    assert _resource_count(emu) == before


def test_unknown_resource_type(info: dict[str, Any], emu: Emulator) -> None:
    template = _template("estate.group.json")
    template["resources"].append({"type": "Microsoft.Web/sites", "apiVersion": "2023-01-01", "name": "app"})
    before = _resource_count(emu)
    error = _refused(info, _group_body(info, template))
    assert error.status_code == 400 and error.error.code == "InvalidResourceType"
    assert _resource_count(emu) == before


def test_unsupported_api_version(info: dict[str, Any]) -> None:
    template = _template("estate.group.json")
    template["resources"][0]["apiVersion"] = "1999-01-01"
    error = _refused(info, _group_body(info, template))
    assert error.error.code == "NoRegisteredProviderFound"


def test_missing_and_disallowed_parameters(info: dict[str, Any]) -> None:
    error = _refused(info, _group_body(info, dbPassword="<omit>"))
    assert error.error.code == "InvalidTemplate" and "'dbPassword'" in error.error.message
    error = _refused(info, _group_body(info, vaultSku="gold"))
    assert error.error.code == "InvalidTemplate" and "allowed value" in error.error.message
    error = _refused(info, _group_body(info, nonsense="x"))
    assert error.error.code == "InvalidTemplate" and "nonsense" in error.error.message


def test_circular_dependency(info: dict[str, Any]) -> None:
    template = _template("estate.group.json")
    template["resources"][0]["dependsOn"] = ["[variables('storageId')]"]
    template["resources"][3]["dependsOn"] = ["[variables('vaultId')]"]
    error = _refused(info, _group_body(info, template))
    assert error.error.code == "InvalidTemplate" and "Circular dependency" in error.error.message


def test_a_deployer_without_rights_gets_403_and_nothing_is_created(info: dict[str, Any], emu: Emulator) -> None:
    before = _resource_count(emu)
    for who in ("intruder", "builder"):  # Reader; Contributor (no roleAssignments/write)
        with pytest.raises(HttpResponseError) as caught:
            _client(info, who).deployments.begin_create_or_update("rg-payments", "estate", _group_body(info)).result()
        assert caught.value.status_code == 403 and caught.value.error.code == "AuthorizationFailed"
        assert _resource_count(emu) == before
    assert "roleAssignments/write" in caught.value.error.message
    # Contributor may deploy what it may write: the template without its role assignments.
    template = _template("estate.group.json")
    template["resources"] = [r for r in template["resources"] if "roleAssignments" not in r["type"]]
    template["outputs"].pop("delegationId")
    done = (
        _client(info, "builder")
        .deployments.begin_create_or_update("rg-payments", "estate", _group_body(info, template))
        .result()
    )
    assert done.properties.provisioning_state == "Succeeded"


def test_a_failing_resource_fails_the_deployment(info: dict[str, Any], emu: Emulator) -> None:
    deployments = _client(info, "deployer").deployments
    body = _group_body(info, vaultName="kv-payments")  # the scenario's vault: vault names are global
    body["properties"]["template"] = copy.deepcopy(body["properties"]["template"])
    # Deploy into another resource group, made first by a subscription-level deployment.
    deployer = _client(info, "deployer")
    deployer.deployments.begin_create_or_update_at_subscription_scope(
        "rg",
        {
            "location": "westeurope",
            "properties": {
                "mode": "Incremental",
                "template": {
                    "$schema": "https://schema.management.azure.com/schemas/2018-05-01/"
                    "subscriptionDeploymentTemplate.json#",
                    "contentVersion": "1.0.0.0",
                    "resources": [
                        {
                            "type": "Microsoft.Resources/resourceGroups",
                            "apiVersion": "2022-09-01",
                            "name": "rg-other",
                            "location": "westeurope",
                        }
                    ],
                },
            },
        },
    ).result()
    with pytest.raises(HttpResponseError) as caught:
        deployments.begin_create_or_update("rg-other", "clash", body).result()
    assert caught.value.error.code == "DeploymentFailed"
    failed = [o for o in _client(info, "deployer").deployment_operations.list("rg-other", "clash")
              if o.properties.provisioning_state == "Failed"]  # fmt: skip
    assert len(failed) == 1 and failed[0].properties.status_code == "Conflict"
    assert failed[0].properties.status_message.error.code == "VaultAlreadyExists"


def test_the_permissions_template_delegation_is_enforced(info: dict[str, Any], emu: Emulator) -> None:
    ci = info["principals"]["ci-app"]["object_id"]
    deployments = _client(info, "deployer").deployments
    estate = deployments.begin_create_or_update("rg-payments", "estate", _group_body(info)).result()
    assert estate.properties.provisioning_state == "Succeeded"
    body = {
        "properties": {
            "mode": "Incremental",
            "template": _template("jitpim-permissions.group.json"),
            "parameters": {"principalId": {"value": ci}, "vaultName": {"value": "kv-estate-two"}},
        }
    }
    done = deployments.begin_create_or_update("rg-payments", "permissions", body).result()
    assert done.properties.provisioning_state == "Succeeded"
    vault_id = estate.properties.outputs["vaultId"]["value"]
    # The same delegation the estate template made (same deterministic name): updated, not duplicated.
    assert done.properties.outputs["delegationId"]["value"] == estate.properties.outputs["delegationId"]["value"]
    world = emu.runtime.world
    with world.lock:
        requester = world.rbac.definition("jitpim PIM Requester")
        assert requester is not None
        assert any(
            a.principal_id == ci and a.role_definition_id == requester.id for a in world.rbac.assignments.values()
        )
    auth = arm_authorization_client_as(info, "ci-app")
    officer = {"role_definition_id": role_definition_id(info, OFFICER), "principal_id": ci,
               "principal_type": "ServicePrincipal"}  # fmt: skip
    granted = auth.role_assignments.create(vault_id, "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", officer)
    auth.role_assignments.delete_by_id(granted.id)
    with pytest.raises(HttpResponseError) as caught:  # the condition: only Key Vault Secrets Officer
        auth.role_assignments.create(vault_id, "1f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
                                     {**officer, "role_definition_id": role_definition_id(info, OWNER)})  # fmt: skip
    assert caught.value.status_code == 403
