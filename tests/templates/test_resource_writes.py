"""The plain resource writes the templates rely on, called directly over ARM's REST API: a vault PUT makes a
vault the Key Vault data plane serves under RBAC; names are global; a caller without the write action gets 403
and nothing changes. And the rest of the deployment API: placement refused at preflight, `Ignore` in what-if,
DELETE of a finished deployment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from jitpim.emulator import Emulator
from jitpim.emulator.services.keyvault.state import KeyVaultState
from jitpim.testing import ARM_SCOPE, app_credential

KV = "api-version=2023-07-01"
DEPLOY = "api-version=2022-09-01"


@pytest.fixture(name="info")
def _info(emu: Emulator) -> dict[str, Any]:
    emu.reset()
    return emu.info


def _session(info: dict[str, Any], who: str) -> Iterator[requests.Session]:
    session = requests.Session()
    session.trust_env = False
    session.verify = info["ca_cert"]
    session.headers["Authorization"] = "Bearer " + app_credential(info, who).get_token(ARM_SCOPE).token
    yield session
    session.close()


@pytest.fixture(name="arm")
def _arm(info: dict[str, Any]) -> Iterator[requests.Session]:
    yield from _session(info, "deployer")


def _rg(info: dict[str, Any], group: str = "rg-payments") -> str:
    return f"{info['authority']}/subscriptions/{info['subscription_id']}/resourceGroups/{group}"


def _vault_body(info: dict[str, Any], rbac: bool = True) -> dict[str, Any]:
    return {
        "location": "westeurope",
        "properties": {
            "tenantId": info["tenant_id"],
            "sku": {"family": "A", "name": "standard"},
            "enableRbacAuthorization": rbac,
        },
    }


def test_a_vault_put_through_arm_is_served_by_key_vault(
    info: dict[str, Any], arm: requests.Session, emu: Emulator
) -> None:
    url = f"{_rg(info)}/providers/Microsoft.KeyVault/vaults/kv-rest-one?{KV}"
    created = arm.put(url, json=_vault_body(info), timeout=30)
    assert created.status_code == 201, created.text
    uri = created.json()["properties"]["vaultUri"]
    assert arm.put(url, json=_vault_body(info), timeout=30).status_code == 200
    secret = arm.put(
        f"{_rg(info)}/providers/Microsoft.KeyVault/vaults/kv-rest-one/secrets/api-key?{KV}",
        json={"properties": {"value": "v1"}},
        timeout=30,
    )
    assert secret.status_code == 201 and "value" not in secret.json()["properties"]
    # The deployer is Owner (no data actions): the data plane refuses it, under RBAC, at the new vault's URL.
    token = app_credential(info, "deployer").get_token("https://vault.azure.net/.default").token
    read = requests.get(f"{uri}secrets/api-key?api-version=7.5", headers={"Authorization": f"Bearer {token}"},
                        verify=info["ca_cert"], timeout=30)  # fmt: skip
    assert read.status_code == 403 and read.json()["error"]["innererror"]["code"] == "ForbiddenByRbac"
    with emu.runtime.world.lock:
        vault = emu.runtime.world.service("keyvault", KeyVaultState).vault("kv-rest-one")
        assert vault is not None and vault.secret("api-key").latest.value == "v1"  # type: ignore[union-attr]


def test_vault_refusals(info: dict[str, Any], arm: requests.Session, emu: Emulator) -> None:
    taken = arm.put(f"{_rg(info)}/providers/Microsoft.KeyVault/vaults/kv-payments?{KV}".replace(
        "rg-payments", "rg-payments"), json=_vault_body(info), timeout=30)  # fmt: skip
    assert taken.status_code == 200  # the same vault: an update
    group = arm.put(f"{_rg(info, 'rg-two')}?{DEPLOY}", json={"location": "westeurope"}, timeout=30)
    assert group.status_code == 201
    clash = arm.put(f"{_rg(info, 'rg-two')}/providers/Microsoft.KeyVault/vaults/kv-payments?{KV}",
                    json=_vault_body(info), timeout=30)  # fmt: skip
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "VaultAlreadyExists"
    policies = arm.put(f"{_rg(info)}/providers/Microsoft.KeyVault/vaults/kv-policies?{KV}",
                       json=_vault_body(info, rbac=False), timeout=30)  # fmt: skip
    assert policies.status_code == 400 and "enableRbacAuthorization" in policies.json()["error"]["message"]
    bad = arm.put(f"{_rg(info)}/providers/Microsoft.KeyVault/vaults/1bad--name?{KV}", json=_vault_body(info),
                  timeout=30)  # fmt: skip
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "VaultNameNotValid"
    moved = arm.put(f"{_rg(info)}?{DEPLOY}", json={"location": "eastus"}, timeout=30)
    assert moved.status_code == 409 and moved.json()["error"]["code"] == "InvalidResourceGroupLocation"
    with emu.runtime.world.lock:
        assert emu.runtime.world.service("keyvault", KeyVaultState).vault("kv-policies") is None


def test_writes_without_the_action_are_403(info: dict[str, Any]) -> None:
    for session in _session(info, "intruder"):
        for url, body in (
            (f"{_rg(info, 'rg-x')}?{DEPLOY}", {"location": "westeurope"}),
            (f"{_rg(info)}/providers/Microsoft.KeyVault/vaults/kv-intruder?{KV}", _vault_body(info)),
            (
                f"{_rg(info)}/providers/Microsoft.Storage/storageAccounts/stintruder?api-version=2023-05-01",
                {"location": "westeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"},
            ),
        ):
            answer = session.put(url, json=body, timeout=30)
            assert answer.status_code == 403 and answer.json()["error"]["code"] == "AuthorizationFailed"
            assert session.get(url, timeout=30).status_code in (403, 404)


def test_storage_account_put_and_get(info: dict[str, Any], arm: requests.Session) -> None:
    url = f"{_rg(info)}/providers/Microsoft.Storage/storageAccounts/stpayments?api-version=2023-05-01"
    body = {"location": "westeurope", "sku": {"name": "Standard_ZRS"}, "kind": "StorageV2",
            "properties": {"minimumTlsVersion": "TLS1_2"}}  # fmt: skip
    assert arm.put(url, json=body, timeout=30).status_code == 201
    read = arm.get(url, timeout=30).json()
    assert read["sku"]["name"] == "Standard_ZRS" and read["properties"]["minimumTlsVersion"] == "TLS1_2"
    bad = arm.put(url.replace("stpayments", "St-Payments"), json=body, timeout=30)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "AccountNameInvalid"


def _deployment(template_resources: list[dict[str, Any]], location: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "properties": {
            "mode": "Incremental",
            "template": {
                "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0",
                "resources": template_resources,
            },
        }
    }
    if location:
        body["location"] = location
    return body


def test_a_vault_at_subscription_scope_is_refused_before_anything_runs(
    info: dict[str, Any], arm: requests.Session
) -> None:
    vault = {"type": "Microsoft.KeyVault/vaults", "apiVersion": "2023-07-01", "name": "kv-nowhere",
             "location": "westeurope", "properties": _vault_body(info)["properties"]}  # fmt: skip
    url = f"{info['authority']}/subscriptions/{info['subscription_id']}/providers/Microsoft.Resources/deployments/x"
    answer = arm.put(f"{url}?{DEPLOY}", json=_deployment([vault], "westeurope"), timeout=30)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "InvalidTemplate"
    assert "resource group" in answer.json()["error"]["message"]


def test_what_if_ignores_what_the_template_does_not_name_and_delete_forgets(
    info: dict[str, Any], arm: requests.Session
) -> None:
    url = f"{_rg(info)}/providers/Microsoft.Resources/deployments/store"
    storage = {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-05-01", "name": "stwhatif",
               "location": "westeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}  # fmt: skip
    started = arm.post(f"{url}/whatIf?{DEPLOY}", json=_deployment([storage]), timeout=30)
    assert started.status_code == 202
    changes = {c["resourceId"].rsplit("/", 1)[-1]: c["changeType"]
               for c in arm.get(started.headers["Location"], timeout=30).json()["properties"]["changes"]}  # fmt: skip
    assert changes.pop("stwhatif") == "Create" and changes["kv-payments"] == "Ignore"
    assert set(changes.values()) == {"Ignore"}  # every other resource of the group
    assert arm.put(f"{url}?{DEPLOY}", json=_deployment([storage]), timeout=30).status_code == 201
    assert arm.delete(f"{url}?{DEPLOY}", timeout=30).status_code == 409  # still Running: not deletable
    assert arm.get(f"{url}?{DEPLOY}", timeout=30).json()["properties"]["provisioningState"] == "Succeeded"
    assert arm.delete(f"{url}?{DEPLOY}", timeout=30).status_code == 204
    assert arm.get(f"{url}?{DEPLOY}", timeout=30).status_code == 404
    account = f"{_rg(info)}/providers/Microsoft.Storage/storageAccounts/stwhatif?api-version=2023-05-01"
    assert arm.get(account, timeout=30).status_code == 200  # the deployment's resources stay
