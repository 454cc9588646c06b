"""Make-before-break rotation of an app registration's client secret, through Microsoft Graph.

    1. find the application (`/applications(appId='...')`, its object id, or its display name);
    2. `POST /applications/{id}/addPassword`: a new secret (its text is returned only here, once);
    3. store it in Key Vault when asked (tags: the new `keyId`, the app, the run, never the text);
    4. validate it by obtaining a token with it; a freshly added secret can be refused for a few seconds
       while Entra replicates it (`AADSTS7000215`), so that refusal is retried with backoff, bounded;
    5. `POST /applications/{id}/removePassword` for the old credential(s): the one whose id the stored
       secret's `jitpim-key-id` tag names (what the previous rotation stored), or the ones given explicitly.

On a failed validation the new credential is removed (break the new, keep the old) and the stored secret is
restored to its previous value as a new version. The record (`secret.rotated`, kind `app_credential`) holds
key ids and version ids only.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

from ..cloud import CloudProfile
from ..errors import AuthError, JitError, ProviderApiError, RotationError, UsageError
from ..http import ApiClient
from ..model import format_duration, is_guid
from .keyvault import SecretVersion, VaultSecrets
from .secret import RESTORED_FROM_TAG, ROTATION_TAG, Clock, Record, Say, Shield
from .values import SecretValue

__all__ = [
    "KEY_ID_TAG",
    "AppCredentialOutcome",
    "AppCredentialRequest",
    "AppCredentialRotator",
    "AppRef",
    "TokenCheck",
    "client_secret_token_check",
    "resolve_app",
]

KEY_ID_TAG: Final = "jitpim-key-id"
APP_ID_TAG: Final = "jitpim-app-id"
_INVALID_SECRET: Final = "AADSTS7000215"
_SELECT: Final = "id,appId,displayName,passwordCredentials"

# check(tenant_id, client_id, secret, scope): obtain a token with the secret, or raise AuthError.
TokenCheck = Callable[[str, str, SecretValue, str], None]


@dataclass(frozen=True)
class AppRef:
    object_id: str
    app_id: str
    display_name: str
    key_ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"object_id": self.object_id, "app_id": self.app_id, "display_name": self.display_name}


def _app(body: Any) -> AppRef:
    if not isinstance(body, dict) or not isinstance(body.get("id"), str):
        raise RotationError("Graph answered without an application object")
    keys = tuple(str(p["keyId"]) for p in body.get("passwordCredentials") or [] if isinstance(p, dict))
    return AppRef(body["id"], str(body.get("appId")), str(body.get("displayName")), keys)


_APP_HINT: Final = (
    "--app finds an application by its object id, its client id (appId) or its exact display name; check the "
    "value (`az ad app list --display-name NAME` shows all three)."
)


def resolve_app(graph: ApiClient, ref: str) -> AppRef:
    """The application by client id (appId), object id, or display name (which must be unique)."""
    text = ref.strip()
    if not text:
        raise UsageError("--app is empty")
    params = {"$select": _SELECT}
    if is_guid(text):
        for path in (f"/v1.0/applications(appId='{text}')", f"/v1.0/applications/{text}"):
            try:
                return _app(graph.get(path, params=params, expected=(200,)).json)
            except ProviderApiError as exc:
                if exc.status != 404:
                    raise
        raise UsageError(f"no application with client id or object id {text}", hint=_APP_HINT, target="--app")
    escaped = text.replace("'", "''")
    found = list(graph.paged("/v1.0/applications", {"$filter": f"displayName eq '{escaped}'", **params}))
    if not found:
        raise UsageError(f"no application is named {text!r}", hint=_APP_HINT, target="--app")
    if len(found) > 1:
        # An ambiguous name is the caller's to fix, like a missing one: nothing was changed yet.
        raise UsageError(
            f"{len(found)} applications are named {text!r}",
            hint="Name the application by its client id (appId) or object id instead.",
            target="--app",
        )
    return _app(found[0])


def client_secret_token_check(cloud: CloudProfile) -> TokenCheck:
    """Obtain a token with azure-identity's `ClientSecretCredential`, as any consumer of the secret would."""

    def check(tenant_id: str, client_id: str, secret: SecretValue, scope: str) -> None:
        from azure.identity import ClientSecretCredential

        from ..auth import GuardedCredential

        kwargs: dict[str, Any] = {"authority": cloud.authority_host}
        if cloud.ca_bundle:
            kwargs["connection_verify"] = cloud.ca_bundle
        if not cloud.instance_discovery:
            kwargs["disable_instance_discovery"] = True
        inner = ClientSecretCredential(tenant_id, client_id, secret.reveal(), **kwargs)
        with GuardedCredential(inner, "the new client secret") as credential:
            credential.get_token(scope)

    return check


@dataclass(frozen=True)
class AppCredentialRequest:
    app: str
    display_name: str = "jitpim"
    lifetime: timedelta = timedelta(days=90)
    validate_scope: str | None = None  # default: the cloud's Graph scope
    remove_key_ids: tuple[str, ...] | None = None  # None: what the stored secret's tag names
    keep_old: bool = False
    store_name: str | None = None  # the Key Vault secret that holds the client secret
    provenance_tags: dict[str, str] = field(default_factory=dict)


@dataclass
class AppCredentialOutcome:
    rotation_id: str
    app: AppRef | None = None
    final_state: str = "unchanged"
    new_key_id: str | None = None
    new_key_end: datetime | None = None
    removed_key_ids: list[str] = field(default_factory=list)
    kept_key_ids: list[str] = field(default_factory=list)
    vault_url: str | None = None
    secret_name: str | None = None
    previous_version_id: str | None = None
    version_id: str | None = None
    restored_version_id: str | None = None
    token_attempts: int = 0
    reason: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.final_state == "rotated"

    def record_body(self) -> dict[str, Any]:
        return {
            "kind": "app_credential",
            "rotation_id": self.rotation_id,
            "app_id": self.app.app_id if self.app else None,
            "application_object_id": self.app.object_id if self.app else None,
            "final_state": self.final_state,
            "new_key_id": self.new_key_id,
            "new_key_end": self.new_key_end.isoformat() if self.new_key_end else None,
            "removed_key_ids": list(self.removed_key_ids),
            "kept_key_ids": list(self.kept_key_ids),
            "vault": self.vault_url,
            "secret_name": self.secret_name,
            "previous_version_id": self.previous_version_id,
            "version_id": self.version_id,
            "restored_version_id": self.restored_version_id,
            "token_attempts": self.token_attempts,
            "reason": self.reason,
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.record_body(), "app": self.app.to_json() if self.app else None}


def _parse_time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    with contextlib.suppress(ValueError):
        return datetime.fromisoformat(text)
    return None


class AppCredentialRotator:
    """See the module docstring. `store` is the vault holding the secret (with `request.store_name`)."""

    def __init__(
        self,
        graph: ApiClient,
        *,
        tenant_id: str,
        clock: Clock,
        token_check: TokenCheck,
        default_scope: str,
        store: VaultSecrets | None = None,
        say: Say | None = None,
        record: Record | None = None,
        shield: Shield | None = None,
        on_new_value: Callable[[SecretValue], None] | None = None,
        propagation_timeout: timedelta = timedelta(minutes=2),
    ) -> None:
        self.graph = graph
        self.tenant_id = tenant_id
        self.clock = clock
        self.token_check = token_check
        self.default_scope = default_scope
        self.store = store
        self._say = say or (lambda step, message, data: None)
        self._record = record or (lambda event, body: None)
        self._shield: Shield = shield or contextlib.nullcontext
        self._on_new_value = on_new_value or (lambda value: None)
        self.propagation_timeout = propagation_timeout
        self.last_outcome: AppCredentialOutcome | None = None

    def rotate(self, request: AppCredentialRequest) -> AppCredentialOutcome:
        if request.store_name and self.store is None:
            raise UsageError("storing the secret needs the vault (--store-in VAULT/SECRET)")
        outcome = AppCredentialOutcome(uuid.uuid4().hex)
        self.last_outcome = outcome
        app = resolve_app(self.graph, request.app)
        outcome.app = app
        previous = self._stored_previous(request, outcome)
        old = self._old_key_ids(request, app, previous)
        self._record(
            "secret.rotation_started",
            {
                "kind": "app_credential",
                "rotation_id": outcome.rotation_id,
                "app_id": app.app_id,
                "old_key_ids": list(old),
                "previous_version_id": outcome.previous_version_id,
            },
        )
        new_value: SecretValue | None = None
        validated = False
        try:
            new_value = self._add_password(request, app, outcome)
            if request.store_name and self.store is not None:
                self._store(request, app, outcome, new_value, previous)
            self._validate(app, new_value, request.validate_scope or self.default_scope, outcome)
            validated = True
            self._remove_old(app, old, outcome)
            outcome.final_state = "rotated"
            self._record("secret.rotated", outcome.record_body())
            return outcome
        except BaseException as exc:
            with self._shield():
                self._settle(request, app, outcome, previous, validated, exc)
            if isinstance(exc, Exception) and not isinstance(exc, RotationError):
                raise RotationError(
                    f"rotation of the client secret of {app.display_name} failed ({exc}); "
                    f"final state: {outcome.final_state}"
                ) from exc
            raise

    # steps ----------------------------------------------------------------------------------------------------
    def _stored_previous(self, request: AppCredentialRequest, outcome: AppCredentialOutcome) -> SecretVersion | None:
        if not (request.store_name and self.store is not None):
            return None
        outcome.vault_url, outcome.secret_name = self.store.vault_url, request.store_name
        previous = self.store.current(request.store_name)
        outcome.previous_version_id = previous.version_id if previous else None
        return previous

    def _old_key_ids(
        self, request: AppCredentialRequest, app: AppRef, previous: SecretVersion | None
    ) -> tuple[str, ...]:
        if request.keep_old:
            return ()
        if request.remove_key_ids is not None:
            unknown = [k for k in request.remove_key_ids if k.lower() not in {a.lower() for a in app.key_ids}]
            if unknown:
                raise UsageError(f"{app.display_name} has no password credential {', '.join(unknown)}")
            return tuple(request.remove_key_ids)
        tagged = previous.tags.get(KEY_ID_TAG) if previous else None
        if tagged and tagged.lower() in {k.lower() for k in app.key_ids}:
            return (tagged,)
        self._say(
            "plan",
            "no earlier credential is identified (the stored secret has no jitpim-key-id tag); none will be removed",
            {"existing_key_ids": list(app.key_ids)},
        )
        return ()

    def _add_password(self, request: AppCredentialRequest, app: AppRef, outcome: AppCredentialOutcome) -> SecretValue:
        display_name = f"{request.display_name} {outcome.rotation_id[:12]}"
        end = self.clock.now() + request.lifetime
        body = {"passwordCredential": {"displayName": display_name, "endDateTime": end.isoformat()}}
        path = f"/v1.0/applications/{quote(app.object_id)}"
        try:
            created = self.graph.post(f"{path}/addPassword", body, expected=(200,)).json
        except ProviderApiError as exc:
            if exc.status is None or exc.status >= 500:
                self._remove_orphan(app, display_name)
            raise
        text = created.get("secretText") if isinstance(created, dict) else None
        if not isinstance(text, str) or not text:
            raise RotationError("addPassword answered without the new secret")
        value = SecretValue(text)
        self._on_new_value(value)
        outcome.new_key_id = str(created.get("keyId"))
        outcome.new_key_end = _parse_time(created.get("endDateTime"))
        self._say(
            "written",
            f"added client secret {outcome.new_key_id} to {app.display_name} "
            f"(valid for {format_duration(request.lifetime)})",
            {"key_id": outcome.new_key_id},
        )
        return value

    def _remove_orphan(self, app: AppRef, display_name: str) -> None:
        """A lost addPassword response: the secret text is gone for good, so a credential it created is
        removed rather than left valid and unknown."""
        with contextlib.suppress(JitError):
            body = self.graph.get(f"/v1.0/applications/{quote(app.object_id)}", params={"$select": _SELECT}).json
            for p in (body or {}).get("passwordCredentials") or []:
                if p.get("displayName") == display_name:
                    self._remove(app, str(p["keyId"]))
                    self._say("recover", f"removed credential {p['keyId']} whose creation lost its answer", {})

    def _store(
        self,
        request: AppCredentialRequest,
        app: AppRef,
        outcome: AppCredentialOutcome,
        value: SecretValue,
        previous: SecretVersion | None,
    ) -> None:
        assert self.store is not None and request.store_name
        kept = {k: v for k, v in (previous.tags if previous else {}).items() if not k.startswith("jitpim-")}
        version = self.store.set(
            request.store_name,
            value,
            content_type=previous.content_type if previous and previous.content_type else "text/plain",
            tags={
                **kept,
                **request.provenance_tags,
                ROTATION_TAG: outcome.rotation_id,
                KEY_ID_TAG: outcome.new_key_id or "",
                APP_ID_TAG: app.app_id,
            },
            expires=outcome.new_key_end,
        )
        outcome.version_id = version.version_id
        self._say(
            "stored",
            f"stored it in {request.store_name} as version {version.version_id}",
            {"version_id": version.version_id, "previous_version_id": outcome.previous_version_id},
        )

    def _validate(self, app: AppRef, value: SecretValue, scope: str, outcome: AppCredentialOutcome) -> None:
        deadline = self.clock.now() + self.propagation_timeout
        delay = 2.0
        while True:
            outcome.token_attempts += 1
            try:
                self.token_check(self.tenant_id, app.app_id, value, scope)
                break
            except AuthError as exc:
                propagating = _INVALID_SECRET in exc.message
                remaining = (deadline - self.clock.now()).total_seconds()
                if not propagating or remaining <= 0:
                    raise
                wait = min(delay, remaining)
                self._say(
                    "waiting",
                    f"Entra does not accept the new secret yet ({_INVALID_SECRET}: still replicating); "
                    f"retrying in {wait:.0f}s",
                    {"attempt": outcome.token_attempts},
                )
                self.clock.sleep(wait)
                delay = min(delay * 2, 15.0)
        self._say(
            "validate",
            f"validation passed: obtained a token for {scope} with the new secret (attempt {outcome.token_attempts})",
            {"attempts": outcome.token_attempts},
        )

    def _remove(self, app: AppRef, key_id: str) -> bool:
        try:
            self.graph.post(
                f"/v1.0/applications/{quote(app.object_id)}/removePassword", {"keyId": key_id}, expected=(200, 204)
            )
        except ProviderApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _remove_old(self, app: AppRef, old: tuple[str, ...], outcome: AppCredentialOutcome) -> None:
        for key_id in old:
            self._remove(app, key_id)
            outcome.removed_key_ids.append(key_id)
        outcome.kept_key_ids = [k for k in app.key_ids if k not in old]
        self._say(
            "removed",
            f"removed the old client secret(s): {', '.join(old)}" if old else "no old client secret removed",
            {"removed_key_ids": list(old)},
        )

    # after a failure or an interruption -------------------------------------------------------------------
    def _settle(
        self,
        request: AppCredentialRequest,
        app: AppRef,
        outcome: AppCredentialOutcome,
        previous: SecretVersion | None,
        validated: bool,
        exc: BaseException,
    ) -> None:
        outcome.reason = f"{type(exc).__name__}: {exc}" if not isinstance(exc, JitError) else str(exc)
        if validated:
            outcome.final_state = "rotated"  # the new secret works; removing the old one is what failed
        elif outcome.new_key_id is None:
            outcome.final_state = "unchanged"
        else:
            try:
                self._remove(app, outcome.new_key_id)
                self._restore_store(request, outcome, previous)
                outcome.final_state = "rolled_back"
                self._say(
                    "rolled_back",
                    f"rolled back: removed the new client secret {outcome.new_key_id}; the old one still works",
                    {"key_id": outcome.new_key_id},
                )
            except BaseException as undo_error:
                outcome.final_state = "new_unvalidated"
                outcome.reason = f"{outcome.reason}; and the rollback failed: {undo_error}"
        with contextlib.suppress(JitError):
            self._record("secret.rotated", outcome.record_body())

    def _restore_store(
        self, request: AppCredentialRequest, outcome: AppCredentialOutcome, previous: SecretVersion | None
    ) -> None:
        if self.store is None or not request.store_name or outcome.version_id is None:
            return
        if previous is None or previous.value is None:
            self.store.disable(request.store_name, outcome.version_id)
            return
        restored = self.store.set(
            request.store_name,
            previous.value,
            content_type=previous.content_type,
            tags={**previous.tags, ROTATION_TAG: outcome.rotation_id, RESTORED_FROM_TAG: previous.version_id},
            expires=previous.expires,
            not_before=previous.not_before,
        )
        outcome.restored_version_id = restored.version_id
        self.store.disable(request.store_name, outcome.version_id)
