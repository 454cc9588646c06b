"""Entra's directory audit log (`auditLogs/directoryAudits`), written by every PIM change in the emulator."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import format_time

__all__ = ["SYSTEM", "DirectoryAuditLog", "Initiator"]


@dataclass(frozen=True)
class Initiator:
    """Who started a change: a user, an app, or the system (PIM acting on its own, e.g. at expiry)."""

    kind: str  # "user" | "app" | "system"
    id: str | None = None
    display_name: str | None = None
    user_principal_name: str | None = None
    app_id: str | None = None

    def to_graph(self) -> dict[str, Any]:
        if self.kind == "app":
            return {
                "app": {
                    "appId": self.app_id,
                    "displayName": self.display_name,
                    "servicePrincipalId": self.id,
                    "servicePrincipalName": None,
                },
                "user": None,
            }
        return {
            "app": None,
            "user": {
                "id": self.id,
                "displayName": self.display_name or ("Azure AD PIM" if self.kind == "system" else None),
                "userPrincipalName": self.user_principal_name,
                "ipAddress": None,
                "userType": None,
            },
        }


SYSTEM = Initiator(kind="system", display_name="Azure AD PIM")


@dataclass
class DirectoryAuditLog:
    tenant_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(
        self,
        *,
        when: datetime,
        activity: str,
        category: str,
        operation_type: str,
        initiated_by: Initiator,
        targets: list[dict[str, Any]],
        result: str = "success",
        result_reason: str = "",
        correlation_id: str | None = None,
        details: dict[str, str] | None = None,
        service: str = "PIM",
    ) -> dict[str, Any]:
        ticks = int(when.timestamp() * 10_000_000) + 621355968000000000
        prefix = "PIM" if service == "PIM" else "Directory"
        row = {
            "id": f"{prefix}_{uuid.uuid4()}_{self.tenant_id}_{ticks}",
            "category": category,
            "correlationId": correlation_id or str(uuid.uuid4()),
            "result": result,
            "resultReason": result_reason,
            "activityDisplayName": activity,
            "activityDateTime": format_time(when),
            "loggedByService": service,
            "operationType": operation_type,
            "initiatedBy": initiated_by.to_graph(),
            "targetResources": targets,
            "additionalDetails": [{"key": k, "value": v} for k, v in (details or {}).items()],
        }
        with self._lock:
            self.rows.append(row)
        return row
