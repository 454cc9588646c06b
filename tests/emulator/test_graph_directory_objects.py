"""Users, service principals, groups and their members, directory objects and the organization, over raw
HTTPS: shapes, `$filter`/`$select`/`$top` paging, effective membership, standing membership changes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import requests

from jitpim.emulator import Emulator
from jitpim.emulator.core.directory import Membership
from jitpim.testing import app_credential

GRAPH = "https://graph.microsoft.com/.default"
GROUPS_ADMINISTRATOR = "fdd7a751-b60b-444a-984c-02652fe8fa1c"


def _auth(info: dict[str, Any], name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {app_credential(info, name).get_token(GRAPH).token}"}


def _user_auth(control: Any, name: str) -> dict[str, str]:
    token = control("tokens", {"principal": name, "scope": GRAPH, "mfa": True})["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _all_pages(http: requests.Session, url: str, headers: dict[str, str], params: dict[str, str]) -> list[Any]:
    pages = [http.get(url, headers=headers, params=params).json()]
    while "@odata.nextLink" in pages[-1] and len(pages) < 20:
        pages.append(http.get(pages[-1]["@odata.nextLink"], headers=headers).json())
    return pages


def test_users_default_properties_select_and_filter(http: requests.Session, info: dict[str, Any]) -> None:
    headers = _auth(info, "ci-app")
    users = http.get(f"{info['graph']}/v1.0/users", headers=headers).json()
    assert users["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#users"
    alice = next(u for u in users["value"] if u["userPrincipalName"] == "alice@contoso.onmicrosoft.com")
    assert set(alice) == {
        "businessPhones",
        "displayName",
        "givenName",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
        "id",
    }
    selected = http.get(
        f"{info['graph']}/v1.0/users",
        headers=headers,
        params={
            "$filter": "userPrincipalName eq 'bob@contoso.onmicrosoft.com'",
            "$select": "id,accountEnabled,userType",
        },
    ).json()["value"]
    assert selected == [{"id": info["principals"]["bob"]["object_id"], "accountEnabled": True, "userType": "Member"}]
    prefixed = http.get(
        f"{info['graph']}/v1.0/users", headers=headers, params={"$filter": "startswith(displayName,'Ali')"}
    ).json()["value"]
    assert [u["displayName"] for u in prefixed] == ["Alice Operator"]


def test_user_by_id_or_upn_and_me(http: requests.Session, info: dict[str, Any], control: Any) -> None:
    headers = _auth(info, "ci-app")
    by_upn = http.get(f"{info['graph']}/v1.0/users/alice@contoso.onmicrosoft.com", headers=headers).json()
    assert by_upn["id"] == info["principals"]["alice"]["object_id"]
    assert by_upn["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#users/$entity"
    missing = http.get(f"{info['graph']}/v1.0/users/nobody@contoso.onmicrosoft.com", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"
    me = http.get(f"{info['graph']}/v1.0/me", headers=_user_auth(control, "alice")).json()
    assert me["userPrincipalName"] == "alice@contoso.onmicrosoft.com"
    app_only = http.get(f"{info['graph']}/v1.0/me", headers=headers)
    assert app_only.status_code == 400
    assert app_only.json()["error"]["message"] == "/me request is only valid with delegated authentication flow."


def test_reading_users_needs_a_permission(http: requests.Session, info: dict[str, Any]) -> None:
    refused = http.get(f"{info['graph']}/v1.0/users", headers=_auth(info, "payments-api"))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "Authorization_RequestDenied"


def test_service_principals_filter_app_id_addressing_and_paging(http: requests.Session, info: dict[str, Any]) -> None:
    headers = _auth(info, "ci-app")
    base = f"{info['graph']}/v1.0/servicePrincipals"
    ci = info["principals"]["ci-app"]
    found = http.get(base, headers=headers, params={"$filter": f"appId eq '{ci['client_id']}'"}).json()["value"]
    assert [s["id"] for s in found] == [ci["object_id"]]
    assert found[0]["appOwnerOrganizationId"] == info["tenant_id"]
    by_app_id = http.get(f"{base}(appId='{ci['client_id']}')", headers=headers).json()
    assert by_app_id["id"] == ci["object_id"] and by_app_id["servicePrincipalType"] == "Application"
    pages = _all_pages(http, base, headers, {"$top": "2", "$select": "id,displayName"})
    assert [len(p["value"]) for p in pages] == [2, 2]
    assert "$skiptoken=" in pages[0]["@odata.nextLink"]
    # Every tenant also has Microsoft Graph's service principal (the resource its app permissions name).
    names = sorted(s["displayName"] for p in pages for s in p["value"])
    assert names == ["Microsoft Graph", "payments-api", "payments-ci", "pim-admin"]


def test_groups_and_effective_members(http: requests.Session, info: dict[str, Any], fresh_emu: Emulator) -> None:
    """Members are those in effect now: a PIM membership shows up when its start comes, and leaves at its end."""
    headers = _auth(info, "ci-app")
    group_id = info["principals"]["kv-operators"]["object_id"]
    listed = http.get(
        f"{info['graph']}/v1.0/groups", headers=headers, params={"$filter": "displayName eq 'Key Vault Operators'"}
    ).json()["value"]
    assert [g["id"] for g in listed] == [group_id]
    assert listed[0]["securityEnabled"] is True and listed[0]["groupTypes"] == []
    members_url = f"{info['graph']}/v1.0/groups/{group_id}/members"
    assert http.get(members_url, headers=headers).json()["value"] == []
    world = fresh_emu.runtime.world
    alice = info["principals"]["alice"]["object_id"]
    with world.lock:
        start = world.clock.now() + timedelta(minutes=1)
        world.directory.groups[group_id].members[alice] = Membership(start, start + timedelta(hours=1), "pim", "s-1")
    assert http.get(members_url, headers=headers).json()["value"] == []
    fresh_emu.advance(120)
    members = http.get(members_url, headers=headers).json()
    assert members["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#directoryObjects"
    assert [(m["@odata.type"], m["id"]) for m in members["value"]] == [("#microsoft.graph.user", alice)]
    member_of = http.get(f"{info['graph']}/v1.0/users/{alice}/memberOf", headers=headers).json()["value"]
    assert [m["id"] for m in member_of] == [group_id]
    owners = http.get(f"{info['graph']}/v1.0/groups/{group_id}/owners", headers=headers).json()["value"]
    assert [o["id"] for o in owners] == [info["principals"]["admin-app"]["object_id"]]
    fresh_emu.advance(3600)
    assert http.get(members_url, headers=headers).json()["value"] == []


def test_standing_membership_through_ref(http: requests.Session, info: dict[str, Any], fresh_emu: Emulator) -> None:
    """Adding members needs GroupMember.ReadWrite.All or a role such as Groups Administrator."""
    admin = _auth(info, "admin-app")
    group_id = info["principals"]["kv-operators"]["object_id"]
    ci = info["principals"]["ci-app"]["object_id"]
    ref = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{ci}"}
    refs_url = f"{info['graph']}/v1.0/groups/{group_id}/members/$ref"
    assert http.post(refs_url, headers=admin, json=ref).status_code == 403
    granted = http.post(
        f"{info['graph']}/v1.0/roleManagement/directory/roleAssignments",
        headers=admin,
        json={
            "principalId": info["principals"]["admin-app"]["object_id"],
            "roleDefinitionId": GROUPS_ADMINISTRATOR,
            "directoryScopeId": "/",
        },
    )
    assert granted.status_code == 201
    fresh_emu.advance(5)
    assert http.post(refs_url, headers=admin, json=ref).status_code == 204
    again = http.post(refs_url, headers=admin, json=ref)
    assert again.status_code == 400
    assert again.json()["error"]["message"] == (
        "One or more added object references already exist for the following modified properties: 'members'."
    )
    refs = http.get(refs_url, headers=admin).json()["value"]
    assert refs == [
        {
            "@odata.id": f"https://graph.microsoft.com/v2/{info['tenant_id']}/directoryObjects/{ci}/"
            "Microsoft.DirectoryServices.ServicePrincipal"
        }
    ]
    unknown = http.post(
        refs_url,
        headers=admin,
        json={"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/0e0e0e0e-0000-4000-8000-000000000000"},
    )
    assert unknown.status_code == 404
    removed = http.delete(f"{info['graph']}/v1.0/groups/{group_id}/members/{ci}/$ref", headers=admin)
    assert removed.status_code == 204
    assert http.delete(f"{info['graph']}/v1.0/groups/{group_id}/members/{ci}/$ref", headers=admin).status_code == 404
    activities = [r["activityDisplayName"] for r in fresh_emu.runtime.world.audit.rows]
    assert activities.count("Add member to group") == 1 and activities.count("Remove member from group") == 1


def test_pim_membership_is_not_removed_through_ref(
    http: requests.Session, info: dict[str, Any], fresh_emu: Emulator
) -> None:
    world = fresh_emu.runtime.world
    group_id = info["principals"]["kv-operators"]["object_id"]
    alice = info["principals"]["alice"]["object_id"]
    with world.lock:
        now = world.clock.now()
        world.directory.groups[group_id].members[alice] = Membership(now, now + timedelta(hours=1), "pim", "s-2")
        app = world.directory.applications[info["principals"]["admin-app"]["application_object_id"]]
        app.graph_app_roles.add("GroupMember.ReadWrite.All")
    refused = http.delete(
        f"{info['graph']}/v1.0/groups/{group_id}/members/{alice}/$ref", headers=_auth(info, "admin-app")
    )
    assert refused.status_code == 400
    assert "Privileged Identity Management" in refused.json()["error"]["message"]


def test_directory_objects_and_get_by_ids(http: requests.Session, info: dict[str, Any]) -> None:
    admin = _auth(info, "admin-app")
    alice = info["principals"]["alice"]["object_id"]
    ci = info["principals"]["ci-app"]["object_id"]
    one = http.get(f"{info['graph']}/v1.0/directoryObjects/{ci}", headers=admin).json()
    assert one["@odata.type"] == "#microsoft.graph.servicePrincipal" and one["displayName"] == "payments-ci"
    resolved = http.post(
        f"{info['graph']}/v1.0/directoryObjects/getByIds",
        headers=admin,
        json={"ids": [alice, ci, "00000000-0000-4000-8000-000000000000"]},
    ).json()
    assert resolved["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#directoryObjects"
    assert [(o["@odata.type"], o["id"]) for o in resolved["value"]] == [
        ("#microsoft.graph.user", alice),
        ("#microsoft.graph.servicePrincipal", ci),
    ]
    users_only = http.post(
        f"{info['graph']}/v1.0/directoryObjects/getByIds", headers=admin, json={"ids": [alice, ci], "types": ["user"]}
    ).json()["value"]
    assert [o["id"] for o in users_only] == [alice]
    assert http.post(f"{info['graph']}/v1.0/directoryObjects/getByIds", headers=admin, json={}).status_code == 400
    # ci-app has no Directory.Read.All: getByIds is refused, a single user is readable with User.Read.All.
    ci_headers = _auth(info, "ci-app")
    assert (
        http.post(
            f"{info['graph']}/v1.0/directoryObjects/getByIds", headers=ci_headers, json={"ids": [alice]}
        ).status_code
        == 403
    )
    assert http.get(f"{info['graph']}/v1.0/directoryObjects/{alice}", headers=ci_headers).status_code == 200


def test_organization(http: requests.Session, info: dict[str, Any], control: Any) -> None:
    org = http.get(f"{info['graph']}/v1.0/organization", headers=_user_auth(control, "bob")).json()["value"]
    assert [o["id"] for o in org] == [info["tenant_id"]]
    assert org[0]["displayName"] == "Contoso (emulated)"
    assert org[0]["verifiedDomains"][0] == {
        "capabilities": "Email, OfficeCommunicationsOnline",
        "isDefault": True,
        "isInitial": True,
        "name": "contoso.onmicrosoft.com",
        "type": "Managed",
    }
    by_id = http.get(f"{info['graph']}/v1.0/organization/{info['tenant_id']}", headers=_auth(info, "admin-app"))
    assert by_id.json()["id"] == info["tenant_id"]
    assert http.get(f"{info['graph']}/v1.0/organization", headers=_auth(info, "ci-app")).status_code == 403
