"""The marker jitpim leaves at the source on every grant it makes, so a grant can be recognised, counted and
reaped with no ledger at all (a GitHub-hosted runner loses its ledger with the VM).

One marker names one lease that holds the grant:

    [jitpim:v1 lease=gh-7-1/rbac/kv-officer holder=2b3c4d5e-6f70-4b8c-9d0e-1f2a3b4c5d6e end=2026-12-03T18:00:00Z]

* `lease`  the lease id (percent-encoded: space, `]`, `%`, `=` and control characters are escaped);
* `holder` the object id of the principal the grant gives access to;
* `end`    when this lease's window ends (UTC, whole seconds).

Where it is written (docs/reference/grant-markers.md):

* `rbac`: the role assignment's `description`, one marker per holder (a shared assignment lists each lease
  that holds it; a holder that ends removes its own marker, `extend` moves its end);
* `azure-role`, `entra-role`, `pim-group`: the schedule request's `justification`, after the person's own text.
  `ticketInfo` is never used: a made-up ticket would satisfy a policy's ticketing rule.

Text before, between and after markers is kept as it is; a marker that does not parse is ignored (it is
someone's text, not jitpim's).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

__all__ = [
    "MARKER_VERSION",
    "GrantMarker",
    "parse_markers",
    "strip_markers",
    "with_markers",
]

MARKER_VERSION = "v1"
_MARKER = re.compile(r"\[jitpim:v1((?: [a-z]+=[^\s\]]*)+)\]")
_FIELD = re.compile(r" ([a-z]+)=([^\s\]]*)")
# Characters kept as they are in a value; everything else is percent-encoded, so a value never holds a space,
# a `]` or a control character (which could end the marker or reach a CI log).
_SAFE = "/#:-._~@+,"


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class GrantMarker:
    """One lease holding a grant, as written at the source (see the module docstring)."""

    lease_id: str
    holder: str
    end: datetime

    def __post_init__(self) -> None:
        if self.end.tzinfo is None:
            raise ValueError("a marker's end must be an aware datetime")

    def text(self) -> str:
        return (
            f"[jitpim:{MARKER_VERSION} lease={quote(self.lease_id, safe=_SAFE)} "
            f"holder={quote(self.holder.lower(), safe=_SAFE)} end={_time(self.end)}]"
        )

    def ended(self, now: datetime) -> bool:
        return self.end <= now

    def held_by(self, principal_id: str) -> bool:
        return self.holder.lower() == principal_id.lower()

    def to_json(self) -> dict[str, str]:
        return {"lease_id": self.lease_id, "holder": self.holder, "end": _time(self.end)}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> GrantMarker:
        return cls(data["lease_id"], data["holder"], datetime.fromisoformat(data["end"].replace("Z", "+00:00")))


def _one(fields: str) -> GrantMarker | None:
    values = {name: unquote(value) for name, value in _FIELD.findall(fields)}
    lease, holder, end = values.get("lease"), values.get("holder"), values.get("end")
    if not lease or not holder or not end:
        return None
    try:
        when = datetime.fromisoformat(end.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    return GrantMarker(lease, holder.lower(), when.astimezone(UTC))


def parse_markers(text: object) -> list[GrantMarker]:
    """Every well-formed marker in `text` (a description or justification), in order; [] for anything else."""
    if not isinstance(text, str):
        return []
    found = (_one(m.group(1)) for m in _MARKER.finditer(text))
    return [m for m in found if m is not None]


def strip_markers(text: object) -> str:
    """`text` without its markers (the person's own words)."""
    if not isinstance(text, str):
        return ""
    return re.sub(r"\s{2,}", " ", _MARKER.sub("", text)).strip()


def with_markers(text: str | None, markers: Iterable[GrantMarker], *, limit: int) -> str:
    """`text` without its old markers, followed by `markers` (one per lease, the last one given wins), within
    `limit` characters: the person's text is shortened first (with an ellipsis), never a marker."""
    by_lease: dict[str, GrantMarker] = {}
    for marker in markers:
        by_lease[marker.lease_id] = marker
    tail = " ".join(m.text() for m in by_lease.values())
    own = strip_markers(text)
    room = limit - len(tail) - (1 if own and tail else 0)
    if room <= 0:
        own = ""
    elif len(own) > room:
        own = own[: max(0, room - 1)].rstrip() + "…"
    return " ".join(part for part in (own, tail) if part)
