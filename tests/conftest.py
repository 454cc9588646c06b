"""Shared fixtures: an in-process emulator over real HTTPS on loopback, reset between tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from jitpim.emulator import Emulator

_AMBIENT_PREFIXES = ("GITHUB_", "ACTIONS_", "AZURE_", "JITPIM_", "RUNNER_")
_AMBIENT_NAMES = (
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "CI",
    "MSI_ENDPOINT",
    "IDENTITY_ENDPOINT",
)


@pytest.fixture(autouse=True)
def _clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see no ambient CI, Azure or CA settings: a GitHub runner or a developer's shell must not change
    what a test exercises (CA variables would override the explicit trust of the emulator's CA)."""
    import os

    for name in list(os.environ):
        if name.startswith(_AMBIENT_PREFIXES) or name in _AMBIENT_NAMES:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True, scope="session")
def _private_config_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A signing key generated on first use goes to the test session's own configuration directory, never the
    developer's (the key lives apart from the ledger, under $XDG_CONFIG_HOME/jitpim)."""
    import os

    before = os.environ.get("XDG_CONFIG_HOME")
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("xdg-config"))
    yield
    if before is None:
        os.environ.pop("XDG_CONFIG_HOME", None)
    else:
        os.environ["XDG_CONFIG_HOME"] = before


@pytest.fixture(autouse=True, scope="session")
def _no_retry_waits() -> Iterator[None]:
    """jitpim's HTTP retries do not sleep in tests (tests that check the waits inject their own sleep)."""
    from jitpim.http import set_testing

    set_testing(True)
    yield
    set_testing(False)


@pytest.fixture(name="emu", scope="module")
def _emu() -> Iterator[Emulator]:
    """One emulator per test module (start-up ~0.1 s); tests that change state use `fresh_emu`."""
    emulator = Emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(name="fresh_emu")
def _fresh_emu(emu: Emulator) -> Emulator:
    """The module's emulator, reset to its scenario (state, clock, faults) before the test."""
    emu.reset()
    return emu


# Test folders whose tests drive jitpim itself: none may end with a grant left in the emulator.
_NO_GRANT_LEFT = ("lifecycle", "rotation", "providers", "test_demo.py", "tests/broker/")


def _grants_left(emulator: Emulator) -> list[str]:
    """Time-bound or jitpim-made access still in force: PIM role and group grants, jitpim's RBAC assignments."""
    world = emulator.runtime.world
    with world.lock:
        left = [
            f"directory role {a.role_definition_id} for {a.principal_id}"
            for a in world.directory.role_assignments
            if a.source == "pim"
        ]
        left += [
            f"group {g.display_name} {p}"
            for g in world.directory.groups.values()
            for table in (g.members, g.owners)
            for p, m in table.items()
            if m.source == "pim"
        ]
        left += [
            f"role assignment {a.name} at {a.scope}"
            for a in world.rbac.assignments.values()
            if a.end is not None or (a.description or "").startswith("jitpim")
        ]
    return left


@pytest.fixture(autouse=True)
def _no_grant_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "fresh_emu" not in request.fixturenames:
        return
    if not any(part in str(request.node.path) for part in _NO_GRANT_LEFT):
        return
    # The module-scoped emulator outlives this function-scoped check; `fresh_emu` is already torn down.
    emulator = request.getfixturevalue("emu")
    left = _grants_left(emulator)
    assert not left, f"the test left grants behind in the emulator: {left}"


@pytest.fixture(name="info")
def _info(fresh_emu: Emulator) -> dict[str, Any]:
    return fresh_emu.info


@pytest.fixture(name="http")
def _http(info: dict[str, Any]) -> Iterator[requests.Session]:
    """A requests session that trusts the emulator's CA (never verify=False)."""
    session = requests.Session()
    session.verify = info["ca_cert"]
    yield session
    session.close()


@pytest.fixture(name="control")
def _control(http: requests.Session, info: dict[str, Any]) -> Any:
    """`control("clock/advance", {"seconds": 60})`: call the emulator's control plane, return its JSON."""

    def call(path: str, body: Any = None, method: str = "POST") -> Any:
        response = http.request(method, f"{info['control']}/{path.lstrip('/')}", json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    return call
