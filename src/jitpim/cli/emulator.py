"""`jitpim emulator serve|env`: run the embedded emulator, and point a shell at it."""

from __future__ import annotations

import json
import math
import os
import shlex
import signal
import ssl
import sys
from pathlib import Path
from typing import Any

import click

from ..errors import ConfigError
from ._output import handle_errors

__all__ = ["emulator"]

AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "jitpim" / "emulator"


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` (mode 0600) atomically: a reader never sees half a file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _system_roots() -> str:
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_text()
    try:
        import certifi

        return Path(certifi.where()).read_text()
    except (ImportError, OSError):
        return ""


def write_ca_bundle(ca_cert: Path, target: Path) -> Path:
    """System roots plus the emulator's CA: REQUESTS_CA_BUNDLE and SSL_CERT_FILE replace the default store, so
    a bundle with only the emulator CA would break every other HTTPS call in the user's shell."""
    _write_private(target, _system_roots().rstrip("\n") + "\n" + ca_cert.read_text())
    return target


@click.group()
def emulator() -> None:
    """The embedded emulator of Entra ID, GitHub Actions OIDC, Microsoft Graph, ARM and Key Vault.

    It keeps state, enforces authorization and PIM policy, and answers with the real status codes and
    error bodies, over HTTPS on loopback with a CA it generates at start.

    \b
    Typical use:
      jitpim emulator serve &                  # prints one JSON line when ready
      eval "$(jitpim emulator env --as ci-app)"
      jitpim plan --kind rbac --role "Key Vault Secrets Officer" --scope /subscriptions/...
    """


@emulator.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="0 picks a free port.")
@click.option(
    "--scenario",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Scenario file (YAML/JSON) to seed; default: the built-in scenario (docs/reference/emulator-scenario.md).",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="JITPIM_EMULATOR_STATE",
    help="Where the CA and info.json are written. [default: $XDG_STATE_HOME/jitpim/emulator]",
)
@handle_errors
def serve(host: str, port: int, scenario: Path | None, state_dir: Path | None) -> None:
    """Serve the emulator in the foreground until interrupted.

    When ready it prints ONE JSON line on stdout with ca_cert, tenant_id, authority, graph, arm,
    subscription_id, vaults, github_oidc, control and principals, without any credential, and `info_file`:
    STATE_DIR/info.json (mode 0600), the same plus the principals' client secrets and passwords and the
    OIDC request token, which `jitpim emulator env` reads. A reset or a loaded scenario rewrites it.
    One emulator per state folder: a second `serve` on the same folder fails.
    """
    from ..emulator.core.scenario import ScenarioError
    from ..emulator.runtime import without_secrets
    from ..emulator.server import Emulator
    from ..emulator.state_lock import StateDirInUseError

    state = state_dir or default_state_dir()
    try:
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise ConfigError(
            f"cannot use {state} as the emulator's state folder: {exc.strerror or type(exc).__name__}",
            hint="Give --state-dir (or JITPIM_EMULATOR_STATE) a folder this user may create and write.",
        ) from None
    try:
        emu = Emulator(host=host, port=port, scenario=scenario, state_dir=state)
    except StateDirInUseError as exc:
        raise ConfigError(
            str(exc), hint="`jitpim emulator env` and the other commands talk to the emulator already running."
        ) from None
    except ScenarioError as exc:
        raise ConfigError(str(exc), hint="See docs/reference/emulator-scenario.md for the format.") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot start the emulator: {exc}") from None
    info_path = state / "info.json"

    def publish(info: dict[str, Any]) -> dict[str, Any]:
        bundle = write_ca_bundle(Path(info["ca_cert"]), state / "ca-bundle.pem")
        info = {**info, "ca_bundle": str(bundle), "state_dir": str(state), "info_file": str(info_path)}
        _write_private(info_path, json.dumps(info, indent=2))
        return info

    def ready(info: dict[str, Any]) -> None:
        # Credentials never reach the terminal (or a CI log that captures it): they are in the 0600 file.
        sys.stdout.write(json.dumps(without_secrets(publish(info))) + "\n")
        sys.stdout.flush()

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    # A reset or a posted scenario generates new client secrets: `emulator env` must export the live ones.
    emu.on_reload(publish)
    # SIGTERM (and SIGHUP) stop it as cleanly as Ctrl-C: listeners closed, info.json removed.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    emu.serve_forever(on_ready=ready, on_stop=lambda: info_path.unlink(missing_ok=True))


def load_info(state_dir: Path | None, info_file: Path | None) -> dict[str, Any]:
    path = info_file or (state_dir or default_state_dir()) / "info.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"no running emulator found ({path} does not exist)",
            hint="Start one with `jitpim emulator serve &`, or pass --info with its ready line saved to a file.",
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read emulator info {path}: {exc}") from None
    return data


def github_job_exports(info: dict[str, Any], principal: str, workdir: Path) -> dict[str, str]:
    """The run context of a job of the emulator's sample repository: the `GITHUB_*` variables mirror the
    claims of the emulated issuer's ID token (so the run context and the token agree), and the runner's
    file commands ($GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY) are files in `workdir`. Without them jitpim would
    see GITHUB_ACTIONS=true but no repository, run or output file, as no real runner looks."""
    from ._demo_job import job_environment

    claims = _control(info, "github/claims", method="GET") or {}
    workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    job = job_environment(info, claims, workdir, path="", client=principal)
    return {k: v for k, v in job.items() if k.startswith("GITHUB_") or k in ("CI", "JITPIM_ENVIRONMENT")}


# The run-context variables `--github` exports (unset again when acting without it).
_GITHUB_JOB_VARIABLES = frozenset(
    {
        "GITHUB_REPOSITORY",
        "GITHUB_REPOSITORY_OWNER",
        "GITHUB_REF",
        "GITHUB_SHA",
        "GITHUB_WORKFLOW",
        "GITHUB_JOB",
        "GITHUB_RUN_ID",
        "GITHUB_RUN_ATTEMPT",
        "GITHUB_RUN_NUMBER",
        "GITHUB_ACTOR",
        "GITHUB_EVENT_NAME",
        "GITHUB_SERVER_URL",
        "GITHUB_OUTPUT",
        "GITHUB_STEP_SUMMARY",
        "JITPIM_ENVIRONMENT",
    }
)


def tenant_view(info: dict[str, Any], tenant: str) -> dict[str, Any]:
    """The emulator's info as seen from one of its further tenants: that tenant's id, subscription, vaults and
    principals (the endpoints, CA and GitHub issuer are shared)."""
    tenants: dict[str, Any] = info.get("tenants") or {}
    wanted = tenant.lower()
    if wanted in (str(info.get("tenant_id", "")).lower(),):
        return info
    for tid, entry in tenants.items():
        if wanted in (tid.lower(), str(entry.get("domain", "")).lower()):
            return {
                **info,
                "tenant_id": tid,
                "subscription_id": entry["subscription_id"],
                "vaults": entry.get("vaults") or {},
                "principals": entry.get("principals") or {},
            }
    known = [info.get("tenant_id", "")] + [f"{tid} ({e.get('domain')})" for tid, e in tenants.items()]
    raise ConfigError(f"the emulator has no tenant {tenant!r}", hint="Known tenants: " + ", ".join(known))


def env_lines(
    info: dict[str, Any], principal: str, *, github: bool, github_job: dict[str, str] | None = None
) -> list[str]:
    principals = info.get("principals") or {}
    entry = principals.get(principal)
    if entry is None:
        raise ConfigError(
            f"the emulator has no principal {principal!r}",
            hint="Known principals: " + ", ".join(sorted(principals)),
        )
    if entry.get("type") == "group":
        raise ConfigError(f"{principal!r} is a group; choose an application or a user")
    bundle = info.get("ca_bundle") or info["ca_cert"]
    exports: dict[str, str] = {
        "AZURE_AUTHORITY_HOST": info["authority"],
        "AZURE_TENANT_ID": info["tenant_id"],
        "AZURE_SUBSCRIPTION_ID": info["subscription_id"],
        "REQUESTS_CA_BUNDLE": bundle,
        "SSL_CERT_FILE": bundle,
        "JITPIM_CLOUD": "emulator",
        "JITPIM_EMULATOR_URL": info["authority"],
        "JITPIM_CA_BUNDLE": info["ca_cert"],
    }
    unset = ["AZURE_FEDERATED_TOKEN_FILE", "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_CLIENT_SECRET", "JITPIM_MODE"]
    if entry["type"] == "application":
        exports["AZURE_CLIENT_ID"] = entry["client_id"]
        if github:
            oidc = info["github_oidc"]
            exports.update(github_job or {"GITHUB_ACTIONS": "true"})
            exports.update(
                {
                    "ACTIONS_ID_TOKEN_REQUEST_URL": oidc["request_url"],
                    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": oidc["request_token"],
                }
            )
        else:
            exports["AZURE_CLIENT_SECRET"] = entry["client_secret"]
            unset.remove("AZURE_CLIENT_SECRET")
    else:
        exports.update(
            {
                "AZURE_CLIENT_ID": AZURE_CLI_CLIENT_ID,
                "AZURE_USERNAME": entry["user_principal_name"],
                "AZURE_PASSWORD": entry["password"],
                # A person activates their own eligibilities: without it every command would look for an
                # application credential (direct mode) and fail.
                "JITPIM_MODE": "self",
            }
        )
        unset = [u for u in unset if u not in exports]
    if not github:
        # A shell that earlier evaluated `--github` must stop looking like a CI job.
        unset += [
            "GITHUB_ACTIONS",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            *sorted(_GITHUB_JOB_VARIABLES),
        ]
    lines = [f"# jitpim emulator: acting as {principal} ({entry['type']}, object id {entry['object_id']})"]
    lines += [f"unset {name}" for name in unset]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in exports.items()]
    lines.append('# Run: eval "$(jitpim emulator env --as NAME)"')
    return lines


@emulator.command()
@click.option("--as", "principal", required=True, help="Scenario principal to act as (e.g. ci-app, admin-app, alice).")
@click.option(
    "--github",
    is_flag=True,
    help="Act as a GitHub Actions job of the sample repository: its GITHUB_* run context, output files, "
    "and the OIDC request URL/token instead of a client secret.",
)
@click.option(
    "--workload-identity",
    is_flag=True,
    help="Apps: export AZURE_FEDERATED_TOKEN_FILE (a GitHub ID token of the sample job valid 24 h) instead of a "
    "client secret, so unmodified `DefaultAzureCredential()` code works (no instance discovery on this path).",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="JITPIM_EMULATOR_STATE",
    help="State directory of the running emulator. [default: $XDG_STATE_HOME/jitpim/emulator]",
)
@click.option(
    "--info",
    "info_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the emulator's ready line from this file instead of STATE_DIR/info.json.",
)
@click.option(
    "--tenant",
    help="A further tenant of the scenario (its id or domain, e.g. a partner's customer) whose principal to act "
    "as. [default: the primary tenant]",
)
@handle_errors
def env(
    principal: str,
    github: bool,
    workload_identity: bool,
    state_dir: Path | None,
    info_file: Path | None,
    tenant: str | None,
) -> None:
    """Print shell `export` lines that make jitpim and ordinary Azure SDK code talk to a running emulator
    as PRINCIPAL (in the spirit of `minikube docker-env`).

    \b
    Exports: AZURE_AUTHORITY_HOST, AZURE_TENANT_ID, AZURE_SUBSCRIPTION_ID, AZURE_CLIENT_ID and
    AZURE_CLIENT_SECRET (apps) or AZURE_USERNAME/AZURE_PASSWORD and JITPIM_MODE=self (users),
    REQUESTS_CA_BUNDLE and SSL_CERT_FILE (system roots + the emulator CA), JITPIM_CLOUD=emulator,
    JITPIM_EMULATOR_URL and JITPIM_CA_BUNDLE. With --github (apps): the job's GITHUB_* variables (from the
    emulated ID token's claims; GITHUB_OUTPUT and GITHUB_STEP_SUMMARY are files in STATE_DIR/github-job)
    and ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN instead of the secret.

    Note: azure-identity's ClientSecretCredential needs disable_instance_discovery=True to talk to a
    non-Microsoft authority; jitpim does that for you. With --github, ordinary code can use the OIDC path.

    \b
    Examples:
      eval "$(jitpim emulator env --as ci-app)"            # the CI app, with its client secret
      eval "$(jitpim emulator env --as ci-app --github)"   # a GitHub Actions job (OIDC, no secret)
      eval "$(jitpim emulator env --as alice)"             # a person (self mode)
      eval "$(jitpim emulator env --as ci-app --workload-identity)"   # DefaultAzureCredential() as is
      eval "$(jitpim emulator env --as ops-app --tenant fabrikam.onmicrosoft.com)"   # a customer tenant's app
    """
    info = load_info(state_dir, info_file)
    if tenant:
        info = tenant_view(info, tenant)
    if workload_identity:
        entry = (info.get("principals") or {}).get(principal, {})
        if entry.get("type") != "application":
            raise ConfigError("--workload-identity is for applications", hint="People sign in with a password.")
        state = Path(info.get("state_dir") or state_dir or default_state_dir())
        token = _control(info, "github/token", {"audience": "api://AzureADTokenExchange", "lifetime_seconds": 86400})
        path = state / f"federated-token-{principal}"
        _write_private(path, token["value"])
        lines = env_lines(info, principal, github=False)
        lines = [line for line in lines if not line.startswith("export AZURE_CLIENT_SECRET=")]
        lines.insert(-1, "unset AZURE_CLIENT_SECRET")
        lines.insert(-1, f"export AZURE_FEDERATED_TOKEN_FILE={shlex.quote(str(path))}")
        click.echo("\n".join(lines))
        return
    job: dict[str, str] | None = None
    if github and (info.get("principals") or {}).get(principal, {}).get("type") == "application":
        state = Path(info.get("state_dir") or state_dir or default_state_dir())
        job = github_job_exports(info, principal, state / "github-job")
    click.echo("\n".join(env_lines(info, principal, github=github, github_job=job)))


def _control(info: dict[str, Any], path: str, body: Any = None, method: str = "POST") -> Any:
    """Call the running emulator's control plane over HTTPS, trusting its CA explicitly."""
    import ssl
    import urllib.error
    import urllib.request

    context = ssl.create_default_context(cafile=info["ca_cert"])
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - the URL is the emulator's own https control plane
        f"{info['control']}/{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:  # noqa: S310
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        raise ConfigError(f"the emulator refused {method} {path}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise ConfigError(
            f"cannot reach the emulator at {info['control']} ({exc})",
            hint="Is `jitpim emulator serve` still running? Its info.json may be stale.",
        ) from None
    return json.loads(raw) if raw else None


_state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="JITPIM_EMULATOR_STATE",
    help="State directory of the running emulator. [default: $XDG_STATE_HOME/jitpim/emulator]",
)


_MAX_ADVANCE = 10 * 365 * 86400


class _Seconds(click.ParamType[float, Any]):
    """A finite, non-negative number of seconds: `nan` and `inf` parse as floats but move no clock."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds (e.g. 301)", param, ctx)
        if not math.isfinite(seconds) or not 0 <= seconds <= _MAX_ADVANCE:
            self.fail(
                f"{value!r} is not a finite number of seconds from 0 to {_MAX_ADVANCE} (ten years); "
                "the clock only moves forward, e.g. `jitpim emulator advance 301`",
                param,
                ctx,
            )
        return seconds


@emulator.command()
@click.argument("seconds", type=_Seconds())
@_state_dir_option
@handle_errors
def advance(seconds: float, state_dir: Path | None) -> None:
    """Move the running emulator's clock forward by SECONDS: PIM expiries, scheduled starts, approval
    time-outs and RBAC propagation follow it (token lifetimes follow the wall clock).

    \b
    Example: jitpim emulator advance 301    # past PIM's five-minute window
    """
    result = _control(load_info(state_dir, None), "clock/advance", {"seconds": seconds})
    click.echo(f"emulated time is now {result['now']} ({result['offset_seconds']:.0f}s ahead of the wall clock)")


@emulator.command()
@_state_dir_option
@handle_errors
def reset(state_dir: Path | None) -> None:
    """Put the running emulator back to its scenario: state, clock and fault rules."""
    _control(load_info(state_dir, None), "reset")
    click.echo("emulator reset to its scenario")


@emulator.command()
@_state_dir_option
@handle_errors
def state(state_dir: Path | None) -> None:
    """Print the running emulator's state as JSON: role assignments, group memberships, PIM requests and
    schedules, secret version ids (never values), fault rules."""
    click.echo(json.dumps(_control(load_info(state_dir, None), "state", method="GET"), indent=2))


@emulator.command()
@click.argument("kind", type=click.Choice(["throttle", "error", "latency", "lost_response", "clear"]))
@click.option("--path", default="", help="Regular expression searched in the request path.")
@click.option("--method", help="Only this HTTP method.")
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, 10_000), help="How many times.")
@click.option("--status", type=int, help="Status to answer (error, lost_response).")
@click.option("--retry-after", default=1, show_default=True, type=int, help="Retry-After seconds (throttle).")
@click.option("--latency-ms", default=0, show_default=True, type=click.IntRange(0, 60_000), help="Delay (latency).")
@_state_dir_option
@handle_errors
def fault(
    kind: str,
    path: str,
    method: str | None,
    count: int,
    status: int | None,
    retry_after: int,
    latency_ms: int,
    state_dir: Path | None,
) -> None:
    """Inject a fault into the running emulator (or `clear` them all): answer 429 with Retry-After, a 5xx,
    add latency, or commit a change and lose its response.

    \b
    Examples:
      jitpim emulator fault throttle --path roleAssignments/ --method PUT --count 3 --retry-after 2
      jitpim emulator fault lost_response --path roleAssignmentScheduleRequests --method POST
      jitpim emulator fault clear
    """
    info = load_info(state_dir, None)
    if kind == "clear":
        _control(info, "faults", method="DELETE")
        click.echo("fault rules cleared")
        return
    rule: dict[str, Any] = {
        "kind": kind,
        "path": path,
        "count": count,
        "retry_after": retry_after,
        "latency_ms": latency_ms,
    }
    if method:
        rule["method"] = method
    if status is not None:
        rule["status"] = status
    added = _control(info, "faults", rule)
    click.echo(json.dumps(added[0]))
