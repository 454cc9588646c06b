"""The reviewed file: `pim-policy.yaml`, one entry per target with the settings a team wants.

    version: 1
    policies:
      - target: {kind: entra-role, role: Global Administrator}
        activation:
          maximum: 2h
          require: [mfa, justification, ticket]
          approval: {required: true, approvers: [{group: <object id>}], timeout_days: 1}
        eligible_assignment: {permanent: false, maximum: 365d}
        active_assignment: {permanent: false, maximum: 15d, require: [justification]}
        notifications:
          activation: {admin: {level: all, default_recipients: true, recipients: [secops@contoso.com]}}
      - target: {kind: pim-group, group: kv-operators, access: member}
        activation: {maximum: 4h}
      - target: {kind: azure-role, role: Contributor, scope: /subscriptions/.../resourceGroups/rg-payments}
        activation: {maximum: 4h}

Parsing is strict: an unknown or duplicated key, a wrong type or an unreadable duration is refused with its
line and a hint, because a typo in this file would silently leave a setting unmanaged. Reference:
docs/reference/pim-policy.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import yaml

from ..errors import ConfigError, JitError
from ..model import Target, TargetKind
from ..model.durations import format_duration, parse_duration
from ..strict_yaml import StrictYamlError, load_strict
from .settings import EVENTS, RECIPIENTS, REQUIREMENTS, Approver, Expiry, Notice, RoleSettings

__all__ = ["FORMAT_VERSION", "PolicyEntry", "dump_document", "load_document", "parse_document", "target_key"]

FORMAT_VERSION: Final = 1
_LEVELS: Final = ("none", "critical", "all")


@dataclass(frozen=True)
class PolicyEntry:
    """One target and the settings the file manages for it (`line`: where it starts, for messages)."""

    target: Target
    settings: RoleSettings
    line: int = 0


def _line(node: Any, fallback: int = 0) -> int:
    return getattr(node, "line", None) or fallback


def _fail(where: Any, message: str, hint: str) -> ConfigError:
    line = _line(where)
    return ConfigError((f"line {line}: " if line else "") + message, hint=hint)


def _mapping(value: Any, what: str, allowed: Sequence[str], parent: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(parent, f"{what} must be a mapping", f"Write {what} as `key: value` lines.")
    unknown = sorted(str(k) for k in value if k not in allowed)
    if unknown:
        raise _fail(value, f"unknown key {unknown[0]!r} in {what}", f"The keys of {what} are: {', '.join(allowed)}.")
    return value


def _duration(value: Any, what: str, parent: Any) -> timedelta:
    try:
        return parse_duration(str(value))
    except JitError as exc:
        raise _fail(parent, f"{what}: {exc.message}", exc.hint) from None


def _bool(value: Any, what: str, parent: Any) -> bool:
    if not isinstance(value, bool):
        raise _fail(parent, f"{what} must be true or false, not {value!r}", "Write true or false.")
    return value


def _requirements(value: Any, what: str, parent: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v in REQUIREMENTS for v in value):
        raise _fail(parent, f"{what} must be a list of {', '.join(REQUIREMENTS)}", "For example: [mfa, justification].")
    return frozenset(value)


def _approvers(value: Any, parent: Any) -> tuple[Approver, ...]:
    if not isinstance(value, list):
        raise _fail(parent, "approvers must be a list", "For example: [{group: <object id>}, {user: <object id>}].")
    out = []
    for item in value:
        entry = _mapping(item, "an approver", ("user", "group"), parent)
        if len(entry) != 1:
            raise _fail(parent, "an approver is either {user: ID} or {group: ID}", "Give one key per approver.")
        kind, ident = next(iter(entry.items()))
        out.append(Approver("group" if kind == "group" else "user", str(ident)))
    return tuple(sorted(out))


def _expiry(value: Any, what: str, parent: Any) -> tuple[Expiry, frozenset[str] | None]:
    allowed = ("permanent", "maximum", "require") if what == "active_assignment" else ("permanent", "maximum")
    entry = _mapping(value, what, allowed, parent)
    permanent = _bool(entry.get("permanent", False), f"{what}.permanent", entry)
    maximum = _duration(entry["maximum"], f"{what}.maximum", entry) if "maximum" in entry else None
    if not permanent and maximum is None:
        raise _fail(entry, f"{what} needs a maximum unless permanent: true", "For example: maximum: 180d.")
    require = _requirements(entry["require"], f"{what}.require", entry) if "require" in entry else None
    return Expiry(permanent, maximum), require


def _notifications(value: Any, parent: Any) -> dict[tuple[str, str], Notice]:
    out: dict[tuple[str, str], Notice] = {}
    events = _mapping(value, "notifications", tuple(EVENTS), parent)
    for event, recipients in events.items():
        for recipient, notice in _mapping(recipients, f"notifications.{event}", tuple(RECIPIENTS), events).items():
            where = f"notifications.{event}.{recipient}"
            entry = _mapping(notice, where, ("level", "default_recipients", "recipients"), recipients)
            level = str(entry.get("level", "all")).lower()
            if level not in _LEVELS:
                raise _fail(entry, f"{where}.level must be one of {', '.join(_LEVELS)}", "For example: level: all.")
            emails = entry.get("recipients", [])
            if not isinstance(emails, list) or not all(isinstance(e, str) and "@" in e for e in emails):
                raise _fail(entry, f"{where}.recipients must be a list of email addresses", "Or leave it out.")
            out[(event, recipient)] = Notice(
                level,  # type: ignore[arg-type]
                _bool(entry.get("default_recipients", True), f"{where}.default_recipients", entry),
                tuple(emails),
            )
    return out


def _target(value: Any, parent: Any) -> Target:
    entry = _mapping(value, "target", ("kind", "role", "scope", "group", "access"), parent)
    kind = str(entry.get("kind", ""))
    try:
        if kind == TargetKind.ENTRA_ROLE:
            return Target.from_flags(kind=kind, role=str(entry["role"]), scope=str(entry.get("scope", "/")))
        if kind == TargetKind.PIM_GROUP:
            access = str(entry.get("access", "member"))
            return Target.from_flags(kind=kind, role=access, scope=str(entry["group"]), access=access)
        if kind == TargetKind.AZURE_ROLE:
            return Target.from_flags(kind=kind, role=str(entry["role"]), scope=str(entry["scope"]))
    except KeyError as missing:
        raise _fail(entry, f"a {kind} target needs {missing.args[0]!r}", "See docs/reference/pim-policy.md.") from None
    except JitError as exc:
        raise _fail(entry, exc.message, exc.hint) from None
    raise _fail(
        entry,
        f"target kind {kind!r} has no PIM policy",
        "Use entra-role, pim-group or azure-role (plain rbac assignments have no PIM settings).",
    )


def _entry(value: Any, parent: Any) -> PolicyEntry:
    allowed = ("target", "activation", "eligible_assignment", "active_assignment", "notifications")
    entry = _mapping(value, "a policy entry", allowed, parent)
    if "target" not in entry:
        raise _fail(entry, "a policy entry needs a target", "Start it with target: {kind: ..., role: ...}.")
    target = _target(entry["target"], entry)
    fields: dict[str, Any] = {}
    if "activation" in entry:
        act = _mapping(entry["activation"], "activation", ("maximum", "require", "approval"), entry)
        if "maximum" in act:
            fields["activation_maximum"] = _duration(act["maximum"], "activation.maximum", act)
        if "require" in act:
            fields["activation_require"] = _requirements(act["require"], "activation.require", act)
        if "approval" in act:
            appr = _mapping(act["approval"], "activation.approval", ("required", "approvers", "timeout_days"), act)
            if "required" in appr:
                fields["approval_required"] = _bool(appr["required"], "activation.approval.required", appr)
            if "approvers" in appr:
                fields["approvers"] = _approvers(appr["approvers"], appr)
            if "timeout_days" in appr:
                days = appr["timeout_days"]
                if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 7:
                    raise _fail(appr, "activation.approval.timeout_days must be 1 to 7", "PIM allows 1-7 days.")
                fields["approval_timeout_days"] = days
    if "eligible_assignment" in entry:
        fields["eligible_assignment"], _ = _expiry(entry["eligible_assignment"], "eligible_assignment", entry)
    if "active_assignment" in entry:
        expiry, require = _expiry(entry["active_assignment"], "active_assignment", entry)
        fields["active_assignment"] = expiry
        if require is not None:
            fields["active_assignment_require"] = require
    if "notifications" in entry:
        fields["notifications"] = _notifications(entry["notifications"], entry)
    return PolicyEntry(target, RoleSettings(**fields), _line(entry))


def target_key(target: Target) -> tuple[str, str, str]:
    return (str(target.kind), target.role.lower(), target.scope.lower())


def parse_document(data: bytes, *, source: str = "the policy file") -> list[PolicyEntry]:
    try:
        data = load_strict(data)
    except StrictYamlError as exc:
        where = f"line {exc.line}: " if exc.line else ""
        raise ConfigError(f"{source}: {where}{exc.problem}", hint=exc.hint) from None
    try:
        top = _mapping(data, "the file", ("version", "policies"), None)
        if top.get("version") != FORMAT_VERSION:
            raise _fail(top, f"version must be {FORMAT_VERSION}", f"Start the file with `version: {FORMAT_VERSION}`.")
        items = top.get("policies")
        if not isinstance(items, list) or not items:
            raise _fail(top, "policies must be a non-empty list", "Add at least one `- target: ...` entry.")
        entries = [_entry(item, top) for item in items]
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc.message}", hint=exc.hint) from None
    seen: dict[tuple[str, str, str], int] = {}
    for entry in entries:
        key = target_key(entry.target)
        if key in seen:
            raise ConfigError(
                f"{source}: line {entry.line}: the same target is already listed at line {seen[key]}",
                hint="Merge the two entries: one entry per target.",
            )
        seen[key] = entry.line
    return entries


def load_document(path: Path) -> list[PolicyEntry]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read {path}: {exc.strerror or type(exc).__name__}", hint="Give the path of a pim-policy YAML file."
        ) from None
    return parse_document(data, source=str(path))


def _expiry_doc(expiry: Expiry, require: frozenset[str] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"permanent": expiry.permanent}
    if expiry.maximum is not None:
        doc["maximum"] = format_duration(expiry.maximum)
    if require is not None:
        doc["require"] = sorted(require)
    return doc


def _target_doc(target: Target) -> dict[str, Any]:
    if target.kind == TargetKind.PIM_GROUP:
        return {"kind": str(target.kind), "group": target.scope, "access": str(target.access or target.role)}
    if target.kind == TargetKind.ENTRA_ROLE:
        return {"kind": str(target.kind), "role": target.role}
    return {"kind": str(target.kind), "role": target.role, "scope": target.scope}


def entry_doc(target: Target, s: RoleSettings) -> dict[str, Any]:
    doc: dict[str, Any] = {"target": _target_doc(target)}
    activation: dict[str, Any] = {}
    if s.activation_maximum is not None:
        activation["maximum"] = format_duration(s.activation_maximum)
    if s.activation_require is not None:
        activation["require"] = sorted(s.activation_require)
    approval: dict[str, Any] = {}
    if s.approval_required is not None:
        approval["required"] = s.approval_required
    if s.approvers is not None:
        approval["approvers"] = [a.to_doc() for a in s.approvers]
    if s.approval_timeout_days is not None:
        approval["timeout_days"] = s.approval_timeout_days
    if approval:
        activation["approval"] = approval
    if activation:
        doc["activation"] = activation
    if s.eligible_assignment is not None:
        doc["eligible_assignment"] = _expiry_doc(s.eligible_assignment)
    if s.active_assignment is not None:
        doc["active_assignment"] = _expiry_doc(s.active_assignment, s.active_assignment_require)
    if s.notifications:
        notes: dict[str, dict[str, Any]] = {}
        for (event, recipient), n in sorted(s.notifications.items()):
            notes.setdefault(event, {})[recipient] = {
                "level": n.level,
                "default_recipients": n.default_recipients,
                "recipients": list(n.recipients),
            }
        doc["notifications"] = notes
    return doc


def dump_document(entries: Sequence[tuple[Target, RoleSettings]]) -> str:
    """The YAML text of a file holding `entries` (what `export` writes; `parse_document` reads it back)."""
    data = {"version": FORMAT_VERSION, "policies": [entry_doc(t, s) for t, s in entries]}
    header = "# PIM role settings as code: review changes, then `jitpim pim-policy diff|apply` this file.\n"
    return header + yaml.safe_dump(data, sort_keys=False, default_flow_style=False, width=120)
