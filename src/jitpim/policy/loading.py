"""Loading Cedar policies from files: every syntax error is reported with the file it is in, and a policy
set that does not load is refused as a whole (the broker does not start on half a policy).

Each policy may carry annotations that the broker reads beside Cedar's permit/forbid:

    @id("main-deploy")            the name decisions and audit records use (default: file:policyN)
    @approvals("2")               approval required: this many distinct approvers (1-10)
    @approvers("payments-leads")  ...from this approver group (the broker's configuration maps it)
    @approval_timeout("1h")       ...within this time (default 30m, at most 7 days)
    @break_glass("true")          an emergency principal: grant at once, notify loudly, review after
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from ..errors import ConfigError, UsageError
from ..model import parse_duration
from .decision import ApprovalRule

__all__ = ["DEFAULT_APPROVAL_TIMEOUT", "LoadedPolicy", "PolicySet", "load_policies", "parse_policies"]

DEFAULT_APPROVAL_TIMEOUT = timedelta(minutes=30)
_MAX_APPROVAL_TIMEOUT = timedelta(days=7)
_KNOWN_ANNOTATIONS = frozenset({"id", "approvals", "approvers", "approval_timeout", "break_glass", "description"})
_SYNTAX_HINT = (
    "Fix the policy's Cedar syntax (https://docs.cedarpolicy.com/policies/syntax-policy.html); "
    "`jitpim broker check-policy PATH` checks a policy file without starting the broker."
)


@dataclass(frozen=True)
class LoadedPolicy:
    """One policy: its id, effect, where it came from, what it reads, and the broker's annotations."""

    policy_id: str  # the @id annotation, else `<file stem>:policyN`
    cedar_id: str  # the id Cedar gave it in the combined set
    effect: str  # "permit" | "forbid"
    source: str  # the file it came from
    reads: tuple[str, ...]  # attributes it looks at: "principal.ref", "context.hour", "resource.scope"
    approval: ApprovalRule | None = None
    break_glass: bool = False


@dataclass(frozen=True)
class PolicySet:
    """A loaded, checked set of policies, ready to evaluate (the parsed Cedar handle is kept)."""

    text: str
    policies: dict[str, LoadedPolicy]  # by Cedar id
    version: str  # sha256 of the combined text: which policy a decision was made under
    sources: tuple[str, ...] = ()
    _handle: Any = field(default=None, repr=False, compare=False)

    @property
    def handle(self) -> Any:
        return self._handle

    def by_id(self, policy_id: str) -> LoadedPolicy | None:
        return next((p for p in self.policies.values() if p.policy_id == policy_id), None)


def _cedar() -> Any:
    try:
        import cedarpy
    except ImportError:  # pragma: no cover - the broker extra is missing
        raise ConfigError(
            "Cedar policies need the cedarpy package",
            hint="Install the broker extra: pip install 'jitpim[broker]'.",
        ) from None
    return cedarpy


def _reads(node: Any, found: set[str]) -> None:
    """Collect `principal.x`, `context.x`, `resource.x` attribute reads (and `has` tests) from Cedar's JSON AST."""
    if isinstance(node, dict):
        for op in (".", "has"):
            inner = node.get(op)
            if isinstance(inner, dict) and isinstance(inner.get("left"), dict) and "attr" in inner:
                var = inner["left"].get("Var")
                if var in ("principal", "context", "resource"):
                    found.add(f"{var}.{inner['attr']}")
        for value in node.values():
            _reads(value, found)
    elif isinstance(node, list):
        for value in node:
            _reads(value, found)


def _scope_reads(body: dict[str, Any]) -> set[str]:
    """A policy that names its principal or resource in the head (`principal == Jitpim::Workload::"…"`) was
    decided by that entity's id."""
    found: set[str] = set()
    for var in ("principal", "resource"):
        constraint = body.get(var) or {}
        if constraint.get("op") not in (None, "All"):
            found.add(f"{var}.id")
    return found


def _approval(policy_id: str, annotations: dict[str, str], source: str) -> ApprovalRule | None:
    count_text = annotations.get("approvals")
    group = annotations.get("approvers")
    timeout_text = annotations.get("approval_timeout")
    if count_text is None and group is None and timeout_text is None:
        return None
    where = f"{source}: policy {policy_id!r}"
    if count_text is None or group is None or not group.strip():
        raise ConfigError(
            f'{where} needs both @approvals("N") and @approvers("GROUP") to require approval',
            hint='Write e.g. @approvals("2") @approvers("payments-leads") above the permit.',
        )
    if not count_text.strip().isdigit() or not 1 <= int(count_text) <= 10:
        raise ConfigError(
            f"{where}: @approvals({count_text!r}) is not a number from 1 to 10", hint='e.g. @approvals("1")'
        )
    timeout = DEFAULT_APPROVAL_TIMEOUT
    if timeout_text is not None:
        try:
            timeout = parse_duration(timeout_text)
        except UsageError as exc:
            raise ConfigError(f"{where}: @approval_timeout: {exc.message}", hint=exc.hint) from None
        if timeout > _MAX_APPROVAL_TIMEOUT:
            raise ConfigError(f"{where}: @approval_timeout({timeout_text!r}) is over 7 days", hint="Use at most 7d.")
    return ApprovalRule(int(count_text), group.strip(), timeout)


def _parse_one(cedarpy: Any, text: str, source: str) -> dict[str, Any]:
    try:
        parsed = json.loads(cedarpy.policies_to_json_str(text))
    except ValueError as exc:
        raise ConfigError(f"{source}: Cedar syntax error: {exc}", hint=_SYNTAX_HINT) from None
    if parsed.get("templates") or parsed.get("templateLinks"):
        raise ConfigError(f"{source}: policy templates are not supported", hint="Write static policies only.")
    statics: dict[str, Any] = parsed.get("staticPolicies") or {}
    return statics


def parse_policies(sources: Sequence[tuple[str, str]]) -> PolicySet:
    """Check and combine (source name, Cedar text) pairs; raises `ConfigError` naming the source on any error."""
    cedarpy = _cedar()
    combined: list[str] = []
    meta: list[tuple[str, str, str, tuple[str, ...], ApprovalRule | None, bool]] = []
    seen_ids: dict[str, str] = {}
    for source, text in sources:
        statics = _parse_one(cedarpy, text, source)
        stem = Path(source).stem
        # Cedar numbers policies policy0, policy1, ... in text order; dict order from the JSON keeps it.
        for index, (_key, body) in enumerate(sorted(statics.items(), key=lambda kv: int(kv[0][6:] or 0))):
            annotations: dict[str, str] = {k: str(v or "") for k, v in (body.get("annotations") or {}).items()}
            unknown = sorted(set(annotations) - _KNOWN_ANNOTATIONS)
            policy_id = annotations.get("id") or f"{stem}:policy{index}"
            if unknown:
                raise ConfigError(
                    f"{source}: policy {policy_id!r} has unknown annotation(s) {', '.join('@' + u for u in unknown)}",
                    hint="Known annotations: " + ", ".join(f"@{a}" for a in sorted(_KNOWN_ANNOTATIONS)) + ".",
                )
            if policy_id in seen_ids:
                raise ConfigError(
                    f"{source}: policy id {policy_id!r} is also used in {seen_ids[policy_id]}",
                    hint='Give every policy its own @id("...").',
                )
            seen_ids[policy_id] = source
            effect = str(body.get("effect"))
            approval = _approval(policy_id, annotations, source)
            glass = annotations.get("break_glass", "").strip().lower() in ("true", "yes", "1")
            if effect == "forbid" and (approval or glass):
                raise ConfigError(
                    f"{source}: forbid policy {policy_id!r} carries approval or break-glass annotations",
                    hint="Put @approvals/@approvers/@break_glass on permit policies only.",
                )
            if approval and glass:
                raise ConfigError(
                    f"{source}: policy {policy_id!r} is both break-glass and approval-required",
                    hint="Break-glass grants at once; drop one of the two.",
                )
            found: set[str] = set()
            _reads(body.get("conditions") or [], found)
            found |= _scope_reads(body)
            meta.append((policy_id, effect, source, tuple(sorted(found)), approval, glass))
        combined.append(text.rstrip() + "\n")
    text = "\n".join(combined)
    handle = cedarpy.PolicySet.from_str(text)
    # The combined set numbers policies in order across files, which is the order `meta` was built in.
    check = json.loads(cedarpy.policies_to_json_str(text)).get("staticPolicies") or {}
    ordered = sorted(check, key=lambda key: int(key[6:] or 0))
    if len(ordered) != len(meta):  # pragma: no cover - Cedar numbers every static policy
        raise ConfigError("the combined policy set does not match its files", hint=_SYNTAX_HINT)
    policies = {
        cedar_id: LoadedPolicy(pid, cedar_id, effect, source, reads, approval, glass)
        for cedar_id, (pid, effect, source, reads, approval, glass) in zip(ordered, meta, strict=True)
    }
    version = hashlib.sha256(text.encode()).hexdigest()[:16]
    return PolicySet(text, policies, version, tuple(s for s, _ in sources), handle)


def _files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.cedar") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigError(
                f"policy path {str(path)!r} does not exist",
                hint="Point --policy at a .cedar file or a directory of them.",
            )
    return files


def load_policies(*paths: Path) -> PolicySet:
    """Load `.cedar` files (directories are searched recursively). No policy at all is an error: a broker
    without policy would refuse everything, which is never what was meant."""
    files = _files(paths)
    if not files:
        raise ConfigError(
            "no Cedar policy files found in " + ", ".join(str(p) for p in paths),
            hint="Add at least one .cedar file; examples/policies/ has one per scenario.",
        )
    sources: list[tuple[str, str]] = []
    for file in files:
        try:
            sources.append((str(file), file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"policy file {str(file)!r} cannot be read: {exc}", hint="Check its permissions and encoding (UTF-8)."
            ) from None
    return parse_policies(sources)
