"""The broker's HTTP errors: one JSON envelope, `{"error": {"code", "message", "hint"}}`, with the status
that says whose problem it is. Clients (`jitpim --mode broker`, `jitpim approvals`) turn each code back into
the jitpim error with the documented exit code (`jitpim.broker.client.error_from`)."""

from __future__ import annotations

from typing import Any

from ..errors import AuthError, ConfigError, JitError, PolicyDeniedError, UsageError

__all__ = ["Problem", "problem_from"]


class Problem(Exception):  # noqa: N818 - an HTTP problem answer (RFC 9457 wording), not a bug
    """An HTTP error answer; never carries a token or a secret."""

    def __init__(self, status: int, code: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.hint = status, code, message, hint

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "hint": self.hint or None}}


def problem_from(exc: JitError) -> Problem:
    """Map a library error met while serving a request to its HTTP answer."""
    if isinstance(exc, AuthError):
        return Problem(401, "Unauthorized", exc.message, exc.hint)
    if isinstance(exc, PolicyDeniedError):
        return Problem(403, "Forbidden", exc.message, exc.hint)
    if isinstance(exc, UsageError | ConfigError):
        return Problem(400, "BadRequest", str(exc), exc.hint)
    return Problem(502, "UpstreamFailed", str(exc), exc.hint)
