"""Telling "nothing is listening" apart from a network hiccup, and saying what probably went wrong.

A refused connection to a loopback address (127.0.0.0/8, ::1, localhost) means no process listens on that
port: the emulator or a local proxy is not running. Waiting will not change that within a command's
patience, so it fails at once with a hint naming the likely cause, instead of retrying silently for half a
minute. A refused connection to a remote host, a timeout or a reset may pass, and is retried (with progress).

Pure: walks exception chains without importing azure-core or requests.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["connection_refused", "is_loopback_url", "unreachable_hint"]

_NEXT_ATTRIBUTES = ("__cause__", "__context__", "inner_exception", "reason", "original_error")
_REFUSED_TEXT = ("Connection refused", "[Errno 111]", "[WinError 10061]")


def _chain(exc: BaseException) -> list[BaseException]:
    """`exc` and every exception it wraps (cause, context, azure-core's inner_exception, urllib3's reason,
    exceptions passed as arguments), each once."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    found: list[BaseException] = []
    while pending and len(found) < 64:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        pending.extend(getattr(current, name, None) for name in _NEXT_ATTRIBUTES)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
    return found


def connection_refused(exc: BaseException) -> bool:
    """True when the failure is, at its root, a refused TCP connection (nothing was sent)."""
    for item in _chain(exc):
        if isinstance(item, ConnectionRefusedError):
            return True
        if any(text in str(item) for text in _REFUSED_TEXT):
            return True
    return False


def is_loopback_url(url: str) -> bool:
    """True when `url`'s host is this machine: `localhost`, 127.0.0.0/8 or ::1."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def unreachable_hint(url: str, *, what: str = "") -> str:
    """The likely cause of a refused connection to `url`, and what to run about it."""
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or 443}"
    if is_loopback_url(url):
        subject = f"{what} at {where}" if what else where
        return (
            f"Nothing is listening on {subject}. Is the emulator running? Start it with `jitpim emulator serve` "
            'and point this shell at it with `eval "$(jitpim emulator env --as ci-app)"`; a stale '
            "JITPIM_EMULATOR_URL or ACTIONS_ID_TOKEN_REQUEST_URL from an emulator that has stopped does the same."
        )
    return f"{where} refused the connection: check the network, a proxy, and the cloud profile's URLs."
