"""Routes of the credentials the control plane hands out."""

from __future__ import annotations

from starlette.routing import Route

from .handlers import github_claims, github_token, user_token

__all__ = ["ROUTES"]

ROUTES = [
    Route("/tokens", user_token, methods=["POST"]),
    Route("/github/claims", github_claims, methods=["GET", "PATCH", "POST"]),
    Route("/github/token", github_token, methods=["POST"]),
]
