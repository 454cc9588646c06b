"""The dashboard mounted by the broker: read-only, under a path prefix of the broker's own app (`/dashboard`),
over the broker's ledger, behind the broker's own Entra sign-in for people.

The dashboard's pages link and redirect root-absolute (`/leases`, `/signin`), as it does when served on its
own; mounted, `PrefixedApp` serves it the path without the prefix and moves its links, form actions and
redirects under the prefix, so the pages work unchanged in both places.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AuthError, JitError

if TYPE_CHECKING:
    from ..audit.store import AuditStore
    from ..broker.service import Broker

__all__ = ["DASHBOARD_PREFIX", "BrokerSignIn", "MountedDashboard", "PrefixedApp", "broker_dashboard"]

DASHBOARD_PREFIX = "/dashboard"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# Root-absolute URLs in the dashboard's HTML (not protocol-relative `//host`).
_ROOT_LINK = re.compile(rb'((?:href|action|src)=")/(?!/)')
_MAX_HTML = 16 * 1024 * 1024


@dataclass(frozen=True)
class BrokerSignIn:
    """The broker's Entra verification of people (its tenant, its audiences) as the dashboard's verifier.
    Applications are refused: the dashboard is for people."""

    broker: Broker

    def verify(self, token: str) -> dict[str, Any]:
        import jwt

        entra = self.broker.entra
        if entra is None:
            raise AuthError("this broker has no Entra tenant for people", hint="Set entra.tenant_id in its config.")
        try:
            caller = entra.verify(token)
        except JitError as exc:
            raise AuthError(exc.message, hint=exc.hint) from None
        if caller.is_app:
            raise AuthError("an application token cannot sign in to the dashboard", hint="Sign in as a person.")
        # Verified above; read only its expiry, so the dashboard session ends with the token.
        exp = jwt.decode(token, options={"verify_signature": False}).get("exp")
        return {"upn": caller.name, "oid": caller.object_id, "tid": caller.tenant_id, "exp": exp}


class PrefixedApp:
    """Serves `app` under `prefix`: strips the prefix from the request path, and puts it back in front of the
    root-absolute links, form actions and `Location` redirects the app answers with."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = "/" + prefix.strip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # A starlette Mount leaves the full path and names the mount point in root_path; served directly, the
        # path starts with the prefix.
        path = str(scope.get("path") or "/")
        for head in (str(scope.get("root_path") or ""), self.prefix):
            if head and (path == head or path.startswith(head + "/")):
                path = path[len(head) :]
                break
        inner = dict(scope, path=path or "/", raw_path=(path or "/").encode(), root_path="")
        prefix = self.prefix.encode()
        started: Message | None = None
        body = bytearray()

        async def relay(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                headers = []
                for name, value in message.get("headers", []):
                    if name.lower() == b"location" and value.startswith(b"/") and not value.startswith(b"//"):
                        value = prefix + value
                    headers.append((name, value))
                message = dict(message, headers=headers)
                if not _is_html(headers):
                    await send(message)
                    return
                started = message  # HTML: held until the whole body is rewritten (its length changes)
                return
            if message["type"] == "http.response.body" and started is not None:
                body.extend(message.get("body", b""))
                if len(body) > _MAX_HTML:
                    raise RuntimeError("the dashboard page is too large to serve")
                if message.get("more_body"):
                    return
                rewritten = _ROOT_LINK.sub(rb"\1" + prefix + rb"/", bytes(body))
                headers = [(n, v) for n, v in started["headers"] if n.lower() != b"content-length"]
                headers.append((b"content-length", str(len(rewritten)).encode()))
                await send(dict(started, headers=headers))
                await send({"type": "http.response.body", "body": rewritten, "more_body": False})
                return
            await send(message)

        await self.app(inner, receive, relay)


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(n.lower() == b"content-type" and v.lower().startswith(b"text/html") for n, v in headers)


@dataclass
class MountedDashboard:
    """The mounted app, and the read-only ledger it holds open (closed with the broker)."""

    app: PrefixedApp
    store: AuditStore

    def close(self) -> None:
        self.store.close()


def broker_dashboard(
    broker: Broker, *, prefix: str = DASHBOARD_PREFIX, title: str = "jitpim broker"
) -> MountedDashboard:
    """The dashboard over the broker's ledger (read-only), signed in through the broker's Entra verification.
    Lease signatures verify with this machine's signing key for that ledger (not pinned), as `jitpim
    dashboard` does without --public-key."""
    from ..audit.signing import load_signer
    from ..audit.store import open_store, store_file
    from .app import DashboardConfig, create_app

    if broker.entra is None:
        from ..errors import ConfigError

        raise ConfigError(
            "the broker's dashboard needs the broker's Entra sign-in for people",
            hint="Set entra.tenant_id and entra.audiences in the broker config.",
        )
    store = open_store(broker.config.ledger, read_only=True)
    try:
        signer = load_signer(ledger_path=store_file(store), create=False)
        keys = {signer.key_id: signer.public} if signer is not None else {}
        config = DashboardConfig(store=store, keys=keys, pinned=False, verifier=BrokerSignIn(broker), title=title)
        return MountedDashboard(PrefixedApp(create_app(config), prefix), store)
    except BaseException:
        store.close()
        raise
