"""The emulated Azure Monitor Logs Ingestion endpoint on the wire: api-version, bearer token audience, the
data collection rule and its streams, Monitoring Metrics Publisher, gzip bodies and the 1 MB limit."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
import requests

from jitpim.emulator import Emulator
from jitpim.emulator.core.scenario import default_scenario

STREAM = "Custom-JitpimAudit_CL"


@pytest.fixture(name="setup")
def _setup(fresh_emu: Emulator, control: Any, http: requests.Session) -> dict[str, Any]:
    scenario = default_scenario()
    scenario["monitor"] = {
        "data_collection_rules": [{"name": "jitpim-audit", "streams": [STREAM], "publishers": ["ci-app"]}]
    }
    control("scenario", scenario)
    info = fresh_emu.info
    rule = control("state", method="GET")["monitor"]["data_collection_rules"][0]
    return {
        "info": info,
        "rule": rule,
        "url": f"{info['authority']}/dataCollectionRules/{rule['immutable_id']}/streams/{STREAM}",
    }


def _token(
    http: requests.Session, info: dict[str, Any], principal: str, scope: str = "https://monitor.azure.com/.default"
) -> str:
    app = info["principals"][principal]
    answer = http.post(
        f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": scope,
        },
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def _post(
    http: requests.Session,
    url: str,
    token: str | None,
    body: bytes,
    *,
    gz: bool = True,
    version: str | None = "2023-01-01",
) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if gz:
        headers["Content-Encoding"] = "gzip"
        body = gzip.compress(body)
    params = {"api-version": version} if version else {}
    return http.post(url, data=body, headers=headers, params=params)


def test_rows_are_accepted_with_204_and_stored(setup: dict[str, Any], http: requests.Session, control: Any) -> None:
    token = _token(http, setup["info"], "ci-app")
    rows = [
        {"TimeGenerated": "2026-01-05T09:00:00Z", "LeaseId": "a"},
        {"TimeGenerated": "2026-01-05T09:00:01Z", "LeaseId": "b"},
    ]
    answer = _post(http, setup["url"], token, json.dumps(rows).encode())
    assert answer.status_code == 204 and answer.content == b""
    plain = _post(http, setup["url"].replace(STREAM, STREAM.lower()), token, b'[{"LeaseId": "c"}]', gz=False)
    assert plain.status_code == 204  # stream names are case-insensitive; identity encoding is accepted too
    stored = control("state", method="GET")["monitor"]["ingested"]
    assert [r["row"]["LeaseId"] for r in stored] == ["a", "b", "c"]
    assert {r["stream"] for r in stored} == {STREAM}


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("no api-version", 400, "MissingApiVersionParameter"),
        ("old api-version", 400, "InvalidApiVersionParameter"),
        ("no token", 401, "AuthenticationFailed"),
        ("graph token", 401, "InvalidAuthenticationTokenAudience"),
        ("unknown rule", 404, "NotFound"),
        ("not a publisher", 403, "OperationFailed"),
        ("unknown stream", 400, "InvalidStream"),
        ("not gzip", 400, "InvalidContentEncoding"),
        ("not an array", 400, "InvalidRequestBody"),
        ("too big", 413, "ContentLengthLimitExceeded"),
    ],
)
def test_refusals_use_the_service_envelope(
    setup: dict[str, Any], http: requests.Session, control: Any, case: str, status: int, code: str
) -> None:
    info, url = setup["info"], setup["url"]
    token = _token(http, info, "ci-app")
    body = b'[{"LeaseId": "x"}]'
    if case == "no api-version":
        answer = _post(http, url, token, body, version=None)
    elif case == "old api-version":
        answer = _post(http, url, token, body, version="2020-01-01")
    elif case == "no token":
        answer = _post(http, url, None, body)
    elif case == "graph token":
        answer = _post(http, url, _token(http, info, "ci-app", "https://graph.microsoft.com/.default"), body)
    elif case == "unknown rule":
        answer = _post(
            http, url.replace(setup["rule"]["immutable_id"], "dcr-00000000000000000000000000000000"), token, body
        )
    elif case == "not a publisher":
        answer = _post(http, url, _token(http, info, "admin-app"), body)
    elif case == "unknown stream":
        answer = _post(http, url.replace(STREAM, "Custom-Other_CL"), token, body)
    elif case == "not gzip":
        answer = http.post(
            url,
            data=body,
            params={"api-version": "2023-01-01"},
            headers={"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"},
        )
    elif case == "not an array":
        answer = _post(http, url, token, b'{"LeaseId": "x"}')
    else:
        answer = _post(http, url, token, json.dumps([{"pad": "x" * 1024}] * 1100).encode())
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code and error["message"]
    if code == "OperationFailed":
        assert "does not have access to ingest data" in error["message"]
    assert control("state", method="GET")["monitor"]["ingested"] == []


def test_a_publisher_granted_through_arm_can_ingest(
    setup: dict[str, Any], http: requests.Session, fresh_emu: Emulator
) -> None:
    """The rule is an ARM resource: granting Monitoring Metrics Publisher on it works as in Azure."""
    import uuid

    info, rule = setup["info"], setup["rule"]
    admin_arm = _token(http, info, "admin-app", "https://management.azure.com/.default")
    definitions = f"/subscriptions/{info['subscription_id']}/providers/Microsoft.Authorization/roleDefinitions"
    role = f"{definitions}/3913510d-42f4-4e42-8a64-420c390055eb"  # Monitoring Metrics Publisher
    granted = http.put(
        f"{info['arm']}{rule['resource_id']}/providers/Microsoft.Authorization/roleAssignments/{uuid.uuid4()}",
        params={"api-version": "2022-04-01"},
        headers={"Authorization": f"Bearer {admin_arm}"},
        json={
            "properties": {
                "roleDefinitionId": role,
                "principalId": info["principals"]["payments-api"]["object_id"],
                "principalType": "ServicePrincipal",
            }
        },
    )
    assert granted.status_code == 201, granted.text
    early = _post(http, setup["url"], _token(http, info, "payments-api"), b'[{"LeaseId": "z"}]')
    assert early.status_code == 403  # the assignment has not propagated yet
    fresh_emu.advance(10)
    answer = _post(http, setup["url"], _token(http, info, "payments-api"), b'[{"LeaseId": "z"}]')
    assert answer.status_code == 204, answer.text


def test_default_scenario_has_a_rule_nobody_may_publish_to(
    fresh_emu: Emulator, control: Any, http: requests.Session
) -> None:
    control("reset")
    control("scenario", default_scenario())
    rules = control("state", method="GET")["monitor"]["data_collection_rules"]
    assert [r["name"] for r in rules] == ["jitpim-audit"] and rules[0]["immutable_id"].startswith("dcr-")
    url = f"{fresh_emu.info['authority']}/dataCollectionRules/{rules[0]['immutable_id']}/streams/{STREAM}"
    answer = _post(http, url, _token(http, fresh_emu.info, "ci-app"), b"[]")
    assert answer.status_code == 403
