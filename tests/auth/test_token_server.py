"""The lease's managed-identity endpoint, over real HTTP on loopback, with Microsoft's own clients where they
apply: the App Service protocol's shapes, the audience allow-list, the secret header, the lease's end."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.credentials import AccessToken

from jitpim.auth.token_server import API_VERSION, LeaseTokenServer, TokenGrant, normalise_resource
from jitpim.errors import AuthError

VAULT = "https://vault.azure.net"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
OBJECT_ID = "66666666-7777-8888-9999-000000000000"


class FakeCredential:
    """Mints a distinct token per scope and records what was asked (stands in for jitpim's own credential)."""

    def __init__(self, lifetime: int = 3600) -> None:
        self.scopes: list[str] = []
        self.lifetime = lifetime

    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        self.scopes.append(scopes[0])
        return AccessToken(f"token-for-{scopes[0]}", int(time.time()) + self.lifetime)


class FailingCredential:
    def get_token(self, *scopes: str, **_: Any) -> AccessToken:
        raise AuthError("AADSTS700024: Client assertion is not within its valid time range.")


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def _server(
    credential: Any, clock: Clock, end: datetime | None, resources: tuple[str, ...] = (VAULT,)
) -> LeaseTokenServer:
    grants = [TokenGrant(r, credential, "test") for r in resources]
    return LeaseTokenServer(grants, now=clock, ends_at=lambda: end, client_ids=[CLIENT_ID], object_ids=[OBJECT_ID])


def _get(server: LeaseTokenServer, query: str, secret: str | None) -> tuple[int, dict[str, Any]]:
    endpoint = server.environment()["IDENTITY_ENDPOINT"]
    request = urllib.request.Request(f"{endpoint}?{query}")
    if secret is not None:
        request.add_header("X-IDENTITY-HEADER", secret)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_serves_a_covered_resource_in_the_app_service_shape() -> None:
    clock, credential = Clock(), FakeCredential()
    end = clock.now + timedelta(minutes=10)
    with _server(credential, clock, end) as server:
        secret = server.environment()["IDENTITY_HEADER"]
        status, body = _get(server, f"api-version={API_VERSION}&resource={VAULT}", secret)
    assert status == 200
    assert body["access_token"] == f"token-for-{VAULT}/.default"
    assert body["token_type"] == "Bearer"
    assert body["resource"] == VAULT
    assert body["client_id"] == CLIENT_ID
    # The token is promised no longer than the lease: clients come back (and are refused) after it.
    assert body["expires_on"] == str(int(end.timestamp()))
    assert credential.scopes == [f"{VAULT}/.default"]
    assert server.served == {VAULT: 1}


@pytest.mark.parametrize(
    "resource",
    ["https://graph.microsoft.com", "https://management.azure.com/", "https://management.core.windows.net/"],
)
def test_refuses_resources_the_lease_does_not_cover(resource: str) -> None:
    clock, credential = Clock(), FakeCredential()
    with _server(credential, clock, clock.now + timedelta(minutes=10)) as server:
        secret = server.environment()["IDENTITY_HEADER"]
        status, body = _get(server, f"api-version={API_VERSION}&resource={resource}", secret)
    assert status == 403
    assert body["statusCode"] == 403
    assert "does not cover" in body["message"] and VAULT in body["message"]
    assert body["correlationId"]
    assert credential.scopes == []  # nothing was minted for it


@pytest.mark.parametrize("secret", [None, "", "wrong-secret"])
def test_refuses_a_missing_or_wrong_secret(secret: str | None) -> None:
    clock, credential = Clock(), FakeCredential()
    with _server(credential, clock, None) as server:
        status, body = _get(server, f"api-version={API_VERSION}&resource={VAULT}", secret)
    assert status == 401
    assert body["statusCode"] == 401
    assert credential.scopes == []


def test_refuses_after_the_lease_ends_and_after_revoke() -> None:
    clock, credential = Clock(), FakeCredential()
    end = clock.now + timedelta(minutes=5)
    with _server(credential, clock, end) as server:
        secret = server.environment()["IDENTITY_HEADER"]
        assert _get(server, f"api-version={API_VERSION}&resource={VAULT}", secret)[0] == 200
        clock.now = end
        status, body = _get(server, f"api-version={API_VERSION}&resource={VAULT}", secret)
        assert (status, body["statusCode"]) == (403, 403)
        assert "ended" in body["message"]
        clock.now = end - timedelta(minutes=1)
        server.revoke()
        assert _get(server, f"api-version={API_VERSION}&resource={VAULT}", secret)[0] == 403
    assert len(credential.scopes) == 1


def test_stop_closes_the_port() -> None:
    clock = Clock()
    server = _server(FakeCredential(), clock, None).start()
    endpoint = server.environment()["IDENTITY_ENDPOINT"]
    server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{endpoint}?api-version={API_VERSION}&resource={VAULT}", timeout=5)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        (f"api-version=2017-09-01&resource={VAULT}", 400),
        (f"api-version={API_VERSION}", 400),
        (f"api-version={API_VERSION}&resource={VAULT}&client_id=00000000-0000-0000-0000-000000000000", 400),
        (f"api-version={API_VERSION}&resource={VAULT}&object_id=00000000-0000-0000-0000-000000000000", 400),
        (f"api-version={API_VERSION}&resource={VAULT}&mi_res_id=/subscriptions/x", 400),
    ],
)
def test_bad_requests_get_the_protocols_error_shape(query: str, status: int) -> None:
    clock = Clock()
    with _server(FakeCredential(), clock, None) as server:
        got, body = _get(server, query, server.environment()["IDENTITY_HEADER"])
    assert (got, body["statusCode"]) == (status, status)
    assert body["message"].startswith("jitpim")


def test_naming_the_lease_identity_is_accepted() -> None:
    clock = Clock()
    with _server(FakeCredential(), clock, None) as server:
        secret = server.environment()["IDENTITY_HEADER"]
        for param in (f"client_id={CLIENT_ID.upper()}", f"object_id={OBJECT_ID}"):
            assert _get(server, f"api-version={API_VERSION}&resource={VAULT}&{param}", secret)[0] == 200


def test_a_credential_failure_is_a_500_without_the_credential() -> None:
    clock = Clock()
    with _server(FailingCredential(), clock, None) as server:
        status, body = _get(
            server, f"api-version={API_VERSION}&resource={VAULT}", server.environment()["IDENTITY_HEADER"]
        )
    assert status == 500
    assert "AADSTS700024" in body["message"]


def test_normalise_resource() -> None:
    assert normalise_resource("https://Vault.Azure.Net/.default") == "https://vault.azure.net"
    assert normalise_resource("https://management.core.windows.net/") == "https://management.core.windows.net"


def test_the_secret_is_not_in_repr_or_arguments() -> None:
    clock = Clock()
    with _server(FakeCredential(), clock, None) as server:
        secret = server.environment()["IDENTITY_HEADER"]
        assert len(secret) >= 32
        assert secret not in repr(server)


# Unmodified Microsoft clients in a separate process: azure-identity's ManagedIdentityCredential (App Service
# flavour, chosen from the environment alone) and MSAL's ManagedIdentityClient (what `az login --identity` uses).
_CLIENTS = textwrap.dedent(
    """
    import json, sys, requests, msal
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
    out = {}
    out["dac"] = DefaultAzureCredential().get_token("https://vault.azure.net/.default").token
    out["mic_client_id"] = ManagedIdentityCredential(client_id=sys.argv[1]).get_token(
        "https://vault.azure.net/.default").token
    msal_client = msal.ManagedIdentityClient(msal.SystemAssignedManagedIdentity(), http_client=requests.Session())
    out["msal"] = msal_client.acquire_token_for_client(resource="https://vault.azure.net").get("access_token")
    try:
        DefaultAzureCredential().get_token("https://graph.microsoft.com/.default")
        out["graph"] = "issued"
    except Exception as exc:
        out["graph"] = type(exc).__name__ + ": " + str(exc)
    print(json.dumps(out))
    """
)


def test_microsofts_clients_use_it_unchanged(tmp_path: Any) -> None:
    clock = Clock()
    with _server(FakeCredential(), clock, clock.now + timedelta(minutes=30)) as server:
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **server.environment()}
        result = subprocess.run(
            [sys.executable, "-c", _CLIENTS, CLIENT_ID],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout)
    expected = f"token-for-{VAULT}/.default"
    assert out["dac"] == out["mic_client_id"] == out["msal"] == expected
    assert out["graph"].startswith("ClientAuthenticationError") or out["graph"].startswith("CredentialUnavailable")
    assert "does not cover" in out["graph"]
    assert server.refused.get("https://graph.microsoft.com", 0) >= 1
