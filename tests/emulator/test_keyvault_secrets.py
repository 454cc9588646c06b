"""The Key Vault secrets data plane, driven by azure-keyvault-secrets' SecretClient over real HTTPS.

The caller (admin-app) holds Key Vault Secrets Officer on the vault from the scenario; RBAC denials are covered in
test_keyvault_access.py. Wire details the SDK hides (ids, paging links, error envelopes) are read raw.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.identity import ClientSecretCredential
from azure.keyvault.secrets import SecretClient

from jitpim.emulator import Emulator
from jitpim.emulator.core.scenario import default_scenario

VAULT = "kv-payments"
DAY = 86400


def _scenario() -> dict[str, Any]:
    scenario = copy.deepcopy(default_scenario())
    scenario["rbac"].append(
        {
            "principal": "admin-app",
            "role": "Key Vault Secrets Officer",
            "scope": "/subscriptions/{subscription_id}/resourceGroups/rg-payments/providers/Microsoft.KeyVault/vaults/"
            + VAULT,
        }
    )
    return scenario


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    """This module's emulator: the default scenario plus a standing Secrets Officer grant for admin-app."""
    with Emulator.start(scenario=_scenario()) as emulator:
        yield emulator


@pytest.fixture
def credential(emu: Emulator) -> ClientSecretCredential:
    # A reset reseeds the world (and the apps' client secrets), so every test signs in afresh.
    emu.reset()
    info = emu.info
    app = info["principals"]["admin-app"]
    return ClientSecretCredential(
        info["tenant_id"],
        app["client_id"],
        app["client_secret"],
        authority=info["authority"],
        disable_instance_discovery=True,
        connection_verify=info["ca_cert"],
    )


@pytest.fixture
def client(emu: Emulator, credential: ClientSecretCredential) -> SecretClient:
    return SecretClient(
        vault_url=emu.info["vaults"][VAULT]["url"],
        credential=credential,
        verify_challenge_resource=False,
        connection_verify=emu.info["ca_cert"],
        api_version="7.5",
    )


@pytest.fixture
def raw(emu: Emulator, credential: ClientSecretCredential, client: SecretClient) -> Any:
    """`raw(method, path, **kw)`: an authenticated request to the vault, returning the `requests` response."""
    info = emu.info

    def send(method: str, path: str, *, api_version: str | None = "7.5", **kwargs: Any) -> requests.Response:
        token = credential.get_token("https://vault.azure.net/.default").token
        params = {"api-version": api_version, **kwargs.pop("params", {})} if api_version else {}
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        url = path if path.startswith("https://") else info["vaults"][VAULT]["url"] + path
        return requests.request(
            method, url, params=params, headers=headers, verify=info["ca_cert"], timeout=10, **kwargs
        )

    return send


def _now(emu: Emulator) -> int:
    return int(emu.runtime.world.clock.now().timestamp())


def _state(emu: Emulator) -> dict[str, Any]:
    info = emu.info
    response = requests.get(f"{info['control']}/state", verify=info["ca_cert"], timeout=10)
    response.raise_for_status()
    dumped: dict[str, Any] = response.json()["keyvault"]["vaults"][VAULT]
    return dumped


# -- set / get / update ----------------------------------------------------------------------------------------


def test_set_returns_a_bundle_in_the_real_shape(emu: Emulator, client: SecretClient, raw: Any) -> None:
    vault_url = emu.info["vaults"][VAULT]["url"]
    response = raw(
        "PUT",
        "/secrets/api-token",
        json={
            "value": "s3cr3t",
            "contentType": "text/plain",
            "tags": {"owner": "ci"},
            "attributes": {"exp": 2 * 10**9},
        },
    )
    assert response.status_code == 200
    bundle = response.json()
    assert re.fullmatch(re.escape(vault_url) + r"/secrets/api-token/[0-9a-f]{32}", bundle["id"])
    assert bundle["value"] == "s3cr3t"
    assert bundle["contentType"] == "text/plain"
    assert bundle["tags"] == {"owner": "ci"}
    attributes = bundle["attributes"]
    assert attributes["enabled"] is True
    assert attributes["exp"] == 2 * 10**9
    assert "nbf" not in attributes
    assert attributes["created"] == attributes["updated"]
    assert abs(attributes["created"] - _now(emu)) <= 2
    assert attributes["recoverableDays"] == 90
    assert attributes["recoveryLevel"] == "Recoverable+Purgeable"

    secret = client.get_secret("api-token")
    assert secret.value == "s3cr3t"
    assert secret.id == bundle["id"]
    assert secret.properties.content_type == "text/plain"


def test_timestamps_follow_the_emulated_clock(emu: Emulator, client: SecretClient) -> None:
    first = client.set_secret("clocked", "v1")
    emu.advance(3 * DAY)
    second = client.set_secret("clocked", "v2")
    assert first.properties.created_on is not None and second.properties.created_on is not None
    elapsed = (second.properties.created_on - first.properties.created_on).total_seconds()
    assert 3 * DAY <= elapsed <= 3 * DAY + 5


def test_latest_and_specific_versions(client: SecretClient, raw: Any) -> None:
    v1 = client.set_secret("rotating", "one")
    v2 = client.set_secret("rotating", "two")
    assert client.get_secret("rotating").value == "two"
    assert client.get_secret("rotating", v1.properties.version).value == "one"
    assert raw("GET", "/secrets/rotating").json()["value"] == "two"
    assert raw("GET", "/secrets/rotating/").json()["id"] == v2.id
    assert raw("GET", f"/secrets/rotating/{v1.properties.version}").json()["value"] == "one"


def test_update_changes_one_version_and_returns_no_value(emu: Emulator, client: SecretClient, raw: Any) -> None:
    v1 = client.set_secret("patched", "one", content_type="text/plain")
    client.set_secret("patched", "two")
    emu.advance(60)
    response = raw(
        "PATCH",
        f"/secrets/patched/{v1.properties.version}",
        json={"contentType": "application/json", "tags": {"rotated": "yes"}, "attributes": {"nbf": 1700000000}},
    )
    assert response.status_code == 200
    body = response.json()
    assert "value" not in body
    assert body["contentType"] == "application/json"
    assert body["tags"] == {"rotated": "yes"}
    assert body["attributes"]["nbf"] == 1700000000
    assert body["attributes"]["updated"] - body["attributes"]["created"] >= 60
    assert client.get_secret("patched").properties.content_type is None  # the latest version is untouched


def test_a_disabled_version_cannot_be_read_until_enabled(client: SecretClient, raw: Any) -> None:
    old = client.set_secret("toggled", "old")
    client.set_secret("toggled", "new")
    client.update_secret_properties("toggled", old.properties.version, enabled=False)

    response = raw("GET", f"/secrets/toggled/{old.properties.version}")
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": "Forbidden",
            "message": "Operation get is not allowed on a disabled secret.",
            "innererror": {"code": "SecretDisabled"},
        }
    }
    assert client.get_secret("toggled").value == "new"
    versions = {p.version: p.enabled for p in client.list_properties_of_secret_versions("toggled")}
    assert versions[old.properties.version] is False

    client.update_secret_properties("toggled", old.properties.version, enabled=True)
    assert client.get_secret("toggled", old.properties.version).value == "old"


def test_names_are_case_insensitive_and_keep_their_first_spelling(client: SecretClient) -> None:
    client.set_secret("Mixed-Case", "one")
    again = client.set_secret("mixed-case", "two")
    assert again.name == "Mixed-Case"
    assert client.get_secret("MIXED-CASE").value == "two"
    assert [p.name for p in client.list_properties_of_secrets()].count("Mixed-Case") == 1


def test_an_empty_value_is_a_value(client: SecretClient) -> None:
    client.set_secret("empty", "")
    assert client.get_secret("empty").value == ""


# -- lists and paging ------------------------------------------------------------------------------------------


def test_versions_page_with_next_links_back_to_the_vault(emu: Emulator, client: SecretClient, raw: Any) -> None:
    written = {client.set_secret("paged", f"value-{i}").properties.version for i in range(7)}

    listed = [p.version for p in client.list_properties_of_secret_versions("paged", max_page_size=2)]
    assert sorted(listed) == sorted(written)

    vault_url = emu.info["vaults"][VAULT]["url"]
    first = raw("GET", "/secrets/paged/versions", params={"maxresults": 3}).json()
    assert len(first["value"]) == 3
    assert all(re.fullmatch(re.escape(vault_url) + r"/secrets/paged/[0-9a-f]{32}", v["id"]) for v in first["value"])
    assert all("value" not in v for v in first["value"])
    link = first["nextLink"]
    assert link.startswith(f"{vault_url}/secrets/paged/versions?api-version=7.5&$skiptoken=")
    assert link.endswith("&maxresults=3")
    seen = [v["id"] for v in first["value"]]
    while link:
        page = raw("GET", link, api_version=None).json()
        seen += [v["id"] for v in page["value"]]
        link = page["nextLink"]
    assert len(seen) == len(set(seen)) == 7


def test_list_secrets_shows_each_live_secret_once_without_values(client: SecretClient, raw: Any) -> None:
    for name in ("alpha", "bravo", "charlie"):
        client.set_secret(name, "x")
        client.set_secret(name, "y")
    names = [p.name for p in client.list_properties_of_secrets(max_page_size=1)]
    assert names == ["alpha", "bravo", "charlie", "db-password", "payments-api-key"]

    page = raw("GET", "/secrets", params={"maxresults": 25}).json()
    assert page["nextLink"] is None
    item = next(i for i in page["value"] if i["id"].endswith("/secrets/db-password"))
    assert "value" not in item
    assert item["contentType"] == "text/plain"
    assert item["tags"] == {"owner": "payments"}


def test_versions_of_an_unknown_secret_list_empty(client: SecretClient) -> None:
    assert list(client.list_properties_of_secret_versions("never-written")) == []


# -- soft delete, recover, purge -------------------------------------------------------------------------------


def test_soft_delete_recover_and_purge(emu: Emulator, client: SecretClient, raw: Any) -> None:
    client.set_secret("doomed", "v1")
    client.set_secret("doomed", "v2")
    deleted = client.begin_delete_secret("doomed", _polling_interval=0).result()
    vault_url = emu.info["vaults"][VAULT]["url"]
    assert deleted.recovery_id == f"{vault_url}/deletedsecrets/doomed"
    assert deleted.deleted_date is not None and deleted.scheduled_purge_date is not None
    assert (deleted.scheduled_purge_date - deleted.deleted_date).days == 90

    with pytest.raises(ResourceNotFoundError) as gone:
        client.get_secret("doomed")
    assert gone.value.error is not None and gone.value.error.code == "SecretNotFound"
    assert "A secret with (name/id) doomed was not found in this key vault." in str(gone.value)
    assert [d.name for d in client.list_deleted_secrets()] == ["doomed"]
    assert "doomed" not in [p.name for p in client.list_properties_of_secrets()]

    with pytest.raises(ResourceExistsError) as conflict:
        client.set_secret("DOOMED", "v3")  # names compare case-insensitively
    body = conflict.value.response.json()["error"]
    assert body["code"] == "Conflict"
    assert body["innererror"]["code"] == "ObjectIsDeletedButRecoverable"
    assert "currently in a deleted but recoverable state" in body["message"]

    recovered = client.begin_recover_deleted_secret("doomed", _polling_interval=0).result()
    assert recovered.name == "doomed"
    assert client.get_secret("doomed").value == "v2"
    assert len(list(client.list_properties_of_secret_versions("doomed"))) == 2

    client.begin_delete_secret("doomed", _polling_interval=0).wait()
    assert raw("DELETE", "/deletedsecrets/doomed").status_code == 204
    missing = raw("GET", "/deletedsecrets/doomed")
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": "SecretNotFound", "message": "Deleted Secret not found: doomed"}
    assert client.set_secret("doomed", "fresh").value == "fresh"
    assert len(list(client.list_properties_of_secret_versions("doomed"))) == 1


def test_deleted_secrets_are_purged_at_the_end_of_retention(emu: Emulator, client: SecretClient) -> None:
    client.begin_delete_secret("payments-api-key", _polling_interval=0).wait()
    emu.advance(89 * DAY)
    assert [d.name for d in client.list_deleted_secrets()] == ["payments-api-key"]
    emu.advance(DAY + 1)
    assert list(client.list_deleted_secrets()) == []
    assert client.set_secret("payments-api-key", "reused").value == "reused"


# -- backup and restore ----------------------------------------------------------------------------------------


def test_backup_restores_every_version_after_purge(client: SecretClient) -> None:
    versions = {client.set_secret("backed-up", f"plaintext-{i}").properties.version for i in range(3)}
    blob = client.backup_secret("backed-up")
    assert b"plaintext" not in blob  # opaque, as the real blob is

    with pytest.raises(ResourceExistsError):
        client.restore_secret_backup(blob)
    client.begin_delete_secret("backed-up", _polling_interval=0).wait()
    with pytest.raises(ResourceExistsError):
        client.restore_secret_backup(blob)
    client.purge_deleted_secret("backed-up")

    restored = client.restore_secret_backup(blob)
    assert restored.name == "backed-up"
    assert {p.version for p in client.list_properties_of_secret_versions("backed-up")} == versions
    assert client.get_secret("backed-up").value == "plaintext-2"


def test_restore_refuses_a_foreign_blob(raw: Any) -> None:
    response = raw("POST", "/secrets/restore", json={"value": "bm90LWEtYmFja3Vw"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadParameter"


# -- errors ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bad_name", "x" * 128, "dots.not.allowed"])
def test_invalid_names_are_bad_parameters(raw: Any, name: str) -> None:
    response = raw("PUT", f"/secrets/{name}", json={"value": "x"})
    assert response.status_code == 400
    assert response.json() == {
        "error": {"code": "BadParameter", "message": f"The request URI contains an invalid name: {name}"}
    }


def test_malformed_json_is_a_bad_parameter(raw: Any, client: SecretClient) -> None:
    response = raw("PUT", "/secrets/broken", data=b'{"value": ', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadParameter"
    with pytest.raises(ResourceNotFoundError):
        client.get_secret("broken")


def test_a_value_is_required_and_bounded(raw: Any) -> None:
    assert raw("PUT", "/secrets/no-value", json={"contentType": "x"}).json()["error"]["code"] == "BadParameter"
    too_long = raw("PUT", "/secrets/too-long", json={"value": "x" * 25601})
    assert too_long.status_code == 400
    assert "maximum permitted length of 25600 characters" in too_long.json()["error"]["message"]


def test_unknown_version_is_not_found(client: SecretClient, raw: Any) -> None:
    client.set_secret("known", "v")
    response = raw("GET", "/secrets/known/0123456789abcdef0123456789abcdef")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "SecretNotFound"
    assert "(name/id) known/0123456789abcdef0123456789abcdef" in response.json()["error"]["message"]


@pytest.mark.parametrize("version", ["7.9", "7.5-preview", None])
def test_unsupported_api_versions_are_refused(raw: Any, version: str | None) -> None:
    response = raw("GET", "/secrets", api_version=version)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "BadParameter"


def test_page_size_must_be_between_1_and_25(raw: Any) -> None:
    assert raw("GET", "/secrets", params={"maxresults": 26}).status_code == 400
    assert raw("GET", "/secrets", params={"maxresults": 0}).status_code == 400


def test_a_throttled_write_is_retried_by_the_client(emu: Emulator, client: SecretClient) -> None:
    info = emu.info
    rule = {"kind": "throttle", "path": "^/secrets/throttled$", "method": "PUT", "count": 1, "retry_after": 0}
    requests.post(f"{info['control']}/faults", json=rule, verify=info["ca_cert"], timeout=10).raise_for_status()
    assert client.set_secret("throttled", "eventually").value == "eventually"
    assert len(_state(emu)["secrets"]["throttled"]["versions"]) == 1


# -- control-plane view and concurrency ------------------------------------------------------------------------


def test_state_dump_lists_versions_and_deletions_but_never_values(emu: Emulator, client: SecretClient) -> None:
    first = client.set_secret("dumped", "very-secret-value-1")
    client.set_secret("dumped", "very-secret-value-2")
    client.update_secret_properties("dumped", first.properties.version, enabled=False)
    client.begin_delete_secret("payments-api-key", _polling_interval=0).wait()

    info = emu.info
    text = requests.get(f"{info['control']}/state", verify=info["ca_cert"], timeout=10).text
    assert "very-secret-value" not in text and "initial-db-password-v1" not in text
    dumped = _state(emu)
    versions = dumped["secrets"]["dumped"]["versions"]
    assert [v["enabled"] for v in versions] == [False, True]
    assert versions[0]["version"] == first.properties.version
    assert dumped["secrets"]["dumped"]["latest"] == versions[1]["version"]
    assert list(dumped["deleted"]) == ["payments-api-key"]
    assert "payments-api-key" not in dumped["secrets"]


def test_concurrent_writers_each_get_their_own_version(
    emu: Emulator, client: SecretClient, credential: ClientSecretCredential
) -> None:
    threads_count, writes = 8, 25
    info = emu.info
    errors: list[BaseException] = []
    versions: list[str] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        own = SecretClient(
            vault_url=info["vaults"][VAULT]["url"],
            credential=credential,
            verify_challenge_resource=False,
            connection_verify=info["ca_cert"],
            api_version="7.5",
        )
        try:
            for i in range(writes):
                version = own.set_secret("contended", f"writer-{n}-{i}").properties.version
                with lock:
                    versions.append(version or "")
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    pool = [threading.Thread(target=writer, args=(n,)) for n in range(threads_count)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in pool)
    assert errors == []
    assert len(versions) == len(set(versions)) == threads_count * writes
    listed = {p.version for p in client.list_properties_of_secret_versions("contended")}
    assert listed == set(versions)
    assert len(_state(emu)["secrets"]["contended"]["versions"]) == threads_count * writes
