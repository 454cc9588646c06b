"""Creating app registrations and service principals, and granting Graph application permissions
(`appRoleAssignments`), with Graph's authorization; and custom Azure roles (roleDefinitions PUT)."""

from __future__ import annotations

import uuid
from typing import Any

import jwt
import requests

from jitpim.emulator import Emulator
from jitpim.testing import principal_token

GRAPH = "00000003-0000-0000-c000-000000000000"


def _h(info: dict[str, Any], who: str, scope: str = "https://graph.microsoft.com/.default") -> dict[str, str]:
    return {"Authorization": "Bearer " + principal_token(info, who, scope)}


def test_an_app_is_created_gets_a_service_principal_and_consented_permissions(fresh_emu: Emulator) -> None:
    info = fresh_emu.info
    g, ca = info["graph"] + "/v1.0", info["ca_cert"]
    refused = requests.post(f"{g}/applications", json={"displayName": "x"}, headers=_h(info, "ci-app"), verify=ca)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "Authorization_RequestDenied"
    made = requests.post(
        f"{g}/applications", json={"displayName": "jitpim-contoso-web"}, headers=_h(info, "admin-app"), verify=ca
    )
    assert made.status_code == 201
    app = made.json()
    assert app["displayName"] == "jitpim-contoso-web" and uuid.UUID(app["appId"])
    sp = requests.post(f"{g}/servicePrincipals", json={"appId": app["appId"]}, headers=_h(info, "admin-app"), verify=ca)
    assert sp.status_code == 201 and sp.json()["appId"] == app["appId"]
    twice = requests.post(
        f"{g}/servicePrincipals", json={"appId": app["appId"]}, headers=_h(info, "admin-app"), verify=ca
    )
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "Request_MultipleObjectsWithSameKeyValue"

    graph_sp = requests.get(f"{g}/servicePrincipals(appId='{GRAPH}')", headers=_h(info, "admin-app"), verify=ca).json()
    role = next(r for r in graph_sp["appRoles"] if r["value"] == "RoleAssignmentSchedule.ReadWrite.Directory")
    assert role["id"] == "dd199f4a-f148-40a4-a2ec-f0069cc799ec"
    body = {"principalId": sp.json()["id"], "resourceId": graph_sp["id"], "appRoleId": role["id"]}
    path = f"{g}/servicePrincipals/{sp.json()['id']}/appRoleAssignments"
    assert requests.post(path, json=body, headers=_h(info, "ci-app"), verify=ca).status_code == 403
    granted = requests.post(path, json=body, headers=_h(info, "admin-app"), verify=ca)  # a Privileged Role Admin
    assert granted.status_code == 201 and granted.json()["appRoleId"] == role["id"]
    listed = requests.get(path, headers=_h(info, "admin-app"), verify=ca).json()["value"]
    assert [r["appRoleId"] for r in listed] == [role["id"]]

    # The new app's next Graph token carries the permission (after it gets a secret of its own).
    secret = requests.post(
        f"{g}/applications/{app['id']}/addPassword", json={}, headers=_h(info, "admin-app"), verify=ca
    ).json()["secretText"]
    token = requests.post(
        f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token",
        verify=ca,
        data={
            "grant_type": "client_credentials",
            "client_id": app["appId"],
            "client_secret": secret,
            "scope": "https://graph.microsoft.com/.default",
        },
    ).json()["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["roles"] == [role["value"]]

    removed = requests.delete(f"{path}/{granted.json()['id']}", headers=_h(info, "admin-app"), verify=ca)
    assert removed.status_code == 204
    assert requests.get(path, headers=_h(info, "admin-app"), verify=ca).json()["value"] == []


def test_custom_roles_need_the_right_and_unique_names(fresh_emu: Emulator) -> None:
    info = fresh_emu.info
    sub = f"/subscriptions/{info['subscription_id']}"
    guid = str(uuid.uuid4())
    url = f"{info['arm']}{sub}/providers/Microsoft.Authorization/roleDefinitions/{guid}"
    body = {
        "properties": {
            "roleName": "PIM requester (test)",
            "type": "CustomRole",
            "assignableScopes": [sub],
            "permissions": [{"actions": ["Microsoft.Authorization/roleAssignmentScheduleRequests/write"]}],
        }
    }
    arm = "https://management.azure.com/.default"
    params = {"api-version": "2022-04-01"}
    refused = requests.put(url, json=body, params=params, headers=_h(info, "ci-app", arm), verify=info["ca_cert"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "AuthorizationFailed"
    made = requests.put(url, json=body, params=params, headers=_h(info, "admin-app", arm), verify=info["ca_cert"])
    assert made.status_code == 201 and made.json()["properties"]["type"] == "CustomRole"
    again = requests.put(url, json=body, params=params, headers=_h(info, "admin-app", arm), verify=info["ca_cert"])
    assert again.status_code == 200
    other = url.rsplit("/", 1)[0] + "/" + str(uuid.uuid4())
    clash = requests.put(other, json=body, params=params, headers=_h(info, "admin-app", arm), verify=info["ca_cert"])
    assert clash.status_code == 409 and clash.json()["error"]["code"] == "RoleDefinitionWithSameNameExists"
    builtin = url.rsplit("/", 1)[0] + "/b24988ac-6180-42a0-ab88-20f7382dd24c"  # Contributor
    changed = requests.put(
        builtin, json=body, params=params, headers=_h(info, "admin-app", arm), verify=info["ca_cert"]
    )
    assert changed.status_code in (400, 403, 409)
