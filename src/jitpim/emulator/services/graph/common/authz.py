"""Who may call a Graph operation: app permissions (`roles`) for app-only tokens, delegated scopes (`scp`)
plus, for privileged operations, a directory role of the signed-in user, the way Graph decides."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request

from ....core.auth import authenticate
from ....core.http import world
from ....core.tokens import Caller
from .errors import denied

__all__ = ["require"]


def require(
    request: Request,
    *,
    app: Sequence[str] = (),
    delegated: Sequence[str] = (),
    directory_actions: Sequence[str] = (),
    user_needs_role: bool = False,
) -> Caller:
    """Authenticate and authorize. An app passes with any permission in `app`, or with a directory role that
    grants any of `directory_actions` (Graph honours roles assigned to service principals). A user needs a
    scope in `delegated` and, when `user_needs_role`, a directory role granting one of `directory_actions`."""
    w = world(request)
    caller = authenticate(request, w, "graph")
    now = w.clock.now()
    if caller.is_app:
        if caller.has_permission(*app):
            return caller
        if directory_actions and any(w.directory.can(caller.object_id, a, now) for a in directory_actions):
            return caller
        raise denied()
    if not caller.has_permission(*delegated):
        raise denied()
    if user_needs_role and not any(w.directory.can(caller.object_id, a, now) for a in directory_actions):
        raise denied()
    return caller
