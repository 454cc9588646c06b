"""ARM list paging: role assignment lists come 100 per page with an absolute `nextLink` back to the same route
(carrying an opaque `$skiptoken`), and azure-mgmt-authorization's ItemPaged follows it to the last item."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from azure.mgmt.authorization import AuthorizationManagementClient

from jitpim.emulator import Emulator
from jitpim.emulator.core.rbac import RoleAssignment
from jitpim.testing import app_credential

ARM_SCOPE = "https://management.azure.com/.default"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
COUNT = 250


def _seed(emu: Emulator, count: int) -> set[str]:
    """`count` Reader assignments on the subscription for made-up service principals; their names."""
    world = emu.runtime.world
    scope = f"/subscriptions/{world.subscription_id}"
    names: set[str] = set()
    with world.lock:
        now = world.clock.now()
        for _ in range(count):
            name = str(uuid.uuid4())
            world.rbac.assignments[name] = RoleAssignment(
                name=name,
                scope=scope,
                role_definition_id=READER,
                principal_id=str(uuid.uuid4()),
                principal_type="ServicePrincipal",
                created_on=now,
            )
            names.add(name)
    return names


@pytest.fixture(name="seeded")
def _seeded(fresh_emu: Emulator) -> set[str]:
    return _seed(fresh_emu, COUNT)


def test_sdk_list_for_scope_follows_next_link_to_every_assignment(
    fresh_emu: Emulator, info: dict[str, Any], seeded: set[str]
) -> None:
    client = AuthorizationManagementClient(
        app_credential(info, "admin-app"),
        info["subscription_id"],
        base_url=info["arm"],
        connection_verify=info["ca_cert"],
        credential_scopes=[ARM_SCOPE],
    )
    listed = [a.name for a in client.role_assignments.list_for_scope(f"/subscriptions/{info['subscription_id']}")]
    assert len(listed) == len(set(listed))  # no item twice across pages
    assert seeded <= set(listed)
    with fresh_emu.runtime.world.lock:
        assert len(listed) == len(fresh_emu.runtime.world.rbac.assignments)


def test_raw_pages_have_100_items_and_an_absolute_next_link(info: dict[str, Any], seeded: set[str]) -> None:
    token = app_credential(info, "admin-app").get_token(ARM_SCOPE).token
    session = requests.Session()
    session.verify = info["ca_cert"]
    session.headers["Authorization"] = f"Bearer {token}"
    url = f"{info['arm']}/subscriptions/{info['subscription_id']}/providers/Microsoft.Authorization/roleAssignments"
    first = session.get(url, params={"api-version": "2022-04-01"}, timeout=10)
    assert first.status_code == 200, first.text
    body = first.json()
    assert len(body["value"]) == 100
    link = body["nextLink"]
    parts = urlsplit(link)
    assert link.startswith(url + "?")  # absolute, the same route
    query = parse_qs(parts.query)
    assert query["api-version"] == ["2022-04-01"] and query["$skiptoken"][0]
    assert query["$skiptoken"][0] != "100"  # opaque, not a bare offset

    names = [item["name"] for item in body["value"]]
    pages = 1
    while link:
        page = session.get(link, timeout=10)
        assert page.status_code == 200, page.text
        data = page.json()
        names.extend(item["name"] for item in data["value"])
        link = data.get("nextLink")
        pages += 1
        assert pages < 10
    assert len(names) == len(set(names)) and seeded <= set(names)
    assert pages == 3  # 250 seeded plus the scenario's few: 100 + 100 + the rest


def test_a_filtered_list_that_fits_one_page_has_no_next_link(info: dict[str, Any], seeded: set[str]) -> None:
    token = app_credential(info, "admin-app").get_token(ARM_SCOPE).token
    admin = info["principals"]["admin-app"]["object_id"]
    response = requests.get(
        f"{info['arm']}/subscriptions/{info['subscription_id']}/providers/Microsoft.Authorization/roleAssignments",
        params={"api-version": "2022-04-01", "$filter": f"principalId eq '{admin}'"},
        headers={"Authorization": f"Bearer {token}"},
        verify=info["ca_cert"],
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["value"] and "nextLink" not in body


def test_a_forged_skip_token_is_a_400(info: dict[str, Any]) -> None:
    token = app_credential(info, "admin-app").get_token(ARM_SCOPE).token
    response = requests.get(
        f"{info['arm']}/subscriptions/{info['subscription_id']}/providers/Microsoft.Authorization/roleAssignments",
        params={"api-version": "2022-04-01", "$skiptoken": "not-a-token"},
        headers={"Authorization": f"Bearer {token}"},
        verify=info["ca_cert"],
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidSkipToken"
