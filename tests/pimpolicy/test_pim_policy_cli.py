"""`jitpim pim-policy export|diff|apply` against the emulator's PIM policies, as an admin app and as the CI
app (which may only read them): export round-trips, diff finds drift and exits 1, apply changes only what
the file manages, and a refused update changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from jitpim.emulator import Emulator
from jitpim.testing import app_environ, principal_token


def _env(info: dict[str, Any], who: str, home: Path) -> dict[str, str]:
    return app_environ(info, who, home=home)


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jitpim", "pim-policy", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(name="pim")
def _pim(fresh_emu: Emulator, tmp_path: Path) -> dict[str, Any]:
    info = fresh_emu.info
    return {
        "info": info,
        "admin": _env(info, "admin-app", tmp_path),
        "ci": _env(info, "ci-app", tmp_path),
        "tmp": tmp_path,
        "emu": fresh_emu,
    }


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


GA = """
version: 1
policies:
  - target: {kind: entra-role, role: Global Administrator}
    activation:
      maximum: 1h
      require: [mfa, justification]
"""


def test_export_reads_the_seeded_settings_and_round_trips(pim: dict[str, Any]) -> None:
    out = pim["tmp"] / "live.yaml"
    done = _run(pim["admin"], "export", "--kind", "entra-role", "--role", "Global Administrator", "-f", str(out))
    assert done.returncode == 0, done.stderr
    doc = yaml.safe_load(out.read_text())
    entry = doc["policies"][0]
    # The scenario: Global Administrator activations at most 2h, with MFA, ticket and approval by bob.
    assert entry["activation"]["maximum"] == "2h"
    assert set(entry["activation"]["require"]) >= {"mfa", "ticket"}
    assert entry["activation"]["approval"]["required"] is True
    bob = pim["info"]["principals"]["bob"]["object_id"]
    assert {"user": bob} in entry["activation"]["approval"]["approvers"]
    # What export wrote is in step with what is live.
    done = _run(pim["admin"], "diff", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 of 1 target(s) drifted" in done.stdout


def test_diff_finds_drift_and_apply_fixes_only_what_the_file_manages(pim: dict[str, Any]) -> None:
    policy = _write(pim["tmp"] / "pim-policy.yaml", GA)
    before = yaml.safe_load(
        _run(pim["admin"], "export", "--kind", "entra-role", "--role", "Global Administrator").stdout
    )["policies"][0]
    drift = _run(pim["admin"], "diff", str(policy), "-o", "json")
    assert drift.returncode == 1, drift.stderr
    report = json.loads(drift.stdout)
    settings = {c["setting"]: c for c in report["policies"][0]["changes"]}
    assert settings["activation_maximum"] == {"setting": "activation_maximum", "live": "2h", "wanted": "1h"}
    assert "activation_require" in settings  # ticket is required live, not in the file
    what_if = _run(pim["admin"], "apply", str(policy), "--what-if")
    assert what_if.returncode == 0 and "would change 1 of 1" in what_if.stdout
    assert _run(pim["admin"], "diff", str(policy)).returncode == 1  # --what-if changed nothing
    applied = _run(pim["admin"], "apply", str(policy))
    assert applied.returncode == 0, applied.stderr
    assert _run(pim["admin"], "diff", str(policy)).returncode == 0
    after = yaml.safe_load(
        _run(pim["admin"], "export", "--kind", "entra-role", "--role", "Global Administrator").stdout
    )["policies"][0]
    assert after["activation"]["maximum"] == "1h"
    assert sorted(after["activation"]["require"]) == ["justification", "mfa"]
    # Not managed by the file, so untouched: approval and assignment limits.
    assert after["activation"]["approval"] == before["activation"]["approval"]
    assert after["active_assignment"] == before["active_assignment"]


def _activate(info: dict[str, Any], scope: str, duration: str) -> requests.Response:
    """Alice asks PIM (ARM) to validate a self-activation of Contributor at `scope` for `duration`."""
    token = principal_token(info, "alice", "https://management.azure.com/.default")
    role = f"/subscriptions/{info['subscription_id']}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR}"
    body = {
        "properties": {
            "principalId": info["principals"]["alice"]["object_id"],
            "roleDefinitionId": role,
            "requestType": "SelfActivate",
            "justification": "check the policy",
            "scheduleInfo": {"startDateTime": None, "expiration": {"type": "AfterDuration", "duration": duration}},
        }
    }
    url = (
        f"{info['arm']}{scope}/providers/Microsoft.Authorization/roleAssignmentScheduleRequests/{uuid.uuid4()}/validate"
    )
    return requests.post(
        url,
        params={"api-version": "2020-10-01"},
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        verify=info["ca_cert"],
        timeout=30,
    )


CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"


def test_the_applied_limit_is_what_pim_enforces(pim: dict[str, Any]) -> None:
    """Applied settings are the real policy: PIM judges the next activation request by them."""
    info = pim["info"]
    scope = f"/subscriptions/{info['subscription_id']}/resourceGroups/rg-payments"
    assert _activate(info, scope, "PT3H").status_code < 300  # the scenario allows 4h
    policy = _write(
        pim["tmp"] / "p.yaml",
        f"""
version: 1
policies:
  - target: {{kind: azure-role, role: Contributor, scope: {scope}}}
    activation: {{maximum: 1h}}
""",
    )
    assert _run(pim["admin"], "apply", str(policy)).returncode == 0
    exported = yaml.safe_load(_run(pim["admin"], "export", str(policy)).stdout)["policies"][0]
    assert exported["activation"]["maximum"] == "1h"
    refused = _activate(info, scope, "PT3H")
    assert refused.status_code == 400 and "ExpirationRule" in refused.text
    assert _activate(info, scope, "PT1H").status_code < 300


def test_a_refused_update_changes_nothing(pim: dict[str, Any]) -> None:
    policy = _write(pim["tmp"] / "pim-policy.yaml", GA)
    before = _run(pim["admin"], "export", "--kind", "entra-role", "--role", "Global Administrator").stdout
    refused = _run(pim["ci"], "apply", str(policy))
    assert refused.returncode == 78, refused.stdout + refused.stderr
    assert "not allowed to change the PIM policy" in refused.stderr
    assert "RoleManagementPolicy.ReadWrite.Directory" in refused.stderr
    assert "Traceback" not in refused.stderr
    after = _run(pim["admin"], "export", "--kind", "entra-role", "--role", "Global Administrator").stdout
    assert after == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "version: 1\npolicies:\n  - target: {kind: entra-role, role: X}\n    activation: {maximun: 1h}\n",
            "line 4: unknown key 'maximun' in activation",
        ),
        (
            "version: 1\npolicies:\n  - target: {kind: entra-role, role: X}\n    activation:\n      maximum: 1h\n"
            "      maximum: 8h\n",
            "line 6: duplicate key 'maximum' (first at line 5)",
        ),
        ("version: 1\npolicies:\n  - target: {kind: rbac, role: X, scope: /subscriptions/x}\n", "has no PIM policy"),
        (
            "version: 1\npolicies:\n  - target: {kind: entra-role, role: X}\n    activation: {maximum: soon}\n",
            "cannot read duration",
        ),
        ("version: 2\npolicies: []\n", "version must be 1"),
    ],
)
def test_bad_files_are_refused_with_the_line(pim: dict[str, Any], text: str, message: str) -> None:
    bad = _write(pim["tmp"] / "bad.yaml", text)
    done = _run(pim["admin"], "diff", str(bad))
    assert done.returncode == 71, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_group_policies_and_notifications(pim: dict[str, Any]) -> None:
    policy = _write(
        pim["tmp"] / "groups.yaml",
        """
version: 1
policies:
  - target: {kind: pim-group, group: Key Vault Operators, access: member}
    activation:
      maximum: 2h
      approval: {required: true, approvers: [{group: b4c5d6e7-f809-4125-a687-a2b3c4d5e6f7}], timeout_days: 2}
    eligible_assignment: {permanent: false, maximum: 90d}
    notifications:
      activation: {admin: {level: critical, default_recipients: false, recipients: [secops@contoso.com]}}
""",
    )
    assert _run(pim["admin"], "diff", str(policy)).returncode == 1
    applied = _run(pim["admin"], "apply", str(policy), "-o", "json")
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["changed"] == 1
    assert _run(pim["admin"], "diff", str(policy)).returncode == 0
    live = yaml.safe_load(_run(pim["admin"], "export", str(policy)).stdout)["policies"][0]
    assert live["activation"]["approval"] == {
        "required": True,
        "approvers": [{"group": "b4c5d6e7-f809-4125-a687-a2b3c4d5e6f7"}],
        "timeout_days": 2,
    }
    assert live["eligible_assignment"] == {"permanent": False, "maximum": "90d"}
    assert live["notifications"]["activation"]["admin"] == {
        "level": "critical",
        "default_recipients": False,
        "recipients": ["secops@contoso.com"],
    }
