"""The control plane's error: 400 `InvalidControlRequest` in ARM's envelope, naming what to send instead."""

from __future__ import annotations

from ...core.errors import ArmError

__all__ = ["bad_request"]


def bad_request(message: str) -> ArmError:
    return ArmError(400, "InvalidControlRequest", message)
