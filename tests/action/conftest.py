"""Fixtures for running the example workflows against the emulator: the job's repository variables, the
federated credentials each workflow's jobs need (one per environment, and the pull-request subject of the
plan identity), a tool cache shared by the session (the action installs jitpim there once), and a check that
nothing stays granted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jitpim.emulator import Emulator
from jitpim.testing import EmulatorGraph

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples" / "workflows"
REPOSITORY = HERE / "repository"
ACTION_LIB = HERE.parents[1] / "action" / "lib.js"


@pytest.fixture(autouse=True)
def _node_and_no_grant_left(request: pytest.FixtureRequest) -> Iterator[None]:
    """The action needs Node.js (as on every GitHub-hosted runner); no workflow run may end with a grant left
    (PIM grants left to expire count until the test has moved the emulator's clock past their end)."""
    if "workflow_emu" in request.fixturenames and shutil.which("node") is None:
        pytest.skip("Node.js is not installed: the action's JavaScript cannot run")
    yield
    if "workflow_emu" in request.fixturenames:
        from .harness import grants_left

        left = grants_left(request.getfixturevalue("emu"))
        assert not left, f"the workflow run left grants behind: {left}"


@pytest.fixture(scope="session")
def tool_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The runner's tool cache, with jitpim installed by the action's own install code (a real `pip install` of
    this checkout into a virtual environment, once per session; the action reuses it after, as on a runner
    whose tool cache holds it)."""
    cache = tmp_path_factory.mktemp("tool-cache")
    script = "require(process.argv[1]).installJitpim(process.argv[2])"
    subprocess.run(
        ["node", "-e", script, str(ACTION_LIB), sys.executable],
        env={**os.environ, "RUNNER_TOOL_CACHE": str(cache)},
        check=True,
        capture_output=True,
        timeout=600,
    )
    return cache


@pytest.fixture(name="workflow_emu")
def _workflow_emu(fresh_emu: Emulator, http: Any, info: dict[str, Any]) -> Iterator[Emulator]:
    """The emulator as a team's tenant after the one-time set-up of the how-to: no propagation delay to wait
    out, and the CI app federated with the job subjects the example workflows use."""
    world = fresh_emu.runtime.world
    with world.lock:
        world.settings.rbac_propagation_seconds = 0
        world.settings.directory_propagation_seconds = 0
        world.apply_settings()
    graph = EmulatorGraph(http, info)
    app = graph.call("GET", "/applications", "admin-app", params={"$filter": "displayName eq 'payments-ci'"})
    app.raise_for_status()
    app_id = app.json()["value"][0]["id"]
    for name, subject in (
        ("github-pull-request", "repo:contoso/payments:pull_request"),
        ("github-incident-response", "repo:contoso/payments:environment:incident-response"),
        ("github-maintenance", "repo:contoso/payments:environment:maintenance"),
    ):
        body = {
            "name": name,
            "issuer": "https://token.actions.githubusercontent.com",
            "subject": subject,
            "audiences": ["api://AzureADTokenExchange"],
        }
        created = graph.call("POST", f"/applications/{app_id}/federatedIdentityCredentials", "admin-app", body)
        assert created.status_code == 201, created.text
    yield fresh_emu


@pytest.fixture(name="variables")
def _variables(info: dict[str, Any]) -> dict[str, str]:
    """The repository's Actions variables (`vars`), as the how-to sets them up."""
    ci = info["principals"]["ci-app"]["client_id"]
    return {
        "AZURE_CLIENT_ID": ci,
        "AZURE_PLAN_CLIENT_ID": ci,
        "AZURE_TENANT_ID": info["tenant_id"],
        "AZURE_SUBSCRIPTION_ID": info["subscription_id"],
        "MAINTENANCE_TICKET": "ServiceNow:CHG0099",
        "CUSTOMER_TENANTS": f'[{{"customer": "fabrikam", "tenant": "{info["tenant_id"]}"}}]',
    }
