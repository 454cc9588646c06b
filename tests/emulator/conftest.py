"""Fixtures shared by the emulator tests (test modules cannot import each other under
`--import-mode=importlib`; the helpers they share live in `jitpim.testing`)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from jitpim.testing import EmulatorGraph


@pytest.fixture(name="graph")
def _graph(http: requests.Session, info: dict[str, Any]) -> EmulatorGraph:
    """Raw Graph calls to the fresh emulator as any scenario principal."""
    return EmulatorGraph(http, info)
