"""`jitpim demo --broker` runs end to end and every check holds."""

from __future__ import annotations

import json

from click.testing import CliRunner

from jitpim.cli import cli


def test_demo_broker_json() -> None:
    result = CliRunner().invoke(cli, ["demo", "--broker", "-o", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True
    checks = {c["check"]: c["ok"] for c in report["checks"]}
    assert checks == {
        "denied before the broker grants": True,
        "main job auto-approved": True,
        "the job can write inside the window": True,
        "denied again after the release": True,
        "the record holds the verified claims and the deciding policy": True,
        "pull-request job held for approval": True,
        "granted after approval": True,
        "the pull-request job can write after approval": True,
        "released after approval": True,
    }
    record = report["main"]["record"]
    assert record["decision"]["policy_id"] == "main-auto"
    assert record["claims"]["ref"] == "refs/heads/main"
    assert "jti" not in record["claims"]
    assert report["pull_request"]["approvals"][0]["approver"] == "bob@contoso.onmicrosoft.com"
