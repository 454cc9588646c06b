"""Every error jitpim raises, each with a hint that says what to do and its own exit code.

    JitError                          base: .hint, .exit_code, .target (what it was about)
    ├─ UsageError                     bad flags or arguments                                     64
    ├─ ConfigError                    bad access file, profile, cloud profile, environment       71
    ├─ AuthError                      no credential could be obtained or it was refused          72
    ├─ PolicyError
    │  ├─ PolicyDeniedError           the PIM policy refuses the request (rule named)           73
    │  └─ NotEligibleError            no eligibility / no right to assign                        74
    ├─ ApprovalError
    │  ├─ ApprovalDeniedError         an approver denied the request                             75
    │  └─ ApprovalTimeoutError        nobody approved in time                                    76
    ├─ NotEffectiveError              granted, but the access never started working in time     77
    ├─ ProviderError                  the API refused or failed the grant                        78
    │  ├─ ProviderApiError            parsed error envelope: .status, .code, .inner_code, .request_id
    │  └─ ThrottledError              429 after retries: .retry_after
    ├─ LedgerError                    the ledger cannot be written: nothing is granted           79
    ├─ NestingError                   jitpim exec inside jitpim exec                             80
    ├─ RotationError                  rotation failed (and was rolled back when possible)        81
    ├─ LeaseNotFoundError             no such lease in the ledger                                82
    ├─ InvalidTransitionError         a lease was moved along an edge its state machine forbids  70
    ├─ AuditError                     an audit record is broken or a sink failed                 83
    │  ├─ AuditVerificationError      the chain or a signature does not verify
    │  ├─ AuditUnpinnedError          verified, but against no pinned public key                 84
    │  └─ AuditSinkError              a sink failed; the record is kept for `jitpim audit flush`
    └─ ReleaseFailedError             access may still be granted: the most severe outcome       85

The child's own exit code passes through `jitpim exec` unchanged when everything else succeeded.

Messages, hints and targets echo what the user gave (a scope, a profile name); they are stored neutralised
(`jitpim.safe_text`): one line, control characters written as escapes, so an error can never inject a line or
a workflow command into a CI log.
"""

from __future__ import annotations

from typing import ClassVar

from .safe_text import neutralise

__all__ = [
    "ApprovalDeniedError",
    "ApprovalError",
    "ApprovalTimeoutError",
    "AuditError",
    "AuditSinkError",
    "AuditUnpinnedError",
    "AuditVerificationError",
    "AuthError",
    "ConfigError",
    "InvalidTransitionError",
    "JitError",
    "LeaseNotFoundError",
    "LedgerError",
    "NestingError",
    "NotEffectiveError",
    "NotEligibleError",
    "PolicyDeniedError",
    "PolicyError",
    "ProviderApiError",
    "ProviderError",
    "ReleaseFailedError",
    "RotationError",
    "ThrottledError",
    "UsageError",
    "exit_codes",
    "require_extra",
]


class JitError(Exception):
    """Base of every jitpim error."""

    exit_code: ClassVar[int] = 1
    default_hint: ClassVar[str] = ""

    def __init__(self, message: str, *, hint: str | None = None, target: str | None = None) -> None:
        super().__init__(neutralise(message))
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.target = target

    # Properties, so a message, hint or target set after construction (callers add the target they know) is
    # neutralised too.
    @property
    def message(self) -> str:
        return self._message

    @message.setter
    def message(self, value: str) -> None:
        self._message = neutralise(value)

    @property
    def hint(self) -> str:
        return self._hint

    @hint.setter
    def hint(self, value: str | None) -> None:
        self._hint = neutralise(value or "")

    @property
    def target(self) -> str | None:
        return self._target

    @target.setter
    def target(self, value: str | None) -> None:
        self._target = neutralise(value) if value is not None else None

    def __str__(self) -> str:
        prefix = f"{self.target}: " if self.target else ""
        return f"{prefix}{self.message}"

    def to_json(self) -> dict[str, object]:
        return {
            "error": type(self).__name__,
            "message": self.message,
            "hint": self.hint or None,
            "target": self.target,
            "exit_code": self.exit_code,
        }


class UsageError(JitError):
    """Bad flags or arguments."""

    exit_code = 64
    default_hint = "Run the command with --help to see its options."


class ConfigError(JitError):
    """Bad access file, profile, cloud profile or environment."""

    exit_code = 71


class AuthError(JitError):
    """No credential could be obtained, or Entra refused it."""

    exit_code = 72
    default_hint = (
        "Check the identity environment: AZURE_CLIENT_ID/AZURE_TENANT_ID with a federated token (GitHub Actions "
        "needs `permissions: id-token: write`), a client secret, or `jitpim emulator env --as NAME`."
    )


class PolicyError(JitError):
    """The request conflicts with policy."""

    exit_code = 73


class PolicyDeniedError(PolicyError):
    """The PIM policy refuses the request; the rule is named."""

    exit_code = 73

    def __init__(
        self, message: str, *, rules: list[str] | None = None, hint: str | None = None, target: str | None = None
    ) -> None:
        super().__init__(message, hint=hint, target=target)
        self.rules = list(rules or [])


class NotEligibleError(PolicyError):
    """No eligibility, or no right to assign, for this target."""

    exit_code = 74
    default_hint = "Ask an administrator for an eligibility (self mode) or the right to assign (direct mode)."


class ApprovalError(JitError):
    """Approval did not complete."""

    exit_code = 75


class ApprovalDeniedError(ApprovalError):
    """An approver denied the request."""

    exit_code = 75


class ApprovalTimeoutError(ApprovalError):
    """Nobody approved the request in time."""

    exit_code = 76
    default_hint = "Ask an approver to decide, or raise --approval-timeout."


class NotEffectiveError(JitError):
    """Granted, but the access never started working in time, or disappeared while the command ran."""

    exit_code = 77
    default_hint = (
        "The grant exists but access did not start working in time; role assignments can take minutes to "
        "propagate. Raise --effective-timeout, or check the probe."
    )


class ProviderError(JitError):
    """The Azure or Graph API refused or failed the grant."""

    exit_code = 78


class ProviderApiError(ProviderError):
    """An API error with its parsed envelope (status, code, request id)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        inner_code: str | None = None,
        hint: str | None = None,
        target: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, target=target)
        self.status = status
        self.code = code
        self.request_id = request_id
        # The more specific code some envelopes nest (Key Vault `innererror.code` such as ForbiddenByRbac,
        # the AADSTS number of an Entra error).
        self.inner_code = inner_code

    def to_json(self) -> dict[str, object]:
        data = super().to_json()
        data.update(
            {"status": self.status, "code": self.code, "inner_code": self.inner_code, "request_id": self.request_id}
        )
        return data


class ThrottledError(ProviderApiError):
    """Still throttled (429) after the retries."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, status=429, code="TooManyRequests", **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class LedgerError(JitError):
    """The ledger cannot be written or read; nothing is granted."""

    exit_code = 79
    default_hint = "Check --ledger / JITPIM_LEDGER points at a writable location; nothing was granted."


class NestingError(JitError):
    """`jitpim exec` was started inside another `jitpim exec`."""

    exit_code = 80
    default_hint = "Run the privileged commands inside the outer `jitpim exec`, or release it first."


class RotationError(JitError):
    """Secret rotation failed (rolled back when possible)."""

    exit_code = 81


class LeaseNotFoundError(JitError):
    """No such lease in the ledger."""

    exit_code = 82
    default_hint = "List leases with `jitpim status`."


class InvalidTransitionError(JitError):
    """A lease was moved along an edge its state machine forbids (a bug in the caller)."""

    exit_code = 70
    default_hint = "This is a bug in jitpim: please report it with the lease id. `jitpim status` shows the lease."

    def __init__(
        self, message: str, *, current: str, requested: str, hint: str | None = None, target: str | None = None
    ) -> None:
        super().__init__(message, hint=hint, target=target)
        self.current = current
        self.requested = requested


class AuditError(JitError):
    """An audit record is broken, or a sink failed."""

    exit_code = 83


class AuditVerificationError(AuditError):
    """The audit chain or a signature does not verify."""


class AuditUnpinnedError(AuditError):
    """The audit trail verified, but against no pinned public key: it proves integrity, not who signed it."""

    exit_code = 84
    default_hint = (
        "Pin the key that must have signed: `--public-key FILE` or $JITPIM_PUBLIC_KEY (the output of "
        "`jitpim audit public-key`, kept where the ledger's writers cannot change it)."
    )


class AuditSinkError(AuditError):
    """A sink failed; the record is kept for `jitpim audit flush`."""

    default_hint = "The record is kept in the ledger; retry delivery with `jitpim audit flush`."


class ReleaseFailedError(JitError):
    """Release failed: access may still be granted (the most severe outcome)."""

    exit_code = 85
    default_hint = (
        "Access may still be granted. Run `jitpim reap` (or `jitpim release --all`) and check `jitpim status`. "
        "A PIM grant also ends at its expiry at the source; a plain RBAC assignment (kind rbac) has no end there "
        "and stays until it is removed."
    )


def require_extra(module: str, extra: str, what: str) -> None:
    """Raise ConfigError naming the pip extra to install when an optional dependency (`module`) is missing:
    a CI job installs only what it uses (`jitpim[postgres]`, `jitpim[monitor]`)."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except ImportError:  # a parent package is missing
        found = False
    if not found:
        raise ConfigError(
            f"{what} needs {module}, which is not installed",
            hint=f"Install jitpim with its {extra!r} extra: pip install 'jitpim[{extra}]'",
        )


def exit_codes() -> list[tuple[int, str, str]]:
    """(code, error class, meaning) for the documented exit-code table."""
    rows: list[tuple[int, str, str]] = [(0, "-", "success (or the child's own exit code)")]
    seen: set[int] = set()
    for cls in (
        UsageError,
        InvalidTransitionError,
        ConfigError,
        AuthError,
        PolicyDeniedError,
        NotEligibleError,
        ApprovalDeniedError,
        ApprovalTimeoutError,
        NotEffectiveError,
        ProviderError,
        LedgerError,
        NestingError,
        RotationError,
        LeaseNotFoundError,
        AuditError,
        AuditUnpinnedError,
        ReleaseFailedError,
    ):
        if cls.exit_code in seen:
            continue
        seen.add(cls.exit_code)
        doc = (cls.__doc__ or "").strip()
        rows.append((cls.exit_code, cls.__name__, doc))
    return rows
