"""State of the emulated keyvault service (being built)."""

from __future__ import annotations

from ...core.world import World

__all__ = ["attach"]


def attach(world: World) -> None:
    world.attach("keyvault", object())
