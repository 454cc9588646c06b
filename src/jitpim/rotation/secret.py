"""Rotating one Key Vault secret, while access is held (the caller holds the elevation; this module does
not know how it was obtained).

    1. read the current version (its value is kept in memory for a rollback, never written anywhere else);
    2. record `secret.rotation_started` (write-ahead: the rotation id and the previous version id);
    3. write the new version, tagged with the run, lease, actor and rotation id, with the optional expiry;
       a lost response is resolved by looking for the rotation id on the vault's versions, never by
       writing twice;
    4. validate it (the caller's check, e.g. `run_validation`); on failure restore the previous value as a
       NEW version, disable the failed one, and read back that the previous value is current again;
    5. optionally wait a grace period and disable the older versions;
    6. record `secret.rotated` with version ids and the final state, never a value.

Key Vault writes a version atomically, so at every instant either the old or the new value is current. When
anything interrupts the rotation (an error, SIGTERM turned into an exception), the rotator looks at the vault
to find out which, rolls an unvalidated new value back, and records the final state:

    rotated      the new value is current and passed validation
    rolled_back  the new value failed validation (or was interrupted before passing it); the previous
                 value is current again, as a new version
    unchanged    nothing was written; the previous value is current
    new_unvalidated  the new value is current but unvalidated, and restoring the previous one failed
    unknown      the vault could not be read to find out (the record holds the error)
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from ..errors import JitError, ProviderApiError, RotationError
from ..model import format_duration
from .keyvault import SecretVersion, VaultSecrets
from .validation import ValidationResult
from .values import SecretValue, ValueSource

__all__ = [
    "RESTORED_FROM_TAG",
    "ROTATION_TAG",
    "Clock",
    "Record",
    "RotationOutcome",
    "Say",
    "SecretRotationRequest",
    "SecretRotator",
    "Shield",
    "Validate",
]

ROTATION_TAG: Final = "jitpim-rotation"
RESTORED_FROM_TAG: Final = "jitpim-restored-from"
ROLLBACK_OF_TAG: Final = "jitpim-rollback-of"
_JITPIM_TAG_PREFIX: Final = "jitpim-"


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep(self, seconds: float) -> None: ...


# say(step, message, data): progress for the timeline. record(event_type, body): an audit event.
Say = Callable[[str, str, dict[str, Any]], None]
Record = Callable[[str, dict[str, Any]], None]
# A critical section that a signal must not interrupt (the lifecycle's `SignalGuard.deferred`).
Shield = Callable[[], AbstractContextManager[None]]
# validate(new version, value) -> result; the caller decides how (see `validation.run_validation`).
Validate = Callable[[SecretVersion, SecretValue], ValidationResult]


@dataclass(frozen=True)
class SecretRotationRequest:
    name: str
    # jitpim-run, jitpim-lease, jitpim-actor: who and why, on the new version (never the value).
    provenance_tags: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None
    expires_in: timedelta | None = None
    disable_older_after: timedelta | None = None
    vault_name: str | None = None  # for the record; the vault is the rotator's


@dataclass
class RotationOutcome:
    vault_url: str
    secret_name: str
    rotation_id: str
    vault_name: str | None = None
    final_state: str = "unchanged"
    previous_version_id: str | None = None
    new_version_id: str | None = None
    restored_version_id: str | None = None
    current_version_id: str | None = None
    disabled_version_ids: list[str] = field(default_factory=list)
    validation: ValidationResult | None = None
    value_source: ValueSource | None = None
    reason: str | None = None
    expires_at: datetime | None = None

    @property
    def succeeded(self) -> bool:
        return self.final_state == "rotated"

    def record_body(self) -> dict[str, Any]:
        """The `secret.rotated` event body: ids, states and reasons only (the ledger's guard checks it)."""
        return {
            "kind": "keyvault_secret",
            "vault": self.vault_name or self.vault_url,
            "vault_url": self.vault_url,
            "secret_name": self.secret_name,
            "rotation_id": self.rotation_id,
            "final_state": self.final_state,
            "previous_version_id": self.previous_version_id,
            "version_id": self.new_version_id,
            "restored_version_id": self.restored_version_id,
            "current_version_id": self.current_version_id,
            "disabled_version_ids": list(self.disabled_version_ids),
            "validation": self.validation.to_json() if self.validation else None,
            "value_source": self.value_source.to_json() if self.value_source else None,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "reason": self.reason,
        }

    def to_json(self) -> dict[str, Any]:
        return self.record_body()


@dataclass
class _Progress:
    outcome: RotationOutcome
    previous: SecretVersion
    new: SecretVersion | None = None
    validated: bool = False


def _reason(exc: BaseException) -> str:
    if isinstance(exc, JitError):
        return str(exc)
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def _transport_failure(exc: ProviderApiError) -> bool:
    return exc.status is None or exc.status in (500, 502, 503, 504)


class SecretRotator:
    """Rotates secrets of one vault (see the module docstring)."""

    def __init__(
        self,
        secrets: VaultSecrets,
        *,
        clock: Clock,
        say: Say | None = None,
        record: Record | None = None,
        shield: Shield | None = None,
    ) -> None:
        self.secrets = secrets
        self.clock = clock
        self._say = say or (lambda step, message, data: None)
        self._record = record or (lambda event, body: None)
        self._shield: Shield = shield or contextlib.nullcontext
        # The outcome of the latest rotation, also when it ended by an exception (for the caller's report).
        self.last_outcome: RotationOutcome | None = None

    # the rotation -------------------------------------------------------------------------------------------
    def rotate(
        self,
        request: SecretRotationRequest,
        value: SecretValue,
        *,
        validate: Validate | None = None,
        value_source: ValueSource | None = None,
    ) -> RotationOutcome:
        """Rotate; returns the outcome (`rotated` or `rolled_back` after a failed validation). Any other
        failure is settled (see the module docstring), recorded, and raised: `RotationError` for errors, the
        original exception for interruptions (signals)."""
        outcome = RotationOutcome(
            self.secrets.vault_url, request.name, uuid.uuid4().hex, request.vault_name, value_source=value_source
        )
        self.last_outcome = outcome
        previous = self._read_previous(request.name)
        outcome.previous_version_id = outcome.current_version_id = previous.version_id
        progress = _Progress(outcome, previous)
        self._record(
            "secret.rotation_started",
            {
                "kind": "keyvault_secret",
                "vault": outcome.vault_name or outcome.vault_url,
                "vault_url": outcome.vault_url,
                "secret_name": request.name,
                "rotation_id": outcome.rotation_id,
                "previous_version_id": previous.version_id,
            },
        )
        try:
            self._write(request, value, progress)
            if validate is not None:
                assert progress.new is not None
                result = validate(progress.new, value)
                outcome.validation = result
                if not result.ok:
                    self._say("validate", f"validation failed: {result.describe()}", {"validation": result.to_json()})
                    with self._shield():
                        self._roll_back(progress, f"validation failed: {result.describe()}")
                    self._record("secret.rotated", outcome.record_body())
                    return outcome
                self._say("validate", f"validation passed: {result.describe()}", {"validation": result.to_json()})
            progress.validated = True
            if request.disable_older_after is not None:
                self._disable_older(request, progress)
            outcome.final_state = "rotated"
            self._record("secret.rotated", outcome.record_body())
            return outcome
        except BaseException as exc:
            with self._shield():
                self._settle(progress, exc)
            if isinstance(exc, Exception) and not isinstance(exc, RotationError):
                raise RotationError(
                    f"rotation of {request.name} failed ({_reason(exc)}); final state: {outcome.final_state}",
                    hint=_STATE_HINTS.get(outcome.final_state),
                ) from exc
            raise

    def _read_previous(self, name: str) -> SecretVersion:
        try:
            previous = self.secrets.current(name)
        except ProviderApiError as exc:
            if exc.inner_code == "SecretDisabled":
                raise RotationError(
                    f"the current version of {name} is disabled: there is no value to roll back to",
                    hint="Enable the current version (or write a good value) before rotating under jitpim.",
                ) from None
            raise
        if previous is None or previous.value is None:
            raise RotationError(
                f"there is no secret {name} in {self.secrets.vault_url} to rotate",
                hint="Rotation replaces an existing secret (and can restore it); create the first version first.",
            )
        self._say(
            "read",
            f"current version of {name} is {previous.version_id} (kept in memory for a rollback)",
            {"version_id": previous.version_id},
        )
        return previous

    def _new_tags(self, request: SecretRotationRequest, previous: SecretVersion, rotation_id: str) -> dict[str, str]:
        kept = {k: v for k, v in previous.tags.items() if not k.startswith(_JITPIM_TAG_PREFIX)}
        return {**kept, **request.provenance_tags, ROTATION_TAG: rotation_id}

    def _write(self, request: SecretRotationRequest, value: SecretValue, progress: _Progress) -> None:
        outcome, previous = progress.outcome, progress.previous
        if value == previous.value:
            raise RotationError("the new value equals the current one; nothing to rotate")
        expires = self.clock.now() + request.expires_in if request.expires_in else None
        content_type = request.content_type if request.content_type is not None else previous.content_type
        try:
            new = self.secrets.set(
                request.name,
                value,
                content_type=content_type,
                tags=self._new_tags(request, previous, outcome.rotation_id),
                expires=expires,
            )
        except ProviderApiError as exc:
            found = self._find_ours(request.name, outcome.rotation_id) if _transport_failure(exc) else None
            if found is None:
                raise
            self._say("recover", f"no answer to the write; found it applied as version {found.version_id}", {})
            new = found
        progress.new = new
        outcome.new_version_id = outcome.current_version_id = new.version_id
        outcome.expires_at = new.expires
        self._say(
            "written",
            f"wrote version {new.version_id} of {request.name}"
            + (f", expiring {new.expires:%Y-%m-%d %H:%M}Z" if new.expires else ""),
            {"version_id": new.version_id, "previous_version_id": previous.version_id},
        )

    def _find_ours(self, name: str, rotation_id: str) -> SecretVersion | None:
        """The version this rotation wrote, if the vault has it (after a lost response or an interruption)."""
        current = self.secrets.current(name)
        if current is not None and current.tags.get(ROTATION_TAG) == rotation_id:
            return current
        return next((v for v in self.secrets.versions(name) if v.tags.get(ROTATION_TAG) == rotation_id), None)

    def _roll_back(self, progress: _Progress, reason: str) -> None:
        """Restore the previous value as a new version, disable the failed one, and read back the result."""
        outcome, previous, new = progress.outcome, progress.previous, progress.new
        assert previous.value is not None and new is not None
        kept = {k: v for k, v in previous.tags.items() if not k.startswith(_JITPIM_TAG_PREFIX)}
        provenance = {k: v for k, v in new.tags.items() if k.startswith(_JITPIM_TAG_PREFIX) and k != ROTATION_TAG}
        restored = self.secrets.set(
            outcome.secret_name,
            previous.value,
            content_type=previous.content_type,
            tags={
                **kept,
                **provenance,
                ROTATION_TAG: outcome.rotation_id,
                RESTORED_FROM_TAG: previous.version_id,
                ROLLBACK_OF_TAG: new.version_id,
            },
            expires=previous.expires,
            not_before=previous.not_before,
        )
        outcome.restored_version_id = outcome.current_version_id = restored.version_id
        outcome.final_state = "rolled_back"
        outcome.reason = reason
        # A consumer pinned to the failed version must not keep using it.
        try:
            self.secrets.disable(outcome.secret_name, new.version_id)
            outcome.disabled_version_ids.append(new.version_id)
        except ProviderApiError as exc:
            outcome.reason = f"{reason}; the failed version {new.version_id} could not be disabled ({exc.message})"
        current = self.secrets.current(outcome.secret_name)
        if current is None or current.version_id != restored.version_id or current.value != previous.value:
            outcome.current_version_id = current.version_id if current else None
            raise RotationError(
                f"restored the previous value as version {restored.version_id}, but the vault now shows "
                f"{outcome.current_version_id} as current",
                hint="Another writer changed the secret during the rollback; check its versions.",
            )
        self._say(
            "rolled_back",
            f"rolled back: the previous value is current again as version {restored.version_id} "
            f"(restored from {previous.version_id}); version {new.version_id} is disabled",
            {"restored_version_id": restored.version_id, "failed_version_id": new.version_id},
        )

    def _disable_older(self, request: SecretRotationRequest, progress: _Progress) -> None:
        outcome, new = progress.outcome, progress.new
        assert new is not None and request.disable_older_after is not None
        grace = request.disable_older_after
        if grace > timedelta(0):
            self._say(
                "waiting",
                f"grace period: disabling older versions in {format_duration(grace)}",
                {"grace_s": grace.total_seconds()},
            )
            self.clock.sleep(grace.total_seconds())
        for version in self.secrets.versions(request.name):
            older = new.created is None or version.created is None or version.created <= new.created
            if version.version_id == new.version_id or not version.enabled or not older:
                continue
            self.secrets.disable(request.name, version.version_id)
            outcome.disabled_version_ids.append(version.version_id)
        self._say(
            "disabled",
            f"disabled {len(outcome.disabled_version_ids)} older version(s) of {request.name}",
            {"disabled_version_ids": list(outcome.disabled_version_ids)},
        )

    # after a failure or an interruption -------------------------------------------------------------------
    def _settle(self, progress: _Progress, exc: BaseException) -> None:
        """Find out which value is current, roll back an unvalidated new one, and record the final state."""
        outcome = progress.outcome
        if outcome.final_state == "rolled_back":
            outcome.reason = f"{outcome.reason}; then {_reason(exc)}"
        else:
            outcome.reason = _reason(exc)
            try:
                if progress.new is None:
                    progress.new = self._find_ours(outcome.secret_name, outcome.rotation_id)
                    if progress.new is not None:
                        outcome.new_version_id = progress.new.version_id
                if progress.new is None:
                    outcome.final_state = "unchanged"
                    outcome.current_version_id = progress.previous.version_id
                elif progress.validated:
                    outcome.final_state = "rotated"
                    outcome.current_version_id = progress.new.version_id
                else:
                    outcome.final_state = "new_unvalidated"
                    outcome.current_version_id = progress.new.version_id
                    self._roll_back(progress, f"rolled back after: {_reason(exc)}")
            except BaseException as settle_error:
                if outcome.final_state != "new_unvalidated":
                    outcome.final_state = "unknown"
                outcome.reason = f"{outcome.reason}; and then: {_reason(settle_error)}"
        self._say("settled", f"{outcome.secret_name}: {_STATE_TEXT[outcome.final_state]}", {})
        with contextlib.suppress(JitError):
            self._record("secret.rotated", outcome.record_body())


_STATE_TEXT: Final = {
    "rotated": "the new value is current and was validated",
    "rolled_back": "the previous value is current again (restored as a new version)",
    "unchanged": "nothing was written; the previous value is current",
    "new_unvalidated": "the NEW, unvalidated value is current: restoring the previous one failed",
    "unknown": "could not read the vault to tell which value is current",
}
_STATE_HINTS: Final = {
    "new_unvalidated": "Restore the previous version by hand (its id is in the record), or rerun the rotation.",
    "unknown": "Check the secret's versions: the record names the previous version and the rotation id tag.",
}
