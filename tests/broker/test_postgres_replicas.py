"""Two broker replicas on one PostgreSQL: a request enters once, is granted once, reaped once; a token id is
used once; one reaper holds the lock. Needs `JITPIM_TEST_PG_DSN` (skipped cleanly without it); each test works
in a schema of its own."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from jitpim.broker import build_broker
from jitpim.broker.records import BrokerRequest, RequestState
from jitpim.broker.store import Store, open_store
from jitpim.emulator import Emulator
from jitpim.testing import EmulatedClock

from .conftest import broker_config, broker_environ
from .test_flow import jitpim_assignments

DSN = os.environ.get("JITPIM_TEST_PG_DSN")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not DSN, reason="JITPIM_TEST_PG_DSN is not set (no PostgreSQL server)"),
]
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


@pytest.fixture(name="dsn")
def _dsn() -> Iterator[str]:
    import psycopg

    assert DSN is not None
    schema = f"jitpim_b_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in DSN else "?"
    try:
        yield f"{DSN}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _request(client_id: str, state: RequestState = RequestState.PERMITTED) -> BrokerRequest:
    return BrokerRequest(
        request_id=str(uuid.uuid4()),
        client_request_id=client_id,
        subject="repo:contoso/payments:ref:refs/heads/main",
        repository="contoso/payments",
        state=state,
        claims={"run_id": "1"},
        target={"kind": "rbac"},
        decision={"outcome": "permit"},
        created_at=NOW,
        updated_at=NOW,
        principal_id="2b3c4d5e-6f70-4b8c-9d0e-1f2a3b4c5d6e",
    )


def _race(*work: Any) -> list[Any]:
    results: list[Any] = [None] * len(work)
    start = threading.Barrier(len(work))

    def run(index: int) -> None:
        start.wait(timeout=10)
        results[index] = work[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_replicas_take_each_step_exactly_once(dsn: str) -> None:
    a, b = open_store(dsn), open_store(dsn)
    try:
        assert a.postgres and b.postgres
        # The same client request id from both replicas at once: one request.
        same = _race(lambda: a.create(_request("retry")), lambda: b.create(_request("retry")))
        assert sorted(created for _, created in same) == [False, True]
        assert same[0][0].request_id == same[1][0].request_id
        # Fifty permitted requests; both replicas race to start granting each one.
        ids = [a.create(_request(f"job-{i}"))[0].request_id for i in range(50)]

        def claim_all(store: Store) -> list[str]:
            won = []
            for request_id in ids:
                if store.transition(request_id, (RequestState.PERMITTED,), RequestState.GRANTING, now=NOW):
                    won.append(request_id)
            return won

        won_a, won_b = _race(lambda: claim_all(a), lambda: claim_all(b))
        assert not set(won_a) & set(won_b)
        assert sorted(won_a + won_b) == sorted(ids)
        # A token id is used once, whichever replica sees it.
        used = _race(*[lambda s=s: s.use_token_id("jti-1", NOW + timedelta(minutes=5), NOW) for s in (a, b)])
        assert sorted(used) == [False, True]
        # One reaper at a time.
        locks = _race(
            lambda: a.try_lock("reaper", "a", NOW, timedelta(minutes=5)),
            lambda: b.try_lock("reaper", "b", NOW, timedelta(minutes=5)),
        )
        assert sorted(locks) == [False, True]
        other = b if locks[0] else a
        assert not other.try_lock("reaper", "x", NOW + timedelta(minutes=1), timedelta(minutes=5))
        assert other.try_lock("reaper", "x", NOW + timedelta(minutes=6), timedelta(minutes=5))  # expired lock
    finally:
        a.close()
        b.close()


def test_two_brokers_on_one_database_grant_once_and_reap_once(fresh_emu: Emulator, tmp_path: Path, dsn: str) -> None:
    info = fresh_emu.info
    clock = EmulatedClock(fresh_emu)
    config = broker_config(info, tmp_path, store=dsn, ledger=dsn)
    replicas = [build_broker(config, environ=broker_environ(info), clock=clock, poll_initial=0.5) for _ in range(2)]
    try:
        import requests

        token = requests.post(
            f"{info['control']}/github/token",
            json={"audience": config.audience},
            verify=info["ca_cert"],
            timeout=10,
        ).json()["value"]
        body = {
            "client_request_id": "pg-1",
            "target": {
                "kind": "rbac",
                "role": "Key Vault Secrets Officer",
                "scope": info["vaults"]["kv-payments"]["resource_id"],
                "duration": "10m",
            },
        }
        first, created = replicas[0].submit(f"Bearer {token}", body)
        assert created
        replicas[0].wait_idle()
        # A grant step retried on the other replica (as after a crash or a duplicate delivery) finds it taken.
        _race(*[lambda r=r: r._grant(first.request_id) for r in replicas])
        assert replicas[1].get(first.request_id).state is RequestState.GRANTED
        from .conftest import BrokerWorld

        bw = BrokerWorld(fresh_emu, replicas[0], None, requests.Session())  # type: ignore[arg-type]
        assert len(jitpim_assignments(bw)) == 1
        fresh_emu.advance(11 * 60)
        counts = _race(*[r.reap for r in replicas])
        assert sum(c["expired"] for c in counts) == 1
        assert replicas[0].get(first.request_id).state is RequestState.EXPIRED
        assert jitpim_assignments(bw) == []
    finally:
        for replica in replicas:
            replica.close()
