"""Entra ID discovery: OpenID configuration, the signing keys (JWKS) and instance discovery, which MSAL and
azure-identity read before asking for a token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ....core.http import json_response, world
from ..tokens.backend import check_tenant

__all__ = ["instance_discovery", "jwks", "openid_configuration"]


async def openid_configuration(request: Request) -> Response:
    w = world(request)
    check_tenant(w, request.path_params["tenant"])
    base = f"{w.base_url}/{w.tenant_id}"
    return json_response(
        {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{w.base_url}/{w.tenant_id}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{w.base_url}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "oid", "tid", "name", "preferred_username"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "emulator",
        }
    )


async def jwks(request: Request) -> Response:
    return json_response(world(request).entra_key.jwks())


async def instance_discovery(request: Request) -> Response:
    w = world(request)
    host = w.base_url.removeprefix("https://")
    return json_response(
        {
            "tenant_discovery_endpoint": f"{w.base_url}/{w.tenant_id}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        }
    )
