"""`jitpim demo --broker`: a CI job that holds no standing right gets its access from the broker.

    the job's write is DENIED -> it asks the broker with its GitHub ID token -> policy auto-approves the job
    on main (policy main-auto) -> the broker grants with its own identity -> the job writes the secret ->
    release -> DENIED again; the same job from a pull request is held for approval (pr-needs-approval) ->
    an approver approves -> granted -> released; the record shows the verified claims and the deciding policy.

Everything runs in-process against the embedded emulator; the CI application's standing rights are removed
from the scenario first, so only the broker can have granted what the job uses.
"""

from __future__ import annotations

import copy
import os
import time
from pathlib import Path
from typing import Any

from ..errors import JitError
from ..lifecycle import Step
from ._demo_job import DemoClock, DemoRecorder, job_environment

__all__ = ["BROKER_POLICIES", "run_broker_demo"]

BROKER_POLICIES = """
@id("main-auto")
permit(principal, action == Jitpim::Action::"request", resource)
when {
  principal.repository == "contoso/payments" && principal.ref == "refs/heads/main" &&
  resource.role == "Key Vault Secrets Officer" && context.duration_minutes <= 60
};

@id("pr-needs-approval")
@approvals("1")
@approvers("payments-leads")
@approval_timeout("30m")
permit(principal, action == Jitpim::Action::"request", resource)
when { principal.repository == "contoso/payments" && principal.pull_request };

@id("no-global-admin")
forbid(principal, action, resource) when { resource.role == "Global Administrator" };
"""
_AUDIENCE = "api://jitpim-broker"


def _scenario_without_standing_rights(scenario: dict[str, Any]) -> dict[str, Any]:
    """The CI application keeps its federated credentials and loses every role and API permission."""
    data = copy.deepcopy(scenario)
    data["rbac"] = [entry for entry in data.get("rbac") or [] if entry.get("principal") != "ci-app"]
    data["directory_roles"] = [r for r in data.get("directory_roles") or [] if r.get("principal") != "ci-app"]
    ci = (data.get("principals") or {}).get("ci-app")
    if isinstance(ci, dict):
        ci["graph_app_roles"] = []
        # Pull-request jobs of the repository may sign in too: what they may do is the broker's policy.
        ci.setdefault("federated_credentials", []).append(
            {
                "name": "github-pull-requests",
                "issuer": "https://token.actions.githubusercontent.com",
                "subject": "repo:contoso/payments:pull_request",
                "audiences": ["api://AzureADTokenExchange"],
            }
        )
    return data


def _attempt_write(secrets: Any, name: str, value: Any) -> tuple[bool, str]:
    """Try the job's write; (denied, what happened). Only a 403 ForbiddenByRbac counts as denied."""
    from ..errors import ProviderApiError

    try:
        written = secrets.set(name, value, tags={"jitpim-demo": "broker"})
    except ProviderApiError as exc:
        denied = exc.status == 403 and exc.inner_code == "ForbiddenByRbac"
        return denied, f"{exc.status} {exc.code}/{exc.inner_code} (x-ms-request-id {exc.request_id})"
    return False, f"written (version {written.version_id})"


def run_broker_demo(recorder: DemoRecorder, workdir: Path) -> dict[str, Any]:
    from ..emulator.core.scenario import default_scenario
    from ..emulator.server import Emulator

    emulator = Emulator(scenario=_scenario_without_standing_rights(default_scenario()), state_dir=workdir / "emu")
    emulator.start_background()
    try:
        recorder.step(
            Step(
                emulator.runtime.clock.now(),
                "emulator",
                f"started the embedded emulator at {emulator.base_url}; ci-app holds no Azure role and no Graph "
                "permission (only its federated credential for the GitHub job)",
            )
        )
        return _walkthrough(emulator, recorder, workdir)
    finally:
        emulator.stop()


def _walkthrough(emulator: Any, recorder: DemoRecorder, workdir: Path) -> dict[str, Any]:
    import requests

    from ..broker import BrokerServer, build_broker
    from ..broker.client import BrokerClient
    from ..broker.config import parse_config
    from ..cloud import resolve_cloud
    from ..lifecycle import Session
    from ..model import Mode
    from ..rotation import VaultSecrets, generate

    info = emulator.info
    world = emulator.runtime.world
    clock = DemoClock(emulator.runtime.clock.now, emulator.advance, recorder.step)

    def say(name: str, message: str, **data: Any) -> None:
        recorder.step(Step(clock.now(), name, message, data=data))

    (workdir / "policies").mkdir(parents=True, exist_ok=True)
    (workdir / "policies" / "payments.cedar").write_text(BROKER_POLICIES)
    admin = info["principals"]["admin-app"]
    config = parse_config(
        {
            "audience": _AUDIENCE,
            "policies": ["policies"],
            "github": {"jwks_uri": info["github_oidc"]["jwks_uri"]},
            "entra": {"tenant_id": info["tenant_id"], "audiences": [admin["client_id"]]},
            "repositories": {"contoso/payments": {"principal_id": info["principals"]["ci-app"]["object_id"]}},
            "approver_groups": {"payments-leads": [{"upn": "bob@contoso.onmicrosoft.com", "github": "bob-gh"}]},
        },
        base=workdir,
        source="demo broker config",
        environ={},
    )
    broker_env = {
        "AZURE_CLIENT_ID": admin["client_id"],
        "AZURE_CLIENT_SECRET": admin["client_secret"],
        "AZURE_TENANT_ID": info["tenant_id"],
        "JITPIM_CLOUD": "emulator",
        "JITPIM_EMULATOR_URL": info["authority"],
        "JITPIM_CA_BUNDLE": info["ca_cert"],
        "PATH": os.environ.get("PATH", os.defpath),
    }
    broker = build_broker(config, environ=broker_env, clock=clock, poll_initial=1.0)
    server = BrokerServer(broker, reaper_interval=0).start()
    report: dict[str, Any] = {"broker": server.ready_line()}
    say("broker", f"broker at {server.url} (identity admin-app), policies {', '.join(report['broker']['policies'])}")
    vault_name = "kv-payments"
    vault = info["vaults"][vault_name]
    secret_name = "db-password"
    sessions: list[Any] = []
    try:

        def job(claims: dict[str, Any], label: str) -> tuple[Any, Any]:
            with world.lock:
                world.github_claims.update(claims)
            (workdir / label).mkdir(parents=True, exist_ok=True)
            env = job_environment(info, dict(world.github_claims), workdir / label, path=broker_env["PATH"])
            session = Session(resolve_cloud(environ=env), Mode.DIRECT, clock, environ=env, sleep=clock.sleep)
            sessions.append(session)
            secrets = VaultSecrets(session.context(None).keyvault(vault["url"]))
            from ..auth.github_oidc import GitHubOidcTokenSource

            source = GitHubOidcTokenSource(
                env["ACTIONS_ID_TOKEN_REQUEST_URL"],
                env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"],
                audience=_AUDIENCE,
                cloud=resolve_cloud(environ=env),
            )
            client = BrokerClient(server.url, source, sleep=lambda s: time.sleep(min(s, 0.05)))
            return secrets, client

        def request(client: Any, label: str) -> dict[str, Any]:
            target = {
                "kind": "rbac",
                "role": "Key Vault Secrets Officer",
                "scope": vault["resource_id"],
                "duration": "15m",
                "justification": f"rotate {secret_name} ({label})",
            }
            answer = client.submit(f"demo-{label}", target)
            decision = answer["decision"]
            say(
                "decision",
                f"{label}: {decision['outcome']} by policy {decision['policy_id']} "
                f"(claims {', '.join(f'{k}={v!r}' for k, v in decision['claims'].items())})",
                request_id=answer["request_id"],
            )
            return dict(answer)

        # 1. The job on main.
        secrets, client = job({"ref": "refs/heads/main", "event_name": "workflow_dispatch"}, "main")
        value, _ = generate()
        denied, what = _attempt_write(secrets, secret_name, value)
        say("denied-before", f"the job writes {secret_name} with no standing right: {what}", denied=denied)
        recorder.check("denied before the broker grants", denied, what)
        answer = request(client, "main")
        recorder.check("main job auto-approved", answer["decision"]["policy_id"] == "main-auto", answer["state"])
        granted = client.wait_granted(answer, timeout=120)
        lease_id = granted["lease"]["lease_id"]
        say("granted", f"the broker granted with its own identity: lease {lease_id}", lease_id=lease_id)
        clock.sleep(5)  # RBAC propagation in the emulator
        denied, what = _attempt_write(secrets, secret_name, value)
        recorder.check("the job can write inside the window", not denied, what)
        say("written", f"the job rotated {secret_name} with the broker's grant: {what}")
        released = client.release(answer["request_id"])
        say("released", f"released through the broker: {released['state']}")
        clock.sleep(5)
        denied, what = _attempt_write(secrets, secret_name, value)
        say("denied-after", f"the same write after the release: {what}", denied=denied)
        recorder.check("denied again after the release", denied, what)
        ledger = broker.granter.ledger if broker.granter is not None else None
        decided = [e for e in ledger.events(lease_id) if e["type"] == "broker.decided"] if ledger else []
        body = decided[0]["body"] if decided else {}
        recorder.check(
            "the record holds the verified claims and the deciding policy",
            body.get("decision", {}).get("policy_id") == "main-auto"
            and body.get("claims", {}).get("repository") == "contoso/payments",
            f"broker.decided: policy {body.get('decision', {}).get('policy_id')}, "
            f"repository {body.get('claims', {}).get('repository')}, ref {body.get('claims', {}).get('ref')}",
        )
        report["main"] = {"request_id": answer["request_id"], "lease_id": lease_id, "record": body}

        # 2. The same job from a pull request: held for approval.
        secrets, client = job(
            {"ref": "refs/pull/42/merge", "event_name": "pull_request", "run_id": "9100200301"}, "pull-request"
        )
        answer = request(client, "pull-request")
        recorder.check(
            "pull-request job held for approval",
            answer["state"] == "pending_approval" and answer["decision"]["policy_id"] == "pr-needs-approval",
            answer["state"],
        )
        token = requests.post(
            f"{info['control']}/tokens",
            json={"principal": "bob", "client_id": admin["client_id"]},
            verify=info["ca_cert"],
            timeout=10,
        ).json()["id_token"]
        approver = BrokerClient(server.url, lambda: str(token))
        approver.decide(answer["request_id"], "approve", "reviewed PR 42 (jitpim demo)")
        say("approved", f"bob approved request {answer['request_id']} (reason recorded)")
        granted = client.wait_granted(client.get(answer["request_id"]), timeout=120)
        recorder.check("granted after approval", granted["state"] == "granted", granted["state"])
        clock.sleep(5)
        denied, what = _attempt_write(secrets, secret_name, value)
        recorder.check("the pull-request job can write after approval", not denied, "written" if not denied else what)
        released = client.release(answer["request_id"])
        recorder.check("released after approval", released["state"] == "released", released["state"])
        say("released", f"pull-request lease released: {released['state']}")
        report["pull_request"] = {"request_id": answer["request_id"], "approvals": granted["approvals"]}
    except JitError as exc:
        say("failed", f"the demo stopped: {exc}", error=exc.to_json())
        recorder.check("walkthrough completed", False, str(exc))
    finally:
        for session in sessions:
            session.close()
        server.stop()
        broker.close()
    report.update(
        ok=recorder.ok,
        wall_s=round(recorder.elapsed(), 3),
        emulated_time_advanced_s=round(clock.advanced_s, 3),
        checks=[c.to_json() for c in recorder.checks],
        timeline=recorder.timeline_json(),
    )
    return report
