"""The emulator as a registered cloud names it (`az cloud register`): tokens whose resource is the emulator's own
Graph, ARM or Key Vault endpoint, and Key Vault served by name under `vault.localhost`, so that an unmodified
`SecretClient` (which checks that the 401 challenge's resource is a domain of the vault's host) and the az CLI
built on it work against a vault URL made from a DNS suffix."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests
from azure.keyvault.secrets import SecretClient

from jitpim.emulator import Emulator
from jitpim.testing import app_credential

OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"


def _token(http: requests.Session, info: dict[str, Any], scope: str, who: str = "admin-app") -> requests.Response:
    app = info["principals"][who]
    return http.post(
        f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": scope,
        },
    )


def _aud(response: requests.Response) -> str:
    assert response.status_code == 200, response.text
    return str(jwt.decode(response.json()["access_token"], options={"verify_signature": False})["aud"])


@pytest.fixture(name="vault_dns")
def _vault_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """What one `/etc/hosts` line (or an RFC 6761 resolver) does: `*.vault.localhost` resolves to loopback."""
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.lower().endswith(".vault.localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    yield


def test_a_graph_token_for_the_emulators_graph_url_works_on_graph_pim(
    http: requests.Session, info: dict[str, Any]
) -> None:
    """`az rest` to Graph on a registered cloud asks for a token whose resource is the cloud's Graph endpoint."""
    for resource in (info["graph"], info["graph"] + "/"):
        response = _token(http, info, resource.rstrip("/") + "/.default")
        assert _aud(response) == info["graph"]
        token = response.json()["access_token"]
        pim = http.get(
            f"{info['graph']}/v1.0/roleManagement/directory/roleAssignmentScheduleRequests",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert pim.status_code == 200, pim.text
        assert isinstance(pim.json()["value"], list)
    # ...and that token is for Graph only: ARM refuses it.
    graph_token = _token(http, info, info["graph"] + "/.default").json()["access_token"]
    arm = http.get(
        f"{info['arm']}/subscriptions/{info['subscription_id']}/providers/Microsoft.Authorization/roleAssignments"
        "?api-version=2022-04-01",
        headers={"Authorization": f"Bearer {graph_token}"},
    )
    assert arm.status_code == 401
    assert arm.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"


def test_an_arm_token_for_the_emulators_base_url_works_on_arm(http: requests.Session, info: dict[str, Any]) -> None:
    """A registered cloud's management resource is its base URL; clients append `/.default` (hence `//`)."""
    for scope in (info["arm"] + "/.default", info["arm"] + "//.default"):
        response = _token(http, info, scope)
        assert _aud(response) == info["arm"] + "/"
        listed = http.get(
            f"{info['arm']}/subscriptions/{info['subscription_id']}/providers/Microsoft.Authorization/"
            "roleAssignments?api-version=2022-04-01",
            headers={"Authorization": f"Bearer {response.json()['access_token']}"},
        )
        assert listed.status_code == 200, listed.text
    graph = http.get(
        f"{info['graph']}/v1.0/roleManagement/directory/roleDefinitions",
        headers={"Authorization": f"Bearer {_token(http, info, info['arm'] + '/.default').json()['access_token']}"},
    )
    assert graph.status_code == 401


def test_the_info_names_the_key_vault_dns_suffix(info: dict[str, Any]) -> None:
    port = info["authority"].rsplit(":", 1)[1]
    assert info["keyvault_dns_suffix"] == f"vault.localhost:{port}"
    assert info["keyvault_resource"] == f"https://vault.localhost:{port}"
    assert info["vaults"]["kv-payments"]["dns_url"] == f"https://kv-payments.vault.localhost:{port}"


def test_a_vault_by_name_challenges_with_its_own_domain(
    vault_dns: None, http: requests.Session, info: dict[str, Any]
) -> None:
    named = http.get(f"{info['vaults']['kv-payments']['dns_url']}/secrets?api-version=7.5")
    assert named.status_code == 401
    assert f'resource="{info["keyvault_resource"]}"' in named.headers["WWW-Authenticate"]
    by_port = http.get(f"{info['vaults']['kv-payments']['url']}/secrets?api-version=7.5")
    assert 'resource="https://vault.azure.net"' in by_port.headers["WWW-Authenticate"]
    unknown = http.get(f"https://nope.vault.localhost:{info['authority'].rsplit(':', 1)[1]}/secrets?api-version=7.5")
    assert unknown.status_code != 200


def test_an_unmodified_secret_client_works_on_a_vault_url_built_from_the_dns_suffix(
    vault_dns: None, fresh_emu: Emulator, http: requests.Session, info: dict[str, Any], control: Any
) -> None:
    """SecretClient with its default `verify_challenge_resource=True`: the challenge's domain matches the host,
    the token is asked for `https://vault.localhost:<port>/.default`, and the write lands in the vault."""
    vault = info["vaults"]["kv-payments"]
    admin = info["principals"]["admin-app"]
    arm_token = _token(http, info, "https://management.azure.com/.default").json()["access_token"]
    granted = http.put(
        f"{info['arm']}{vault['resource_id']}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}"
        "?api-version=2022-04-01",
        json={
            "properties": {
                "roleDefinitionId": f"/subscriptions/{info['subscription_id']}/providers/"
                f"Microsoft.Authorization/roleDefinitions/{OFFICER}",
                "principalId": admin["object_id"],
                "principalType": "ServicePrincipal",
            }
        },
        headers={"Authorization": f"Bearer {arm_token}"},
    )
    assert granted.status_code == 201, granted.text
    control("clock/advance", {"seconds": 60})
    client = SecretClient(vault["dns_url"], app_credential(info, "admin-app"), connection_verify=info["ca_cert"])
    try:
        stored = client.set_secret("by-name", "value-1")
        assert stored.id.startswith(vault["dns_url"] + "/secrets/by-name/")
        assert client.get_secret("by-name").value == "value-1"
        assert [p.name for p in client.list_properties_of_secrets() if p.name == "by-name"] == ["by-name"]
    finally:
        client.close()
    state = fresh_emu.runtime.world.services()["keyvault"]
    assert state.vault("kv-payments").secret("by-name").latest.value == "value-1"


def test_graph_under_localhost_is_another_origin_with_its_own_audience(
    http: requests.Session, info: dict[str, Any]
) -> None:
    """`az rest` picks a token's resource by the URL's origin; Graph at `https://localhost:PORT/graph` is not ARM's
    origin, so it gets a Graph token, and Graph refuses an ARM token there."""
    graph = f"https://localhost:{info['authority'].rsplit(':', 1)[1]}/graph"
    token = _token(http, info, f"{graph}/.default")
    assert _aud(token) == graph
    url = f"{info['graph']}/v1.0/roleManagement/directory/roleAssignmentScheduleInstances"
    ok = http.get(url, headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert ok.status_code == 200, ok.text
    arm = _token(http, info, f"{info['arm']}/.default").json()["access_token"]
    refused = http.get(url, headers={"Authorization": f"Bearer {arm}"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_service_principals_filter_with_a_lambda_over_service_principal_names(
    http: requests.Session, info: dict[str, Any]
) -> None:
    """The CLI's `--assignee <appId>` lookup: `servicePrincipalNames/any(c:c eq '<appId>')`."""
    app = info["principals"]["ci-app"]
    headers = {
        "Authorization": f"Bearer {_token(http, info, 'https://graph.microsoft.com/.default').json()['access_token']}"
    }
    base = f"{info['graph']}/v1.0/servicePrincipals"

    def ids(query: str) -> list[str]:
        answer = http.get(base, params={"$filter": query}, headers=headers)
        assert answer.status_code == 200, answer.text
        return [row["id"] for row in answer.json()["value"]]

    assert ids(f"servicePrincipalNames/any(c:c eq '{app['client_id']}')") == [app["object_id"]]
    assert ids(f"servicePrincipalNames/any(c:c eq '{app['client_id'].upper()}')") == [app["object_id"]]
    assert ids(f"servicePrincipalNames/any(x:x eq '{uuid.uuid4()}')") == []
    assert ids(f"not servicePrincipalNames/any(c:c eq '{app['client_id']}')") and app["object_id"] not in ids(
        f"not servicePrincipalNames/any(c:c eq '{app['client_id']}')"
    )
    assert app["object_id"] in ids(f"servicePrincipalNames/all(c:c eq '{app['client_id']}')")
    bad = http.get(base, params={"$filter": "servicePrincipalNames/any(c eq 'x')"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "BadRequest"
    unknown = http.get(base, params={"$filter": "tags/any(c:c eq 'x')"}, headers=headers)
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_role_definitions_read_at_a_vault_carry_the_subscriptions_id(
    http: requests.Session, info: dict[str, Any]
) -> None:
    """As on Azure, and what the CLI matches assignments' `roleDefinitionId` against to name their roles."""
    token = _token(http, info, f"{info['arm']}/.default").json()["access_token"]
    vault = info["vaults"]["kv-payments"]["resource_id"]
    answer = http.get(
        f"{info['arm']}{vault}/providers/Microsoft.Authorization/roleDefinitions",
        params={"api-version": "2022-04-01", "$filter": "roleName eq 'Key Vault Secrets Officer'"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    assert [d["id"] for d in answer.json()["value"]] == [
        f"/subscriptions/{info['subscription_id']}/providers/Microsoft.Authorization/roleDefinitions/{OFFICER}"
    ]
