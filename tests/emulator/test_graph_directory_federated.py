"""Federated identity credentials over raw HTTPS: CRUD, Entra's uniqueness rules, and the effect of a
change on the next GitHub OIDC token exchange."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientAssertionCredential

from jitpim.emulator import Emulator
from jitpim.testing import app_credential

GRAPH = "https://graph.microsoft.com/.default"
ARM = "https://management.azure.com/.default"
GITHUB = "https://token.actions.githubusercontent.com"


def _auth(info: dict[str, Any], name: str = "admin-app") -> dict[str, str]:
    return {"Authorization": f"Bearer {app_credential(info, name).get_token(GRAPH).token}"}


def _fics(info: dict[str, Any], suffix: str = "", app: str = "ci-app") -> str:
    return (
        f"{info['graph']}/v1.0/applications/{info['principals'][app]['application_object_id']}"
        f"/federatedIdentityCredentials{suffix}"
    )


def _github_token(http: requests.Session, info: dict[str, Any]) -> str:
    oidc = info["github_oidc"]
    response = http.get(
        f"{oidc['request_url']}&audience=api://AzureADTokenExchange",
        headers={"Authorization": f"Bearer {oidc['request_token']}"},
    )
    response.raise_for_status()
    return str(response.json()["value"])


def _new(name: str, subject: str) -> dict[str, Any]:
    return {
        "name": name,
        "issuer": GITHUB,
        "subject": subject,
        "audiences": ["api://AzureADTokenExchange"],
        "description": "created by a test",
    }


def test_list_create_get_update_delete(http: requests.Session, info: dict[str, Any], fresh_emu: Emulator) -> None:
    headers = _auth(info)
    listed = http.get(_fics(info), headers=headers).json()
    app_id = info["principals"]["ci-app"]["application_object_id"]
    assert listed["@odata.context"] == (
        f"https://graph.microsoft.com/v1.0/$metadata#applications('{app_id}')/federatedIdentityCredentials"
    )
    assert sorted(f["name"] for f in listed["value"]) == ["github-main", "github-production"]

    created = http.post(
        _fics(info), headers=headers, json=_new("github-release", "repo:contoso/payments:ref:refs/heads/release")
    )
    assert created.status_code == 201
    fic = created.json()
    assert fic["@odata.context"].endswith("/federatedIdentityCredentials/$entity")
    assert set(fic) - {"@odata.context"} == {"id", "name", "issuer", "subject", "audiences", "description"}

    by_id = http.get(_fics(info, f"/{fic['id']}"), headers=headers).json()
    by_name = http.get(_fics(info, "/github-release"), headers=headers).json()
    by_key = http.get(_fics(info, "(name='github-release')"), headers=headers).json()
    assert by_id["id"] == by_name["id"] == by_key["id"] == fic["id"]
    filtered = http.get(
        _fics(info), headers=headers, params={"$filter": "subject eq 'repo:contoso/payments:ref:refs/heads/release'"}
    ).json()
    assert [f["name"] for f in filtered["value"]] == ["github-release"]

    patched = http.patch(_fics(info, f"/{fic['id']}"), headers=headers, json={"description": "changed"})
    assert patched.status_code == 204
    assert http.get(_fics(info, f"/{fic['id']}"), headers=headers).json()["description"] == "changed"
    renamed = http.patch(_fics(info, f"/{fic['id']}"), headers=headers, json={"name": "other"})
    assert renamed.status_code == 400

    assert http.delete(_fics(info, f"/{fic['id']}"), headers=headers).status_code == 204
    gone = http.get(_fics(info, f"/{fic['id']}"), headers=headers)
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "Request_ResourceNotFound"
    audit = [r for r in fresh_emu.runtime.world.audit.rows if r["category"] == "ApplicationManagement"]
    assert len(audit) == 3  # create, update, delete


def test_duplicates_are_refused(http: requests.Session, info: dict[str, Any]) -> None:
    headers = _auth(info)
    same_subject = http.post(
        _fics(info), headers=headers, json=_new("another-main", "repo:contoso/payments:ref:refs/heads/main")
    )
    assert same_subject.status_code == 400
    error = same_subject.json()["error"]
    assert error["code"] == "InvalidFederatedIdentityCredentialValue"
    assert error["message"].startswith("The combination of issuer and subject must be unique for the application.")
    same_name = http.post(_fics(info), headers=headers, json=_new("github-main", "repo:contoso/payments:pull_request"))
    assert same_name.status_code == 409
    assert same_name.json()["error"]["message"] == "FederatedIdentityCredential with name github-main already exists."
    collide = http.patch(
        _fics(info, "/github-production"),
        headers=headers,
        json={"subject": "repo:contoso/payments:ref:refs/heads/main"},
    )
    assert collide.status_code == 400


@pytest.mark.parametrize(
    "change",
    [
        {"audiences": []},
        {"audiences": ["a", "b"]},
        {"issuer": "http://insecure.example"},
        {"name": "bad name/x"},
        {"subject": ""},
        {"unknownProperty": 1},
    ],
)
def test_invalid_bodies_are_refused(http: requests.Session, info: dict[str, Any], change: dict[str, Any]) -> None:
    response = http.post(
        _fics(info), headers=_auth(info), json={**_new("valid", "repo:contoso/payments:ref:x"), **change}
    )
    assert response.status_code == 400


def test_at_most_twenty_per_application(http: requests.Session, info: dict[str, Any]) -> None:
    headers = _auth(info)
    for i in range(18):  # ci-app starts with two
        created = http.post(
            _fics(info), headers=headers, json=_new(f"env-{i}", f"repo:contoso/payments:environment:e{i}")
        )
        assert created.status_code == 201
    over = http.post(_fics(info), headers=headers, json=_new("env-x", "repo:contoso/payments:environment:x"))
    assert over.status_code == 400
    assert len(http.get(_fics(info), headers=headers, params={"$top": "999"}).json()["value"]) == 20


def test_upsert_by_name_creates_then_updates(http: requests.Session, info: dict[str, Any]) -> None:
    headers = _auth(info)
    url = _fics(info, "(name='github-tags')")
    body = {
        "issuer": GITHUB,
        "subject": "repo:contoso/payments:ref:refs/tags/v1",
        "audiences": ["api://AzureADTokenExchange"],
    }
    created = http.patch(url, headers=headers, json=body)
    assert created.status_code == 201
    assert created.json()["name"] == "github-tags"
    updated = http.patch(url, headers=headers, json={"subject": "repo:contoso/payments:ref:refs/tags/v2"})
    assert updated.status_code == 204
    assert http.get(url, headers=headers).json()["subject"] == "repo:contoso/payments:ref:refs/tags/v2"


def test_app_id_addressing_and_reader_cannot_write(http: requests.Session, info: dict[str, Any]) -> None:
    ci = info["principals"]["ci-app"]
    url = f"{info['graph']}/v1.0/applications(appId='{ci['client_id']}')/federatedIdentityCredentials"
    reader = _auth(info, "ci-app")  # Application.Read.All only
    assert len(http.get(url, headers=reader).json()["value"]) == 2
    refused = http.post(url, headers=reader, json=_new("mine", "repo:contoso/payments:ref:refs/heads/x"))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "Authorization_RequestDenied"


def test_exchange_fails_after_subject_is_changed(http: requests.Session, info: dict[str, Any]) -> None:
    """The GitHub job (ref refs/heads/main) exchanges its token; after the credential's subject is changed
    through Graph, the same job is refused with AADSTS700213."""
    ci = info["principals"]["ci-app"]

    def credential() -> ClientAssertionCredential:
        return ClientAssertionCredential(
            info["tenant_id"],
            ci["client_id"],
            lambda: _github_token(http, info),
            authority=info["authority"],
            connection_verify=info["ca_cert"],
        )

    assert credential().get_token(ARM).token
    changed = http.patch(
        _fics(info, "/github-main"),
        headers=_auth(info),
        json={"subject": "repo:contoso/payments:ref:refs/heads/release"},
    )
    assert changed.status_code == 204
    with pytest.raises(ClientAuthenticationError) as refused:
        credential().get_token(ARM)
    assert "AADSTS700213" in str(refused.value)
