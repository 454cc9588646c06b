"""A loopback managed-identity endpoint that hands the child of `jitpim exec` tokens for its lease only.

The child does not get jitpim's own credential (the GitHub OIDC request token, a client secret, a federated
token file): with it, it could grant itself anything jitpim's identity may grant. Instead it gets what Azure
App Service gives a web app, a local token endpoint and a per-run secret:

    IDENTITY_ENDPOINT=http://127.0.0.1:PORT/msi/token
    IDENTITY_HEADER=<secret>

Everything that speaks App Service managed identity (api-version 2019-08-01) uses it unchanged:
azure-identity's `ManagedIdentityCredential` and so `DefaultAzureCredential`, MSAL's
`ManagedIdentityClient` (which `az login --identity` uses), and the other Azure SDKs. The request is

    GET /msi/token?api-version=2019-08-01&resource=https://vault.azure.net[&client_id=...|object_id=...]
    X-IDENTITY-HEADER: <secret>

and the answer `{"access_token", "expires_on" (epoch seconds, a string), "resource", "token_type",
"client_id"}`; an error is App Service's `{"statusCode", "message", "correlationId"}` with the same HTTP
status (MSAL surfaces `statusCode, message` to the caller).

The server answers only for the resources it was given (the lease's audiences), only until `revoke()` or
the lease's end, whichever comes first, and reports each token's `expires_on` as at most the lease's end so
clients come back (and are refused) instead of caching past it. aws-vault's `--ec2-server`/`--ecs-server`
are the model. The secret is compared in constant time and is never logged, printed or put in an argument.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, urlsplit

from ..errors import JitError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

__all__ = [
    "API_VERSION",
    "ENDPOINT_VARIABLE",
    "HEADER_VARIABLE",
    "TOKEN_PATH",
    "LeaseTokenServer",
    "TokenGrant",
    "normalise_resource",
]

API_VERSION: Final = "2019-08-01"
TOKEN_PATH: Final = "/msi/token"
ENDPOINT_VARIABLE: Final = "IDENTITY_ENDPOINT"
HEADER_VARIABLE: Final = "IDENTITY_HEADER"
_SECRET_HEADER: Final = "X-IDENTITY-HEADER"
# A token request carries a query string only; anything larger is not a client of this protocol.
_MAX_TARGET: Final = 4096


def normalise_resource(value: str) -> str:
    """The resource a scope or resource names, as compared here: `https://vault.azure.net/.default`,
    `https://vault.azure.net/` and `HTTPS://Vault.Azure.Net` are one resource."""
    text = value.strip()
    if text.endswith("/.default"):
        text = text[: -len("/.default")]
    return text.rstrip("/").lower()


@dataclass(frozen=True)
class TokenGrant:
    """One resource the child may get tokens for, the credential that mints them, and why it may."""

    resource: str  # as requested by clients, e.g. https://vault.azure.net
    credential: TokenCredential
    reason: str  # e.g. "rbac 'Key Vault Secrets Officer' on kv-payments (Key Vault data actions)"

    @property
    def key(self) -> str:
        return normalise_resource(self.resource)


class _RefusedError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LeaseTokenServer:
    """The endpoint (see the module docstring). Use as a context manager, or `start()` / `stop()`.

    `ends_at` returns when the lease ends (None: no end known, only `revoke()` stops it); `now` is the
    lifecycle's clock. `client_ids` and `object_ids` are the identities a client may name (azure-identity's
    DefaultAzureCredential sends `client_id=$AZURE_CLIENT_ID` when it is set); naming another is refused.
    """

    def __init__(
        self,
        grants: Iterable[TokenGrant],
        *,
        now: Callable[[], datetime],
        ends_at: Callable[[], datetime | None],
        client_ids: Iterable[str] = (),
        object_ids: Iterable[str] = (),
    ) -> None:
        self._grants: dict[str, TokenGrant] = {}
        for grant in grants:
            self._grants.setdefault(grant.key, grant)
        self._now = now
        self._ends_at = ends_at
        self._client_ids = {c.lower() for c in client_ids if c}
        self._object_ids = {o.lower() for o in object_ids if o}
        self._secret = secrets.token_urlsafe(32)
        self._revoked = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.served: dict[str, int] = {}  # resource -> tokens handed out
        self.refused: dict[str, int] = {}  # resource (or "-") -> requests refused

    def __repr__(self) -> str:
        return f"<LeaseTokenServer {self.endpoint or '(stopped)'} resources={sorted(self._grants)}>"

    # -- lifecycle ------------------------------------------------------------------------------------

    @property
    def resources(self) -> list[str]:
        return sorted(g.resource for g in self._grants.values())

    @property
    def endpoint(self) -> str | None:
        if self._server is None:
            return None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{TOKEN_PATH}"

    def start(self) -> LeaseTokenServer:
        if self._server is not None:
            return self
        handler = _handler_for(self)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="jitpim-token-server", daemon=True)
        self._thread.start()
        return self

    def revoke(self) -> None:
        """From now on every request is refused (called when the child ends, before the release starts)."""
        self._revoked.set()

    def stop(self) -> None:
        self.revoke()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LeaseTokenServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def environment(self) -> dict[str, str]:
        """The variables that point the child's SDKs at this endpoint (holds the per-run secret)."""
        endpoint = self.endpoint
        if endpoint is None:
            raise RuntimeError("the token server is not running")
        return {ENDPOINT_VARIABLE: endpoint, HEADER_VARIABLE: self._secret}

    # -- requests -------------------------------------------------------------------------------------

    def _count(self, table: dict[str, int], key: str) -> None:
        with self._lock:
            table[key] = table.get(key, 0) + 1

    def _check_identity(self, query: Mapping[str, list[str]]) -> None:
        for name, known in (("client_id", self._client_ids), ("object_id", self._object_ids)):
            values = query.get(name)
            if values and values[0].strip().lower() not in known:
                raise _RefusedError(
                    400,
                    f"jitpim: no identity with {name} {values[0].strip()!r} is available to this job; the lease's "
                    "identity is the only one (unset AZURE_CLIENT_ID or set it to that identity's client id)",
                )
        if query.get("mi_res_id") or query.get("msi_res_id"):
            raise _RefusedError(
                400, "jitpim: this endpoint serves the lease's identity only; mi_res_id is not supported"
            )

    def answer(self, path: str, secret: str | None) -> tuple[int, dict[str, Any]]:
        """The status and JSON body for a GET of `path` with `secret` in the X-IDENTITY-HEADER header (the
        HTTP handler's logic, callable without a socket)."""
        resource_key = "-"
        try:
            parts = urlsplit(path)
            if parts.path.rstrip("/") != TOKEN_PATH:
                raise _RefusedError(404, f"jitpim: no such endpoint; the token endpoint is {TOKEN_PATH}")
            if not hmac.compare_digest((secret or "").encode(), self._secret.encode()):
                raise _RefusedError(401, f"jitpim: the {_SECRET_HEADER} header is missing or wrong")
            query = parse_qs(parts.query, keep_blank_values=True)
            version = (query.get("api-version") or [""])[0]
            if version != API_VERSION:
                raise _RefusedError(400, f"jitpim: api-version must be {API_VERSION} (got {version or 'none'!r})")
            resource = (query.get("resource") or [""])[0].strip()
            if not resource:
                raise _RefusedError(400, "jitpim: the resource parameter is required")
            resource_key = normalise_resource(resource)
            self._check_identity(query)
            grant = self._grants.get(resource_key)
            if grant is None:
                allowed = ", ".join(self.resources) or "none"
                raise _RefusedError(
                    403,
                    f"jitpim: the lease does not cover tokens for {resource}; this job may get tokens for: {allowed} "
                    "(add an audience with --child-audience if the job needs it)",
                )
            end = self._ends_at()
            now = self._now()
            if self._revoked.is_set() or (end is not None and now >= end):
                raise _RefusedError(403, "jitpim: the lease has ended; no more tokens are issued for it")
            try:
                token = grant.credential.get_token(f"{grant.resource.rstrip('/')}/.default")
            except JitError as exc:
                raise _RefusedError(500, f"jitpim could not get a token for {resource}: {exc.message}") from None
            expires_on = int(token.expires_on)
            if end is not None:
                # Never promise the token past the lease: the client asks again then, and is refused.
                expires_on = min(expires_on, int(end.timestamp()))
            self._count(self.served, grant.key)
            body: dict[str, Any] = {
                "access_token": token.token,
                "expires_on": str(expires_on),
                "resource": resource,
                "token_type": "Bearer",
            }
            if self._client_ids:
                body["client_id"] = sorted(self._client_ids)[0]
            return 200, body
        except _RefusedError as refused:
            self._count(self.refused, resource_key)
            return refused.status, {
                "statusCode": refused.status,
                "message": refused.message,
                "correlationId": str(uuid.uuid4()),
            }


def _handler_for(server: LeaseTokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "jitpim-token-server"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            # Silent: request lines go nowhere near a log (the secret is a header, but stay on the safe side).
            return

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if len(self.path) > _MAX_TARGET:
                self._send(414, {"statusCode": 414, "message": "jitpim: request target too long"})
                return
            status, body = server.answer(self.path, self.headers.get(_SECRET_HEADER))
            self._send(status, body)

        def do_POST(self) -> None:
            self._send(405, {"statusCode": 405, "message": "jitpim: use GET"})

    return Handler
