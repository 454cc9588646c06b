"""The broker mounts the read-only dashboard at /dashboard/ over its own ledger, behind its own Entra sign-in
for people: a lease the broker granted shows there, links stay under the mount, nothing is writable, and no
page is served without a valid token for the broker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from jitpim.broker import BrokerServer
from jitpim.dashboard.mounted import DASHBOARD_PREFIX, broker_dashboard

from .conftest import BrokerWorld


@pytest.fixture(name="mounted")
def _mounted(bw: BrokerWorld) -> Iterator[BrokerServer]:
    dashboard = broker_dashboard(bw.broker)
    server = BrokerServer(bw.broker, reaper_interval=0, mounts={DASHBOARD_PREFIX: dashboard.app}).start()
    try:
        yield server
    finally:
        server.stop()
        dashboard.close()


def _granted_and_released(bw: BrokerWorld) -> dict[str, Any]:
    submitted = bw.submit(client_request_id="dash-1")
    assert submitted.status_code == 201, submitted.text
    request = bw.poll(submitted.json()["request_id"])
    assert request["state"] == "granted", request
    assert bw.release(request["request_id"]).status_code == 200
    return bw.poll(request["request_id"])


def test_people_signed_in_to_the_broker_read_its_ledger_under_dashboard(bw: BrokerWorld, mounted: BrokerServer) -> None:
    request = _granted_and_released(bw)
    assert request["state"] == "released"
    lease_id = str((request.get("lease") or {}).get("lease_id") or "")
    assert lease_id, request
    base = f"{mounted.url}{DASHBOARD_PREFIX}"
    assert mounted.ready_line()["dashboard_url"] == base + "/"

    anonymous = bw.http.get(f"{base}/leases", allow_redirects=False, timeout=10)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"{DASHBOARD_PREFIX}/signin"

    forged = bw.http.get(f"{base}/leases", headers={"Authorization": "Bearer abc.def.ghi"}, timeout=10)
    assert forged.status_code == 401

    bearer = {"Authorization": f"Bearer {bw.approver_token('bob')}"}
    page = bw.http.get(f"{base}/leases", headers=bearer, timeout=10)
    assert page.status_code == 200, page.text
    assert 'href="/leases' not in page.text  # every link stays under the mount
    assert f'href="{DASHBOARD_PREFIX}/leases/' in page.text
    exported = bw.http.get(f"{base}/leases.json", headers=bearer, timeout=10)
    assert exported.status_code == 200
    leases = exported.json()["leases"]
    assert leases and all(row["state"] == "released" for row in leases)
    assert any(row.get("lease_id") == lease_id for row in leases), leases

    # read-only, even for a signed-in person
    assert bw.http.post(f"{base}/leases", headers=bearer, timeout=10).status_code == 405

    # the browser's way: sign in with a token, then a session cookie
    signin = bw.http.post(f"{base}/signin", data={"token": bw.approver_token("bob")}, allow_redirects=False, timeout=10)
    assert signin.status_code == 303 and signin.headers["location"] == f"{DASHBOARD_PREFIX}/"
    overview = bw.http.get(f"{base}/", timeout=10)  # the session keeps the cookie
    assert overview.status_code == 200 and "jitpim" in overview.text
    bad = bw.http.post(f"{base}/signin", data={"token": "nope"}, allow_redirects=False, timeout=10)
    assert bad.status_code == 303 and bad.headers["location"].startswith(f"{DASHBOARD_PREFIX}/signin?error=")

    # the broker's own API is unchanged beside the mount
    assert bw.http.get(f"{mounted.url}/healthz", timeout=10).json()["status"] == "ok"
