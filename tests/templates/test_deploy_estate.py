"""The shipped templates deployed end to end with Microsoft's own deployments client (azure-mgmt-resource-
deployments, unchanged) against the emulator: what-if first (every resource Create), the deployment polled to
Succeeded, the state it left, what-if again (NoChange), then the demo flow on the vault the deployment created:
`jitpim exec` grants Key Vault Secrets Officer through the deployed conditioned delegation, and the Key Vault
write works only inside the window."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from jitpim.emulator import Emulator
from jitpim.emulator.services.keyvault.state import KeyVaultState
from jitpim.testing import ARM_SCOPE, app_credential, github_job_environ

TEMPLATES = Path(__file__).resolve().parents[2] / "deploy" / "templates"
OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"


def template(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((TEMPLATES / name).read_text())
    return loaded


def client(info: dict[str, Any], who: str) -> Any:
    from azure.mgmt.resource.deployments import DeploymentsMgmtClient

    return DeploymentsMgmtClient(
        app_credential(info, who),
        info["subscription_id"],
        base_url=info["arm"],
        connection_verify=info["ca_cert"],
        credential_scopes=[ARM_SCOPE],
        polling_interval=0,
    )


def estate_parameters(info: dict[str, Any], **overrides: str) -> dict[str, Any]:
    values = {
        "vaultName": "kv-jitpim-demo",
        "dbPassword": "initial-db-password",
        "storageAccountName": "stjitpimdemo",
        "ciPrincipalId": info["principals"]["ci-app"]["object_id"],
        **overrides,
    }
    return {k: {"value": v} for k, v in values.items()}


def sub_deployment(info: dict[str, Any]) -> dict[str, Any]:
    return {
        "location": "westeurope",
        "properties": {
            "mode": "Incremental",
            "template": template("estate.subscription.json"),
            "parameters": estate_parameters(info),
        },
    }


def _changes(result: Any) -> dict[str, str]:
    return {c.resource_id.lower(): c.change_type for c in result.changes}


@pytest.fixture(name="info")
def _info(emu: Emulator) -> dict[str, Any]:
    emu.reset()
    return emu.info


def test_what_if_deploy_and_what_if_again(info: dict[str, Any], emu: Emulator) -> None:
    deployments = client(info, "deployer")
    body = sub_deployment(info)
    before = deployments.deployments.begin_what_if_at_subscription_scope("estate", body).result()
    assert before.status == "Succeeded"
    changes = _changes(before)
    assert len(changes) == 8 and set(changes.values()) == {"Create"}
    rg = f"/subscriptions/{info['subscription_id']}/resourcegroups/rg-jitpim-demo"
    assert changes[rg] == "Create"
    assert emu.runtime.world.resource(rg) is None  # what-if changes nothing

    done = deployments.deployments.begin_create_or_update_at_subscription_scope("estate", body).result()
    assert done.properties.provisioning_state == "Succeeded"
    outputs = {k: v["value"] for k, v in done.properties.outputs.items()}
    vault_id = outputs["vaultId"]
    assert vault_id.lower() == f"{rg}/providers/microsoft.keyvault/vaults/kv-jitpim-demo"
    assert "value" not in done.properties.parameters["dbPassword"]  # a secure parameter never comes back

    world = emu.runtime.world
    with world.lock:
        vault = world.service("keyvault", KeyVaultState).vault("kv-jitpim-demo")
        assert vault is not None and vault.secret("db-password").latest.value == "initial-db-password"  # type: ignore[union-attr]
        assert world.resource(vault_id).properties["enableRbacAuthorization"] is True  # type: ignore[union-attr]
        storage = world.resource(outputs["storageAccountId"])
        assert storage is not None and storage.properties["allowBlobPublicAccess"] is False
        delegation = [a for a in world.rbac.assignments.values() if a.scope.lower() == vault_id.lower()]
        assert len(delegation) == 1 and delegation[0].role_definition_id == RBAC_ADMIN
        assert OFFICER in (delegation[0].condition or "")
        assert info["principals"]["ci-app"]["object_id"] in (delegation[0].condition or "")
        rotator = world.rbac.definition("jitpim Demo Secret Rotator")
        assert rotator is not None and rotator.role_type == "CustomRole"
    nested = deployments.deployments.get("rg-jitpim-demo", "estate-resources")
    assert nested.properties.provisioning_state == "Succeeded"
    operations = list(deployments.deployment_operations.list_at_subscription_scope("estate"))
    assert {o.properties.target_resource.resource_type for o in operations} == {
        "Microsoft.Resources/resourceGroups",
        "Microsoft.Authorization/roleDefinitions",
        "Microsoft.Resources/deployments",
    }

    after = deployments.deployments.begin_what_if_at_subscription_scope("estate", body).result()
    assert set(_changes(after).values()) == {"NoChange"}
    assert len(_changes(after)) == 8


def test_the_polled_states_are_accepted_running_then_succeeded(info: dict[str, Any]) -> None:
    import requests

    session = requests.Session()
    session.trust_env = False
    session.verify = info["ca_cert"]
    session.headers["Authorization"] = "Bearer " + app_credential(info, "deployer").get_token(ARM_SCOPE).token
    url = f"{info['authority']}/subscriptions/{info['subscription_id']}/providers/Microsoft.Resources/deployments/e1"
    put = session.put(f"{url}?api-version=2021-04-01", json=sub_deployment(info), timeout=30)
    assert put.status_code == 201 and put.json()["properties"]["provisioningState"] == "Accepted"
    status_url = put.headers["Azure-AsyncOperation"]
    assert "/operationStatuses/" in status_url
    seen = [session.get(status_url, timeout=30).json()["status"] for _ in range(3)]
    assert seen == ["Running", "Succeeded", "Succeeded"]
    got = session.get(f"{url}?api-version=2021-04-01", timeout=30)
    assert got.json()["properties"]["provisioningState"] == "Succeeded"
    state = session.get(f"{info['control']}/state", timeout=30)
    assert [d["state"] for d in state.json()["arm.deployments"]["deployments"]] == ["Succeeded", "Succeeded"]
    for text in (put.text, got.text, state.text):  # the secure parameter never leaves
        assert "initial-db-password" not in text


WRITER = textwrap.dedent(
    """
    import os, sys, requests
    from azure.identity import ClientAssertionCredential
    from azure.keyvault.secrets import SecretClient
    ca = os.environ["JITPIM_CA_BUNDLE"]
    def assertion():
        r = requests.get(os.environ["ACTIONS_ID_TOKEN_REQUEST_URL"] + "&audience=api://AzureADTokenExchange",
                         headers={"Authorization": "Bearer " + os.environ["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]},
                         verify=ca, timeout=10)
        return r.json()["value"]
    cred = ClientAssertionCredential(os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], assertion,
                                     authority=os.environ["AZURE_AUTHORITY_HOST"], connection_verify=ca)
    client = SecretClient(os.environ["VAULT_URL"], cred, verify_challenge_resource=False, connection_verify=ca)
    client.set_secret("db-password", sys.argv[1])
    """
)


# Inside `jitpim exec` the child has no CI credential: unmodified DefaultAzureCredential is served the lease's
# Key Vault tokens by jitpim's managed-identity endpoint.
CHILD_WRITER = textwrap.dedent(
    """
    import os, sys
    from azure.identity import DefaultAzureCredential
    from azure.keyvault.secrets import SecretClient
    client = SecretClient(os.environ["VAULT_URL"], DefaultAzureCredential(), verify_challenge_resource=False,
                          connection_verify=os.environ["JITPIM_CA_BUNDLE"])
    client.set_secret("db-password", sys.argv[1])
    """
)


def test_jitpim_exec_on_the_deployed_vault(info: dict[str, Any], emu: Emulator, tmp_path: Path) -> None:
    done = (
        client(info, "deployer")
        .deployments.begin_create_or_update_at_subscription_scope("estate", sub_deployment(info))
        .result()
    )
    vault_id = done.properties.outputs["vaultId"]["value"]
    vault_url = done.properties.outputs["vaultUri"]["value"].rstrip("/")
    env = github_job_environ(info, workdir=tmp_path)
    env |= {"PYTHONPATH": os.pathsep.join(sys.path), "AZURE_AUTHORITY_HOST": info["authority"], "VAULT_URL": vault_url}

    def write(value: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", WRITER, value], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    before = write("v-before")
    assert before.returncode != 0 and "ForbiddenByRbac" in before.stderr
    elevated = subprocess.run(
        [sys.executable, "-m", "jitpim", "exec", "--kind", "rbac", "--role", "Key Vault Secrets Officer",
         "--scope", vault_id, "--duration", "10m", "--justification", "rotate the deployed db password",
         "--", sys.executable, "-c", CHILD_WRITER, "v-inside"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert elevated.returncode == 0, elevated.stderr
    after = write("v-after")
    assert after.returncode != 0 and "ForbiddenByRbac" in after.stderr
    world = emu.runtime.world
    with world.lock:
        vault = world.service("keyvault", KeyVaultState).vault("kv-jitpim-demo")
        assert vault is not None and vault.secret("db-password").latest.value == "v-inside"  # type: ignore[union-attr]
        left = [a for a in world.rbac.assignments.values() if a.role_definition_id == OFFICER
                and a.scope.lower() == vault_id.lower()]  # fmt: skip
    assert left == []
