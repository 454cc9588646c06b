"""Options and plumbing shared by the lifecycle commands (plan, exec, elevate, release, extend, status,
eligible, reap): targets from flags or a profile, the cloud and identity, the ledger, progress output."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..cloud import CLOUD_NAMES
from ..errors import JitError, UsageError
from ..model import Mode, Target, parse_duration
from ._output import LEDGER_HELP

# LifecycleOptions.default_duration as --help shows it (a test pins the two together; importing the lifecycle
# here would slow every command's start).
DEFAULT_DURATION = "15m"

if TYPE_CHECKING:
    from ..api import Runtime, Settings
    from ..auth import Identity
    from ..lifecycle import LifecycleOptions, Plan, Step

F = TypeVar("F", bound=Callable[..., Any])

__all__ = [
    "CommonOptions",
    "TextProgress",
    "common_options",
    "echo_json",
    "lifecycle_options",
    "lifecycle_settings",
    "open_runtime",
    "settings_for",
    "target_options",
    "targets_from",
    "with_common",
]


def _compose(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


target_options = _compose(
    click.option(
        "--kind",
        type=click.Choice(["entra-role", "pim-group", "azure-role", "rbac"]),
        help="Target kind (one target from flags). See docs/reference/target-kinds-graph.md and target-kinds-arm.md.",
    ),
    click.option("--role", help="Role display name or id (entra-role, azure-role, rbac)."),
    click.option(
        "--scope",
        help="ARM id (azure-role, rbac), directory scope such as / (entra-role), or group name or id (pim-group).",
    ),
    click.option("--access", type=click.Choice(["member", "owner"]), help="pim-group only: membership or ownership."),
    click.option("--tenant", help="Tenant id for this target (partner or multi-tenant operations)."),
    click.option(
        "--duration",
        help=f"How long, e.g. 15m, 1h30m, PT1H. [default: {DEFAULT_DURATION}, or the profile's] "
        "Raised to PIM's 5-minute minimum and clamped to the policy maximum, each with a notice.",
    ),
    click.option("--justification", "-j", help="Why: recorded in Entra/ARM and in jitpim's audit record."),
    click.option("--ticket", help="Change ticket as SYSTEM:NUMBER, e.g. ServiceNow:CHG0042."),
    click.option("--start", help="Start later (ISO-8601 with zone), for maintenance windows."),
    click.option("--profile", "-p", help="Use the targets of this profile in the access file."),
    click.option(
        "--access-file",
        type=click.Path(dir_okay=False),
        help="Access file (YAML). [default: $JITPIM_ACCESS_FILE, ./jitpim.yaml]",
    ),
)

common_options = _compose(
    click.option(
        "--mode",
        type=click.Choice(["direct", "self", "broker"]),
        envvar="JITPIM_MODE",
        default="direct",
        show_default=True,
        help="direct: the caller's identity grants itself a time-bound assignment (CI). "
        "self: a person activates their own eligibility. "
        "broker: the jitpim broker grants after checking the job's OIDC token against policy "
        "(exec, elevate, release; see --broker-url).",
    ),
    click.option(
        "--cloud",
        envvar="JITPIM_CLOUD",
        metavar="[" + "|".join(CLOUD_NAMES) + "]",
        help="Which cloud: " + ", ".join(CLOUD_NAMES) + ". [default: emulator when JITPIM_EMULATOR_URL is "
        "set, else public]",
    ),
    click.option("--emulator-url", envvar="JITPIM_EMULATOR_URL", help="Base URL of a running jitpim emulator."),
    click.option(
        "--ca-bundle",
        envvar="JITPIM_CA_BUNDLE",
        type=click.Path(exists=True, dir_okay=False),
        help="CA bundle to trust (the emulator's CA, or a TLS-inspecting proxy's).",
    ),
    click.option(
        "--ledger",
        envvar="JITPIM_LEDGER",
        type=click.Path(dir_okay=False),
        help=LEDGER_HELP,
    ),
    click.option(
        "--output",
        "-o",
        type=click.Choice(["text", "json"]),
        default="text",
        envvar="JITPIM_OUTPUT",
        show_default=True,
        help="Human-readable text, or one JSON document on stdout.",
    ),
    click.option("--quiet", "-q", is_flag=True, help="No progress lines on stderr."),
)

lifecycle_options = _compose(
    click.option("--strict", is_flag=True, help="Refuse a duration over the policy maximum instead of clamping it."),
    click.option("--approval-timeout", default="30m", show_default=True, help="How long to wait for an approver."),
    click.option(
        "--effective-timeout",
        default="10m",
        show_default=True,
        help="How long to wait until the access really works (RBAC can take ~10 minutes).",
    ),
    click.option(
        "--early-release",
        type=click.Choice(["wait", "expire"]),
        default="wait",
        show_default=True,
        help="PIM refuses removal in the first 5 minutes: wait for the window, or leave the grant to "
        "expire at the source (the record says which).",
    ),
    click.option("--no-reuse", is_flag=True, help="Always grant anew, even when an equivalent grant exists."),
    click.option(
        "--release-deadline",
        default="10m",
        show_default=True,
        envvar="JITPIM_RELEASE_DEADLINE",
        help="How long a throttled or unanswered release is asked again (honouring Retry-After) before it "
        "counts as failed (exit 85).",
    ),
)


@dataclass
class CommonOptions:
    mode: Mode
    cloud: str | None
    emulator_url: str | None
    ca_bundle: str | None
    ledger: str | None
    output: str
    quiet: bool

    @classmethod
    def from_kwargs(cls, kwargs: dict[str, Any]) -> CommonOptions:
        return cls(
            mode=Mode(kwargs.pop("mode")),
            cloud=kwargs.pop("cloud"),
            emulator_url=kwargs.pop("emulator_url"),
            ca_bundle=kwargs.pop("ca_bundle"),
            ledger=kwargs.pop("ledger"),
            output=kwargs.pop("output"),
            quiet=kwargs.pop("quiet"),
        )


def duration_option(value: str, name: str, *, zero_ok: bool = False) -> timedelta:
    if zero_ok and value.strip().lower() in ("0", "0s", "now"):
        return timedelta(0)
    try:
        return parse_duration(value)
    except JitError as exc:
        # Keep the parser's own hint (the units it reads), not the generic "see --help".
        raise UsageError(f"{name}: {exc}", hint=exc.hint) from None
    except Exception as exc:
        raise UsageError(f"{name}: {exc}") from None


def targets_from(kwargs: dict[str, Any]) -> tuple[list[Target], str | None]:
    """The targets the flags or the profile name, and the profile's mode if it sets one."""
    from ..lifecycle import find_access_file, load_access_file

    flags = {
        k: kwargs.pop(k)
        for k in ("kind", "role", "scope", "access", "tenant", "duration", "justification", "ticket", "start")
    }
    profile = kwargs.pop("profile")
    access_file = kwargs.pop("access_file")
    if profile:
        if flags["kind"] or flags["role"] or flags["scope"]:
            raise UsageError("give either --profile or --kind/--role/--scope, not both")
        path = find_access_file(access_file, os.environ)
        if path is None:
            raise UsageError(
                f"--profile {profile} needs an access file",
                hint="Pass --access-file PATH, set JITPIM_ACCESS_FILE, or create ./jitpim.yaml.",
            )
        chosen = load_access_file(path).profile(profile)
        overrides = {
            k: v for k, v in flags.items() if v is not None and k in ("duration", "justification", "ticket", "start")
        }
        targets = [_override(t, overrides) for t in chosen.targets]
        return targets, chosen.mode
    if not flags["kind"]:
        raise UsageError(
            "no target given", hint="Pass --kind KIND --role ROLE --scope SCOPE, or --profile NAME from an access file."
        )
    return [Target.from_flags(**flags)], None


def _override(target: Target, overrides: dict[str, Any]) -> Target:
    if not overrides:
        return target
    data = target.to_json()
    data.update({k: v for k, v in overrides.items()})
    return Target.from_flags(
        kind=data["kind"],
        role=data.get("role"),
        scope=data.get("scope"),
        access=data.get("access"),
        tenant=data.get("tenant"),
        duration=data.get("duration"),
        justification=data.get("justification"),
        ticket=data.get("ticket"),
        start=data.get("start"),
    )


class TextProgress:
    """Progress on stderr, one line per step, with the time since the command started."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.started: datetime | None = None

    def step(self, step: Step) -> None:
        if self.quiet:
            return
        if self.started is None:
            self.started = step.at
        elapsed = (step.at - self.started).total_seconds()
        click.echo(click.style(f"[{elapsed:6.1f}s] ", dim=True) + f"{step.name}: {step.message}", err=True)


def settings_for(
    options: CommonOptions, mode: Mode | None = None, lifecycle: LifecycleOptions | None = None
) -> Settings:
    """The api's settings from the common flags (whose defaults already came from the environment)."""
    from ..api import Settings
    from ..lifecycle import LifecycleOptions

    return Settings(
        mode=mode or options.mode,
        cloud=options.cloud,
        emulator_url=options.emulator_url,
        ca_bundle=options.ca_bundle,
        ledger=options.ledger,
        environ=os.environ,
        lifecycle=lifecycle or LifecycleOptions(),
    )


@contextmanager
def open_runtime(
    options: CommonOptions, mode: Mode | None = None, lifecycle: LifecycleOptions | None = None
) -> Iterator[Runtime]:
    """Cloud, identity session, ledger, clock and progress for one command; closes them after. With
    --output json, stdout is one JSON document: workflow commands (::add-mask::) go to stderr, which the runner
    reads for commands as well."""
    from ..api import Runtime
    from ..ci.github import GitHubActions

    github = GitHubActions(stdout=sys.stderr) if options.output == "json" else GitHubActions()
    live = TextProgress(options.quiet or options.output == "json")
    with Runtime.open(settings_for(options, mode, lifecycle), live=live, github=github) as runtime:
        yield runtime


def with_common(func: F) -> F:
    """Collects the common options into a `CommonOptions` passed as `common=`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs["common"] = CommonOptions.from_kwargs(kwargs)
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def echo_json(data: object) -> None:
    import json

    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def lifecycle_settings(mode: Mode, kwargs: dict[str, Any]) -> LifecycleOptions:
    """LifecycleOptions from the lifecycle flags (popped from kwargs)."""
    from ..lifecycle import LifecycleOptions

    return LifecycleOptions(
        mode=mode,
        strict=kwargs.pop("strict"),
        approval_timeout=duration_option(kwargs.pop("approval_timeout"), "--approval-timeout"),
        effective_timeout=duration_option(kwargs.pop("effective_timeout"), "--effective-timeout"),
        early_release=kwargs.pop("early_release"),
        release_deadline=duration_option(kwargs.pop("release_deadline"), "--release-deadline"),
        reuse_existing=not kwargs.pop("no_reuse"),
    )


def describe_plan(plan: Plan, identity: Identity, mode: Mode) -> str:
    from ..model import format_duration
    from ..model.times import format_window

    lines = [f"Plan ({mode} mode, as {identity.describe()}):"]
    for item in plan.items:
        d = item.decision
        verdict = click.style("allowed", fg="green") if d.allowed else click.style("refused", fg="red", bold=True)
        lines.append(f"  {item.resolved.describe()}: {verdict}")
        lines.append(f"    role id {item.resolved.role_id}, scope {item.resolved.scope}")
        lines.append(
            f"    duration {format_duration(d.duration)} (asked {format_duration(d.requested_duration)}), "
            + format_window(d.start, d.end)
        )
        policy = item.policy
        limit = policy.limit_for(mode)
        lines.append(
            "    policy: max "
            + (format_duration(limit) if limit else "none at the source")
            + (", justification" if policy.require_justification else "")
            + (", ticket" if policy.require_ticket else "")
            + (", MFA" if policy.require_mfa else "")
            + (", approval" if policy.require_approval else "")
            + (f" ({policy.source})" if policy.source else "")
        )
        if item.existing is not None:
            lines.append("    an equivalent grant is already active: it will be reused, not granted again")
        for reason in d.reasons:
            mark = click.style("refused", fg="red") if reason.refuses else "notice"
            rule = f" [{reason.rule}]" if reason.rule else ""
            lines.append(f"    {mark}: {reason.message}{rule}")
    return "\n".join(lines)
