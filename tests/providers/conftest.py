"""Fixtures shared by the provider tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jitpim.emulator import Emulator
from jitpim.testing import ProviderContexts


@pytest.fixture(name="contexts")
def _contexts(fresh_emu: Emulator) -> Iterator[ProviderContexts]:
    """`contexts("ci-app")` / `contexts("alice", Mode.SELF)`: provider contexts against the fresh emulator."""
    contexts = ProviderContexts(fresh_emu)
    try:
        yield contexts
    finally:
        contexts.close()
