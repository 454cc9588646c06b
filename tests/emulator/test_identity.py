"""The Entra token issuer, driven by azure-identity unchanged over HTTPS."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import (
    ClientAssertionCredential,
    ClientSecretCredential,
    WorkloadIdentityCredential,
)

GRAPH = "https://graph.microsoft.com/.default"
ARM = "https://management.azure.com/.default"


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _github_token(http: requests.Session, info: dict[str, Any], audience: str = "api://AzureADTokenExchange") -> str:
    oidc = info["github_oidc"]
    response = http.get(
        f"{oidc['request_url']}&audience={audience}", headers={"Authorization": f"Bearer {oidc['request_token']}"}
    )
    response.raise_for_status()
    return str(response.json()["value"])


def _secret_credential(info: dict[str, Any], name: str, secret: str | None = None) -> ClientSecretCredential:
    app = info["principals"][name]
    return ClientSecretCredential(
        info["tenant_id"],
        app["client_id"],
        secret or app["client_secret"],
        authority=info["authority"],
        disable_instance_discovery=True,
        connection_verify=info["ca_cert"],
    )


def test_client_secret_token_carries_identity_and_app_roles(info: dict[str, Any]) -> None:
    """A client-secret token names the app's service principal and carries its Graph app roles."""
    token = _secret_credential(info, "ci-app").get_token(GRAPH).token
    claims = _claims(token)
    ci = info["principals"]["ci-app"]
    assert claims["oid"] == ci["object_id"]
    assert claims["appid"] == ci["client_id"]
    assert claims["tid"] == info["tenant_id"]
    assert claims["aud"] == "https://graph.microsoft.com"
    assert "RoleAssignmentSchedule.ReadWrite.Directory" in claims["roles"]
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


def test_token_signature_verifies_against_published_jwks(http: requests.Session, info: dict[str, Any]) -> None:
    """Tokens verify against the issuer's JWKS from its OpenID configuration."""
    token = _secret_credential(info, "admin-app").get_token(ARM).token
    config = http.get(f"{info['authority']}/{info['tenant_id']}/v2.0/.well-known/openid-configuration").json()
    assert config["token_endpoint"] == f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token"
    keys = http.get(config["jwks_uri"]).json()["keys"]
    key = jwt.PyJWK(keys[0]).key
    claims = jwt.decode(token, key, algorithms=["RS256"], audience="https://management.azure.com/")
    assert claims["oid"] == info["principals"]["admin-app"]["object_id"]


def test_wrong_client_secret_is_refused_with_aadsts7000215(info: dict[str, Any]) -> None:
    """A wrong secret fails with the real AADSTS code, and the secret is not echoed back."""
    with pytest.raises(ClientAuthenticationError) as caught:
        _secret_credential(info, "ci-app", secret="not-the-secret-value").get_token(GRAPH)
    assert "AADSTS7000215" in str(caught.value)
    assert "not-the-secret-value" not in str(caught.value)


def test_unknown_client_is_refused_with_aadsts700016(http: requests.Session, info: dict[str, Any]) -> None:
    response = http.post(
        f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "00000000-0000-0000-0000-000000000001",
            "client_secret": "x",
            "scope": GRAPH,
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "unauthorized_client"
    assert body["error_codes"] == [700016]


def test_scope_without_default_is_refused_for_client_credentials(http: requests.Session, info: dict[str, Any]) -> None:
    ci = info["principals"]["ci-app"]
    response = http.post(
        f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": ci["client_id"],
            "client_secret": ci["client_secret"],
            "scope": "https://graph.microsoft.com/User.Read",
        },
    )
    assert response.status_code == 400
    assert response.json()["error_codes"] == [1002012]


def test_github_assertion_exchanges_for_a_token(http: requests.Session, info: dict[str, Any]) -> None:
    """ClientAssertionCredential fed by the emulated GitHub OIDC endpoint gets a token for the CI app."""
    ci = info["principals"]["ci-app"]
    credential = ClientAssertionCredential(
        info["tenant_id"],
        ci["client_id"],
        lambda: _github_token(http, info),
        authority=info["authority"],
        connection_verify=info["ca_cert"],
    )
    claims = _claims(credential.get_token(ARM).token)
    assert claims["oid"] == ci["object_id"]
    assert claims["appidacr"] == "2"


def test_workload_identity_credential_reads_a_token_file(
    tmp_path: Any, http: requests.Session, info: dict[str, Any]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(_github_token(http, info))
    ci = info["principals"]["ci-app"]
    credential = WorkloadIdentityCredential(
        tenant_id=info["tenant_id"],
        client_id=ci["client_id"],
        token_file_path=str(token_file),
        authority=info["authority"],
        connection_verify=info["ca_cert"],
    )
    assert _claims(credential.get_token(GRAPH).token)["oid"] == ci["object_id"]


@pytest.mark.parametrize(
    ("claims", "code"),
    [
        ({"ref": "refs/heads/feature"}, 700213),
        ({"environment": "staging"}, 700213),
        ({"repository": "Contoso/payments"}, 7002138),
    ],
)
def test_assertion_with_unmatched_subject_is_refused(
    http: requests.Session, info: dict[str, Any], control: Any, claims: dict[str, str], code: int
) -> None:
    """A job whose subject matches no federated credential gets the real AADSTS code."""
    control("github/claims", claims)
    ci = info["principals"]["ci-app"]
    response = http.post(
        f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": ci["client_id"],
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": _github_token(http, info),
            "scope": ARM,
        },
    )
    assert response.status_code == 400
    assert response.json()["error_codes"] == [code]


def test_assertion_with_wrong_audience_is_refused(http: requests.Session, info: dict[str, Any]) -> None:
    ci = info["principals"]["ci-app"]
    response = http.post(
        f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": ci["client_id"],
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": _github_token(http, info, audience="https://github.com/contoso"),
            "scope": ARM,
        },
    )
    assert response.json()["error_codes"] == [700212]


def test_forged_assertion_is_refused(http: requests.Session, info: dict[str, Any]) -> None:
    """An assertion with the right claims but signed by another key fails signature validation."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    real = _claims(_github_token(http, info))
    forged = jwt.encode(real, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256")
    ci = info["principals"]["ci-app"]
    response = http.post(
        f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": ci["client_id"],
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": forged,
            "scope": ARM,
        },
    )
    assert response.json()["error_codes"] == [700027]


def test_github_endpoint_requires_the_request_token(http: requests.Session, info: dict[str, Any]) -> None:
    oidc = info["github_oidc"]
    assert http.get(oidc["request_url"] + "&audience=x").status_code == 401
    assert http.get(oidc["request_url"], headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_github_token_has_the_real_claim_set(http: requests.Session, info: dict[str, Any]) -> None:
    claims = _claims(_github_token(http, info))
    for name in (
        "sub",
        "repository",
        "ref",
        "sha",
        "workflow",
        "job_workflow_ref",
        "run_id",
        "run_attempt",
        "actor",
        "event_name",
        "repository_owner",
        "runner_environment",
    ):
        assert name in claims, name
    assert claims["iss"] == "https://token.actions.githubusercontent.com"
    assert claims["sub"] == "repo:contoso/payments:ref:refs/heads/main"
    assert claims["exp"] - claims["iat"] == 300


def test_user_password_grant_gives_a_delegated_token(http: requests.Session, info: dict[str, Any]) -> None:
    """The password grant yields a delegated token for a seeded user (the selfActivate path), and a refresh
    token that MSAL-style clients use to get a token for another resource.

    MSAL's own UsernamePasswordCredential cannot be used against a loopback authority: before the grant it
    asks `https://{host}/common/userrealm/...` with the port dropped (msal/authority.py builds the URL from the
    host name only), so it can only reach an emulator on port 443."""
    alice = info["principals"]["alice"]
    url = f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token"
    response = http.post(
        url,
        data={
            "grant_type": "password",
            "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "username": alice["user_principal_name"],
            "password": alice["password"],
            "scope": GRAPH + " offline_access openid profile",
            "client_info": "1",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    claims = _claims(body["access_token"])
    assert claims["oid"] == alice["object_id"]
    assert "RoleAssignmentSchedule.ReadWrite.Directory" in claims["scp"].split()
    assert "mfa" in claims["amr"]
    refreshed = http.post(
        url,
        data={
            "grant_type": "refresh_token",
            "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "refresh_token": body["refresh_token"],
            "scope": ARM,
        },
    ).json()
    assert _claims(refreshed["access_token"])["scp"] == "user_impersonation"
    wrong = http.post(
        url,
        data={
            "grant_type": "password",
            "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
            "username": alice["user_principal_name"],
            "password": "wrong",
            "scope": GRAPH,
        },
    )
    assert wrong.status_code == 400
    assert wrong.json()["error_codes"] == [50126]


def test_control_plane_mints_user_token_without_mfa(control: Any, info: dict[str, Any]) -> None:
    token = control("tokens", {"principal": "alice", "mfa": False})["access_token"]
    claims = _claims(token)
    assert claims["oid"] == info["principals"]["alice"]["object_id"]
    assert claims["amr"] == ["pwd"]


def test_unknown_tenant_is_refused(http: requests.Session, info: dict[str, Any]) -> None:
    response = http.post(
        f"{info['authority']}/11111111-2222-3333-4444-555555555555/oauth2/v2.0/token",
        data={"grant_type": "client_credentials"},
    )
    assert response.status_code == 400
    assert response.json()["error_codes"] == [90002]


def _password_grant(http: requests.Session, info: dict[str, Any], client_id: str, **extra: str) -> requests.Response:
    alice = info["principals"]["alice"]
    return http.post(
        f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "password",
            "client_id": client_id,
            "username": alice["user_principal_name"],
            "password": alice["password"],
            "scope": GRAPH + " offline_access",
            **extra,
        },
    )


def test_refresh_token_is_bound_to_the_client_it_was_issued_to(http: requests.Session, info: dict[str, Any]) -> None:
    """Redeeming another client's refresh token is refused (AADSTS70000), whoever asks; the owner still can."""
    cli = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
    issued = _password_grant(http, info, cli)
    assert issued.status_code == 200, issued.text
    refresh = issued.json()["refresh_token"]
    url = f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token"
    ci = info["principals"]["ci-app"]
    for client_id, secret in (("1950a258-227b-4e31-a9cf-717495945fc2", None), (ci["client_id"], ci["client_secret"])):
        form = {"grant_type": "refresh_token", "client_id": client_id, "refresh_token": refresh, "scope": ARM}
        if secret:
            form["client_secret"] = secret
        stolen = http.post(url, data=form)
        assert stolen.status_code == 400, stolen.text
        assert stolen.json()["error"] == "invalid_grant"
        assert stolen.json()["error_codes"] == [70000]
        assert "access_token" not in stolen.json()
    missing = http.post(url, data={"grant_type": "refresh_token", "refresh_token": refresh, "scope": ARM})
    assert missing.status_code == 400 and missing.json()["error_codes"] == [900144]
    own = http.post(url, data={"grant_type": "refresh_token", "client_id": cli, "refresh_token": refresh, "scope": ARM})
    assert own.status_code == 200, own.text
    assert _claims(own.json()["access_token"])["appid"] == cli


def test_password_grant_through_a_confidential_client_needs_its_secret(
    http: requests.Session, info: dict[str, Any]
) -> None:
    """A tenant app that is not a public client must prove itself: no secret -> 401 AADSTS7000218, a wrong one
    -> 401 AADSTS7000215; with its secret the user's delegated token is issued."""
    ci = info["principals"]["ci-app"]
    bare = _password_grant(http, info, ci["client_id"])
    assert bare.status_code == 401, bare.text
    assert bare.json()["error"] == "invalid_client"
    assert bare.json()["error_codes"] == [7000218]
    wrong = _password_grant(http, info, ci["client_id"], client_secret="not-the-secret")
    assert wrong.status_code == 401 and wrong.json()["error_codes"] == [7000215]
    ok = _password_grant(http, info, ci["client_id"], client_secret=ci["client_secret"])
    assert ok.status_code == 200, ok.text
    claims = _claims(ok.json()["access_token"])
    assert (claims["oid"], claims["appid"]) == (info["principals"]["alice"]["object_id"], ci["client_id"])
    # Its refresh token also needs the client's secret.
    url = f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token"
    form = {
        "grant_type": "refresh_token",
        "client_id": ci["client_id"],
        "refresh_token": ok.json()["refresh_token"],
        "scope": ARM,
    }
    assert http.post(url, data=form).json()["error_codes"] == [7000218]
    assert http.post(url, data={**form, "client_secret": ci["client_secret"]}).status_code == 200


def test_password_grant_through_a_public_client_app_needs_no_secret(control: Any, http: requests.Session) -> None:
    """`public_client: true` in the scenario (Graph's isFallbackPublicClient) allows the grant without a secret."""
    info = control("info", method="GET")
    scenario = {
        "tenant": {"id": info["tenant_id"], "domain": "contoso.onmicrosoft.com"},
        "subscription": {"id": info["subscription_id"]},
        "principals": {
            "tool": {"type": "application", "public_client": True},
            "alice": {"type": "user", "password": "pw-1", "scopes": ["User.Read"]},
        },
    }
    loaded = control("scenario", scenario)
    try:
        tool = loaded["principals"]["tool"]
        response = http.post(
            f"{loaded['authority']}/{loaded['tenant_id']}/oauth2/v2.0/token",
            data={
                "grant_type": "password",
                "client_id": tool["client_id"],
                "username": loaded["principals"]["alice"]["user_principal_name"],
                "password": "pw-1",
                "scope": "https://graph.microsoft.com/User.Read",
            },
        )
        assert response.status_code == 200, response.text
    finally:
        from jitpim.emulator.core.scenario import default_scenario

        control("scenario", default_scenario())
