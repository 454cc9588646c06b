"""Entra ID token issuer: `/{tenant}/oauth2/v2.0/token` (client secret, federated client assertion,
password and refresh-token grants), OpenID configuration and JWKS, with the real AADSTS errors."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt

from ....core.directory import Application, User
from ....core.errors import AadError
from ....core.tokens import TokenInvalid, access_token_claims, audience_for_scope
from ....core.world import World

__all__ = ["ASSERTION_TYPE", "check_tenant", "issue_user_token", "redeem"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Public clients that may use the password grant besides the tenant's own apps (Azure CLI, Azure PowerShell).
_PUBLIC_CLIENTS = {"04b07795-8ddb-461a-bbee-02f9e1bf7b46", "1950a258-227b-4e31-a9cf-717495945fc2"}


def check_tenant(w: World, tenant: str) -> None:
    """The tenant a token request names: its id, its domain, `organizations` or `common`."""
    if tenant.lower() not in (w.tenant_id, w.directory.domain.lower(), "organizations", "common"):
        raise AadError(
            400,
            "invalid_request",
            90002,
            f"Tenant '{tenant}' not found. Check to make sure you have "
            "the correct tenant ID and are signing into the correct cloud.",
        )


def _resolve_scope(w: World, scope_param: str, *, app_only: bool) -> tuple[str, str, list[str]]:
    """(service key, audience, requested permission names) for the resource scope in a token request."""
    scopes = [s for s in scope_param.split() if s not in ("openid", "profile", "offline_access", "email")]
    if not scopes:
        raise AadError(400, "invalid_scope", 70011, "The provided request must include a 'scope' input parameter.")
    resources = {s.rpartition("/")[0] or s for s in scopes}
    if len(resources) > 1:
        raise AadError(
            400,
            "invalid_scope",
            28000,
            "Provided value for the input parameter scope is not valid "
            "because it contains more than one resource. Scope " + " ".join(scopes) + " is not valid.",
        )
    if app_only and not all(s.endswith("/.default") for s in scopes):
        raise AadError(
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {scopes[0]} is not valid. "
            "Client credential flows must have a scope value with /.default suffixed to the resource "
            "identifier (application ID URI).",
        )
    # The public-cloud resource names, or this emulator's own endpoints as a registered cloud names them.
    found = audience_for_scope(scopes[0]) or w.endpoints.service_of_resource(scopes[0].rpartition("/")[0] or scopes[0])
    if found is None:
        raise AadError(
            400,
            "invalid_resource",
            500011,
            f"The resource principal named "
            f"{scopes[0].rpartition('/')[0]} was not found in the tenant named {w.tenant_display_name}. "
            "This can happen if the application has not been installed by the administrator of the tenant.",
        )
    key, audience = found
    names = [s.rpartition("/")[2] for s in scopes]
    return key, audience, names


def _token_body(w: World, claims: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    lifetime = int(claims["exp"]) - int(claims["iat"])
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": w.entra_key.sign(claims),
    }
    body.update(extra or {})
    return body


def _app_token(w: World, app: Application, scope_param: str, acr: str) -> dict[str, Any]:
    key, audience, _ = _resolve_scope(w, scope_param, app_only=True)
    now = w.clock.now()
    claims = access_token_claims(
        issuer=w.authority_issuer,
        audience=audience,
        tenant_id=w.tenant_id,
        object_id=app.service_principal_id,
        app_id=app.app_id,
        lifetime=w.settings.access_token_lifetime_seconds,
        roles=sorted(app.graph_app_roles) if key == "graph" else [],
        wids=sorted(w.directory.effective_role_ids(app.service_principal_id, now)),
        extra={"appidacr": acr},
    )
    return _token_body(w, claims)


def issue_user_token(
    w: World, user: User, client_id: str, scope_param: str, *, mfa: bool | None = None
) -> dict[str, Any]:
    """The token response body of a delegated sign-in of `user` through `client_id`."""
    key, audience, names = _resolve_scope(w, scope_param, app_only=False)
    if key == "graph":
        granted = sorted(user.scopes) if ".default" in names else sorted(set(names) & user.scopes)
        missing = sorted(set(names) - user.scopes - {".default"})
        if missing:
            raise AadError(
                400,
                "invalid_grant",
                65001,
                f"The user or administrator has not consented to use the "
                f"application with ID '{client_id}'. Send an interactive authorization request for this "
                f"user and resource. Missing: {' '.join(missing)}",
            )
    else:
        granted = ["user_impersonation"]
    now = w.clock.now()
    with_mfa = user.mfa if mfa is None else mfa
    claims = access_token_claims(
        issuer=w.authority_issuer,
        audience=audience,
        tenant_id=w.tenant_id,
        object_id=user.object_id,
        app_id=client_id,
        lifetime=w.settings.access_token_lifetime_seconds,
        scopes=granted,
        wids=sorted(w.directory.effective_role_ids(user.object_id, now)),
        amr=["pwd", "mfa"] if with_mfa else ["pwd"],
        extra={
            "appidacr": "0",
            "name": user.display_name,
            "upn": user.user_principal_name,
            "unique_name": user.user_principal_name,
        },
    )
    iat = int(time.time())
    id_claims = {
        "aud": client_id,
        "iss": f"{w.base_url}/{w.tenant_id}/v2.0",
        "iat": iat,
        "nbf": iat,
        "exp": iat + 3600,
        "oid": user.object_id,
        "sub": user.object_id,
        "tid": w.tenant_id,
        "name": user.display_name,
        "preferred_username": user.user_principal_name,
        "ver": "2.0",
    }
    refresh = w.entra_key.sign(
        {
            "typ": "refresh",
            "oid": user.object_id,
            "client_id": client_id,
            "iat": iat,
            "exp": iat + 86400,
            "mfa": with_mfa,
            "aud": "refresh",
            "iss": w.authority_issuer,
        }
    )
    client_info = (
        base64.urlsafe_b64encode(json.dumps({"uid": user.object_id, "utid": w.tenant_id}).encode()).decode().rstrip("=")
    )
    return _token_body(
        w,
        claims,
        {
            "scope": " ".join(f"{audience.rstrip('/')}/{s}" for s in granted),
            "id_token": w.entra_key.sign(id_claims),
            "refresh_token": refresh,
            "client_info": client_info,
        },
    )


def _client(w: World, client_id: str) -> Application:
    app = w.directory.application_by_client_id(client_id)
    if app is None:
        raise AadError(
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not "
            f"found in the directory '{w.tenant_display_name}'. This can happen if the application has "
            "not been installed by the administrator of the tenant or consented to by any user in the "
            "tenant. You may have sent your authentication request to the wrong tenant.",
        )
    return app


def _check_assertion(w: World, app: Application, assertion: str) -> None:
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise AadError(400, "invalid_request", 50027, "JWT token is invalid or malformed.") from None
    issuer = str(unverified.get("iss", ""))
    subject = str(unverified.get("sub", ""))
    audience = unverified.get("aud", "")
    audiences = audience if isinstance(audience, list) else [audience]
    by_issuer = [f for f in app.federated_credentials if f.issuer == issuer]
    if not by_issuer:
        raise AadError(
            400,
            "invalid_client",
            700211,
            f"No matching federated identity record found for presented "
            f"assertion issuer '{issuer}'. Please note that the matching is done using a case-sensitive "
            "comparison. Check your federated identity credential Subject, Audience and Issuer against "
            "the presented assertion.",
        )
    by_subject = [f for f in by_issuer if f.subject == subject]
    if not by_subject:
        case_only = [f for f in by_issuer if f.subject.lower() == subject.lower()]
        code = 7002138 if case_only else 700213
        raise AadError(
            400,
            "invalid_client",
            code,
            f"No matching federated identity record found for presented "
            f"assertion subject '{subject}'. Please note that the matching is done using a case-sensitive "
            "comparison. Check your federated identity credential Subject, Audience and Issuer against "
            "the presented assertion.",
        )
    if not any(a in f.audiences for f in by_subject for a in audiences):
        raise AadError(
            400,
            "invalid_client",
            700212,
            f"No matching federated identity record found for presented "
            f"assertion audience '{','.join(map(str, audiences))}'. Please see "
            "https://aka.ms/ficaudience.",
        )
    if issuer != w.github_key.issuer:
        raise AadError(
            400,
            "invalid_client",
            700211,
            f"The issuer '{issuer}' of the presented assertion is not a "
            "trusted issuer: its signing keys could not be retrieved.",
        )
    try:
        w.github_key.verify(assertion, audience=None)
    except TokenInvalid as exc:
        if exc.reason == "expired":
            raise AadError(
                400, "invalid_client", 700024, "Client assertion is not within its valid time range."
            ) from None
        raise AadError(400, "invalid_client", 700027, "Client assertion failed signature validation.") from None


def _client_id(form: dict[str, str]) -> str:
    client_id = form.get("client_id", "")
    if not client_id:
        raise AadError(
            400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'."
        )
    return client_id


def _has_client_credential(form: dict[str, str]) -> bool:
    return bool(form.get("client_secret") or form.get("client_assertion"))


def _authenticate_client(w: World, app: Application, form: dict[str, str]) -> str:
    """Check the client's own credential (a secret or a federated assertion); answers its `appidacr`."""
    if form.get("client_assertion"):
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise AadError(400, "invalid_request", 50027, "Invalid client_assertion_type.")
        _check_assertion(w, app, form["client_assertion"])
        return "2"
    secret = form.get("client_secret")
    if not secret:
        raise AadError(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        )
    now = w.clock.now()
    if not any(p.matches(secret, now) for p in app.passwords):
        if any(p.matches(secret, p.start) for p in app.passwords):
            raise AadError(
                401,
                "invalid_client",
                7000222,
                f"The provided client secret keys for app '{app.app_id}' are expired.",
            )
        raise AadError(
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret "
            "being sent in the request is the client secret value, not the client secret ID, "
            f"for a secret added to app '{app.app_id}'.",
        )
    return "1"


def redeem(w: World, form: dict[str, str]) -> dict[str, Any]:
    """The token response body for a token request's form, by `grant_type`; AADSTS errors otherwise."""
    grant = form.get("grant_type", "")
    with w.lock:
        if grant == "client_credentials":
            app = _client(w, _client_id(form))
            return _app_token(w, app, form.get("scope", ""), _authenticate_client(w, app, form))
        if grant == "password":
            client_id = _client_id(form)
            if client_id not in _PUBLIC_CLIENTS:
                app = _client(w, client_id)
                # A confidential client (not marked as a public client) proves itself on every grant.
                if not app.public_client or _has_client_credential(form):
                    _authenticate_client(w, app, form)
            user = w.directory.user_by_upn(form.get("username", ""))
            if user is None or not user.password_matches(form.get("password", "")):
                raise AadError(
                    400, "invalid_grant", 50126, "Error validating credentials due to invalid username or password."
                )
            return issue_user_token(w, user, client_id, form.get("scope", ""))
        if grant == "refresh_token":
            client_id = _client_id(form)
            try:
                data = w.entra_key.verify(form.get("refresh_token", ""), audience="refresh")
            except TokenInvalid:
                raise AadError(
                    400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid."
                ) from None
            if str(data.get("client_id")) != client_id:
                # A refresh token is bound to the client it was issued to.
                raise AadError(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
            if client_id not in _PUBLIC_CLIENTS:
                app = _client(w, client_id)
                if not app.public_client or _has_client_credential(form):
                    _authenticate_client(w, app, form)
            user = w.directory.users.get(str(data.get("oid")))
            if user is None:
                raise AadError(400, "invalid_grant", 50057, "The user account is disabled.")
            return issue_user_token(w, user, client_id, form.get("scope", ""), mfa=bool(data.get("mfa")))
    raise AadError(400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'.")
