"""The Azure Functions app: its HTTP trigger serves the broker through the Functions ASGI adapter, driven
with the Functions library's own HttpRequest/HttpResponse; its timer trigger runs the reaper."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

from jitpim.broker.functions import REAPER_SCHEDULE, function_app
from jitpim.errors import ConfigError

from .conftest import BrokerWorld
from .test_flow import jitpim_assignments

ROOT = Path(__file__).resolve().parents[2]


def _functions(app: Any) -> dict[str, Any]:
    return {f.get_function_name(): f for f in app.get_functions()}


@pytest.fixture(name="loop")
def _loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One loop for the adapter, as the Functions worker keeps one; its lifespan task is ended after."""
    loop = asyncio.new_event_loop()
    try:
        yield loop
    finally:
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()


def _call(
    loop: asyncio.AbstractEventLoop, http: Any, method: str, path: str, token: str, body: dict[str, Any] | None = None
) -> func.HttpResponse:
    request = func.HttpRequest(
        method,
        f"https://broker.example.net{path}",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body=json.dumps(body).encode() if body is not None else b"",
    )
    user = http.get_user_function()
    response = user(request, None)
    if asyncio.iscoroutine(response):
        response = loop.run_until_complete(response)
    assert isinstance(response, func.HttpResponse)
    return response


def test_http_trigger_and_timer_reaper(bw: BrokerWorld, loop: asyncio.AbstractEventLoop) -> None:
    app = function_app({}, broker=bw.broker)
    functions = _functions(app)
    assert set(functions) == {"http_app_func", "reaper"}
    timer_binding = functions["reaper"].get_bindings()[0]
    assert timer_binding.type == "timerTrigger"
    assert timer_binding.schedule == REAPER_SCHEDULE
    http = functions["http_app_func"]

    target = {
        "kind": "rbac",
        "role": "Key Vault Secrets Officer",
        "scope": bw.info["vaults"]["kv-payments"]["resource_id"],
        "duration": "10m",
        "justification": "rotate",
    }
    created = _call(loop, http, "POST", "/v1/requests", bw.job_token(), {"client_request_id": "fn-1", "target": target})
    assert created.status_code == 201, created.get_body()
    body = json.loads(created.get_body())
    assert body["decision"]["policy_id"] == "main-auto"
    bw.broker.wait_idle()
    polled = _call(loop, http, "GET", f"/v1/requests/{body['request_id']}", bw.job_token())
    assert json.loads(polled.get_body())["state"] == "granted"
    assert len(jitpim_assignments(bw)) == 1

    refused = _call(
        loop, http, "POST", "/v1/requests", "forged.token.value", {"client_request_id": "x", "target": target}
    )
    assert refused.status_code == 401

    # The job vanishes; the timer trigger's reaper ends the grant at its end.
    bw.emu.advance(11 * 60)
    functions["reaper"].get_user_function()(TimerRequest(past_due=False))
    assert bw.broker.get(body["request_id"]).state.value == "expired"
    assert jitpim_assignments(bw) == []


def test_entry_point_needs_its_config(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="JITPIM_BROKER_CONFIG"):
        function_app({})
    spec = importlib.util.spec_from_file_location("function_app", ROOT / "deploy" / "functions" / "function_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.raises(ConfigError):
        spec.loader.exec_module(module)
