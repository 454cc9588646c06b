"""Graph application registrations over raw HTTPS: reads, password credentials, and who may change them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientSecretCredential

from jitpim.emulator import Emulator
from jitpim.emulator.core.clock import parse_time

GRAPH = "https://graph.microsoft.com/.default"
APPLICATION_ADMINISTRATOR = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"


def _credential(info: dict[str, Any], name: str, secret: str | None = None) -> ClientSecretCredential:
    app = info["principals"][name]
    return ClientSecretCredential(
        info["tenant_id"],
        app["client_id"],
        secret or app["client_secret"],
        authority=info["authority"],
        disable_instance_discovery=True,
        connection_verify=info["ca_cert"],
    )


def _auth(info: dict[str, Any], name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {_credential(info, name).get_token(GRAPH).token}"}


def _app_url(info: dict[str, Any], name: str, suffix: str = "") -> str:
    return f"{info['graph']}/v1.0/applications/{info['principals'][name]['application_object_id']}{suffix}"


def test_list_filters_by_app_id_display_name_and_prefix(http: requests.Session, info: dict[str, Any]) -> None:
    headers = _auth(info, "ci-app")
    base = f"{info['graph']}/v1.0/applications"
    payments = info["principals"]["payments-api"]
    by_app_id = http.get(base, params={"$filter": f"appId eq '{payments['client_id']}'"}, headers=headers).json()
    assert by_app_id["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#applications"
    assert [a["id"] for a in by_app_id["value"]] == [payments["application_object_id"]]
    by_name = http.get(base, params={"$filter": "displayName eq 'pim-admin'"}, headers=headers).json()["value"]
    assert [a["appId"] for a in by_name] == [info["principals"]["admin-app"]["client_id"]]
    prefixed = http.get(
        base, params={"$filter": "startswith(displayName,'pay')", "$orderby": "displayName"}, headers=headers
    ).json()["value"]
    assert [a["displayName"] for a in prefixed] == ["payments-api", "payments-ci"]


def test_password_credentials_are_listed_without_secret_text(http: requests.Session, info: dict[str, Any]) -> None:
    body = http.get(
        _app_url(info, "ci-app"), params={"$select": "id,appId,passwordCredentials"}, headers=_auth(info, "ci-app")
    ).json()
    assert set(body) == {"@odata.context", "id", "appId", "passwordCredentials"}
    assert body["@odata.context"].endswith("$metadata#applications/$entity")
    (credential,) = body["passwordCredentials"]
    assert credential["secretText"] is None
    assert credential["hint"] == info["principals"]["ci-app"]["client_secret"][:3]


def test_get_by_app_id_and_missing_or_malformed_ids(http: requests.Session, info: dict[str, Any]) -> None:
    headers = _auth(info, "ci-app")
    payments = info["principals"]["payments-api"]
    by_client = http.get(f"{info['graph']}/v1.0/applications(appId='{payments['client_id']}')", headers=headers)
    assert by_client.status_code == 200
    assert by_client.json()["id"] == payments["application_object_id"]
    missing = http.get(f"{info['graph']}/v1.0/applications/00000000-0000-0000-0000-000000000001", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"
    malformed = http.get(f"{info['graph']}/beta/applications/not-a-guid", headers=headers)
    assert malformed.status_code == 400
    assert malformed.json()["error"] == {
        **malformed.json()["error"],
        "code": "Request_BadRequest",
        "message": "Invalid object identifier 'not-a-guid'.",
    }


def test_unsupported_filter_property_and_unknown_select(http: requests.Session, info: dict[str, Any]) -> None:
    headers = _auth(info, "ci-app")
    base = f"{info['graph']}/v1.0/applications"
    bad_filter = http.get(base, params={"$filter": "notes eq 'x'"}, headers=headers)
    assert bad_filter.status_code == 400
    assert bad_filter.json()["error"]["code"] == "Request_UnsupportedQuery"
    assert "property 'notes' of resource 'Application'" in bad_filter.json()["error"]["message"]
    bad_select = http.get(base, params={"$select": "nope"}, headers=headers)
    assert bad_select.status_code == 400
    assert bad_select.json()["error"]["code"] == "Request_BadRequest"


def test_add_password_secret_works_then_remove_password_refuses_it(
    http: requests.Session, info: dict[str, Any], fresh_emu: Emulator
) -> None:
    """addPassword returns the secret once; it signs in at once; after removePassword it is refused."""
    headers = _auth(info, "admin-app")
    added = http.post(
        _app_url(info, "payments-api", "/addPassword"),
        headers=headers,
        json={"passwordCredential": {"displayName": "rotation-1"}},
    )
    assert added.status_code == 200
    body = added.json()
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.passwordCredential"
    secret = body["secretText"]
    assert len(secret) == 40 and body["hint"] == secret[:3] and body["displayName"] == "rotation-1"
    now = fresh_emu.runtime.clock.now()
    start, end = parse_time(body["startDateTime"]), parse_time(body["endDateTime"])
    assert abs((start - now).total_seconds()) < 5
    assert end.year == start.year + 2 and end.month == start.month

    token = _credential(info, "payments-api", secret).get_token(GRAPH)
    assert token.token

    listed = http.get(_app_url(info, "payments-api"), headers=headers).json()["passwordCredentials"]
    assert body["keyId"] in [p["keyId"] for p in listed]
    assert all(p["secretText"] is None for p in listed)

    removed = http.post(
        _app_url(info, "payments-api", "/removePassword"), headers=headers, json={"keyId": body["keyId"]}
    )
    assert removed.status_code == 204
    with pytest.raises(ClientAuthenticationError) as refused:
        _credential(info, "payments-api", secret).get_token(GRAPH)
    assert "AADSTS7000215" in str(refused.value)
    audit = [
        r
        for r in fresh_emu.runtime.world.audit.rows
        if r["activityDisplayName"] == "Update application \N{EN DASH} Certificates and secrets management"
    ]
    assert len(audit) == 2
    assert audit[0]["loggedByService"] == "Core Directory"
    assert audit[0]["targetResources"][0]["id"] == info["principals"]["payments-api"]["application_object_id"]
    assert secret not in str(audit)


def test_add_password_with_explicit_window_follows_the_emulated_clock(
    http: requests.Session, info: dict[str, Any], fresh_emu: Emulator
) -> None:
    headers = _auth(info, "admin-app")
    fresh_emu.advance(3600)
    default = http.post(_app_url(info, "ci-app", "/addPassword"), headers=headers).json()
    assert abs((parse_time(default["startDateTime"]) - fresh_emu.runtime.clock.now()).total_seconds()) < 5
    assert default["displayName"] is None
    start = fresh_emu.runtime.clock.now() + timedelta(days=1)
    future = http.post(
        _app_url(info, "ci-app", "/addPassword"),
        headers=headers,
        json={
            "passwordCredential": {
                "startDateTime": start.isoformat(),
                "endDateTime": (start + timedelta(days=30)).isoformat(),
            }
        },
    )
    assert future.status_code == 200
    with pytest.raises(ClientAuthenticationError):  # not valid before its start
        _credential(info, "ci-app", future.json()["secretText"]).get_token(GRAPH)
    backwards = http.post(
        _app_url(info, "ci-app", "/addPassword"),
        headers=headers,
        json={
            "passwordCredential": {
                "startDateTime": start.isoformat(),
                "endDateTime": (start - timedelta(days=1)).isoformat(),
            }
        },
    )
    assert backwards.status_code == 400
    assert backwards.json()["error"]["code"] == "Request_BadRequest"


def test_remove_password_with_unknown_or_malformed_key(http: requests.Session, info: dict[str, Any]) -> None:
    headers = _auth(info, "admin-app")
    unknown = http.post(
        _app_url(info, "ci-app", "/removePassword"),
        headers=headers,
        json={"keyId": "6a3c0b7e-0000-4000-8000-000000000000"},
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "Request_ResourceNotFound"
    malformed = http.post(_app_url(info, "ci-app", "/removePassword"), headers=headers, json={"keyId": "x"})
    assert malformed.status_code == 400


def test_owner_without_owned_by_permission_is_denied_until_application_administrator(
    http: requests.Session, info: dict[str, Any], fresh_emu: Emulator
) -> None:
    """ci-app owns payments-api but holds no Application.ReadWrite.OwnedBy: 403. A Privileged Role
    Administrator grants it Application Administrator; after directory propagation it succeeds."""
    ci_headers = _auth(info, "ci-app")
    add = _app_url(info, "payments-api", "/addPassword")
    denied = http.post(add, headers=ci_headers)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "Authorization_RequestDenied"
    assert denied.json()["error"]["message"] == "Insufficient privileges to complete the operation."

    granted = http.post(
        f"{info['graph']}/v1.0/roleManagement/directory/roleAssignments",
        headers=_auth(info, "admin-app"),
        json={
            "@odata.type": "#microsoft.graph.unifiedRoleAssignment",
            "principalId": info["principals"]["ci-app"]["object_id"],
            "roleDefinitionId": APPLICATION_ADMINISTRATOR,
            "directoryScopeId": "/",
        },
    )
    assert granted.status_code == 201
    assert http.post(add, headers=ci_headers).status_code == 403  # not propagated yet
    fresh_emu.advance(fresh_emu.runtime.world.settings.directory_propagation_seconds + 1)
    allowed = http.post(add, headers=ci_headers)
    assert allowed.status_code == 200
    assert allowed.json()["secretText"]


def test_owned_by_permission_covers_owned_applications_only(
    http: requests.Session, info: dict[str, Any], fresh_emu: Emulator
) -> None:
    world = fresh_emu.runtime.world
    with world.lock:
        ci = world.directory.applications[info["principals"]["ci-app"]["application_object_id"]]
        ci.graph_app_roles = {"Application.ReadWrite.OwnedBy"}
    headers = _auth(info, "ci-app")
    assert http.post(_app_url(info, "payments-api", "/addPassword"), headers=headers).status_code == 200
    assert http.post(_app_url(info, "admin-app", "/addPassword"), headers=headers).status_code == 403
    owners = http.get(_app_url(info, "payments-api", "/owners"), headers=headers).json()["value"]
    assert [(o["@odata.type"], o["id"]) for o in owners] == [
        ("#microsoft.graph.servicePrincipal", info["principals"]["ci-app"]["object_id"])
    ]


def test_delegated_reader_cannot_add_passwords(http: requests.Session, info: dict[str, Any], control: Any) -> None:
    token = control("tokens", {"principal": "alice", "scope": GRAPH, "mfa": True})["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert http.get(f"{info['graph']}/v1.0/applications", headers=headers).status_code == 200
    refused = http.post(_app_url(info, "payments-api", "/addPassword"), headers=headers)
    assert refused.status_code == 403


def test_missing_token_malformed_json_and_unknown_segment(http: requests.Session, info: dict[str, Any]) -> None:
    missing = http.get(f"{info['graph']}/v1.0/applications")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "InvalidAuthenticationToken"
    headers = {**_auth(info, "admin-app"), "Content-Type": "application/json"}
    malformed = http.post(_app_url(info, "ci-app", "/addPassword"), headers=headers, data=b"{not json")
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "BadRequest"
    unknown = http.get(_app_url(info, "ci-app", "/bogusSegment"), headers=headers)
    assert unknown.status_code == 400
    assert unknown.json()["error"]["message"] == "Resource not found for the segment 'bogusSegment'."
