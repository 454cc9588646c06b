"""Ed25519 signatures for audit records: where the signing key comes from, and how a signature is written.

The private key is taken from, in order:

1. `$JITPIM_SIGNING_KEY_FILE`: a file holding a PEM (PKCS#8) private key, or the base64 of the raw 32-byte
   seed;
2. `$JITPIM_SIGNING_KEY`: the same, inline (for a CI secret);
3. `$XDG_CONFIG_HOME/jitpim/signing-key.pem` (else `~/.config/jitpim/signing-key.pem`), generated on first use
   with mode 0600 in a 0700 directory.

The key never lives beside the ledger: whoever can write the ledger could otherwise rewrite every event and
sign the rewrite. A key file in the ledger's own directory is refused, as is one that group or others may read
or write (like ssh refuses such keys); a key left beside the ledger by an older jitpim is refused with the
command that moves it.

A key is named by its **key id**: the first 16 hex digits of SHA-256 over the raw 32-byte public key. A
signature is written as `{"alg": "Ed25519", "key_id": "...", "sig": "<base64>"}` (in the ledger's `signature`
column as canonical JSON of that object). The message signed is always UTF-8 canonical JSON, so a verifier
can recompute it from the record alone. Key material never appears in errors or records: only key ids do.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from jitpim.audit.canonical import canonical_json
from jitpim.errors import AuditError, ConfigError

__all__ = [
    "ALGORITHM",
    "KEY_FILENAME",
    "SIGNING_KEY_ENV",
    "SIGNING_KEY_FILE_ENV",
    "PublicKey",
    "Signature",
    "Signer",
    "default_key_path",
    "load_public_key",
    "load_signer",
]

ALGORITHM: Final = "Ed25519"
SIGNING_KEY_FILE_ENV: Final = "JITPIM_SIGNING_KEY_FILE"
SIGNING_KEY_ENV: Final = "JITPIM_SIGNING_KEY"
KEY_FILENAME: Final = "signing-key.pem"
_RAW_KEY_BYTES: Final = 32
_HINT: Final = (
    f"Give the key as a PEM (PKCS#8) Ed25519 private key or the base64 of its raw 32-byte seed, in "
    f"${SIGNING_KEY_FILE_ENV} (a file) or ${SIGNING_KEY_ENV} (inline)."
)


def _key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:16]


@dataclass(frozen=True)
class Signature:
    """One Ed25519 signature and the id of the key that made it."""

    key_id: str
    value: bytes

    def to_json(self) -> dict[str, str]:
        return {"alg": ALGORITHM, "key_id": self.key_id, "sig": base64.b64encode(self.value).decode("ascii")}

    def to_text(self) -> str:
        """The form stored in the ledger's `signature` column."""
        return canonical_json(self.to_json())

    @classmethod
    def from_json(cls, data: object) -> Signature:
        """Parse `{"alg", "key_id", "sig"}`; raises AuditError naming what is wrong (never the bytes)."""
        if not isinstance(data, Mapping):
            raise AuditError("the signature is not an object")
        if data.get("alg") != ALGORITHM:
            raise AuditError(f"unsupported signature algorithm {data.get('alg')!r} (expected {ALGORITHM})")
        key_id, sig = data.get("key_id"), data.get("sig")
        if not isinstance(key_id, str) or not isinstance(sig, str):
            raise AuditError("the signature needs text fields key_id and sig")
        try:
            value = base64.b64decode(sig, validate=True)
        except (binascii.Error, ValueError):
            raise AuditError("the signature value is not base64") from None
        return cls(key_id, value)

    @classmethod
    def from_text(cls, text: str) -> Signature:
        try:
            return cls.from_json(json.loads(text))
        except ValueError:
            raise AuditError("the stored signature is not JSON") from None


@dataclass(frozen=True)
class PublicKey:
    """An Ed25519 public key and its key id."""

    key: Ed25519PublicKey
    raw: bytes
    key_id: str

    @classmethod
    def from_key(cls, key: Ed25519PublicKey) -> PublicKey:
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return cls(key, raw, _key_id(raw))

    @classmethod
    def from_text(cls, text: str, *, source: str = "the public key") -> PublicKey:
        """A PEM public key, the base64 of the raw 32 bytes, or a private key (its public half is used)."""
        stripped = text.strip()
        if "PRIVATE KEY" in stripped:
            return _private_from_text(stripped, source).public
        if stripped.startswith("-----BEGIN"):
            try:
                loaded = serialization.load_pem_public_key(stripped.encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                raise ConfigError(f"{source} is not a PEM public key", hint=_HINT) from None
            if not isinstance(loaded, Ed25519PublicKey):
                raise ConfigError(f"{source} is not an Ed25519 key", hint=_HINT)
            return cls.from_key(loaded)
        raw = _b64_key(stripped, source)
        return cls.from_key(Ed25519PublicKey.from_public_bytes(raw))

    def to_pem(self) -> str:
        return self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def to_base64(self) -> str:
        return base64.b64encode(self.raw).decode("ascii")

    def verify(self, signature: Signature, message: bytes) -> bool:
        """True when `signature` is this key's signature over `message`."""
        if signature.key_id != self.key_id:
            return False
        try:
            self.key.verify(signature.value, message)
        except InvalidSignature:
            return False
        return True


class Signer:
    """Signs audit records with one Ed25519 private key. `source` says where the key came from (a path or
    an environment variable name), for messages; the key itself is never shown."""

    def __init__(self, key: Ed25519PrivateKey, source: str) -> None:
        self._key = key
        self.source = source
        self.public = PublicKey.from_key(key.public_key())

    @classmethod
    def generate(cls, source: str = "generated in memory") -> Signer:
        return cls(Ed25519PrivateKey.generate(), source)

    @property
    def key_id(self) -> str:
        return self.public.key_id

    def sign(self, message: bytes) -> Signature:
        return Signature(self.key_id, self._key.sign(message))

    def sign_json(self, value: Any) -> Signature:
        """Sign the UTF-8 canonical JSON of `value`."""
        return self.sign(canonical_json(value).encode("utf-8"))

    def private_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r}, source={self.source!r})"


def _b64_key(text: str, source: str) -> bytes:
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{source} is neither PEM nor base64", hint=_HINT) from None
    if len(raw) != _RAW_KEY_BYTES:
        raise ConfigError(
            f"{source} decodes to {len(raw)} bytes, not the {_RAW_KEY_BYTES} of an Ed25519 key", hint=_HINT
        )
    return raw


def _private_from_text(text: str, source: str) -> Signer:
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        try:
            loaded = serialization.load_pem_private_key(stripped.encode("ascii"), password=None)
        except (ValueError, TypeError, UnicodeEncodeError):
            raise ConfigError(f"{source} is not an unencrypted PEM private key", hint=_HINT) from None
        if not isinstance(loaded, Ed25519PrivateKey):
            raise ConfigError(f"{source} is not an Ed25519 key", hint=_HINT)
        return Signer(loaded, source)
    return Signer(Ed25519PrivateKey.from_private_bytes(_b64_key(stripped, source)), source)


def default_key_path(ledger_path: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """`signing-key.pem` in jitpim's configuration directory (`$XDG_CONFIG_HOME/jitpim`, else
    `~/.config/jitpim`): apart from the ledger, which lives under the state directory. `ledger_path` is
    accepted for callers that name their ledger; the key's place does not depend on it."""
    del ledger_path
    env = os.environ if environ is None else environ
    config_home = env.get("XDG_CONFIG_HOME", "")
    if config_home and os.path.isabs(config_home):
        base = Path(config_home)
    else:
        base = Path(env.get("HOME") or os.path.expanduser("~")) / ".config"
    return base / "jitpim" / KEY_FILENAME


def _beside(path: Path, directory: Path) -> bool:
    try:
        return path.resolve().parent == directory.resolve()
    except OSError:
        return False


def _check_apart(path: Path, ledger_path: Path | None) -> None:
    """Refuse a key file in the ledger's directory: write access to the ledger must not give the key."""
    if ledger_path is not None and _beside(path, ledger_path.parent):
        raise ConfigError(
            f"the signing key {str(path)!r} sits in the ledger's directory {str(ledger_path.parent)!r}",
            hint=(
                "Whoever can write the ledger could then rewrite and re-sign it. Keep the key apart: "
                f"`mv {path} {default_key_path()}` (or set ${SIGNING_KEY_FILE_ENV} to a path outside the ledger's "
                f"directory, or ${SIGNING_KEY_ENV} from a CI secret)."
            ),
        )


def _check_private(path: Path) -> None:
    """Refuse a key file group or others may read or write (as ssh does)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # reading it reports the problem
    if mode & 0o077:
        raise ConfigError(
            f"the signing key {str(path)!r} is accessible by group or others (mode {oct(mode & 0o777)})",
            hint=f"Make it private: `chmod 600 {path}`.",
        )


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else type(error).__name__
        raise ConfigError(f"cannot read {what} {str(path)!r}: {reason}", hint=_HINT) from None


def _generate_at(path: Path) -> Signer:
    """Create a new key at `path` (0600, parents 0700). Two processes racing both end up with the one that
    was linked into place first: the key is written to a private temporary file and hard-linked to `path`."""
    signer = Signer.generate(str(path))
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, signer.private_pem())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _private_from_text(_read(path, "the signing key"), str(path))
        finally:
            with contextlib.suppress(OSError):
                temporary.unlink()
    except OSError as error:
        raise ConfigError(
            f"cannot create the signing key {str(path)!r}: {error.strerror or type(error).__name__}", hint=_HINT
        ) from None
    return signer


def load_signer(
    *, ledger_path: Path | None = None, environ: Mapping[str, str] | None = None, create: bool = True
) -> Signer | None:
    """The signing key (see the module docstring for the order). With `create=False`, None when no key is
    configured and none was generated yet (verification must not mint a key of its own)."""
    env = os.environ if environ is None else environ
    key_file = env.get(SIGNING_KEY_FILE_ENV, "").strip()
    if key_file:
        path = Path(key_file).expanduser()
        _check_apart(path, ledger_path)
        _check_private(path)
        return _private_from_text(_read(path, "the signing key file"), str(path))
    inline = env.get(SIGNING_KEY_ENV, "").strip()
    if inline:
        return _private_from_text(inline, f"${SIGNING_KEY_ENV}")
    path = default_key_path(ledger_path, env)
    if ledger_path is not None and (ledger_path.parent / KEY_FILENAME).is_file() and not path.is_file():
        _check_apart(ledger_path.parent / KEY_FILENAME, ledger_path)  # an older jitpim's key: refused, with the fix
    _check_apart(path, ledger_path)
    if path.is_file():
        _check_private(path)
        return _private_from_text(_read(path, "the signing key"), str(path))
    if not create:
        return None
    return _generate_at(path)


def load_public_key(path: Path) -> PublicKey:
    """A public key from a file (PEM or base64; a private key file gives its public half)."""
    return PublicKey.from_text(_read(path, "the public key file"), source=str(path))
