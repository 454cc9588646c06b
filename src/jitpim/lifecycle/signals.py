"""Signals during a lifecycle: before the child runs they interrupt jitpim (so it releases what it
granted); while the child runs they are forwarded to it, and jitpim waits for it (a short grace, then its
process group is killed) and releases afterwards. The time of the first signal bounds everything after it:
GitHub Actions sends SIGINT, SIGTERM ~7.5 s later, and SIGKILL ~2.5 s after that.

`Interrupted` derives from BaseException (it is control flow, like KeyboardInterrupt) so that no
`except Exception` on the way swallows it before the releases run.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from types import FrameType

__all__ = ["HANDLED_SIGNALS", "Interrupted", "SignalGuard"]

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(BaseException):
    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class SignalGuard:
    """Installs handlers for SIGINT/SIGTERM/SIGHUP for the duration of a lifecycle (main thread only).

    `now` (the lifecycle's clock) stamps the first signal as `first_at`, from which cancellation is timed."""

    def __init__(
        self, now: Callable[[], datetime] | None = None, on_first: Callable[[datetime], None] | None = None
    ) -> None:
        self.received: list[int] = []
        self.first_at: datetime | None = None
        self._now = now
        # Told when the first signal arrived (the HTTP layer's waits are cut short from then on).
        self._on_first = on_first
        self._forward: Callable[[int], None] | None = None
        self._previous: dict[int, object] = {}
        self._deferred = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if not self.received and self._now is not None:
            self.first_at = self._now()
            if self._on_first is not None:
                self._on_first(self.first_at)
        self.received.append(signum)
        if self._forward is not None:
            self._forward(signum)
            return
        if self._deferred:
            return
        raise Interrupted(signum)

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for sig in HANDLED_SIGNALS:
                self._previous[sig] = signal.getsignal(sig)
                signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous.clear()

    @contextlib.contextmanager
    def forwarding_to(self, forward: Callable[[int], None]) -> Iterator[None]:
        """While the child runs, signals go to it instead of interrupting jitpim."""
        self._forward = forward
        try:
            yield
        finally:
            self._forward = None

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """While releasing, a further signal must not abort the release: it is recorded, not raised."""
        self._deferred = True
        try:
            yield
        finally:
            self._deferred = False

    @property
    def interrupted_by(self) -> int | None:
        return self.received[0] if self.received else None
