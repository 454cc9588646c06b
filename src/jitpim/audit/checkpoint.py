"""The checkpoint statement: a signed "the chain of ledger `origin` had `seq` events, the last with hash `hash`,
at `at`" (see `checkpoints` for writing, shipping and checking them). Kept apart so that the verifier can
read a statement without importing the writer, which itself verifies the chain before it signs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from jitpim.audit.canonical import canonical_json
from jitpim.audit.signing import PublicKey, Signature
from jitpim.errors import AuditError

__all__ = ["CHECKPOINT_EVENT", "CHECKPOINT_RECORD", "Checkpoint", "checkpoint_material"]

CHECKPOINT_EVENT: Final = "ledger.checkpoint"
CHECKPOINT_RECORD: Final = "jitpim.checkpoint"
_HEX64: Final = frozenset("0123456789abcdef")


def _is_hash(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX64


@dataclass(frozen=True)
class Checkpoint:
    """One signed statement of the chain head."""

    origin: str
    seq: int
    hash: str
    at: str
    signature: Signature

    def material(self) -> dict[str, Any]:
        """What the signature covers (also the body of the `ledger.checkpoint` event)."""
        return checkpoint_material(self.origin, self.seq, self.hash, self.at)

    def to_json(self) -> dict[str, Any]:
        return {**self.material(), "signature": self.signature.to_json()}

    def verify(self, keys: Mapping[str, PublicKey]) -> str | None:
        """None when signed by one of `keys`, else why not."""
        key = keys.get(self.signature.key_id)
        if key is None:
            return f"is signed by key {self.signature.key_id}, which is not a trusted key"
        if not key.verify(self.signature, canonical_json(self.material()).encode("utf-8")):
            return f"has a signature that does not verify with key {self.signature.key_id}"
        return None

    @classmethod
    def from_json(cls, data: object, signature: object = None) -> Checkpoint:
        """Parse a handed-out checkpoint (or an event body with its `signature` given apart)."""
        if not isinstance(data, Mapping) or data.get("record_type") != CHECKPOINT_RECORD:
            raise AuditError("not a jitpim checkpoint")
        origin, seq, digest, at = data.get("origin"), data.get("seq"), data.get("hash"), data.get("at")
        if not (_is_hash(origin) and _is_hash(digest) and isinstance(at, str)):
            raise AuditError("the checkpoint needs origin, hash (64 hex digits) and at")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise AuditError("the checkpoint's seq is not a count")
        return cls(str(origin), seq, str(digest), at, Signature.from_json(signature or data.get("signature")))


def checkpoint_material(origin: str, seq: int, digest: str, at: str) -> dict[str, Any]:
    return {"at": at, "hash": digest, "origin": origin, "record_type": CHECKPOINT_RECORD, "seq": seq}
