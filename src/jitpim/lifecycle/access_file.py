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
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..model import Target

__all__ = ["AccessFile", "Profile", "find_access_file", "load_access_file"]

_DEFAULT_NAMES = ("jitpim.yaml", ".jitpim.yaml", "jitpim.yml", ".jitpim.yml")
_TARGET_KEYS = {"kind", "role", "scope", "access", "tenant", "duration", "justification", "ticket", "start"}
_PROFILE_KEYS = {"description", "duration", "justification", "ticket", "tenant", "targets", "mode"}


@dataclass(frozen=True)
class Profile:
    name: str
    targets: tuple[Target, ...]
    description: str = ""
    mode: str | None = None


@dataclass(frozen=True)
class AccessFile:
    path: Path
    profiles: dict[str, Profile] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            known = ", ".join(sorted(self.profiles)) or "none"
            raise ConfigError(
                f"{self.path}: no profile named {name!r}", hint=f"Profiles in this file: {known}."
            ) from None


def find_access_file(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> Path | None:
    if explicit:
        return Path(explicit)
    if environ.get("JITPIM_ACCESS_FILE"):
        return Path(environ["JITPIM_ACCESS_FILE"])
    for name in _DEFAULT_NAMES:
        if Path(name).is_file():
            return Path(name)
    return None


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping")
    return value


def load_access_file(path: str | os.PathLike[str]) -> AccessFile:
    import yaml

    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"access file {p} does not exist", hint="Pass --access-file PATH or create jitpim.yaml."
        ) from None
    except yaml.YAMLError as exc:
        # One line naming where the YAML broke, not PyYAML's multi-line excerpt of the file.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(
            f"access file {p} is not valid YAML{where}: {problem}",
            hint="Check the indentation and brackets there; docs/reference/access-file.md shows the format.",
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read access file {p}: {exc.strerror or exc}") from None
    data = _mapping(data, str(p))
    version = data.get("version", 1)
    if version != 1:
        raise ConfigError(f"{p}: unsupported access-file version {version!r}", hint="This jitpim reads version 1.")
    defaults = _mapping(data.get("defaults"), f"{p}: defaults")
    profiles: dict[str, Profile] = {}
    for name, body in _mapping(data.get("profiles"), f"{p}: profiles").items():
        where = f"{p}: profile {name}"
        body = _mapping(body, where)
        unknown = set(body) - _PROFILE_KEYS
        if unknown:
            raise ConfigError(
                f"{where}: unknown keys {', '.join(sorted(unknown))}",
                hint=f"Known keys: {', '.join(sorted(_PROFILE_KEYS))}.",
            )
        entries = body.get("targets")
        if not isinstance(entries, list) or not entries:
            raise ConfigError(f"{where}: 'targets' must be a non-empty list")
        targets = []
        for i, entry in enumerate(entries, 1):
            entry = _mapping(entry, f"{where} target {i}")
            unknown = set(entry) - _TARGET_KEYS
            if unknown:
                raise ConfigError(
                    f"{where} target {i}: unknown keys {', '.join(sorted(unknown))}",
                    hint=f"Known keys: {', '.join(sorted(_TARGET_KEYS))}.",
                )
            merged = {
                **{k: v for k, v in defaults.items() if k in _TARGET_KEYS},
                **{k: v for k, v in body.items() if k in _TARGET_KEYS},
                **entry,
            }
            if "kind" not in merged:
                raise ConfigError(f"{where} target {i}: 'kind' is required")
            targets.append(
                Target.from_flags(
                    kind=merged["kind"],
                    role=merged.get("role"),
                    scope=merged.get("scope"),
                    access=merged.get("access"),
                    tenant=merged.get("tenant"),
                    duration=str(merged["duration"]) if merged.get("duration") is not None else None,
                    justification=merged.get("justification"),
                    ticket=merged.get("ticket"),
                    start=merged.get("start"),
                    origin=f"{where} target {i}",
                )
            )
        profiles[name] = Profile(name, tuple(targets), str(body.get("description", "")), body.get("mode"))
    return AccessFile(p, profiles, data)
