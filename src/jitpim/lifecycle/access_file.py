"""The access file: named profiles of targets with defaults, so a pipeline can say
`jitpim exec --profile rotate-kv -- ...`.

    version: 1
    defaults:            # apply to every profile unless it says otherwise
      duration: 15m
      justification: "CI deploy"
    profiles:
      rotate-kv:
        description: Rotate the payments secrets
        duration: 10m
        justification: Rotate the payments database password
        ticket: CHG:1234           # optional, SYSTEM:NUMBER
        targets:
          - kind: rbac
            role: Key Vault Secrets Officer
            scope: /subscriptions/<sub>/resourceGroups/rg-payments/providers/Microsoft.KeyVault/vaults/kv-payments

Found at `--access-file`, `$JITPIM_ACCESS_FILE`, or `./jitpim.yaml` / `./.jitpim.yaml`. Reference:
docs/reference/access-file.md.

The file decides who gets which role, so it is read strictly: UTF-8 only, no duplicate keys, no unknown keys
at any level, every value of the type it must have; each refusal is a `ConfigError` naming the file and line
(`jitpim.yaml:12: ...`) with a hint that says what to write instead.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigError, UsageError
from ..model import Mode, Target, Ticket, parse_duration
from ..safe_text import control_characters
from ..strict_yaml import LocatedDict, StrictYamlError, load_strict

__all__ = ["AccessFile", "BrokerSettings", "Profile", "find_access_file", "load_access_file"]

_DEFAULT_NAMES = ("jitpim.yaml", ".jitpim.yaml", "jitpim.yml", ".jitpim.yml")
# `audit:` holds the audit sinks (`audit.sinks`, read and checked by jitpim.audit.sinks.config).
# `broker:` says where `--mode broker` and `jitpim approvals` find the broker (after the flag and environment).
_TOP_KEYS = {"version", "defaults", "profiles", "audit", "broker"}
_AUDIT_KEYS = {"sinks"}
_BROKER_KEYS = {"url", "audience"}
_LOOPBACK = ("127.0.0.1", "::1", "localhost")
_TARGET_KEYS = {"kind", "role", "scope", "access", "tenant", "duration", "justification", "ticket", "start"}
# Keys a profile (or `defaults:`) gives every one of its targets.
_SHARED_KEYS = {"duration", "justification", "ticket", "tenant"}
_PROFILE_KEYS = {"description", "targets", "mode", *_SHARED_KEYS}
_DEFAULTS_KEYS = {"mode", *_SHARED_KEYS}
_MODES = (Mode.DIRECT.value, Mode.SELF.value, Mode.BROKER.value)
# A real access file is a few kilobytes; a bigger one is a mistake (or an attempt to make jitpim chew on it).
_MAX_BYTES = 1024 * 1024
_FORMAT_HINT = "docs/reference/access-file.md shows the format."


@dataclass(frozen=True)
class Profile:
    name: str
    targets: tuple[Target, ...]
    description: str = ""
    mode: str | None = None


@dataclass(frozen=True)
class BrokerSettings:
    """The access file's `broker:` section: the broker's URL and the audience jobs ask their ID token for."""

    url: str
    audience: str | None = None


@dataclass(frozen=True)
class AccessFile:
    path: Path
    profiles: dict[str, Profile] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    broker: BrokerSettings | None = None

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles)) or "none"
            close = difflib.get_close_matches(name, list(self.profiles), n=1)
            hint = (f"Did you mean {close[0]}? " if close else "") + f"Profiles in this file: {known}."
            raise ConfigError(f"{self.path}: no profile named {name!r}", hint=hint) from None


def find_access_file(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path | None:
    if explicit:
        return Path(explicit)
    if environ.get("JITPIM_ACCESS_FILE"):
        return Path(environ["JITPIM_ACCESS_FILE"])
    for name in _DEFAULT_NAMES:
        if Path(name).is_file():
            return Path(name)
    return None


class _Reader:
    """Validates one parsed file, naming its path and the line of whatever it refuses."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, line: int | None, message: str, hint: str = _FORMAT_HINT) -> ConfigError:
        where = f"{self.path}:{line}" if line else str(self.path)
        return ConfigError(f"{where}: {message}", hint=hint)

    def mapping(self, value: Any, what: str, line: int | None, *, optional: bool = False) -> LocatedDict:
        if value is None and optional:
            empty = LocatedDict()
            empty.line = line
            return empty
        if not isinstance(value, LocatedDict):
            raise self.error(line, f"{what} must be a mapping of keys to values, not {_kind_of(value)}")
        return value

    def keys(self, mapping: LocatedDict, known: set[str], what: str, misplaced: dict[str, str] | None = None) -> None:
        for key in mapping:
            if isinstance(key, str) and key in known:
                continue
            line = mapping.line_of(key)
            shown = repr(key) if isinstance(key, str) else f"{key!r} ({_kind_of(key)})"
            if isinstance(key, str) and misplaced and key in misplaced:
                raise self.error(line, f"{what}: key {shown} does not belong here", hint=misplaced[key])
            close = difflib.get_close_matches(key, sorted(known), n=1) if isinstance(key, str) else []
            hint = (f"Did you mean {close[0]!r}? " if close else "") + f"Keys allowed here: {', '.join(sorted(known))}."
            raise self.error(line, f"{what}: unknown key {shown}", hint=hint)

    def text(self, mapping: LocatedDict, key: str, what: str) -> str | None:
        value = mapping.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(
                mapping.line_of(key),
                f"{what}: {key} must be text, not {_kind_of(value)} ({value!r})",
                hint=f'Quote it: {key}: "{value}" (YAML reads unquoted numbers, dates and yes/no as other types).',
            )
        bad = control_characters(value)
        if bad:
            raise self.error(
                mapping.line_of(key),
                f"{what}: {key} contains control characters ({' '.join(bad)})",
                hint=f"Write {key} on one line (a YAML `>` block folds lines into one).",
            )
        return value

    def duration(self, mapping: LocatedDict, what: str) -> str | None:
        value = mapping.get("duration")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.error(
                mapping.line_of("duration"),
                f"{what}: duration must be text such as 15m, not {_kind_of(value)}",
                hint="Write the duration with its unit, e.g. duration: 15m, 1h30m or PT1H.",
            )
        return str(value)

    def start(self, mapping: LocatedDict, what: str) -> Any:
        value = mapping.get("start")
        if value is None or isinstance(value, str):
            return value
        from datetime import datetime

        if isinstance(value, datetime):
            return value  # YAML read an ISO timestamp; the target checks its zone
        raise self.error(
            mapping.line_of("start"),
            f"{what}: start must be a time with a zone, not {_kind_of(value)} ({value!r})",
            hint='Write the start as ISO-8601 with time and zone, e.g. start: "2026-05-01T08:00:00Z".',
        )

    def mode(self, mapping: LocatedDict, what: str) -> str | None:
        value = self.text(mapping, "mode", what)
        if value is None:
            return None
        if value.strip().lower() not in _MODES:
            raise self.error(
                mapping.line_of("mode"),
                f"{what}: unknown mode {value!r}",
                hint=f"Use one of: {', '.join(_MODES)} (or leave mode out to use --mode / JITPIM_MODE).",
            )
        return value.strip().lower()


def _kind_of(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    return f"a {type(value).__name__}"


def _profile_name(reader: _Reader, profiles: LocatedDict, name: Any) -> str:
    line = profiles.line_of(name)
    if not isinstance(name, str) or not name.strip():
        raise reader.error(
            line, f"profile name {name!r} is not text", hint="Name profiles with words, e.g. rotate-kv:; quote it."
        )
    if control_characters(name) or name != name.strip():
        raise reader.error(
            line,
            f"profile name {name!r} has spaces at its ends or control characters",
            hint="Name profiles with letters, digits, '-', '_' and '.', e.g. rotate-kv.",
        )
    return name


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > _MAX_BYTES:
            raise ConfigError(
                f"access file {path} is {size} bytes, more than an access file holds ({_MAX_BYTES})",
                hint="Check that --access-file / JITPIM_ACCESS_FILE names the access file.",
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"access file {path} does not exist", hint="Pass --access-file PATH or create jitpim.yaml."
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"access file {path} is a directory", hint="Name the YAML file itself.") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read access file {path}: {exc.strerror or exc}",
            hint="Check the path and that this user may read it.",
        ) from None


def load_access_file(path: str | os.PathLike[str]) -> AccessFile:
    """Read and validate an access file; raise `ConfigError` naming the file, line, problem and fix."""
    p = Path(path)
    reader = _Reader(p)
    try:
        data = load_strict(_read(p))
    except StrictYamlError as exc:
        if exc.column is not None:  # a syntax error: one line naming where the YAML broke
            where = f" at line {exc.line}, column {exc.column}" if exc.line else ""
            raise ConfigError(f"access file {p} is not valid YAML{where}: {exc.problem}", hint=exc.hint) from None
        raise reader.error(exc.line, exc.problem, hint=exc.hint) from None
    top = reader.mapping(data, "the access file", 1)
    reader.keys(
        top, _TOP_KEYS, "top level", {k: "Put it under a profile (profiles: NAME: ...)." for k in _PROFILE_KEYS}
    )
    if "audit" in top:
        audit = reader.mapping(top["audit"], "audit", top.line_of("audit"))
        reader.keys(audit, _AUDIT_KEYS, "audit")
    broker = _broker(reader, top)
    version = top.get("version", 1)
    if type(version) is not int or version != 1:
        raise reader.error(
            top.line_of("version"),
            f"unsupported access-file version {version!r}",
            hint="This jitpim reads version 1: write version: 1.",
        )
    defaults = reader.mapping(top.get("defaults"), "defaults", top.line_of("defaults"), optional=True)
    reader.keys(
        defaults,
        _DEFAULTS_KEYS,
        "defaults",
        {k: f"{k} names what is granted: give it in each target." for k in _TARGET_KEYS - _SHARED_KEYS},
    )
    shared_defaults = _shared(reader, defaults, "defaults")
    default_mode = reader.mode(defaults, "defaults")
    profiles_node = top.get("profiles")
    if profiles_node is None:
        raise reader.error(
            top.line, "no profiles: the file must have a profiles: mapping", hint=f"Add one profile. {_FORMAT_HINT}"
        )
    profiles_map = reader.mapping(profiles_node, "profiles", top.line_of("profiles"))
    profiles: dict[str, Profile] = {}
    for raw_name, raw_body in profiles_map.items():
        name = _profile_name(reader, profiles_map, raw_name)
        where = f"profile {name}"
        body = reader.mapping(raw_body, where, profiles_map.line_of(raw_name))
        reader.keys(
            body,
            _PROFILE_KEYS,
            where,
            {k: f"{k} belongs to a target: put it under targets: - kind: ..." for k in _TARGET_KEYS - _SHARED_KEYS},
        )
        description = reader.text(body, "description", where) or ""
        mode = reader.mode(body, where) or default_mode
        shared = {**shared_defaults, **_shared(reader, body, where)}
        entries = body.get("targets")
        if not isinstance(entries, list) or not entries:
            raise reader.error(
                body.line_of("targets"),
                f"{where}: 'targets' must be a non-empty list",
                hint="List the access it grants: targets: then - kind: rbac / role: ... / scope: ...",
            )
        targets = [
            _target(reader, entry, f"{where} target {i}", shared, body.line_of("targets"))
            for i, entry in enumerate(entries, 1)
        ]
        profiles[name] = Profile(name, tuple(targets), description, mode)
    return AccessFile(p, profiles, dict(top), broker)


def _broker(reader: _Reader, top: LocatedDict) -> BrokerSettings | None:
    if "broker" not in top:
        return None
    section = reader.mapping(top["broker"], "broker", top.line_of("broker"))
    reader.keys(section, _BROKER_KEYS, "broker")
    url = (reader.text(section, "url", "broker") or "").strip()
    hint = "Write the broker's https URL, e.g. broker: {url: https://broker.contoso.com} (http only on loopback)."
    if not url:
        raise reader.error(section.line_of("url") or top.line_of("broker"), "broker: url is required", hint=hint)
    parts = urlsplit(url)
    loopback = parts.hostname in _LOOPBACK
    if parts.scheme not in ("https", "http") or not parts.hostname or (parts.scheme == "http" and not loopback):
        raise reader.error(
            section.line_of("url"), f"broker: url {url!r} must be https:// (http only on loopback)", hint
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        # A URL with credentials would put a secret in a committed file; a query or fragment is never right.
        raise reader.error(
            section.line_of("url"), "broker: url must not carry credentials, a query or a fragment", hint
        )
    audience = reader.text(section, "audience", "broker")
    if audience is not None and not audience.strip():
        raise reader.error(
            section.line_of("audience"),
            "broker: audience is empty",
            hint="Leave it out for the default, api://jitpim-broker.",
        )
    return BrokerSettings(url.rstrip("/"), audience.strip() if audience else None)


def _shared(reader: _Reader, mapping: LocatedDict, what: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "justification": reader.text(mapping, "justification", what),
        "ticket": reader.text(mapping, "ticket", what),
        "tenant": reader.text(mapping, "tenant", what),
        "duration": reader.duration(mapping, what),
    }
    return {k: (v, mapping.line_of(k)) for k, v in values.items() if v is not None}


def _target(reader: _Reader, entry: Any, where: str, shared: dict[str, Any], line: int | None) -> Target:
    entry = reader.mapping(entry, where, line)
    reader.keys(entry, _TARGET_KEYS, where, {"mode": "mode is chosen per profile: put mode: under the profile."})
    own: dict[str, Any] = {
        "kind": (reader.text(entry, "kind", where), entry.line_of("kind")),
        "role": (reader.text(entry, "role", where), entry.line_of("role")),
        "scope": (reader.text(entry, "scope", where), entry.line_of("scope")),
        "access": (reader.text(entry, "access", where), entry.line_of("access")),
        "start": (reader.start(entry, where), entry.line_of("start")),
        **_shared(reader, entry, where),
    }
    merged = {**shared, **{k: v for k, v in own.items() if v[0] is not None}}
    if "kind" not in merged:
        raise reader.error(
            entry.line, f"{where}: 'kind' is required", hint="Add kind: entra-role, pim-group, azure-role or rbac."
        )
    values = {k: v[0] for k, v in merged.items()}
    # The values checked on their own first, so an error points at the line that holds them (which may be
    # in defaults: or the profile, not the target).
    for key, check in (("duration", parse_duration), ("ticket", Ticket.parse)):
        if key in merged:
            try:
                check(values[key])
            except UsageError as exc:
                raise reader.error(merged[key][1], f"{where}: {exc.message}", hint=exc.hint) from None
    try:
        return Target.from_flags(**values)
    except UsageError as exc:
        # Point at the line of the key the target refused, when the message names one.
        words = exc.message.replace("'", " ").split()
        field = next(
            (k for k in ("kind", "access", "tenant", "start", "duration", "scope", "role") if k in words), None
        )
        at = merged[field][1] if field in merged else entry.line
        raise reader.error(at, f"{where}: {exc.message}", hint=exc.hint) from None
