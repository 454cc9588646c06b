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
