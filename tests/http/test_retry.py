"""Retries against the emulator's fault injection: throttling, 5xx bursts, lost responses. No wall-clock
waits: every client gets an injected `sleep` that records instead of sleeping."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from azure.identity import ClientSecretCredential

from jitpim.cloud import PUBLIC, CloudProfile, emulator_profile
from jitpim.errors import ProviderApiError, ProviderError, ThrottledError
from jitpim.http import ApiClient, RetrySettings, graph_client, parse_retry_after, set_testing

USERS = "/graph/v1.0/users"


@pytest.fixture(name="cloud")
def _cloud(info: dict[str, Any]) -> CloudProfile:
    return emulator_profile(info["authority"], info["ca_cert"])


@pytest.fixture(name="admin")
def _admin(info: dict[str, Any]) -> Iterator[ClientSecretCredential]:
    """admin-app (Application.ReadWrite.All) through azure-identity directly, trusting the emulator's CA."""
    app = info["principals"]["admin-app"]
    with ClientSecretCredential(
        info["tenant_id"],
        app["client_id"],
        app["client_secret"],
        authority=info["authority"],
        disable_instance_discovery=True,
        connection_verify=info["ca_cert"],
    ) as credential:
        yield credential


@pytest.fixture(name="sleeps")
def _sleeps() -> list[float]:
    return []


@pytest.fixture(name="graph")
def _graph(cloud: CloudProfile, admin: ClientSecretCredential, sleeps: list[float]) -> Iterator[ApiClient]:
    with graph_client(cloud, admin, sleep=sleeps.append) as client:
        yield client


def _password_count(graph: ApiClient, app_object_id: str) -> int:
    return len(graph.get(f"/v1.0/applications/{app_object_id}").json["passwordCredentials"])


def test_get_retries_three_times_when_throttled_with_retry_after(
    graph: ApiClient, sleeps: list[float], control: Any
) -> None:
    """Three 429s with Retry-After: 2 -> three recorded 2 s sleeps, then the real answer."""
    control("faults", {"kind": "throttle", "path": USERS, "count": 3, "retry_after": 2})
    response = graph.get("/v1.0/users")
    assert response.status == 200 and response.json["value"]
    assert sleeps == [2.0, 2.0, 2.0]
    assert [(e.status, e.reason, e.delay) for e in graph.retries] == [(429, "throttled", 2.0)] * 3
    assert graph.counter.count("GET", USERS) == 4
    assert graph.counter.count("GET", USERS, status=429) == 3


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_get_backs_off_with_jitter_when_server_errors_burst(
    graph: ApiClient, sleeps: list[float], control: Any, status: int
) -> None:
    """A burst of 5xx on a GET is retried with exponential backoff and jitter, then succeeds."""
    control("faults", {"kind": "error", "path": USERS, "count": 3, "status": status})
    assert graph.get("/v1.0/users").status == 200
    assert len(sleeps) == 3
    for n, delay in enumerate(sleeps):
        full = 1.0 * 2**n
        assert full / 2 <= delay <= full
    assert graph.counter.count("GET", USERS, status=status) == 3


def test_post_is_not_resent_when_response_is_lost(
    graph: ApiClient, sleeps: list[float], info: dict[str, Any], control: Any
) -> None:
    """The change is committed but the answer is lost: one POST only, a 504 error, no retry."""
    app_id = info["principals"]["ci-app"]["application_object_id"]
    before = _password_count(graph, app_id)
    control("faults", {"kind": "lost_response", "path": "/addPassword$", "method": "POST", "count": 1})
    with pytest.raises(ProviderApiError) as failure:
        graph.post(f"/v1.0/applications/{app_id}/addPassword", {"passwordCredential": {"displayName": "ci"}})
    assert failure.value.status == 504 and failure.value.code == "GatewayTimeout"
    assert graph.counter.count("POST", "/addPassword") == 1
    assert sleeps == [] and graph.retries == []
    # It was applied: the caller must recover by looking it up, which is why it was not resent.
    assert _password_count(graph, app_id) == before + 1


def test_get_is_resent_when_response_is_lost(graph: ApiClient, sleeps: list[float], control: Any) -> None:
    """A read whose answer was lost is simply asked again."""
    control("faults", {"kind": "lost_response", "path": USERS, "method": "GET", "count": 1})
    assert graph.get("/v1.0/users").status == 200
    assert [e.status for e in graph.retries] == [504] and len(sleeps) == 1


def test_a_refused_loopback_connection_fails_at_once_naming_the_likely_cause() -> None:
    """Nothing listens on that port of this machine (a stopped emulator): no retries, and the hint says so.
    Connection failures that may pass are retried: tests/test_http_connectivity.py."""
    sleeps: list[float] = []
    client = ApiClient("https://127.0.0.1:1", None, None, cloud=PUBLIC, sleep=sleeps.append)
    with client, pytest.raises(ProviderError, match=r"cannot reach https://127\.0\.0\.1:1/x") as failure:
        client.post("/x", {"a": 1})
    assert sleeps == [] and client.retries == []
    assert "(connection refused)" in failure.value.message
    assert "Is the emulator running?" in failure.value.hint and "jitpim emulator serve" in failure.value.hint
    assert "TLS" not in failure.value.hint


def test_post_is_not_retried_when_server_error_may_have_applied_it(
    graph: ApiClient, sleeps: list[float], info: dict[str, Any], control: Any
) -> None:
    """A 503 on a POST is returned at once unless the caller marks the call retry_unsafe."""
    app_id = info["principals"]["ci-app"]["application_object_id"]
    path = f"/v1.0/applications/{app_id}/addPassword"
    control("faults", {"kind": "error", "path": "/addPassword$", "status": 503, "count": 2})
    with pytest.raises(ProviderApiError) as failure:
        graph.post(path, {"passwordCredential": {"displayName": "a"}})
    assert failure.value.status == 503 and sleeps == []
    response = graph.post(path, {"passwordCredential": {"displayName": "b"}}, expected=(200,), retry_unsafe=True)
    assert response.status == 200 and len(sleeps) == 1
    assert graph.counter.count("POST", "/addPassword") == 3


def test_post_is_retried_when_throttled_because_nothing_was_processed(
    graph: ApiClient, sleeps: list[float], info: dict[str, Any], control: Any
) -> None:
    """A 429 states the request was not processed: even a POST is resent, and applied exactly once."""
    app_id = info["principals"]["ci-app"]["application_object_id"]
    before = _password_count(graph, app_id)
    control("faults", {"kind": "throttle", "path": "/addPassword$", "count": 1, "retry_after": 1})
    response = graph.post(f"/v1.0/applications/{app_id}/addPassword", {"passwordCredential": {}}, expected=(200,))
    assert response.json["secretText"] and sleeps == [1.0]
    assert _password_count(graph, app_id) == before + 1


def test_throttled_error_is_raised_when_retries_are_exhausted(
    cloud: CloudProfile, admin: ClientSecretCredential, sleeps: list[float], control: Any
) -> None:
    """Still throttled after max_retries: ThrottledError carrying Retry-After and the request id."""
    control("faults", {"kind": "throttle", "path": USERS, "count": 10, "retry_after": 2})
    client = graph_client(cloud, admin, sleep=sleeps.append, retry=RetrySettings(max_retries=2))
    with client, pytest.raises(ThrottledError) as failure:
        client.get("/v1.0/users")
    assert failure.value.retry_after == 2.0 and failure.value.status == 429
    assert failure.value.code == "TooManyRequests" and failure.value.request_id
    assert sleeps == [2.0, 2.0] and client.counter.total == 3


def test_retry_stops_at_once_when_retry_after_exceeds_cap(graph: ApiClient, sleeps: list[float], control: Any) -> None:
    """A server asking for 10 minutes is not waited for: the caller gets ThrottledError(retry_after=600)."""
    control("faults", {"kind": "throttle", "path": USERS, "count": 1, "retry_after": 600})
    with pytest.raises(ThrottledError) as failure:
        graph.get("/v1.0/users")
    assert failure.value.retry_after == 600.0 and sleeps == []


def test_retry_stops_when_total_wait_budget_is_spent(
    cloud: CloudProfile, admin: ClientSecretCredential, sleeps: list[float], control: Any
) -> None:
    """max_total_wait bounds the sum of sleeps."""
    control("faults", {"kind": "throttle", "path": USERS, "count": 3, "retry_after": 2})
    client = graph_client(cloud, admin, sleep=sleeps.append, retry=RetrySettings(max_total_wait=3))
    with client, pytest.raises(ThrottledError):
        client.get("/v1.0/users")
    assert sleeps == [2.0]


def test_default_sleep_does_not_wait_when_testing_switch_is_on(
    cloud: CloudProfile, admin: ClientSecretCredential, control: Any
) -> None:
    """set_testing(True) makes the default sleep a no-op (stamina's switch)."""
    control("faults", {"kind": "throttle", "path": USERS, "count": 2, "retry_after": 30})
    client = graph_client(cloud, admin)
    set_testing(True)
    try:
        started = time.monotonic()
        with client:
            assert client.get("/v1.0/users").status == 200
        assert time.monotonic() - started < 10
    finally:
        set_testing(False)
    assert [e.delay for e in client.retries] == [30.0, 30.0]


def test_parse_retry_after_reads_every_header_form_when_present() -> None:
    """Seconds, an HTTP date, and the millisecond headers Azure also sends."""
    now = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    assert parse_retry_after({"Retry-After": "5"}) == 5.0
    date = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=lambda: now) == 90.0
    assert parse_retry_after({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    assert parse_retry_after({"x-ms-retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None
    past = format_datetime(now - timedelta(seconds=5), usegmt=True)
    assert parse_retry_after({"Retry-After": past}, now=lambda: now) == 0.0


def test_backoff_grows_and_is_capped_when_retrying_without_hint() -> None:
    """base * 2^n, capped at backoff_max; jitter keeps it in [half, full]."""
    settings = RetrySettings(backoff_base=1.0, backoff_max=8.0)
    assert [settings.backoff(n, rng=lambda: 1.0) for n in range(5)] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert [settings.backoff(n, rng=lambda: 0.0) for n in range(3)] == [0.5, 1.0, 2.0]
    assert RetrySettings(jitter=False).backoff(2) == 4.0
