"""The broker goes down mid-lease: the job's release retries and then fails with a hint, nothing is lost,
and the broker's reaper ends the grant at its end time."""

from __future__ import annotations

import pytest

from jitpim.broker.client import BrokerClient
from jitpim.errors import ProviderError

from .conftest import BrokerWorld
from .test_flow import _ready, jitpim_assignments


def test_release_retries_then_the_reaper_ends_the_grant(bw: BrokerWorld) -> None:
    body = bw.submit(client_request_id="down-1", duration="10m").json()
    assert _ready(bw, body["request_id"])["state"] == "granted"
    waits: list[float] = []
    client = BrokerClient(bw.url, bw.job_token, sleep=waits.append)
    bw.server.stop()  # the broker process dies; its store survives

    with pytest.raises(ProviderError) as caught:
        client.release(body["request_id"], attempts=4)
    assert "cannot reach the broker" in caught.value.message
    assert "reaper" in caught.value.hint
    assert waits == [1.0, 2.0, 4.0]  # backoff between the four attempts
    assert bw.broker.get(body["request_id"]).state.value == "granted"
    assert len(jitpim_assignments(bw)) == 1

    bw.emu.advance(11 * 60)
    assert bw.broker.reap()["expired"] == 1
    assert bw.broker.get(body["request_id"]).state.value == "expired"
    assert jitpim_assignments(bw) == []


def test_two_reapers_never_both_reap(bw: BrokerWorld) -> None:
    body = bw.submit(client_request_id="down-2", duration="10m").json()
    assert _ready(bw, body["request_id"])["state"] == "granted"
    bw.emu.advance(11 * 60)
    now = bw.broker.clock()
    from datetime import timedelta

    # Another replica holds the reaper's lock: this one does nothing.
    assert bw.broker.store.try_lock("reaper", "other-replica", now, timedelta(minutes=5))
    assert bw.broker.reap() == {"timed_out": 0, "expired": 0, "failed": 0, "abandoned": 0}
    assert bw.broker.get(body["request_id"]).state.value == "granted"
    bw.broker.store.unlock("reaper", "other-replica")
    assert bw.broker.reap()["expired"] == 1
    assert jitpim_assignments(bw) == []


def test_a_grant_abandoned_by_its_replica_is_ended_and_failed(bw: BrokerWorld) -> None:
    """The replica died after the grant landed and before it recorded `granted`: the reaper finds the lease in
    the ledger, releases it, and fails the request."""
    from jitpim.broker.records import RequestState
    from jitpim.model import Target

    body = bw.submit(client_request_id="abandoned", duration="30m").json()
    bw.broker.wait_idle()
    request = bw.broker.get(body["request_id"])
    assert request.state is RequestState.GRANTED
    # Rewind the store to the moment before the replica could record the grant (the lease stays in the ledger).
    now = bw.broker.clock()
    store = bw.broker.store
    assert store.transition(request.request_id, (RequestState.GRANTED,), RequestState.GRANTING, now=now, lease={})
    assert len(jitpim_assignments(bw)) == 1
    assert bw.broker.reap()["abandoned"] == 0  # not stale yet
    bw.emu.advance(21 * 60)
    assert bw.broker.reap()["abandoned"] == 1
    failed = bw.broker.get(request.request_id)
    assert failed.state is RequestState.FAILED
    assert failed.error is not None and failed.error["code"] == "Abandoned"
    assert len(failed.error["released_leases"]) == 1
    assert jitpim_assignments(bw) == []
    assert Target.from_json(failed.target).role == "Key Vault Secrets Officer"
