"""ApiClient against the emulator over HTTPS: error envelopes, paging, TLS trust, token hygiene."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from azure.identity import ClientSecretCredential

from jitpim.cloud import PUBLIC, CloudProfile, emulator_profile
from jitpim.errors import ProviderApiError, ProviderError
from jitpim.http import ApiClient, arm_client, graph_client, keyvault_client

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture(name="cloud")
def _cloud(info: dict[str, Any]) -> CloudProfile:
    return emulator_profile(info["authority"], info["ca_cert"])


def _credential(info: dict[str, Any], name: str) -> ClientSecretCredential:
    app = info["principals"][name]
    return ClientSecretCredential(
        info["tenant_id"],
        app["client_id"],
        app["client_secret"],
        authority=info["authority"],
        disable_instance_discovery=True,
        connection_verify=info["ca_cert"],
    )


@pytest.fixture(name="ci")
def _ci(info: dict[str, Any]) -> Iterator[ClientSecretCredential]:
    with _credential(info, "ci-app") as credential:
        yield credential


@pytest.fixture(name="admin")
def _admin(info: dict[str, Any]) -> Iterator[ClientSecretCredential]:
    with _credential(info, "admin-app") as credential:
        yield credential


def test_graph_error_parses_when_segment_is_unknown(cloud: CloudProfile, ci: ClientSecretCredential) -> None:
    """Graph's 400 for an unknown segment: code BadRequest and the innerError request id."""
    with graph_client(cloud, ci) as graph, pytest.raises(ProviderApiError) as failure:
        graph.get("/v1.0/noSuchThing")
    error = failure.value
    assert (error.status, error.code) == (400, "BadRequest")
    assert "Resource not found for the segment 'noSuchThing'" in error.message
    assert error.request_id and GUID.match(error.request_id)
    assert error.exit_code == 78 and error.hint


def test_arm_error_parses_when_path_is_unknown(
    cloud: CloudProfile, ci: ClientSecretCredential, info: dict[str, Any]
) -> None:
    """ARM's 404 envelope and its x-ms-request-id."""
    path = f"/subscriptions/{info['subscription_id']}/providers/Microsoft.Nothing/things/x"
    with arm_client(cloud, ci) as arm, pytest.raises(ProviderApiError) as failure:
        arm.get(path, params={"api-version": "2022-04-01"})
    error = failure.value
    assert (error.status, error.code) == (404, "InvalidResourceType")
    assert error.request_id and GUID.match(error.request_id)
    assert "api-version" not in error.message  # the query string stays out of messages


def test_arm_reads_retry_and_deny_when_resource_manager_answers(
    cloud: CloudProfile, ci: ClientSecretCredential, info: dict[str, Any], control: Any
) -> None:
    """A real ARM read survives throttling; a read the caller has no role for is AuthorizationFailed."""
    sub = f"/subscriptions/{info['subscription_id']}/providers/Microsoft.Authorization"
    control("faults", {"kind": "throttle", "path": "/roleDefinitions$", "count": 2, "retry_after": 1})
    sleeps: list[float] = []
    with arm_client(cloud, ci, sleep=sleeps.append) as arm:
        definitions = list(arm.paged(f"{sub}/roleDefinitions", {"api-version": "2022-04-01"}))
        assert sleeps == [1.0, 1.0]
        assert any(d["properties"]["roleName"] == "Key Vault Secrets Officer" for d in definitions)
        with pytest.raises(ProviderApiError) as failure:
            arm.get(f"{sub}/roleAssignments", params={"api-version": "2022-04-01"})
    assert (failure.value.status, failure.value.code) == (403, "AuthorizationFailed")
    assert failure.value.request_id and "roleAssignments/read" in failure.value.message


def test_graph_errors_name_the_cause_when_token_is_missing_or_insufficient(
    cloud: CloudProfile, ci: ClientSecretCredential
) -> None:
    """No token: 401 InvalidAuthenticationToken; a token without the permission: 403."""
    with graph_client(cloud, None) as anonymous, pytest.raises(ProviderApiError) as no_token:
        anonymous.get("/v1.0/users")
    assert (no_token.value.status, no_token.value.code) == (401, "InvalidAuthenticationToken")
    with graph_client(cloud, ci) as graph, pytest.raises(ProviderApiError) as denied:
        graph.get("/v1.0/auditLogs/directoryAudits")
    assert (denied.value.status, denied.value.code) == (403, "Authorization_RequestDenied")


def test_keyvault_error_keeps_inner_code_when_rbac_denies(
    cloud: CloudProfile, ci: ClientSecretCredential, info: dict[str, Any]
) -> None:
    """Key Vault's 403 carries `innererror.code` ForbiddenByRbac as inner_code."""
    vault = info["vaults"]["kv-payments"]["url"]
    with keyvault_client(cloud, ci, vault) as kv, pytest.raises(ProviderApiError) as failure:
        kv.get("/secrets/db-password", params={"api-version": "7.5"})
    assert (failure.value.status, failure.value.code, failure.value.inner_code) == (403, "Forbidden", "ForbiddenByRbac")
    assert failure.value.to_json()["inner_code"] == "ForbiddenByRbac"


def test_aad_error_parses_when_token_endpoint_refuses(cloud: CloudProfile, info: dict[str, Any]) -> None:
    """The Entra token endpoint's OAuth envelope: error + AADSTS code."""
    with ApiClient(info["authority"], None, None, cloud=cloud) as client, pytest.raises(ProviderApiError) as failure:
        client.post(f"/{info['tenant_id']}/oauth2/v2.0/token", {"grant_type": "nothing"})
    assert (failure.value.code, failure.value.inner_code) == ("unsupported_grant_type", "AADSTS70003")


def test_paged_follows_next_link_when_graph_pages(cloud: CloudProfile, admin: ClientSecretCredential) -> None:
    """`$top=1` forces one item per page: every page is fetched through @odata.nextLink."""
    with graph_client(cloud, admin) as graph:
        everyone = graph.get("/v1.0/users").json["value"]
        graph.counter.reset()
        paged = list(graph.paged("/v1.0/users", {"$top": 1}))
        assert [u["id"] for u in paged] == [u["id"] for u in everyone]
        assert len(everyone) >= 2
        assert graph.counter.count("GET", "/graph/v1.0/users") == len(everyone)


def test_expected_statuses_decide_when_a_status_is_an_error(cloud: CloudProfile, ci: ClientSecretCredential) -> None:
    """A caller may accept 404 (already gone) and gets the response instead of an error."""
    with graph_client(cloud, ci) as graph:
        response = graph.get("/v1.0/users/00000000-0000-4000-8000-000000000000", expected=(200, 404))
        assert response.status == 404 and response.json["error"]["code"]
        assert response.request_id and "json" not in repr(response)
        with pytest.raises(ProviderApiError, match="expected 204") as failure:
            graph.get("/v1.0/users", expected=(204,))
        assert failure.value.code == "UnexpectedStatus"


def test_request_fails_with_tls_hint_when_ca_is_not_trusted(info: dict[str, Any]) -> None:
    """Without the emulator's CA the handshake fails; there is no switch to skip verification."""
    sleeps: list[float] = []
    client = ApiClient(info["graph"], None, None, cloud=PUBLIC, sleep=sleeps.append)
    with client, pytest.raises(ProviderError) as failure:
        client.get("/v1.0/users")
    assert sleeps == []  # an untrusted certificate is not retried: no retry can fix it
    assert "JITPIM_CA_BUNDLE" in failure.value.hint and "never turned off" in failure.value.hint


def test_client_refuses_to_send_token_when_url_is_another_origin(
    cloud: CloudProfile, ci: ClientSecretCredential
) -> None:
    """A nextLink to another host is not followed; plain http base URLs are refused."""
    client = graph_client(cloud, ci)
    with pytest.raises(ProviderError, match="refusing to send a token"):
        client.url_for("https://attacker.example/graph/v1.0/users")
    assert client.url_for(f"{cloud.graph_url}/v1.0/users?$skiptoken=x") == f"{cloud.graph_url}/v1.0/users?$skiptoken=x"
    assert (
        client.url_for("/v1.0/users", {"$filter": "principalId eq 'a b'", "$top": 5, "x": None, "flag": True})
        == f"{cloud.graph_url}/v1.0/users?$filter=principalId%20eq%20'a%20b'&$top=5&flag=true"
    )
    with pytest.raises(Exception, match="must be https"):
        ApiClient("http://127.0.0.1:1", None, None, cloud=cloud)


def test_logs_hold_no_token_or_secret_when_debug_logging_is_on(
    cloud: CloudProfile, admin: ClientSecretCredential, info: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """With every logger at DEBUG, neither the bearer token nor a returned secret appears in the logs."""
    caplog.set_level(logging.DEBUG)
    app_id = info["principals"]["ci-app"]["application_object_id"]
    with graph_client(cloud, admin) as graph:
        created = graph.post(f"/v1.0/applications/{app_id}/addPassword", {"passwordCredential": {}}, expected=(200,))
        graph.get("/v1.0/users")
    secret = created.json["secretText"]
    token = admin.get_token(cloud.graph_scope).token
    assert caplog.records  # the wire logger did log the calls
    assert secret not in caplog.text
    assert token not in caplog.text and token[:40] not in caplog.text
    assert "REDACTED" in caplog.text  # azure-core redacts the Authorization header
    assert secret not in repr(created)
