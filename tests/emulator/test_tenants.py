"""Several tenants in one emulator: a partner tenant (the scenario's own) and customer tenants (`tenants:`), each
with its own principals, credentials, subscription and vaults. A credential works only in its own tenant, a
token only on its own tenant's APIs, and each tenant's state is its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests

from jitpim.emulator import Emulator
from jitpim.emulator.core.scenario import ScenarioError, default_scenario, parse_scenario

CUSTOMER = "7c1f0b2e-0d3a-4c5b-9e6f-1a2b3c4d5e60"
CUSTOMER_SUB = "8d2e1c3f-1e4b-4d6c-8f70-2b3c4d5e6f71"
OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"


def _scenario() -> dict[str, Any]:
    partner = default_scenario()
    partner["tenants"] = [
        {
            "tenant": {"id": CUSTOMER, "domain": "fabrikam.onmicrosoft.com", "display_name": "Fabrikam (customer)"},
            "subscription": {"id": CUSTOMER_SUB, "display_name": "Fabrikam Production"},
            "resource_groups": [{"name": "rg-app"}],
            "vaults": [{"name": "kv-fabrikam", "resource_group": "rg-app", "secrets": [{"name": "s", "value": "v1"}]}],
            "settings": {"rbac_propagation_seconds": 0},
            "principals": {
                "ops-app": {"type": "application", "graph_app_roles": ["Organization.Read.All"]},
                "carol": {"type": "user", "password": "carol-pw", "scopes": ["User.Read"]},
            },
            "rbac": [
                {"principal": "ops-app", "role": "User Access Administrator", "scope": f"/subscriptions/{CUSTOMER_SUB}"}
            ],
        }
    ]
    return partner


@pytest.fixture(name="mt")
def _mt() -> Iterator[Emulator]:
    emulator = Emulator.start(scenario=_scenario())
    try:
        yield emulator
    finally:
        emulator.stop()


def _token(info: dict[str, Any], tenant: str, app: dict[str, Any], scope: str) -> requests.Response:
    return requests.post(
        f"{info['authority']}/{tenant}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": scope,
        },
        verify=info["ca_cert"],
        timeout=10,
    )


def test_each_tenant_has_its_own_principals_and_credentials(mt: Emulator) -> None:
    info = mt.info
    customer = info["tenants"][CUSTOMER]
    ops = customer["principals"]["ops-app"]
    assert customer["subscription_id"] == CUSTOMER_SUB and "kv-fabrikam" in customer["vaults"]
    assert "ops-app" not in info["principals"] and "ci-app" not in customer["principals"]
    token = _token(info, CUSTOMER, ops, "https://management.azure.com/.default")
    assert token.status_code == 200, token.text
    claims = jwt.decode(token.json()["access_token"], options={"verify_signature": False})
    assert claims["tid"] == CUSTOMER and claims["iss"] == f"https://sts.windows.net/{CUSTOMER}/"
    # The same tenant by its domain; the customer's app is unknown in the partner tenant and vice versa.
    assert _token(info, "fabrikam.onmicrosoft.com", ops, "https://graph.microsoft.com/.default").status_code == 200
    wrong = _token(info, info["tenant_id"], ops, "https://management.azure.com/.default")
    assert wrong.status_code == 400 and wrong.json()["error_codes"] == [700016]
    partner_app = info["principals"]["admin-app"]
    assert _token(info, CUSTOMER, partner_app, "https://graph.microsoft.com/.default").json()["error_codes"] == [700016]


def test_a_token_works_only_on_its_own_tenants_apis(mt: Emulator) -> None:
    info = mt.info
    ops = info["tenants"][CUSTOMER]["principals"]["ops-app"]
    arm = _token(info, CUSTOMER, ops, "https://management.azure.com/.default").json()["access_token"]
    own = requests.get(
        f"{info['arm']}/subscriptions/{CUSTOMER_SUB}/providers/Microsoft.Authorization/roleAssignments"
        "?api-version=2022-04-01",
        headers={"Authorization": f"Bearer {arm}"},
        verify=info["ca_cert"],
        timeout=10,
    )
    assert own.status_code == 200, own.text
    assert {a["properties"]["principalId"] for a in own.json()["value"]} == {ops["object_id"]}
    other = requests.get(
        f"{info['arm']}/subscriptions/{info['subscription_id']}/providers/Microsoft.Authorization/roleAssignments"
        "?api-version=2022-04-01",
        headers={"Authorization": f"Bearer {arm}"},
        verify=info["ca_cert"],
        timeout=10,
    )
    assert other.status_code == 401
    assert other.json()["error"]["code"] == "InvalidAuthenticationTokenTenant"
    graph = _token(info, CUSTOMER, ops, "https://graph.microsoft.com/.default").json()["access_token"]
    org = requests.get(
        f"{info['graph']}/v1.0/organization",
        headers={"Authorization": f"Bearer {graph}"},
        verify=info["ca_cert"],
        timeout=10,
    )
    assert org.status_code == 200, org.text
    assert [o["id"] for o in org.json()["value"]] == [CUSTOMER]


def test_changes_land_in_their_own_tenant_only(mt: Emulator) -> None:
    info = mt.info
    ops = info["tenants"][CUSTOMER]["principals"]["ops-app"]
    arm = _token(info, CUSTOMER, ops, "https://management.azure.com/.default").json()["access_token"]
    vault = info["tenants"][CUSTOMER]["vaults"]["kv-fabrikam"]
    put = requests.put(
        f"{info['arm']}{vault['resource_id']}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
        "?api-version=2022-04-01",
        json={
            "properties": {
                "roleDefinitionId": f"/subscriptions/{CUSTOMER_SUB}/providers/Microsoft.Authorization/"
                f"roleDefinitions/{OFFICER}",
                "principalId": ops["object_id"],
                "principalType": "ServicePrincipal",
            }
        },
        headers={"Authorization": f"Bearer {arm}"},
        verify=info["ca_cert"],
        timeout=10,
    )
    assert put.status_code == 201, put.text
    kv = _token(info, CUSTOMER, ops, "https://vault.azure.net/.default").json()["access_token"]
    secret = requests.put(
        f"{vault['url']}/secrets/s?api-version=7.5",
        json={"value": "v2"},
        headers={"Authorization": f"Bearer {kv}"},
        verify=info["ca_cert"],
        timeout=10,
    )
    assert secret.status_code == 200, secret.text
    customer = mt.runtime.worlds[CUSTOMER]
    assert customer.services()["keyvault"].vault("kv-fabrikam").secret("s").latest.value == "v2"
    assert all(a.principal_id != ops["object_id"] for a in mt.runtime.world.rbac.assignments.values())
    # The partner's own vault refuses the customer's token (a token of another tenant).
    partner_vault = info["vaults"]["kv-payments"]["url"]
    refused = requests.get(
        f"{partner_vault}/secrets?api-version=7.5",
        headers={"Authorization": f"Bearer {kv}"},
        verify=info["ca_cert"],
        timeout=10,
    )
    assert refused.status_code == 401
    # The control plane shows a tenant's state with ?tenant=.
    state = requests.get(f"{info['control']}/state?tenant={CUSTOMER}", verify=info["ca_cert"], timeout=10).json()
    assert state["tenant_id"] == CUSTOMER
    assert any(
        a["principal_id"] == ops["object_id"] and a["role"] == "Key Vault Secrets Officer"
        for a in state["role_assignments"]
    )
    # A reset puts every tenant back.
    mt.reset()
    assert mt.runtime.worlds[CUSTOMER].services()["keyvault"].vault("kv-fabrikam").secret("s").latest.value == "v1"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.update(tenant={"id": default_scenario()["tenant"]["id"]}), "appears twice"),
        (lambda t: t.update(subscription={"id": default_scenario()["subscription"]["id"]}), "another tenant"),
        (lambda t: t.update(vaults=[{"name": "kv-payments", "resource_group": "rg-app"}]), "vault name"),
        (lambda t: t.pop("subscription"), "subscription.id"),
    ],
)
def test_bad_tenant_lists_are_refused(change: Any, message: str) -> None:
    import json

    data = _scenario()
    change(data["tenants"][0])
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(json.dumps(data), "test")


def test_emulator_env_acts_as_a_customer_tenants_principal(tmp_path: Any) -> None:
    """`jitpim emulator env --as NAME --tenant DOMAIN` exports that tenant's id, subscription and the app's own
    secret, which its tenant's issuer accepts."""
    import json
    import shlex
    import subprocess
    import sys

    scenario = tmp_path / "partner.json"
    scenario.write_text(json.dumps(_scenario()))
    state = tmp_path / "state"
    cli = [sys.executable, "-m", "jitpim", "emulator"]
    proc = subprocess.Popen(
        [*cli, "serve", "--scenario", str(scenario), "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert CUSTOMER in ready["tenants"]
        assert "client_secret" not in json.dumps(ready)
        out = subprocess.run(
            [*cli, "env", "--as", "ops-app", "--tenant", "fabrikam.onmicrosoft.com", "--state-dir", str(state)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        exports = {
            k: shlex.split(v)[0]
            for k, v in (
                line.removeprefix("export ").split("=", 1)
                for line in out.stdout.splitlines()
                if line.startswith("export ")
            )
        }
        assert (exports["AZURE_TENANT_ID"], exports["AZURE_SUBSCRIPTION_ID"]) == (CUSTOMER, CUSTOMER_SUB)
        token = requests.post(
            f"{exports['AZURE_AUTHORITY_HOST']}/{exports['AZURE_TENANT_ID']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": exports["AZURE_CLIENT_ID"],
                "client_secret": exports["AZURE_CLIENT_SECRET"],
                "scope": "https://management.azure.com/.default",
            },
            verify=ready["ca_cert"],
            timeout=10,
        )
        assert token.status_code == 200, token.text
        unknown = subprocess.run(
            [*cli, "env", "--as", "ops-app", "--tenant", "nope.example", "--state-dir", str(state)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert unknown.returncode == 71 and "Known tenants" in unknown.stderr
        partner_only = subprocess.run(
            [*cli, "env", "--as", "ops-app", "--state-dir", str(state)], capture_output=True, text=True, timeout=60
        )
        assert partner_only.returncode == 71 and "no principal 'ops-app'" in partner_only.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)
