"""Who may read an application registration and who may change its credentials, as Graph decides.

Reading: app-only `Application.Read.All` / `Application.ReadWrite.All` / `Application.ReadWrite.OwnedBy` /
`Directory.Read(Write).All`, delegated `Application.Read(Write).All` / `Directory.Read.All` /
`Directory.AccessAsUser.All`, or a directory role that manages applications.

Changing credentials (addPassword, removePassword, federated identity credentials): app-only
`Application.ReadWrite.All` (or `Directory.ReadWrite.All`), `Application.ReadWrite.OwnedBy` only on
applications whose owners include the caller's service principal, or a directory role granting
`microsoft.directory/applications/credentials/update` (Application Administrator, Cloud Application
Administrator, Global Administrator; e.g. granted just in time). A user needs a write scope and either
ownership of the application or such a role. Directory roles honour the directory's propagation delay.
"""

from __future__ import annotations

from ....core.directory import Application
from ....core.tokens import Caller
from ....core.world import World
from ..common.errors import denied

__all__ = ["CREDENTIALS_ACTION", "READ_ACTIONS", "READ_APP", "READ_DELEGATED", "authorize_credentials", "role_allows"]

CREDENTIALS_ACTION = "microsoft.directory/applications/credentials/update"
READ_APP = (
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Application.ReadWrite.OwnedBy",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
)
READ_DELEGATED = (
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
    "Directory.AccessAsUser.All",
)
READ_ACTIONS = (
    "microsoft.directory/applications/standard/read",
    "microsoft.directory/applications/basic/update",
    CREDENTIALS_ACTION,
)
_WRITE_APP = ("Application.ReadWrite.All", "Directory.ReadWrite.All")
_WRITE_DELEGATED = ("Application.ReadWrite.All", "Directory.ReadWrite.All", "Directory.AccessAsUser.All")


def role_allows(w: World, caller: Caller, actions: tuple[str, ...], scope: str = "/") -> bool:
    """A directory role grants one of `actions` tenant-wide, or at `scope` (an app registration: Entra roles
    such as Cloud Application Administrator can be assigned scoped to one application)."""
    now = w.clock.now()
    return any(w.directory.can(caller.object_id, a, now, scope) for a in actions)


def authorize_credentials(w: World, caller: Caller, app: Application) -> None:
    """Refuse (403 Authorization_RequestDenied) unless the caller may change `app`'s credentials."""
    if caller.is_app:
        if caller.has_permission(*_WRITE_APP):
            return
        if caller.has_permission("Application.ReadWrite.OwnedBy") and caller.object_id in app.owners:
            return
        if role_allows(w, caller, (CREDENTIALS_ACTION,), f"/{app.object_id}"):
            return
        raise denied()
    if caller.has_permission(*_WRITE_DELEGATED) and (
        caller.object_id in app.owners or role_allows(w, caller, (CREDENTIALS_ACTION,), f"/{app.object_id}")
    ):
        return
    raise denied()
