"""Routes of the Logs Ingestion API."""

from __future__ import annotations

from starlette.routing import Route

from .handlers import upload

__all__ = ["ROUTES"]

ROUTES = [Route("/dataCollectionRules/{rule_id}/streams/{stream}", upload, methods=["POST"])]
