"""State of the emulated arm service (being built)."""

from __future__ import annotations

from ...core.world import World

__all__ = ["attach"]


def attach(world: World) -> None:
    world.attach("arm", object())
