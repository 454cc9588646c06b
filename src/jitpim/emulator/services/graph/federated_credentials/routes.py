"""Routes of this Graph resource, under both `/v1.0` and `/beta` unless narrowed."""

from __future__ import annotations

from starlette.routing import Route

from ..applications.context import application_routes
from .handlers import create_credential, delete_credential, get_credential, list_credentials, update_credential

__all__ = ["ROUTES"]

ROUTES: list[Route] = [
    *application_routes("/federatedIdentityCredentials", list_credentials, ["GET"]),
    *application_routes("/federatedIdentityCredentials", create_credential, ["POST"]),
    *application_routes("/federatedIdentityCredentials(name='{fic_name}')", get_credential, ["GET"]),
    *application_routes("/federatedIdentityCredentials(name='{fic_name}')", update_credential, ["PATCH"]),
    *application_routes("/federatedIdentityCredentials(name='{fic_name}')", delete_credential, ["DELETE"]),
    *application_routes("/federatedIdentityCredentials/{fic_key}", get_credential, ["GET"]),
    *application_routes("/federatedIdentityCredentials/{fic_key}", update_credential, ["PATCH"]),
    *application_routes("/federatedIdentityCredentials/{fic_key}", delete_credential, ["DELETE"]),
]
