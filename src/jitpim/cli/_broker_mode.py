"""`--mode broker` for `exec`, `elevate` and `release`: the job asks the broker instead of Azure, with a
fresh GitHub ID token for the broker's audience on every call; the job's identity needs no Azure role and
no Graph permission. The broker URL comes from --broker-url, JITPIM_BROKER_URL, or the access file's
`broker: {url}`; its audience from --broker-audience, JITPIM_BROKER_AUDIENCE, or the access file's
`broker: {audience}` (default api://jitpim-broker).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from ..errors import AuthError, JitError, ReleaseFailedError, UsageError
from ..model import RunContext, Target
from ._common import CommonOptions, echo_json

__all__ = ["DEFAULT_AUDIENCE", "broker_client", "broker_options", "elevate", "exec_", "release", "resolve_broker"]

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_AUDIENCE = "api://jitpim-broker"


def broker_options(func: F) -> F:
    func = click.option(
        "--broker-audience",
        envvar="JITPIM_BROKER_AUDIENCE",
        help=f"--mode broker: the audience of the job's ID token. [default: {DEFAULT_AUDIENCE}]",
    )(func)
    return click.option(
        "--broker-url", envvar="JITPIM_BROKER_URL", help="--mode broker: the broker's URL. [env: JITPIM_BROKER_URL]"
    )(func)


def resolve_broker(
    url: str | None, audience: str | None, environ: Mapping[str, str], access_file: str | None = None
) -> tuple[str | None, str | None]:
    """The broker's URL and audience: the flag or environment first (click merged those), then the access
    file's `broker:` section (--access-file, JITPIM_ACCESS_FILE, or ./jitpim.yaml), if there is one."""
    if url and audience:
        return url, audience
    from ..lifecycle import find_access_file, load_access_file

    path = find_access_file(access_file, environ)
    if path is None:
        return url, audience
    settings = load_access_file(path).broker
    if settings is None:
        return url, audience
    return url or settings.url, audience or settings.audience


def broker_client(
    common: CommonOptions,
    url: str | None,
    audience: str | None,
    environ: Mapping[str, str],
    access_file: str | None = None,
) -> Any:
    from ..auth.github_oidc import GitHubOidcTokenSource
    from ..broker.client import BrokerClient
    from ..cloud import resolve_cloud

    url, audience = resolve_broker(url, audience, environ, access_file)
    if not url:
        raise UsageError(
            "--mode broker needs the broker's URL",
            hint="Give --broker-url, set JITPIM_BROKER_URL, or add broker: {url: ...} to the access file.",
        )
    request_url = environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    request_token = environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not request_url or not request_token:
        raise AuthError(
            "--mode broker runs in a GitHub Actions job: ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN are not set",
            hint="Give the job `permissions: id-token: write`.",
        )
    cloud = resolve_cloud(common.cloud, emulator_url=common.emulator_url, ca_bundle=common.ca_bundle)
    source = GitHubOidcTokenSource(request_url, request_token, audience=audience or DEFAULT_AUDIENCE, cloud=cloud)
    return BrokerClient(url, source, ca_bundle=cloud.ca_bundle)


def _request_target(target: Target) -> dict[str, Any]:
    data = target.to_json()
    return {k: v for k, v in data.items() if v is not None}


def _progress(common: CommonOptions) -> Callable[[dict[str, Any]], None]:
    def show(request: dict[str, Any]) -> None:
        if not (common.quiet or common.output == "json"):
            click.echo(f"waiting: request {request['request_id']} is {request['state']}", err=True)

    return show


def _acquire(client: Any, common: CommonOptions, targets: list[Target], timeout: float) -> list[dict[str, Any]]:
    run = RunContext.from_environ()
    prefix = run.run_key or f"local-{os.getpid()}"
    granted: list[dict[str, Any]] = []
    try:
        for target in targets:
            request = client.submit(f"{prefix}/{target.slug}", _request_target(target))
            decision = request.get("decision") or {}
            if not (common.quiet or common.output == "json"):
                click.echo(
                    f"broker: {decision.get('outcome')} by policy {decision.get('policy_id')} "
                    f"(request {request['request_id']})",
                    err=True,
                )
            granted.append(client.wait_granted(request, timeout=timeout, on_wait=_progress(common)))
    except BaseException:
        for request in granted:
            client.release(str(request["request_id"]))
        raise
    return granted


def elevate(
    common: CommonOptions,
    targets: list[Target],
    url: str | None,
    audience: str | None,
    timeout: float,
    access_file: str | None = None,
) -> None:
    client = broker_client(common, url, audience, os.environ, access_file)
    granted = _acquire(client, common, targets, timeout)
    if common.output == "json":
        echo_json({"requests": granted})
        return
    for request in granted:
        click.echo(request["request_id"])


def exec_(
    common: CommonOptions,
    targets: list[Target],
    command: list[str],
    url: str | None,
    audience: str | None,
    timeout: float,
    access_file: str | None = None,
) -> None:
    from ..lifecycle import NESTING_VARIABLE, ChildSpec, SignalGuard, run_child

    client = broker_client(common, url, audience, os.environ, access_file)
    granted = _acquire(client, common, targets, timeout)
    # The child acts as the job's own identity (its federated credential), which now holds the granted role;
    # that identity holds nothing else, so there is no other power to withhold from the child.
    env = dict(os.environ, **{NESTING_VARIABLE: ",".join(str(r["request_id"]) for r in granted)})
    failures: list[str] = []
    exit_code = 1
    try:
        with SignalGuard() as guard:
            exit_code = run_child(ChildSpec(command, env), guard)
    finally:
        for request in granted:
            try:
                client.release(str(request["request_id"]))
            except JitError as exc:
                failures.append(f"{request['request_id']}: {exc.message}")
    if failures:
        raise ReleaseFailedError("release through the broker failed for " + "; ".join(failures))
    if common.output == "json":
        echo_json({"requests": [r["request_id"] for r in granted], "exit_code": exit_code})
    sys.exit(exit_code)


def release(common: CommonOptions, ids: tuple[str, ...], all_: bool, url: str | None, audience: str | None) -> None:
    client = broker_client(common, url, audience, os.environ)
    if ids:
        wanted = list(ids)
    else:
        wanted = [r["request_id"] for r in client.mine() if r["state"] in ("granted", "pending_approval", "permitted")]
    reports = [client.release(request_id) for request_id in wanted]
    if common.output == "json":
        echo_json({"releases": [{"request_id": r["request_id"], "state": r["state"]} for r in reports]})
        return
    if not reports:
        click.echo("no open broker requests of this job")
    for report in reports:
        click.echo(f"{report['request_id']}: {report['state']}")
