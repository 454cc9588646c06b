"""The federated paths (GitHub Actions OIDC, a workload identity's token file) get their token with one
client-credentials request through azure-core: the same token azure-identity would get, without importing
azure-identity or MSAL, cached per scope, and a refusal as AuthError with the AADSTS code and no secret."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jitpim.auth import GitHubOidcTokenSource, credential_for, whoami
from jitpim.auth.assertion_grant import ClientAssertionGrantCredential
from jitpim.cloud import emulator_profile
from jitpim.errors import AuthError
from jitpim.testing import github_job_environ

_WHOAMI = (
    "import json, sys\n"
    "from jitpim.auth import credential_for, whoami\n"
    "from jitpim.cloud import resolve_cloud\n"
    "cloud = resolve_cloud(None)\n"
    "with credential_for(cloud, mode='direct') as choice:\n"
    "    me = whoami(choice.credential, cloud)\n"
    "heavy = sorted(m for m in sys.modules if m.split('.')[0] == 'msal' or m.startswith('azure.identity'))\n"
    "print(json.dumps({'kind': choice.kind, 'oid': me.object_id, 'heavy': heavy}))\n"
)


def test_a_github_job_gets_its_token_without_importing_azure_identity(info: dict[str, Any], tmp_path: Path) -> None:
    env = github_job_environ(info, workdir=tmp_path)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    done = subprocess.run([sys.executable, "-c", _WHOAMI], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == {"kind": "github-oidc", "oid": info["principals"]["ci-app"]["object_id"], "heavy": []}


def test_tokens_are_cached_per_scope_and_a_fresh_assertion_is_used_per_request(info: dict[str, Any]) -> None:
    cloud = emulator_profile(info["authority"], info["ca_cert"])
    source = GitHubOidcTokenSource(
        info["github_oidc"]["request_url"], info["github_oidc"]["request_token"], cloud=cloud
    )
    calls: list[str] = []

    def assertion() -> str:
        calls.append("x")
        return source()

    credential = ClientAssertionGrantCredential(
        cloud, tenant_id=info["tenant_id"], client_id=info["principals"]["ci-app"]["client_id"], assertion=assertion
    )
    arm = credential.get_token(cloud.arm_scope)
    assert credential.get_token(cloud.arm_scope).token == arm.token and len(calls) == 1
    graph = credential.get_token(cloud.graph_scope)
    assert graph.token != arm.token and len(calls) == 2
    assert "eyJ" not in repr(credential)


def test_a_refused_assertion_is_an_auth_error_naming_the_aadsts_code(info: dict[str, Any], tmp_path: Path) -> None:
    cloud = emulator_profile(info["authority"], info["ca_cert"])
    token_file = tmp_path / "token"
    token_file.write_text("not-a-jwt")
    env = {
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        "AZURE_CLIENT_ID": info["principals"]["ci-app"]["client_id"],
        "AZURE_TENANT_ID": info["tenant_id"],
    }
    with credential_for(cloud, mode="direct", environ=env) as choice, pytest.raises(AuthError) as failure:
        whoami(choice.credential, cloud)
    assert "AADSTS" in failure.value.message and "not-a-jwt" not in str(failure.value)
