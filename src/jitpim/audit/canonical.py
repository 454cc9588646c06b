"""Canonical JSON and the hash chain's arithmetic.

Canonical JSON here is: object keys sorted, no insignificant whitespace, UTF-8 with non-ASCII characters kept
as themselves, and no NaN/Infinity. Two equal values always serialise to the same bytes, which is what lets a
verifier recompute a hash from what is stored. Integers and strings serialise as RFC 8785 (JCS) would; floats
use Python's shortest round-trip repr, so prefer integers (seconds, counts) in audit bodies.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["GENESIS_HASH", "canonical_json", "chain_hash", "is_canonical"]

# The prev_hash of the first event: 64 hex zeros, the same width as a SHA-256 hex digest.
GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """Serialise `value` canonically; raises TypeError/ValueError for values JSON cannot carry."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def is_canonical(text: str) -> bool:
    """True when `text` is valid JSON already in canonical form (byte for byte)."""
    try:
        return canonical_json(json.loads(text)) == text
    except (TypeError, ValueError):
        return False


def chain_hash(prev_hash: str, material: str) -> str:
    """sha256(prev_hash || material) as lowercase hex; both are encoded as UTF-8."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(material.encode("utf-8"))
    return digest.hexdigest()
