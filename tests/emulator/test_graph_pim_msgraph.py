"""Microsoft's own Graph SDK (msgraph-sdk `GraphServiceClient`, unchanged) driving the emulated PIM:
an adminAssign with expiration that shows up as an instance and disappears at expiry with its audit rows,
and a policy violation surfacing as the SDK's `ODataError` with the real code and message.

The SDK serialises a `timedelta` as `str(td)` (`1:00:00`), which Graph refuses (msgraph-sdk-python#1262);
its writer passes an ISO-8601 string through, so durations are given as `"PT1H"`, as a real client must.

The client is built the documented way (`GraphServiceClient(credentials, scopes)`) and its request adapter's
base URL is pointed at the emulator; httpx reads the emulator's CA from SSL_CERT_FILE.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import requests
from azure.core.credentials import AccessToken
from azure.identity import ClientSecretCredential
from msgraph import GraphServiceClient
from msgraph.generated.models.expiration_pattern import ExpirationPattern
from msgraph.generated.models.expiration_pattern_type import ExpirationPatternType
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.request_schedule import RequestSchedule
from msgraph.generated.models.unified_role_assignment_schedule_request import UnifiedRoleAssignmentScheduleRequest
from msgraph.generated.models.unified_role_schedule_request_actions import UnifiedRoleScheduleRequestActions

from jitpim.emulator import Emulator

GRAPH = ["https://graph.microsoft.com/.default"]
USER_ADMIN = "fe930be7-5e62-47db-91af-98c3a49a38b1"
APP_ADMIN = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
T = TypeVar("T")


@pytest.fixture(name="sdk_info")
def _sdk_info(info: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("SSL_CERT_FILE", info["ca_cert"])
    return info


class _SignedInUser:
    """A TokenCredential holding a user's delegated token, as an interactive sign-in would yield. (MSAL's
    UsernamePasswordCredential cannot reach a loopback authority on a non-443 port.)"""

    def __init__(self, info: dict[str, Any], user: str) -> None:
        response = requests.post(
            f"{info['control']}/tokens", json={"principal": user, "mfa": True}, verify=info["ca_cert"], timeout=10
        )
        response.raise_for_status()
        self._token = str(response.json()["access_token"])

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3000)


def _run(info: dict[str, Any], app: str, body: Callable[[GraphServiceClient], Awaitable[T]]) -> T:
    principal = info["principals"][app]
    credential = ClientSecretCredential(
        info["tenant_id"],
        principal["client_id"],
        principal["client_secret"],
        authority=info["authority"],
        disable_instance_discovery=True,
        connection_verify=info["ca_cert"],
    )

    async def main() -> T:
        client = GraphServiceClient(credentials=credential, scopes=GRAPH)
        client.request_adapter.base_url = info["graph"] + "/v1.0"
        return await body(client)

    return asyncio.run(main())


def _assign_request(principal_id: str, duration: dt.timedelta | str, justification: str | None) -> Any:
    return UnifiedRoleAssignmentScheduleRequest(
        action=UnifiedRoleScheduleRequestActions.AdminAssign,
        principal_id=principal_id,
        role_definition_id=USER_ADMIN,
        directory_scope_id="/",
        justification=justification,
        schedule_info=RequestSchedule(
            start_date_time=dt.datetime.now(dt.UTC),
            expiration=ExpirationPattern(type=ExpirationPatternType.AfterDuration, duration=duration),
        ),
    )


def test_admin_assign_with_expiration_shows_an_instance_until_it_expires(
    sdk_info: dict[str, Any], fresh_emu: Emulator
) -> None:
    ci = sdk_info["principals"]["ci-app"]["object_id"]

    async def grant(client: GraphServiceClient) -> tuple[Any, list[Any]]:
        directory = client.role_management.directory
        created = await directory.role_assignment_schedule_requests.post(_assign_request(ci, "PT1H", "rotate secrets"))
        listed = await directory.role_assignment_schedule_instances.get()
        return created, list(listed.value or []) if listed else []

    created, instances = _run(sdk_info, "ci-app", grant)
    assert created.status == "Provisioned" and created.action == UnifiedRoleScheduleRequestActions.AdminAssign
    assert created.target_schedule_id == created.id
    assert created.schedule_info.expiration.duration == dt.timedelta(hours=1)
    mine = [i for i in instances if i.principal_id == ci]
    assert len(mine) == 1 and mine[0].assignment_type == "Assigned"
    assert mine[0].role_assignment_schedule_id == created.id and mine[0].end_date_time is not None

    fresh_emu.advance(3600)

    async def after(client: GraphServiceClient) -> tuple[list[Any], list[Any]]:
        listed = await client.role_management.directory.role_assignment_schedule_instances.get()
        audits = await client.audit_logs.directory_audits.get()
        return list(listed.value or []) if listed else [], list(audits.value or []) if audits else []

    instances_after, audits = _run(sdk_info, "admin-app", after)
    assert not [i for i in instances_after if i.principal_id == ci]
    activities = [(a.logged_by_service, a.activity_display_name) for a in audits]
    # Newest first: the expiry pair, then the grant's rows.
    assert activities[:2] == [
        ("PIM", "Remove member from role in PIM completed (timebound)"),
        ("Core Directory", "Remove member from role"),
    ]
    assert ("PIM", "Add member to role in PIM completed (timebound)") in activities
    assert ("Core Directory", "Add member to role") in activities
    requested = next(a for a in audits if a.activity_display_name == "Add member to role in PIM requested (timebound)")
    details = {d.key: d.value for d in requested.additional_details or []}
    assert details["RoleAssignmentRequestId"] == created.id and details["Justification"] == "rotate secrets"
    assert requested.initiated_by.app.app_id == sdk_info["principals"]["ci-app"]["client_id"]


def test_policy_violation_raises_odata_error_with_code_and_message(sdk_info: dict[str, Any]) -> None:
    ci = sdk_info["principals"]["ci-app"]["object_id"]

    async def violate(client: GraphServiceClient) -> ODataError:
        with pytest.raises(ODataError) as raised:
            await client.role_management.directory.role_assignment_schedule_requests.post(
                _assign_request(ci, "P200D", None)
            )
        return raised.value

    error = _run(sdk_info, "ci-app", violate)

    assert error.response_status_code == 400
    assert error.error is not None
    assert error.error.code == "RoleAssignmentRequestPolicyValidationFailed"
    assert error.error.message == 'The following policy rules failed: ["ExpirationRule","JustificationRule"]'


def test_timedelta_durations_from_the_sdk_are_refused_as_graph_does(sdk_info: dict[str, Any]) -> None:
    ci = sdk_info["principals"]["ci-app"]["object_id"]

    async def send(client: GraphServiceClient) -> ODataError:
        with pytest.raises(ODataError) as raised:
            await client.role_management.directory.role_assignment_schedule_requests.post(
                _assign_request(ci, dt.timedelta(hours=1), "rotate secrets")
            )
        return raised.value

    error = _run(sdk_info, "ci-app", send)
    assert error.response_status_code == 400 and error.error is not None and error.error.code == "BadRequest"
    assert error.error.message == "Cannot convert the literal '1:00:00' to the expected type 'Edm.Duration'."


def test_user_finds_eligibility_with_filter_by_current_user_and_self_activates(sdk_info: dict[str, Any]) -> None:
    """alice (a delegated, MFA-backed sign-in from the control plane) activates through the SDK."""
    alice = sdk_info["principals"]["alice"]
    credential = _SignedInUser(sdk_info, "alice")

    async def main() -> tuple[list[Any], Any]:
        client = GraphServiceClient(credentials=credential, scopes=GRAPH)
        client.request_adapter.base_url = sdk_info["graph"] + "/v1.0"
        directory = client.role_management.directory
        eligible = await directory.role_eligibility_schedules.filter_by_current_user_with_on("principal").get()
        schedules = list(eligible.value or []) if eligible else []
        app_admin = next(s for s in schedules if s.role_definition_id == APP_ADMIN)
        created = await directory.role_assignment_schedule_requests.post(
            UnifiedRoleAssignmentScheduleRequest(
                action=UnifiedRoleScheduleRequestActions.SelfActivate,
                principal_id=alice["object_id"],
                role_definition_id=app_admin.role_definition_id,
                directory_scope_id=app_admin.directory_scope_id,
                justification="deploy hotfix",
                schedule_info=RequestSchedule(
                    expiration=ExpirationPattern(type=ExpirationPatternType.AfterDuration, duration="PT30M")
                ),
            )
        )
        return schedules, created

    schedules, created = asyncio.run(main())
    assert {s.role_definition_id for s in schedules} == {APP_ADMIN, GLOBAL_ADMIN}
    assert created.status == "Provisioned" and created.created_by.user.id == alice["object_id"]
