"""PIM role settings as data: the part of a role-management policy a team reviews, in plain words.

One `RoleSettings` per target (an Entra role, a PIM group's member/owner access, or an Azure role at a scope).
Every field is optional: None means "not managed by this file", so a file may pin only what matters to it
(`diff` and `apply` leave the rest alone) while `export` fills in everything.

    activation            Expiration_EndUser_Assignment, Enablement_EndUser_Assignment, Approval_EndUser_Assignment
    eligible_assignment   Expiration_Admin_Eligibility
    active_assignment     Expiration_Admin_Assignment, Enablement_Admin_Assignment
    notifications         the nine Notification_{Admin,Requestor,Approver}_{Admin_Eligibility,Admin_Assignment,
                          EndUser_Assignment} rules
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any, Final, Literal

__all__ = [
    "EVENTS",
    "RECIPIENTS",
    "REQUIREMENTS",
    "Approver",
    "Expiry",
    "Notice",
    "RoleSettings",
]

# What an activation (or an admin's active assignment) may require, in the file's words → the API's.
REQUIREMENTS: Final = {"mfa": "MultiFactorAuthentication", "justification": "Justification", "ticket": "Ticketing"}
# Notification events and recipients, in the file's words → the rule id parts.
EVENTS: Final = {
    "eligible_assignment": "Admin_Eligibility",
    "active_assignment": "Admin_Assignment",
    "activation": "EndUser_Assignment",
}
RECIPIENTS: Final = {"admin": "Admin", "requestor": "Requestor", "approver": "Approver"}
Level = Literal["none", "critical", "all"]


@dataclass(frozen=True, order=True)
class Approver:
    """A user or a group (all its members may approve), by object id."""

    kind: Literal["user", "group"]
    id: str

    def to_doc(self) -> dict[str, str]:
        return {self.kind: self.id}


@dataclass(frozen=True)
class Expiry:
    """How long an admin's assignment may last: `permanent` allowed, else at most `maximum`."""

    permanent: bool
    maximum: timedelta | None = None


@dataclass(frozen=True)
class Notice:
    """One notification rule: who gets an email for an event, at which level."""

    level: Level
    default_recipients: bool
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleSettings:
    activation_maximum: timedelta | None = None
    activation_require: frozenset[str] | None = None
    approval_required: bool | None = None
    approvers: tuple[Approver, ...] | None = None
    approval_timeout_days: int | None = None
    eligible_assignment: Expiry | None = None
    active_assignment: Expiry | None = None
    active_assignment_require: frozenset[str] | None = None
    # (event, recipient) → Notice; only the pairs given are managed.
    notifications: dict[tuple[str, str], Notice] = field(default_factory=dict)

    def differences(self, live: RoleSettings) -> list[tuple[str, Any, Any]]:
        """(field, live value, wanted value) for every managed setting that `live` does not match.

        Fields this file does not manage (None) never differ; an expiry given without `maximum` compares
        only whether permanent assignments are allowed."""
        out: list[tuple[str, Any, Any]] = []
        for f in fields(self):
            wanted, have = getattr(self, f.name), getattr(live, f.name)
            if f.name == "notifications":
                for key, notice in sorted(wanted.items()):
                    if have.get(key) != notice:
                        out.append((f"notifications.{key[0]}.{key[1]}", have.get(key), notice))
            elif wanted is None:
                continue
            elif isinstance(wanted, Expiry) and isinstance(have, Expiry) and wanted.maximum is None:
                if wanted.permanent != have.permanent:
                    out.append((f.name, have, wanted))
            elif _norm(wanted) != _norm(have):
                out.append((f.name, have, wanted))
        return out


def _norm(value: Any) -> Any:
    return tuple(sorted(value)) if isinstance(value, frozenset | tuple) else value
