"""Unreachable endpoints: a refused loopback connection fails at once with a hint naming the likely cause
(a stopped emulator); failures that may pass are retried, and each retry is shown as progress."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline import PipelineContext, PipelineRequest
from azure.core.pipeline.policies import HTTPPolicy
from azure.core.pipeline.transport import HttpRequest as TransportRequest

from jitpim.auth import GitHubOidcTokenSource
from jitpim.cloud import PUBLIC
from jitpim.emulator import Emulator
from jitpim.errors import AuthError, ProviderError
from jitpim.http import ApiClient, RetrySettings, connection_refused, is_loopback_url, unreachable_hint
from jitpim.http._pipeline import JitRetryPolicy
from jitpim.testing import github_job_environ


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("https://127.0.0.1:8443/x", True),
        ("https://127.5.6.7/x", True),
        ("https://[::1]:9/x", True),
        ("https://localhost:1/x", True),
        ("https://management.azure.com/x", False),
        ("https://10.0.0.1/x", False),
        ("https://[::1/x", False),
    ],
)
def test_loopback_urls_are_recognised(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_a_refused_connection_is_found_however_deeply_it_is_wrapped() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as inner:
            raise RuntimeError("Max retries exceeded") from inner
    except RuntimeError as wrapped:
        outer = ServiceRequestError("failed", error=wrapped)
    assert connection_refused(outer)
    assert not connection_refused(ServiceRequestError("Name or service not known"))


def test_the_hint_names_the_emulator_for_loopback_and_the_network_otherwise() -> None:
    assert "jitpim emulator serve" in unreachable_hint("https://127.0.0.1:5/x")
    assert "emulator" not in unreachable_hint("https://management.azure.com/x")


def test_the_github_oidc_url_with_nothing_listening_fails_fast() -> None:
    """The issue's case: ACTIONS_ID_TOKEN_REQUEST_URL on a port with nothing listening retried silently for
    about 24 s. Now: one attempt, an AuthError whose hint asks whether the emulator is running."""
    source = GitHubOidcTokenSource(f"https://127.0.0.1:{_free_port()}/github/idtoken?x=1", "request-token")
    started = time.monotonic()
    with pytest.raises(AuthError) as failure:
        source()
    assert time.monotonic() - started < 5
    assert "connection refused" in failure.value.message
    assert "Is the emulator running?" in failure.value.hint
    assert "request-token" not in str(failure.value) + failure.value.hint


class _Refusing(HTTPPolicy[Any, Any]):
    """The next policy in the pipeline: every attempt fails as a refused connection would."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts = 0

    def send(self, request: PipelineRequest[Any]) -> Any:
        self.attempts += 1
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as exc:
            raise ServiceRequestError("Failed to establish a new connection", error=exc) from exc


def _send(policy: JitRetryPolicy, url: str) -> None:
    policy.send(PipelineRequest(TransportRequest("GET", url), PipelineContext(None)))


def test_a_refused_remote_connection_is_retried_with_progress(caplog: pytest.LogCaptureFixture) -> None:
    """A remote host refusing may be restarting: retried, and each retry is one progress line (WARNING, so an
    unconfigured CLI prints it on stderr)."""
    sleeps: list[float] = []
    policy = JitRetryPolicy(RetrySettings(max_retries=3, jitter=False), sleep=sleeps.append)
    refusing = _Refusing()
    policy.next = refusing
    with caplog.at_level(logging.WARNING, logger="jitpim.http.retry"), pytest.raises(ServiceRequestError):
        _send(policy, "https://management.azure.com/subscriptions")
    assert refusing.attempts == 4 and sleeps == [1.0, 2.0, 4.0]
    lines = [r.getMessage() for r in caplog.records if r.name == "jitpim.http.retry"]
    assert lines == [
        f"jitpim: GET management.azure.com/subscriptions: connection refused; retry {n} of 3 in {d:.1f} s"
        for n, d in ((1, 1.0), (2, 2.0), (3, 4.0))
    ]


def test_a_refused_loopback_connection_is_not_retried() -> None:
    sleeps: list[float] = []
    policy = JitRetryPolicy(RetrySettings(max_retries=3), sleep=sleeps.append)
    refusing = _Refusing()
    policy.next = refusing
    with pytest.raises(ServiceRequestError):
        _send(policy, "https://127.0.0.1:4443/x")
    assert refusing.attempts == 1 and sleeps == []


@pytest.fixture(name="closing_server")
def _closing_server() -> Iterator[int]:
    """A loopback port that accepts connections and closes them at once: not refused, so worth retrying."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def test_a_loopback_failure_that_is_not_a_refusal_is_still_retried(closing_server: int) -> None:
    sleeps: list[float] = []
    client = ApiClient(f"https://127.0.0.1:{closing_server}", None, None, cloud=PUBLIC, sleep=sleeps.append)
    with client, pytest.raises(ProviderError):
        client.get("/x")
    assert len(sleeps) == RetrySettings().max_retries


def test_exec_against_a_stopped_emulator_fails_fast_with_the_hint(tmp_path: Path) -> None:
    """The CLI end to end: an environment exported from an emulator that has since stopped. Both the GitHub
    OIDC path and the client-secret path fail in seconds (was 26 s and 5.5 s) with the emulator hint."""
    emulator = Emulator.start()
    try:
        env = github_job_environ(emulator.info, workdir=tmp_path / "job")
        shutil.copy(env["JITPIM_CA_BUNDLE"], tmp_path / "ca.pem")
        env["JITPIM_CA_BUNDLE"] = str(tmp_path / "ca.pem")
        scope = emulator.info["vaults"]["kv-payments"]["resource_id"]
        secret = emulator.info["principals"]["ci-app"]["client_secret"]
    finally:
        emulator.stop()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ACTIONS_", "AZURE_", "JITPIM_", "GITHUB_"))}
    command = [sys.executable, "-m", "jitpim", "exec", "--kind", "rbac", "--role", "Key Vault Secrets Officer"]
    command += ["--scope", scope, "-j", "stopped emulator", "--ledger", str(tmp_path / "l.sqlite3"), "--", "true"]
    oidc_env = {**base, **env}
    secret_env = {k: v for k, v in oidc_env.items() if not k.startswith("ACTIONS_ID_TOKEN")}
    secret_env["AZURE_CLIENT_SECRET"] = secret
    for environment in (oidc_env, secret_env):
        started = time.monotonic()
        result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=60, check=False)
        assert time.monotonic() - started < 10, result.stderr
        assert result.returncode == 72, result.stderr
        assert "Is the emulator running?" in result.stderr and "Traceback" not in result.stderr


def test_a_credential_whose_authority_refuses_is_an_auth_error_with_the_hint() -> None:
    """ClientAssertionCredential lets the transport error through unwrapped; it still becomes AuthError 72
    with the stopped-emulator hint, at once (no connection retries against loopback)."""
    from azure.identity import ClientAssertionCredential

    from jitpim.auth import GuardedCredential

    authority = f"https://127.0.0.1:{_free_port()}"
    inner = ClientAssertionCredential(
        "00000000-0000-0000-0000-000000000001",
        "00000000-0000-0000-0000-000000000002",
        lambda: "assertion",
        authority=authority,
        retry_connect=0,
    )
    started = time.monotonic()
    with GuardedCredential(inner, "test", authority=authority) as credential, pytest.raises(AuthError) as failure:
        credential.get_token("https://management.azure.com/.default")
    assert time.monotonic() - started < 5
    assert "connection refused" in failure.value.message and "emulator" in failure.value.hint
    assert failure.value.__cause__ is None


def test_retry_progress_reaches_stderr_and_quiet_hides_it(tmp_path: Path) -> None:
    """In a real process (no logging configured), each retry is one stderr line; `-q` hides them. The host
    does not resolve: a failure that is not a refusal, so it is retried."""
    script = (
        "import sys\n"
        "from jitpim.cli import main\n"
        "from jitpim.http import ApiClient, RetrySettings\n"
        "from jitpim.cloud import PUBLIC\n"
        "import jitpim.cli as c\n"
        "import click\n"
        "@c.cli.command('probe-retries')\n"
        "@click.option('-q', '--quiet', is_flag=True)\n"
        "def probe(quiet):\n"
        "    client = ApiClient('https://localhost.invalid:1', None, None, cloud=PUBLIC,\n"
        "                       retry=RetrySettings(max_retries=2, backoff_base=0.01), sleep=lambda s: None)\n"
        "    try:\n"
        "        client.get('/x')\n"
        "    except Exception as exc:\n"
        "        print(type(exc).__name__)\n"
        "c.COMMANDS['probe-retries'] = ('__main__', 'probe', '')\n"
        "main(sys.argv[1:])\n"
    )
    for args, shown in ((["probe-retries"], True), (["probe-retries", "-q"], False)):
        done = subprocess.run(
            [sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=60, check=False
        )
        lines = [line for line in done.stderr.splitlines() if line.startswith("jitpim: GET localhost.invalid:1/x")]
        assert (len(lines) == 2) is shown, done.stderr
        assert "ProviderError" in done.stdout
