"""RFC 6761 for one Python process: names under `.localhost` resolve to loopback.

The emulator serves Key Vault by name at `https://<vault>.vault.localhost:PORT`. systemd-resolved answers
`*.localhost` with 127.0.0.1 by itself; glibc's resolver without it (containers, most CI images) does not, and the
alternative, a line per vault in `/etc/hosts`, needs root. Putting this directory first on `PYTHONPATH` makes the
Python process it starts (the Azure CLI is one) resolve `*.localhost` as RFC 6761 says, and nothing else.
Only the name lookup changes: TLS still checks the emulator's certificate for the name asked for.
"""

from __future__ import annotations

import socket
from typing import Any

_resolve = socket.getaddrinfo


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode() if isinstance(host, bytes) else host
    if isinstance(name, str) and name.lower().rstrip(".").endswith(".localhost"):
        host = "127.0.0.1"
    return _resolve(host, *args, **kwargs)


socket.getaddrinfo = _getaddrinfo
