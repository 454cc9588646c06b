"""Reading a schedule request body (directory or group, eligibility or assignment) into a `Draft`.

Enum values are accepted in any casing (official examples send `AdminRemove`, `AfterDuration`) and emitted
in camelCase. Ids are matched case-insensitively and echoed in the directory's own spelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ....core.clock import parse_time
from ....core.durations import format_duration, parse_duration
from ....core.errors import GraphError
from ....core.world import World
from .models import ACTIONS, Kind, Target, schedule_info_json

__all__ = ["EXPIRATION_TYPES", "Draft", "canonical_principal", "parse_request"]

EXPIRATION_TYPES = ("notSpecified", "noExpiration", "afterDateTime", "afterDuration")
_ACTIONS = {a.lower(): a for a in ACTIONS}
_EXPIRATIONS = {e.lower(): e for e in EXPIRATION_TYPES}


def _bad(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


@dataclass
class Draft:
    action: str
    target: Target
    justification: str | None
    ticket_info: dict[str, Any] | None
    is_validation_only: bool
    custom_data: str | None
    app_scope_id: str | None
    requested_start: datetime | None
    expiration_type: str  # notSpecified when the body gave none
    duration: timedelta | None
    end_date: datetime | None

    @property
    def ticket_number(self) -> str | None:
        value = (self.ticket_info or {}).get("ticketNumber")
        return str(value) if value else None

    def window(
        self, now: datetime, default_start: datetime | None = None, default_duration: timedelta | None = None
    ) -> tuple[datetime, datetime | None, str, str | None]:
        """(start, end, expiration type, ISO duration) the request asks for. A start in the past means now."""
        start = self.requested_start or default_start or now
        if start < now and default_start is None:
            start = now
        kind = self.expiration_type
        if kind == "notSpecified" and default_duration is not None:
            return start, start + default_duration, "afterDuration", format_duration(default_duration)
        if kind == "afterDuration" and self.duration is not None:
            return start, start + self.duration, kind, format_duration(self.duration)
        if kind == "afterDateTime" and self.end_date is not None:
            return start, self.end_date, kind, None
        return start, None, "noExpiration", None

    def schedule_info(self, start: datetime, end: datetime | None, kind: str, duration: str | None) -> dict[str, Any]:
        return schedule_info_json(start, kind, end, duration)


def canonical_principal(world: World, object_id: str) -> str | None:
    """The directory's spelling of an object id (users, service principals, groups), or None."""
    directory = world.directory
    lowered = object_id.lower()
    for table in (directory.users, directory.service_principals, directory.groups):
        if object_id in table:
            return object_id
        for key in table:
            if key.lower() == lowered:
                return key
    return None


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(f"Invalid value for property '{name}': a string is expected.")
    return value


def _required(body: dict[str, Any], name: str) -> str:
    value = _text(body, name)
    if not value:
        raise _bad(f"The request is missing the required property '{name}'.")
    return value


def _schedule(body: dict[str, Any]) -> tuple[datetime | None, str, timedelta | None, datetime | None]:
    info = body.get("scheduleInfo")
    if info is None:
        return None, "notSpecified", None, None
    if not isinstance(info, dict):
        raise _bad("Invalid value for property 'scheduleInfo': an object is expected.")
    start: datetime | None = None
    if info.get("startDateTime"):
        try:
            start = parse_time(str(info["startDateTime"]))
        except ValueError:
            raise _bad(
                f"Cannot convert the literal '{info['startDateTime']}' to the expected type 'Edm.DateTimeOffset'."
            ) from None
    if info.get("recurrence") not in (None, {}):
        raise _bad("Recurrence is not supported for role schedule requests.")
    expiration = info.get("expiration") or {}
    if not isinstance(expiration, dict):
        raise _bad("Invalid value for property 'expiration': an object is expected.")
    raw_type = str(expiration.get("type") or "notSpecified")
    kind = _EXPIRATIONS.get(raw_type.lower())
    if kind is None:
        raise _bad(f"Requested value '{raw_type}' was not found for property 'type' (expirationPatternType).")
    duration: timedelta | None = None
    end: datetime | None = None
    if expiration.get("duration"):
        try:
            duration = parse_duration(str(expiration["duration"]))
        except ValueError:
            # What msgraph-sdk-python sends for a `timedelta` (`str(td)`, e.g. `1:00:00`) lands here, as on
            # Graph (msgraph-sdk-python#1262); clients pass the ISO string (`PT1H`) instead.
            raise _bad(
                f"Cannot convert the literal '{expiration['duration']}' to the expected type 'Edm.Duration'."
            ) from None
    if expiration.get("endDateTime"):
        try:
            end = parse_time(str(expiration["endDateTime"]))
        except ValueError:
            raise _bad(
                f"Cannot convert the literal '{expiration['endDateTime']}' to the expected type 'Edm.DateTimeOffset'."
            ) from None
    if kind == "afterDuration" and duration is None:
        raise _bad("The expiration of type afterDuration requires a duration.")
    if kind == "afterDateTime" and end is None:
        raise _bad("The expiration of type afterDateTime requires an endDateTime.")
    if kind == "notSpecified" and duration is not None:
        kind = "afterDuration"
    elif kind == "notSpecified" and end is not None:
        kind = "afterDateTime"
    return start, kind, duration, end


def parse_request(world: World, kind: Kind, body: dict[str, Any]) -> Draft:
    raw_action = _required(body, "action")
    action = _ACTIONS.get(raw_action.lower())
    if action is None:
        raise _bad(f"Requested value '{raw_action}' was not found for property 'action'.")
    principal = _required(body, "principalId")
    principal = canonical_principal(world, principal) or principal
    if kind == "directory":
        role = _required(body, "roleDefinitionId")
        definition = world.directory.role_definitions.get(role) or next(
            (d for d in world.directory.role_definitions.values() if d.id.lower() == role.lower()), None
        )
        scope = _text(body, "directoryScopeId")
        app_scope = _text(body, "appScopeId")
        if not scope and not app_scope:
            raise _bad("Either directoryScopeId or appScopeId must be specified.")
        target = Target("directory", principal, definition.id if definition else role, scope or "/")
    else:
        group = _required(body, "groupId")
        access_raw = _required(body, "accessId")
        access = access_raw.lower()
        if access not in ("member", "owner"):
            raise _bad(f"Requested value '{access_raw}' was not found for property 'accessId'.")
        group_id = next((g for g in world.directory.groups if g.lower() == group.lower()), group)
        target = Target("group", principal, group_id, access)
        app_scope = None
    ticket = body.get("ticketInfo")
    if ticket is not None and not isinstance(ticket, dict):
        raise _bad("Invalid value for property 'ticketInfo': an object is expected.")
    ticket_info = (
        {"ticketNumber": ticket.get("ticketNumber"), "ticketSystem": ticket.get("ticketSystem")} if ticket else None
    )
    validation_only = body.get("isValidationOnly", False)
    if not isinstance(validation_only, bool):
        raise _bad("Invalid value for property 'isValidationOnly': a boolean is expected.")
    start, expiration_type, duration, end = _schedule(body)
    return Draft(
        action=action,
        target=target,
        justification=_text(body, "justification"),
        ticket_info=ticket_info,
        is_validation_only=validation_only,
        custom_data=_text(body, "customData"),
        app_scope_id=app_scope,
        requested_start=start,
        expiration_type=expiration_type,
        duration=duration,
        end_date=end,
    )
