"""What access is asked for: a target (kind, role, scope, ...) and how it is obtained (mode).

`Target.from_flags` is the one place flag combinations are validated, so the CLI, the access file and the
broker all refuse the same mistakes with the same hints. Every text field must be text (an access file's
`role: 42` is refused, not crashed on) and free of control characters: these values reach the APIs, the
audit records and the CI log, where a line break could forge a log line or a workflow command.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from ..errors import ConfigError, UsageError
from ..safe_text import control_characters, neutralise
from .durations import format_duration, iso8601_duration, parse_duration

__all__ = [
    "LONGEST_ACCESS",
    "GroupAccess",
    "Mode",
    "Target",
    "TargetKind",
    "Ticket",
    "is_guid",
    "printable_field",
    "validate_arm_scope",
]

# The longest access window jitpim asks for. PIM's own policies stop at a year for assignments; plain RBAC has
# no expiry at the source, so anything longer is a standing grant by another name.
LONGEST_ACCESS = timedelta(days=365)
# A ticket is SYSTEM:NUMBER: a system name (a letter, then letters, digits, `.`, `_`, `-`; at most 32) and a
# reference (a letter or digit, then letters, digits, `.`, `_`, `-`, `/`, `#`, `:`; at most 64): JIRA:OPS-123,
# ServiceNow:CHG0031337, GitHub:contoso/payments#42. Nothing else: it is shown in logs and sent to PIM.
_TICKET = re.compile(r"^(?P<system>[A-Za-z][A-Za-z0-9._-]{0,31}):(?P<number>[A-Za-z0-9][A-Za-z0-9._/#:-]{0,63})$")
_TICKET_HINT = (
    "Write the ticket as SYSTEM:NUMBER, e.g. JIRA:OPS-123, ServiceNow:CHG0031337 or GitHub:contoso/payments#42 "
    "(letters, digits and . _ - in the system; also / # : in the number; no spaces)."
)
# Longest text jitpim accepts in a field; PIM's justification limit is 500 characters.
_MAX_FIELD = 1000

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_DOMAIN = re.compile(
    r"^(?=.{3,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$", re.I
)
_ROLE_DEFINITION_ID = re.compile(r"/providers/Microsoft\.Authorization/roleDefinitions/([0-9a-f-]{36})$", re.I)
_MANAGEMENT_GROUP = "/providers/microsoft.management/managementgroups/"
_SCOPE_EXAMPLES = (
    "e.g. /subscriptions/<subscription-id>/resourceGroups/<group>, a resource id under it, or "
    "/providers/Microsoft.Management/managementGroups/<name>"
)


def is_guid(value: str) -> bool:
    """True for a GUID in its canonical 8-4-4-4-12 form (any case)."""
    return bool(_GUID.match(value))


class TargetKind(StrEnum):
    """Which API grants the access (see ARCHITECTURE.md §2)."""

    ENTRA_ROLE = "entra-role"  # Graph directory-role PIM
    PIM_GROUP = "pim-group"  # Graph PIM for Groups (member/owner)
    AZURE_ROLE = "azure-role"  # ARM PIM for Azure resources
    RBAC = "rbac"  # plain ARM role assignment, created and deleted


class Mode(StrEnum):
    """Who calls Azure to obtain the access."""

    DIRECT = "direct"  # the CI identity itself, holding a narrow right to assign
    SELF = "self"  # a human's delegated token activating an eligibility
    BROKER = "broker"  # the jitpim broker, after verifying the job's OIDC token


class GroupAccess(StrEnum):
    """The relationship PIM for Groups grants."""

    MEMBER = "member"
    OWNER = "owner"


@dataclass(frozen=True)
class Ticket:
    """A change/incident ticket reference (`SYSTEM:NUMBER`, e.g. `JIRA:OPS-123`), as PIM's TicketingRule wants."""

    system: str
    number: str

    @classmethod
    def parse(cls, text: str) -> Ticket:
        """Read `SYSTEM:NUMBER` (grammar above `_TICKET`); raise `UsageError` naming the form otherwise."""
        value = printable_field(text, "ticket").strip()
        match = _TICKET.match(value)
        if match is None:
            raise UsageError(f"cannot read ticket {_short(value)!r}", hint=_TICKET_HINT)
        return cls(system=match["system"], number=match["number"])

    @classmethod
    def recorded(cls, text: str) -> Ticket:
        """A ticket as an older record holds it: the grammar if it matches, else split at the first colon
        with control characters written as escapes (never refused: the lease must stay releasable)."""
        try:
            return cls.parse(text)
        except UsageError:
            system, _, number = neutralise(text).strip().partition(":")
            return cls(system=system.strip() or "unknown", number=number.strip() or "-")

    def __str__(self) -> str:
        return f"{self.system}:{self.number}"

    def to_json(self) -> dict[str, str]:
        return {"system": self.system, "number": self.number}


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def printable_field(value: object, name: str, *, limit: int = _MAX_FIELD) -> str:
    """`value` when it is text of at most `limit` characters without control characters; else `UsageError`
    naming the field, what is wrong with it, and what to write."""
    if not isinstance(value, str):
        kind = {"NoneType": "empty", "bool": "true/false", "int": "a number", "float": "a number"}.get(
            type(value).__name__, f"a {type(value).__name__}"
        )
        raise UsageError(
            f"{name} must be text, not {kind} ({_short(repr(value))})",
            hint=f"Write the {name} as text; in YAML, quote a value that would read as a number, a date or "
            f'true/false (e.g. {name}: "{_short(str(value), 40)}").',
        )
    bad = control_characters(value)
    if bad:
        raise UsageError(
            f"{name} {_short(value)!r} contains control characters ({' '.join(bad)})",
            hint=f"Give the {name} on one line, without line breaks, tabs or escape sequences.",
        )
    if len(value) > limit:
        raise UsageError(f"{name} is {len(value)} characters long", hint=f"Keep the {name} under {limit} characters.")
    return value


def validate_arm_scope(scope: str) -> str:
    """Return the ARM scope without a trailing slash, or raise `UsageError` naming what is wrong with it."""
    value = scope.strip().rstrip("/")
    lowered = value.lower()
    hint = f"An Azure scope is an ARM id, {_SCOPE_EXAMPLES}."
    if any(c in value for c in "?#\\") or "//" in value:
        raise UsageError(f"scope {scope!r} is not an ARM id", hint=hint)
    if lowered.startswith(_MANAGEMENT_GROUP):
        name = value[len(_MANAGEMENT_GROUP) :]
        if not name or "/" in name:
            raise UsageError(f"scope {scope!r} is not a management group id", hint=hint)
        return value
    if not lowered.startswith("/subscriptions/"):
        raise UsageError(f"scope {scope!r} is not an ARM id", hint=hint)
    parts = value.split("/")[1:]
    if len(parts) < 2 or not is_guid(parts[1]):
        raise UsageError(f"scope {scope!r} does not name a subscription by its id", hint=hint)
    rest = parts[2:]
    if rest and rest[0].lower() == "resourcegroups":
        if len(rest) < 2:
            raise UsageError(f"scope {scope!r} ends after 'resourceGroups'", hint=hint)
        rest = rest[2:]
    # What remains must be providers/{namespace}/{type}/{name}[/{type}/{name}...].
    if rest and (rest[0].lower() != "providers" or len(rest) < 4 or (len(rest) - 2) % 2):
        raise UsageError(f"scope {scope!r} is not a resource id", hint=hint)
    return value


def _entra_scope(scope: str | None) -> str:
    value = (scope or "/").strip()
    if value == "/":
        return value
    parts = value.split("/")
    if len(parts) == 3 and parts[1].lower() == "administrativeunits" and is_guid(parts[2]):
        return f"/administrativeUnits/{parts[2]}"
    if len(parts) == 2 and is_guid(parts[1]):
        return value
    raise UsageError(
        f"directory scope {scope!r} is not valid",
        hint="A directory role scope is / (the whole tenant), /administrativeUnits/<id> or /<object-id> "
        "(one application or service principal).",
    )


def _kind(value: str | TargetKind) -> TargetKind:
    try:
        return TargetKind(str(value).strip().lower())
    except ValueError:
        raise UsageError(
            f"unknown target kind {value!r}", hint=f"Use one of: {', '.join(k.value for k in TargetKind)}."
        ) from None


_LAST_START_YEAR = 9000


def _start(value: str | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        parsed = value
    else:
        if not isinstance(value, str):  # e.g. an access file's `start: 2026-05-01` (a date, no time or zone)
            raise UsageError(
                f"cannot read start time {value!r}",
                hint='Use ISO-8601 with a time and zone, quoted in YAML, e.g. start: "2026-05-01T08:00:00Z".',
            )
        text = printable_field(value, "start time").strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise UsageError(
                f"cannot read start time {value!r}", hint="Use ISO-8601 with a zone, e.g. 2026-05-01T08:00:00Z."
            ) from None
    if parsed is not None and parsed.tzinfo is None:
        raise UsageError(f"start time {value!s} has no time zone", hint="Add a zone, e.g. Z for UTC.")
    if parsed is not None and parsed.year > _LAST_START_YEAR:
        # The window's end (start + duration, with durations up to ten years) must still be a date.
        raise UsageError(f"start time {value!s} is too far ahead", hint="Give a start within the next year or so.")
    return parsed


@dataclass(frozen=True)
class Target:
    """One piece of access: `kind` + `role` at `scope` (plus the group `access` for pim-group).

    `role` is a role name or id (for pim-group it equals `access`); `scope` is an ARM id (azure-role, rbac),
    a directory scope (entra-role) or a group id or name (pim-group). `tenant` overrides the default tenant.
    """

    kind: TargetKind
    role: str
    scope: str
    access: GroupAccess | None = None
    tenant: str | None = None
    duration: timedelta | None = None
    justification: str | None = None
    ticket: Ticket | None = None
    start: datetime | None = None

    @classmethod
    def from_flags(
        cls,
        *,
        kind: str | TargetKind,
        role: str | None = None,
        scope: str | None = None,
        access: str | GroupAccess | None = None,
        tenant: str | None = None,
        duration: str | timedelta | None = None,
        justification: str | None = None,
        ticket: str | Ticket | None = None,
        start: str | datetime | None = None,
        origin: str | None = None,
    ) -> Target:
        """Validate a combination of flags (or access-file keys, then name the file in `origin`).

        Raises `UsageError` (flags) or `ConfigError` (when `origin` is given) with a hint that says what to write.
        """
        try:
            return cls._build(kind, role, scope, access, tenant, duration, justification, ticket, start)
        except UsageError as exc:
            if origin is None:
                raise
            raise ConfigError(f"{origin}: {exc.message}", hint=exc.hint) from None

    @classmethod
    def _build(
        cls,
        kind_value: str | TargetKind,
        role: str | None,
        scope: str | None,
        access_value: str | GroupAccess | None,
        tenant: str | None,
        duration_value: str | timedelta | None,
        justification: str | None,
        ticket_value: str | Ticket | None,
        start_value: str | datetime | None,
        *,
        stored: bool = False,
    ) -> Target:
        fields = {"role": role, "scope": scope, "tenant": tenant, "justification": justification}
        for name, value in fields.items():
            if value is not None:
                printable_field(value, name)
        for name, other in (("kind", kind_value), ("access", access_value), ("ticket", ticket_value)):
            if other is not None and not isinstance(other, (str, TargetKind, GroupAccess, Ticket)):
                printable_field(other, name)
        kind = _kind(kind_value)
        role = (role or "").strip() or None
        access: GroupAccess | None = None
        if access_value is not None and str(access_value).strip():
            if kind is not TargetKind.PIM_GROUP:
                raise UsageError(
                    f"--access applies to pim-group targets only, not {kind.value}",
                    hint="Drop --access, or use --kind pim-group --scope <group> --access member|owner.",
                )
            try:
                access = GroupAccess(str(access_value).strip().lower())
            except ValueError:
                raise UsageError(f"unknown group access {access_value!r}", hint="Use member or owner.") from None

        if kind is TargetKind.PIM_GROUP:
            role_access = role.lower() if role else None
            if role_access is not None and role_access not in {a.value for a in GroupAccess}:
                raise UsageError(
                    f"a pim-group target grants member or owner, not role {role!r}",
                    hint="Name the group with --scope <group id or name> and choose --access member|owner.",
                )
            if access and role_access and access.value != role_access:
                raise UsageError(f"--role {role} contradicts --access {access.value}", hint="Give only --access.")
            access = access or (GroupAccess(role_access) if role_access else GroupAccess.MEMBER)
            role = access.value
            group = (scope or "").strip()
            if not group or group.startswith("/"):
                raise UsageError(
                    "a pim-group target needs the group's object id or display name as its scope",
                    hint="e.g. --kind pim-group --scope <group-object-id> --access member",
                )
            scope = group
        elif kind is TargetKind.ENTRA_ROLE:
            scope = _entra_scope(scope)
        else:
            if not scope or not scope.strip():
                raise UsageError(f"a {kind.value} target needs --scope", hint=f"Give an ARM scope, {_SCOPE_EXAMPLES}.")
            scope = validate_arm_scope(scope)
            if (
                role
                and role.lower().startswith(("/subscriptions/", "/providers/"))
                and not _ROLE_DEFINITION_ID.search(role)
            ):
                raise UsageError(f"role {role!r} is not a role definition id", hint="Give the role's name or GUID.")
        if role is None:
            raise UsageError(
                f"a {kind.value} target needs --role",
                hint="Give the role's display name (e.g. 'Key Vault Secrets Officer') or its id.",
            )

        if tenant is not None:
            tenant = tenant.strip() or None
            if tenant is not None and not (is_guid(tenant) or _DOMAIN.match(tenant)):
                raise UsageError(
                    f"tenant {tenant!r} is neither a tenant id nor a domain", hint="Use the tenant's GUID."
                )

        if duration_value is not None and not isinstance(duration_value, (str, timedelta)):
            raise UsageError(
                f"duration {_short(repr(duration_value))} has no unit",
                hint="Write the duration with its unit, e.g. 30m, 1h30m or PT1H (a bare number is ambiguous).",
            )
        duration = parse_duration(duration_value) if isinstance(duration_value, str) else duration_value
        if duration is not None and duration <= timedelta(0):
            raise UsageError(f"duration {duration} is not positive", hint="Give a duration such as 30m or 1h.")
        if duration is not None and duration > LONGEST_ACCESS and not stored:
            raise UsageError(
                f"duration {format_duration(duration)} is longer than jitpim grants "
                f"({format_duration(LONGEST_ACCESS)})",
                hint="Just-in-time access lasts minutes or hours: ask for what the job needs, e.g. 30m or 2h.",
            )

        ticket = Ticket.parse(ticket_value) if isinstance(ticket_value, str) and ticket_value.strip() else None
        if isinstance(ticket_value, Ticket):
            ticket = ticket_value

        return cls(
            kind=kind,
            role=role,
            scope=scope,
            access=access,
            tenant=tenant,
            duration=duration,
            justification=(justification or "").strip() or None,
            ticket=ticket,
            start=_start(start_value),
        )

    # presentation -------------------------------------------------------------------------------------------
    @property
    def slug(self) -> str:
        """A short, stable, path-safe name for this target, used in lease ids (`<run>/<kind>/<slug>`)."""
        tail = self.scope.rstrip("/").rsplit("/", 1)[-1] or "tenant"
        readable = re.sub(r"[^a-z0-9]+", "-", f"{self.role}.{tail}".lower()).strip("-")[:48].strip("-")
        identity = "\x1f".join([self.kind.value, self.role.lower(), self.scope.lower(), self.tenant or ""])
        digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
        return f"{readable}-{digest}"

    def describe(self) -> str:
        """One line for people: `Key Vault Secrets Officer on /subscriptions/…/resourceGroups/rg (rbac)`."""
        if self.kind is TargetKind.PIM_GROUP:
            text = f"{self.role} of group {self.scope}"
        elif self.kind is TargetKind.ENTRA_ROLE:
            text = f"{self.role} on directory scope {self.scope}"
        else:
            text = f"{self.role} on {self.scope}"
        if self.duration is not None:
            text += f" for {format_duration(self.duration)}"
        return f"{text} ({self.kind.value})"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "role": self.role,
            "scope": self.scope,
            "access": self.access.value if self.access else None,
            "tenant": self.tenant,
            "duration": iso8601_duration(self.duration) if self.duration is not None else None,
            "justification": self.justification,
            "ticket": str(self.ticket) if self.ticket else None,
            "start": self.start.isoformat() if self.start else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Target:
        """Read back `to_json()` (validating it again, so a tampered record cannot smuggle a bad scope in).

        What only describes the request is read leniently, so a lease recorded by an older jitpim (a ticket
        outside today's grammar, a multi-line justification, a longer window) can still be released and
        reaped: the justification's control characters become escapes and the ticket is split at its first
        colon."""
        justification = data.get("justification")
        ticket = data.get("ticket")
        return cls._build(
            data["kind"],
            data.get("role"),
            data.get("scope"),
            data.get("access"),
            data.get("tenant"),
            data.get("duration"),
            neutralise(justification) if isinstance(justification, str) else justification,
            Ticket.recorded(ticket) if isinstance(ticket, str) and ticket.strip() else None,
            data.get("start"),
            stored=True,
        )
