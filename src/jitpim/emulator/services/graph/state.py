"""State of the emulated graph service (being built)."""

from __future__ import annotations

from ...core.world import World

__all__ = ["attach"]


def attach(world: World) -> None:
    world.attach("graph", object())
