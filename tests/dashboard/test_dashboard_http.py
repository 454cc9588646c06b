"""The dashboard over HTTP on loopback, reading a ledger that real `jitpim exec` runs wrote."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import requests

from jitpim.audit.ledger import Ledger
from jitpim.cloud import emulator_profile
from jitpim.dashboard.queries import held_interval
from jitpim.dashboard.signin import EntraTokenVerifier, SignInPolicy
from jitpim.testing import principal_token

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.")


def _lease_ids(ledger: Path) -> dict[str, str]:
    """run id -> lease id."""
    with Ledger.open(ledger, read_only=True) as store:
        return {str((r["run"] or {}).get("run_id")): r["lease_id"] for r in store.list()}


def test_the_runs_are_recorded_as_expected(served: Any) -> None:
    assert served.ledger.runs == {"7001": 0, "7002": 3, "7003": 0, "7004": 78}
    assert set(_lease_ids(served.ledger.path)) == {"7001", "7002", "7003", "7004"}


def test_overview_shows_leases_charts_and_no_open_grant(served: Any) -> None:
    page = requests.get(served.url + "/", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    for lease_id in _lease_ids(served.ledger.path).values():
        assert lease_id in page.text
    assert "No grant is open." in page.text  # every exec released
    assert '<svg class="chart"' in page.text and 'class="bar"' in page.text  # privilege-hours were drawn


def test_filters_change_what_is_shown(served: Any) -> None:
    ids = _lease_ids(served.ledger.path)
    web = requests.get(served.url + "/leases", params={"repository": "contoso/web"}, timeout=10).text
    assert ids["7003"] in web and ids["7004"] in web and ids["7001"] not in web and ids["7002"] not in web
    run = requests.get(served.url + "/leases", params={"run": "gh-7002-1"}, timeout=10).text
    assert ids["7002"] in run and ids["7001"] not in run
    role = requests.get(served.url + "/leases", params={"role": "Key Vault Secrets Officer"}, timeout=10).text
    assert all(i in role for i in ids.values())
    other = requests.get(served.url + "/leases", params={"role": "Key Vault Secrets User"}, timeout=10).text
    assert not any(i in other for i in ids.values())
    problems = requests.get(served.url + "/problems.json", timeout=10).json()["problems"]
    assert [p["lease_id"] for p in problems] == [ids["7004"]]
    future = requests.get(served.url + "/leases", params={"since": "2999-01-01"}, timeout=10).text
    assert not any(i in future for i in ids.values())


def test_lease_page_shows_its_verified_signature_and_provenance(served: Any) -> None:
    lease_id = _lease_ids(served.ledger.path)["7001"]
    page = requests.get(served.url + "/leases/" + requests.utils.quote(lease_id, safe=""), timeout=10)
    assert page.status_code == 200
    assert 'data-verification="ok"' in page.text
    assert "contoso/payments" in page.text and "lease.released" in page.text
    data = requests.get(served.url + "/leases/" + lease_id + ".json", timeout=10).json()
    assert data["verification"]["ok"] is True and data["verification"]["key_pinned"] is True
    assert data["events"][0]["type"] == "lease.requested"


def test_every_table_exports_as_csv_and_json(served: Any) -> None:
    for table in ("leases", "open", "usage", "approvals", "problems"):
        as_json = requests.get(f"{served.url}/{table}.json", timeout=10)
        assert as_json.status_code == 200 and as_json.headers["content-type"].startswith("application/json")
        as_csv = requests.get(f"{served.url}/{table}.csv", timeout=10)
        assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
        assert next(csv.reader(io.StringIO(as_csv.text)))  # a header row
    leases = requests.get(served.url + "/leases.json", params={"repository": "contoso/payments"}, timeout=10).json()
    assert {r["lease_id"].split("/")[0] for r in leases["leases"]} == {"gh-7001-1", "gh-7002-1"}
    usage = requests.get(served.url + "/usage.json", params={"group": "repository"}, timeout=10).json()
    keys = {u["key"] for u in usage["privilege_hours"]}
    assert keys == {"contoso/payments", "contoso/web"}
    assert all(u["hours"] > 0 for u in usage["privilege_hours"])
    assert requests.get(served.url + "/leases.xml", timeout=10).status_code == 404


def test_the_dashboard_is_read_only(served: Any) -> None:
    before = served.ledger.path.read_bytes()
    for path in ("/", "/leases", "/signin"):
        assert requests.post(served.url + path, data={"x": "1"}, timeout=10).status_code in (404, 405)
    assert served.ledger.path.read_bytes() == before


def test_no_secret_or_token_is_rendered(served: Any) -> None:
    secrets = [p["client_secret"] for p in served.ledger.info["principals"].values() if p.get("client_secret")]
    secrets.append(served.ledger.info["github_oidc"]["request_token"])
    lease_id = _lease_ids(served.ledger.path)["7001"]
    for path in ("/", "/leases", "/usage", "/approvals", "/problems", "/leases.json", f"/leases/{lease_id}.json"):
        text = requests.get(served.url + path, timeout=10).text
        assert not JWT.search(text), path
        for secret in secrets:
            assert secret not in text, path


def test_a_tampered_ledger_shows_the_failure(filled: Any, tmp_path: Path, serve: Any, make_config: Any) -> None:
    copy = tmp_path / "ledger.sqlite3"
    shutil.copy(filled.path, copy)
    lease_id = _lease_ids(copy)["7001"]
    conn = sqlite3.connect(copy)
    conn.execute("DROP TRIGGER events_append_only_update")
    conn.execute(
        "UPDATE events SET body = replace(body, 'dashboard evidence', 'nothing to see') "
        "WHERE lease_id = ? AND type = 'lease.requested'",
        (lease_id,),
    )
    conn.commit()
    conn.close()
    url = serve(make_config(copy))
    page = requests.get(url + "/leases/" + lease_id, timeout=10).text
    assert 'data-verification="failed"' in page
    assert "was changed after it was written" in page


def test_held_interval_counts_only_what_was_held() -> None:
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    released = {
        "state": "released",
        "start_at": "2026-12-03T10:00:00Z",
        "end_at": "2026-12-03T11:00:00Z",
        "updated_at": "2026-12-03T10:15:00Z",
    }
    held = held_interval(released, now)
    assert held is not None and (held[1] - held[0]).total_seconds() == 900
    running = {
        "state": "effective",
        "start_at": "2026-12-03T11:30:00Z",
        "end_at": "2026-12-03T13:00:00Z",
        "updated_at": "2026-12-03T11:30:00Z",
    }
    held = held_interval(running, now)
    assert held is not None and (held[1] - held[0]).total_seconds() == 1800
    assert held_interval({"state": "failed", "start_at": None, "end_at": None, "updated_at": None}, now) is None


def _verifier(info: dict[str, Any], audience: str) -> EntraTokenVerifier:
    return EntraTokenVerifier(
        emulator_profile(info["authority"], info["ca_cert"]), SignInPolicy(info["tenant_id"], audience)
    )


def test_sign_in_is_required_when_configured(filled: Any, serve: Any, make_config: Any) -> None:
    info = filled.info
    arm = principal_token(info, "alice", "https://management.azure.com/.default")
    audience = jwt.decode(arm, options={"verify_signature": False})["aud"]
    url = serve(make_config(filled.path, verifier=_verifier(info, audience)))
    anonymous = requests.get(url + "/", timeout=10, allow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/signin"
    assert requests.get(url + "/", headers={"Authorization": f"Bearer {arm}"}, timeout=10).status_code == 200
    graph = principal_token(info, "alice", "https://graph.microsoft.com/.default")
    wrong = requests.get(url + "/", headers={"Authorization": f"Bearer {graph}"}, timeout=10)
    assert wrong.status_code == 401 and "audience" in wrong.json()["error"]
    claims = jwt.decode(arm, options={"verify_signature": False})
    forged = jwt.encode(claims, _other_key(), algorithm="RS256", headers={"kid": jwt.get_unverified_header(arm)["kid"]})
    assert requests.get(url + "/", headers={"Authorization": f"Bearer {forged}"}, timeout=10).status_code == 401
    with requests.Session() as browser:
        signed_in = browser.post(url + "/signin", data={"token": arm}, timeout=10)
        assert signed_in.status_code == 200 and "Open grants" in signed_in.text
        assert arm not in signed_in.text and arm not in json.dumps(dict(browser.cookies))
        refused = browser.post(url + "/signin", data={"token": graph}, timeout=10)
        assert "not for this dashboard" in refused.text


def _other_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jitpim(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jitpim", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_listening_beyond_loopback_requires_sign_in(filled: Any) -> None:
    done = _jitpim("dashboard", "--host", "0.0.0.0", "--port", "0", env=filled.env)
    assert done.returncode == 71  # ConfigError, as docs/how-to/dashboard.md says
    assert "requires sign-in" in done.stderr and "Traceback" not in done.stderr


def test_audit_report_html_is_self_contained_and_verified(filled: Any, tmp_path: Path) -> None:
    run_file = filled.path.parent / "runs" / "gh-7001-1.jsonl"
    assert run_file.is_file()
    out = tmp_path / "report.html"
    done = _jitpim("audit", "report", str(run_file), "--html", str(out), "-o", "json", env=filled.env)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["verification"]["ok"] is True and summary["records"] == 1
    html = out.read_text()
    assert 'data-verification="ok"' in html and "contoso/payments" in html and "lease.released" in html
    assert "<script" not in html and not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    whole = tmp_path / "ledger.html"
    done = _jitpim("audit", "report", "--html", str(whole), env=filled.env)
    assert done.returncode == 0, done.stderr
    assert all(i in whole.read_text() for i in _lease_ids(filled.path).values())


def test_an_edited_lease_row_shows_as_a_failure(filled: Any, tmp_path: Path, serve: Any, make_config: Any) -> None:
    """The leases table is a cache of the chain: a row edited outside jitpim is named on the lease page."""
    copy = tmp_path / "ledger.sqlite3"
    shutil.copy(filled.path, copy)
    lease_id = _lease_ids(copy)["7001"]
    conn = sqlite3.connect(copy)
    conn.execute("UPDATE leases SET justification = 'approved by the CISO' WHERE lease_id = ?", (lease_id,))
    conn.commit()
    conn.close()
    url = serve(make_config(copy))
    data = requests.get(url + "/leases/" + lease_id + ".json", timeout=10).json()
    assert data["verification"]["ok"] is False
    assert any("edited outside jitpim (justification)" in p for p in data["verification"]["problems"])
