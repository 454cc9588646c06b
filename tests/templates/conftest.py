"""An emulator whose scenario adds the identities that deploy templates: `deployer` (Owner of the subscription),
`builder` (Contributor: may create resources but not role assignments) and `intruder` (Reader)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from jitpim.emulator import Emulator
from jitpim.emulator.core.scenario import default_scenario

_SUB = "/subscriptions/{subscription_id}"


def _scenario() -> dict[str, Any]:
    scenario = default_scenario()
    for name, role in (("deployer", "Owner"), ("builder", "Contributor"), ("intruder", "Reader")):
        scenario["principals"][name] = {"type": "application", "display_name": f"estate-{name}", "graph_app_roles": []}
        scenario["rbac"].append({"principal": name, "role": role, "scope": _SUB})
    scenario["settings"]["rbac_propagation_seconds"] = 0
    return scenario


@pytest.fixture(name="emu", scope="module")
def _emu() -> Iterator[Emulator]:
    emulator = Emulator.start(scenario=_scenario())
    try:
        yield emulator
    finally:
        emulator.stop()
