"""Microsoft's own Graph SDK (msgraph-sdk `GraphServiceClient`, unchanged) against the emulated directory.

The client gets an azure-identity credential and the request adapter's base URL points at the emulator;
httpx reads the CA bundle from SSL_CERT_FILE.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from azure.core.credentials import AccessToken
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphServiceClient
from msgraph.generated.applications.applications_request_builder import ApplicationsRequestBuilder
from msgraph.generated.applications.item.add_password.add_password_post_request_body import (
    AddPasswordPostRequestBody,
)
from msgraph.generated.applications.item.remove_password.remove_password_post_request_body import (
    RemovePasswordPostRequestBody,
)
from msgraph.generated.models.federated_identity_credential import FederatedIdentityCredential
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_credential import PasswordCredential
from msgraph.generated.models.reference_create import ReferenceCreate
from msgraph.generated.models.unified_role_assignment import UnifiedRoleAssignment
from msgraph.generated.role_management.directory.role_definitions.role_definitions_request_builder import (
    RoleDefinitionsRequestBuilder,
)
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from jitpim.emulator import Emulator
from jitpim.testing import app_credential

GRAPH = "https://graph.microsoft.com/.default"
APPLICATION_ADMINISTRATOR = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
GROUPS_ADMINISTRATOR = "fdd7a751-b60b-444a-984c-02652fe8fa1c"
T = TypeVar("T")


@pytest.fixture(name="sdk_env")
def _sdk_env(info: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("SSL_CERT_FILE", info["ca_cert"])
    return info


def _client(info: dict[str, Any], credential: Any) -> GraphServiceClient:
    client = GraphServiceClient(credentials=credential, scopes=[GRAPH])
    client.request_adapter.base_url = info["graph"] + "/v1.0"
    return client


def _run(info: dict[str, Any], name: str, body: Callable[[GraphServiceClient], Awaitable[T]]) -> T:
    """Run one SDK conversation as `name` (an app) on a fresh event loop and client."""

    async def main() -> T:
        return await body(_client(info, app_credential(info, name)))

    return asyncio.run(main())


def test_list_filter_and_get_by_app_id(sdk_env: dict[str, Any]) -> None:
    info = sdk_env
    payments = info["principals"]["payments-api"]

    async def body(client: GraphServiceClient) -> tuple[Any, Any]:
        query = ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters(
            filter=f"appId eq '{payments['client_id']}'", select=["id", "appId", "displayName"]
        )
        listed = await client.applications.get(RequestConfiguration(query_parameters=query))
        one = await client.applications_with_app_id(payments["client_id"]).get()
        return listed, one

    listed, one = _run(info, "ci-app", body)
    assert [a.display_name for a in listed.value] == ["payments-api"]
    assert one.id == payments["application_object_id"]
    assert one.password_credentials[0].secret_text is None


def test_add_password_remove_password_and_denial(sdk_env: dict[str, Any], fresh_emu: Emulator) -> None:
    info = sdk_env
    app_id = info["principals"]["payments-api"]["application_object_id"]

    async def denied(client: GraphServiceClient) -> ODataError:
        with pytest.raises(ODataError) as caught:
            await client.applications.by_application_id(app_id).add_password.post(AddPasswordPostRequestBody())
        return caught.value

    error = _run(info, "ci-app", denied)
    assert error.response_status_code == 403
    assert error.error.code == "Authorization_RequestDenied"

    async def grant(client: GraphServiceClient) -> Any:
        return await client.role_management.directory.role_assignments.post(
            UnifiedRoleAssignment(
                odata_type="#microsoft.graph.unifiedRoleAssignment",
                role_definition_id=APPLICATION_ADMINISTRATOR,
                principal_id=info["principals"]["ci-app"]["object_id"],
                directory_scope_id="/",
            )
        )

    assert _run(info, "admin-app", grant).id
    fresh_emu.advance(5)

    async def rotate(client: GraphServiceClient) -> tuple[PasswordCredential, list[str]]:
        added = await client.applications.by_application_id(app_id).add_password.post(
            AddPasswordPostRequestBody(password_credential=PasswordCredential(display_name="sdk-rotation"))
        )
        assert added is not None and added.key_id is not None
        await client.applications.by_application_id(app_id).remove_password.post(
            RemovePasswordPostRequestBody(key_id=added.key_id)
        )
        after = await client.applications.by_application_id(app_id).get()
        return added, [str(p.key_id) for p in after.password_credentials]

    added, remaining = _run(info, "ci-app", rotate)
    assert added.secret_text and added.hint == added.secret_text[:3]
    assert str(added.key_id) not in remaining


def test_federated_credential_by_name_and_duplicate_error(sdk_env: dict[str, Any]) -> None:
    info = sdk_env
    app_id = info["principals"]["ci-app"]["application_object_id"]

    async def body(client: GraphServiceClient) -> tuple[Any, Any, ODataError]:
        fics = client.applications.by_application_id(app_id).federated_identity_credentials
        created = await fics.post(
            FederatedIdentityCredential(
                name="sdk-env",
                issuer="https://token.actions.githubusercontent.com",
                subject="repo:contoso/payments:environment:staging",
                audiences=["api://AzureADTokenExchange"],
            )
        )
        by_name = (
            await client.applications.by_application_id(app_id)
            .federated_identity_credentials_with_name("sdk-env")
            .get()
        )
        with pytest.raises(ODataError) as caught:
            await fics.post(
                FederatedIdentityCredential(
                    name="sdk-env-2",
                    issuer="https://token.actions.githubusercontent.com",
                    subject="repo:contoso/payments:environment:staging",
                    audiences=["api://AzureADTokenExchange"],
                )
            )
        return created, by_name, caught.value

    created, by_name, duplicate = _run(info, "admin-app", body)
    assert created.id == by_name.id and by_name.subject == "repo:contoso/payments:environment:staging"
    assert duplicate.response_status_code == 400
    assert duplicate.error.code == "InvalidFederatedIdentityCredentialValue"


def test_users_paging_role_definitions_and_group_members(sdk_env: dict[str, Any], fresh_emu: Emulator) -> None:
    info = sdk_env

    async def reads(client: GraphServiceClient) -> tuple[list[str], Any, Any]:
        query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(top=1, select=["id", "userPrincipalName"])
        page = await client.users.get(RequestConfiguration(query_parameters=query))
        upns = [u.user_principal_name for u in page.value]
        while page.odata_next_link:
            page = await client.users.with_url(page.odata_next_link).get()
            upns += [u.user_principal_name for u in page.value]
        definitions = await client.role_management.directory.role_definitions.get(
            RequestConfiguration(
                query_parameters=RoleDefinitionsRequestBuilder.RoleDefinitionsRequestBuilderGetQueryParameters(
                    filter="displayName eq 'Groups Administrator'"
                )
            )
        )
        organization = await client.organization.get()
        return upns, definitions, organization

    upns, definitions, organization = _run(info, "admin-app", reads)
    assert sorted(upns) == ["alice@contoso.onmicrosoft.com", "bob@contoso.onmicrosoft.com"]
    assert [d.id for d in definitions.value] == [GROUPS_ADMINISTRATOR]
    assert organization.value[0].id == info["tenant_id"]

    async def grant(client: GraphServiceClient) -> Any:
        return await client.role_management.directory.role_assignments.post(
            UnifiedRoleAssignment(
                role_definition_id=GROUPS_ADMINISTRATOR,
                principal_id=info["principals"]["admin-app"]["object_id"],
                directory_scope_id="/",
            )
        )

    _run(info, "admin-app", grant)
    fresh_emu.advance(5)
    group_id = info["principals"]["kv-operators"]["object_id"]
    alice = info["principals"]["alice"]["object_id"]

    async def add_member(client: GraphServiceClient) -> list[str]:
        await client.groups.by_group_id(group_id).members.ref.post(
            ReferenceCreate(odata_id=f"https://graph.microsoft.com/v1.0/directoryObjects/{alice}")
        )
        members = await client.groups.by_group_id(group_id).members.get()
        return [m.id for m in members.value]

    assert _run(info, "admin-app", add_member) == [alice]


class _SignedInUser:
    """A TokenCredential holding a delegated token the emulator minted as an interactive sign-in would."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3000)


def test_me_with_a_signed_in_user(sdk_env: dict[str, Any], control: Any) -> None:
    info = sdk_env
    alice = info["principals"]["alice"]
    token = control("tokens", {"principal": "alice", "scope": GRAPH, "mfa": True})["access_token"]

    async def main() -> Any:
        return await _client(info, _SignedInUser(token)).me.get()

    me = asyncio.run(main())
    assert me.id == alice["object_id"] and me.user_principal_name == alice["user_principal_name"]
