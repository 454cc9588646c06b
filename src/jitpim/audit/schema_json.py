"""The published JSON Schemas of the audit trail (`src/jitpim/audit/schemas/`).

`event.schema.json` describes one ledger event (envelope and, per type, its body) and `summary.schema.json`
the one summary record per lease. Both are JSON Schema 2020-12, versioned by their `$id`
(`urn:jitpim:audit:event:1`, `urn:jitpim:audit:summary:1`); the version moves with `EVENT_SCHEMA_VERSION`
and `SUMMARY_SCHEMA_VERSION`. jitpim itself does not need a validator at run time: it builds records that
satisfy the schemas, and the tests prove it with `jsonschema`.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, Final, Literal

__all__ = [
    "EVENT_SCHEMA_ID",
    "SCHEMA_NAMES",
    "SUMMARY_SCHEMA_ID",
    "SUMMARY_SCHEMA_VERSION",
    "load_schema",
    "schema_text",
]

SUMMARY_SCHEMA_VERSION: Final = 1
EVENT_SCHEMA_ID: Final = "urn:jitpim:audit:event:1"
SUMMARY_SCHEMA_ID: Final = "urn:jitpim:audit:summary:1"

SchemaName = Literal["event", "summary"]
SCHEMA_NAMES: Final[tuple[SchemaName, ...]] = ("event", "summary")


def schema_text(name: SchemaName) -> str:
    """The schema document exactly as published."""
    if name not in SCHEMA_NAMES:
        raise ValueError(f"unknown audit schema {name!r}; expected one of {', '.join(SCHEMA_NAMES)}")
    return resources.files("jitpim.audit").joinpath("schemas", f"{name}.schema.json").read_text(encoding="utf-8")


@functools.cache
def _parsed(name: SchemaName) -> str:
    # Cached as text and re-parsed per call, so callers may mutate what they get back.
    return schema_text(name)


def load_schema(name: SchemaName) -> dict[str, Any]:
    """The schema as a dict (a fresh copy each call)."""
    loaded: dict[str, Any] = json.loads(_parsed(name))
    return loaded
