"""The guard that keeps secrets out of the ledger.

Everything the ledger stores (lease rows, event bodies) passes through `assert_no_secrets` first; a value
that looks like a secret makes the write fail with `LedgerError` *before* anything is written. The rule:

* a key whose name ends in a secret-ish word -- `secret`, `password`, `passwd`, `passphrase`, `token`,
  `value`, `assertion`, `private_key`, `api_key`, `connection_string`, `secret_text` (plural forms too;
  matched case-insensitively ignoring `_`, `-`, `.` and camelCase, so `client_secret`, `accessToken`,
  `secretValue`, `new-value` all match) -- may not hold a non-empty string, or a list containing one;
* except keys ending in `version_id` / `version_ids` (a secret's version id is evidence, not a secret);
* and anywhere, under any key, a string shaped like a JWT (`eyJ...`.`...`.`...`) or a PEM private key is
  refused, because tokens must never be recorded even under an innocent name.

Name a secret by `secret_name` and its version by `version_id`; a key called just `secret` holding a string is
refused even when the string is only a name, because the guard cannot tell the difference. The error names
the offending field's path (`body.rotated[0].value`), never its value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from jitpim.errors import LedgerError

__all__ = ["SENSITIVE_KEY_SUFFIXES", "assert_no_secrets", "is_sensitive_key"]

SENSITIVE_KEY_SUFFIXES: Final = (
    "secret",
    "secrets",
    "password",
    "passwords",
    "passwd",
    "passphrase",
    "token",
    "tokens",
    "value",
    "values",
    "assertion",
    "privatekey",
    "apikey",
    "connectionstring",
    "secrettext",
)
_ALLOWED_KEY_SUFFIXES: Final = ("versionid", "versionids")

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_PEM_PRIVATE_KEY = re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
_HINT: Final = (
    "The ledger never stores secrets: record a secret's name (`secret_name`) and version id (`version_id`), "
    "never its value or a token."
)


def _normalise(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def is_sensitive_key(key: str) -> bool:
    """True when a field named `key` must not hold a string (see the module docstring)."""
    name = _normalise(key)
    if name.endswith(_ALLOWED_KEY_SUFFIXES):
        return False
    return name.endswith(SENSITIVE_KEY_SUFFIXES)


def _looks_like_secret(text: str) -> bool:
    return _JWT.search(text) is not None or _PEM_PRIVATE_KEY.search(text) is not None


def _holds_text(value: object) -> bool:
    if isinstance(value, str):
        return value != ""
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds_text(item) for item in value)
    return False


def _refuse(path: str, why: str) -> LedgerError:
    return LedgerError(f"refusing to record field {path!r}: {why}", hint=_HINT)


def assert_no_secrets(value: object, path: str = "body") -> None:
    """Raise LedgerError when `value` (a JSON-able structure) holds something that looks like a secret."""
    if isinstance(value, str):
        if _looks_like_secret(value):
            raise _refuse(path, "it looks like a token or private key")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            child = f"{path}.{key}"
            if isinstance(key, str) and is_sensitive_key(key) and _holds_text(item):
                raise _refuse(child, "its name says it holds a secret")
            assert_no_secrets(item, child)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            assert_no_secrets(item, f"{path}[{index}]")
