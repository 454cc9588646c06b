"""Bearer-token authentication for Graph, ARM and Key Vault, each with its real 401 shape."""

from __future__ import annotations

import jwt
from starlette.requests import Request

from .errors import ApiError, ArmError, GraphError, KeyVaultError
from .tokens import AUDIENCES, Caller, TokenInvalid
from .world import World

__all__ = ["authenticate", "keyvault_challenge"]


def keyvault_challenge(world: World, by_name: bool = False) -> str:
    """The 401 challenge: its `resource` must be a domain the request's host ends with (the SDK checks), so a
    vault reached by name (`<vault>.vault.localhost`) names the emulator's Key Vault domain."""
    resource = world.endpoints.keyvault if by_name else "https://vault.azure.net"
    return f'Bearer authorization="{world.base_url}/{world.tenant_id}", resource="{resource}"'


def _arm_challenge(world: World, error: str) -> str:
    return (
        f'Bearer authorization_uri="{world.base_url}/{world.tenant_id}", error="invalid_token", '
        f'error_description="{error}"'
    )


def _refuse(service: str, world: World, reason: str, detail: str, by_name: bool = False) -> ApiError:
    if service == "graph":
        messages = {
            "missing": "Access token is empty.",
            "expired": "Lifetime validation failed, the token is expired.",
            "audience": "Access token validation failure. Invalid audience.",
            "signature": "Access token validation failure.",
            "tenant": "Access token validation failure. Invalid tenant.",
        }
        return GraphError(401, "InvalidAuthenticationToken", messages.get(reason, "Access token validation failure."))
    if service == "keyvault":
        messages = {
            "missing": "AKV10000: Request is missing a Bearer or PoP token.",
            "expired": "AKV10021: Token has expired.",
            "audience": "AKV10022: Invalid audience.",
            "tenant": "AKV10032: Invalid issuer. Expected one of the issuers of the vault's tenant.",
        }
        return KeyVaultError(
            401,
            "Unauthorized",
            messages.get(reason, f"AKV10020: Invalid token. {detail}"),
            headers={"WWW-Authenticate": keyvault_challenge(world, by_name)},
        )
    codes = {
        "missing": ("AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."),
        "expired": ("ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time."),
        "audience": (
            "InvalidAuthenticationTokenAudience",
            "The access token has been obtained for wrong audience or resource. It should exactly match with one of "
            "the allowed audiences 'https://management.core.windows.net/','https://management.azure.com/'.",
        ),
        "tenant": (
            "InvalidAuthenticationTokenTenant",
            f"The access token is from the wrong issuer. It must match the tenant '{world.authority_issuer}' "
            f"associated with this subscription. Please use the authority (URL) '{world.base_url}/{world.tenant_id}' "
            "to get the token.",
        ),
    }
    code, message = codes.get(reason, ("InvalidAuthenticationToken", "The access token is invalid."))
    return ArmError(401, code, message, headers={"WWW-Authenticate": _arm_challenge(world, message)})


def _other_tenant(token: str, world: World) -> bool:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    tid = claims.get("tid")
    return isinstance(tid, str) and bool(tid) and tid.lower() != world.tenant_id.lower()


def authenticate(request: Request, world: World, service: str) -> Caller:
    """The verified caller of a Graph (`graph`), ARM (`arm`) or Key Vault (`keyvault`) request."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    by_name = service == "keyvault" and world.endpoints.vault_of_host(request.headers.get("host", "")) is not None
    if scheme.lower() != "bearer" or not token.strip():
        raise _refuse(service, world, "missing", "", by_name)
    audiences = [AUDIENCES[service], *world.endpoints.audiences(service)]
    if service == "arm":
        audiences.append("https://management.core.windows.net/")
    try:
        claims = world.entra_key.verify(token.strip(), audience=audiences)
    except TokenInvalid as exc:
        if exc.reason == "signature" and _other_tenant(token.strip(), world):
            # Signed by another tenant's issuer: the services name the tenant mismatch, not a bad signature.
            raise _refuse(service, world, "tenant", "", by_name) from None
        raise _refuse(service, world, exc.reason, exc.detail, by_name) from None
    if claims.get("tid") != world.tenant_id or claims.get("iss") != world.authority_issuer:
        raise _refuse(service, world, "tenant", "", by_name)
    return Caller.from_claims(claims)
