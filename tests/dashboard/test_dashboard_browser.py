"""The dashboard in a real browser: Playwright driving Debian's Chromium (Playwright cannot download its own
browsers here; `.ci/run` installs the `chromium` package). Pages load without console errors, filters change
what is shown, charts render with data from real runs, signatures show, and axe-core finds no violation."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("JITPIM_CHROMIUM", "/usr/bin/chromium"))
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")

# Chromium as root in a sandboxed CI machine with no network: no sandbox, no background connections.
_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(name="browser", scope="module")
def _browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(name="page")
def _page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    try:
        yield page
    finally:
        context.close()


def _lease_id(ledger: Path, run_id: str) -> str:
    from jitpim.audit.ledger import Ledger

    with Ledger.open(ledger, read_only=True) as store:
        return next(r["lease_id"] for r in store.list() if (r["run"] or {}).get("run_id") == run_id)


def test_every_page_loads_without_console_errors(served: Any, page: Any) -> None:
    lease = _lease_id(served.ledger.path, "7001")
    for path in ("/", "/leases", "/usage", "/approvals", "/problems", "/leases/" + lease):
        response = page.goto(served.url + path)
        assert response is not None and response.status == 200, path
        assert page.locator("h1").count() == 1
    assert page.errors == []


def test_filters_change_what_is_shown(served: Any, page: Any) -> None:
    page.goto(served.url + "/leases")
    assert page.locator("tbody tr").count() == 4
    page.get_by_label("Repository").fill("contoso/web")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/leases?*repository=contoso%2Fweb*")
    rows = page.locator("tbody tr")
    assert rows.count() == 2
    assert all("contoso/web" in rows.nth(i).inner_text() for i in range(2))
    page.get_by_label("State").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**state=failed*")
    assert page.locator("tbody tr").count() == 1


def test_charts_render_with_data_from_real_runs(served: Any, page: Any) -> None:
    page.goto(served.url + "/usage?group=repository")
    bars = page.locator("svg.chart rect.bar")
    assert bars.count() >= 2
    box = bars.first.bounding_box()
    assert box is not None and box["width"] > 0 and box["height"] > 0
    labels = page.locator("svg.chart").first.text_content() or ""
    assert "contoso/payments" in labels and "contoso/web" in labels


def test_lease_page_shows_signature_and_a_tampered_ledger_shows_the_failure(
    served: Any, page: Any, tmp_path: Path, serve: Any, make_config: Any
) -> None:
    lease = _lease_id(served.ledger.path, "7001")
    page.goto(served.url + "/leases/" + lease)
    assert page.locator("[data-verification]").get_attribute("data-verification") == "ok"
    assert "signature verified" in page.locator("[data-verification]").inner_text()
    copy = tmp_path / "ledger.sqlite3"
    shutil.copy(served.ledger.path, copy)
    conn = sqlite3.connect(copy)
    conn.execute("DROP TRIGGER events_append_only_update")
    conn.execute(
        "UPDATE events SET at = '2020-01-01T00:00:00.000000Z' WHERE lease_id = ? AND type = ?",
        (lease, "lease.released"),
    )
    conn.commit()
    conn.close()
    url = serve(make_config(copy))
    page.goto(url + "/leases/" + lease)
    verdict = page.locator("[data-verification]")
    assert verdict.get_attribute("data-verification") == "failed"
    assert "verification failed" in verdict.inner_text()
    assert "lease.released" in page.locator("main ul").inner_text()


def test_no_accessibility_violations(served: Any, browser: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(bypass_csp=True)  # axe is injected as a script; the pages allow none
    page = context.new_page()
    lease = _lease_id(served.ledger.path, "7001")
    try:
        for path in ("/", "/leases", "/usage", "/leases/" + lease):
            page.goto(served.url + path)
            results = Axe().run(page)
            assert results.violations_count == 0, (path, results.generate_report())
    finally:
        context.close()


def test_screenshot_of_the_main_page(served: Any, page: Any, tmp_path: Path) -> None:
    """The README's picture. `DASHBOARD_SCREENSHOT_DIR=docs/images pytest -k screenshot` refreshes it."""
    page.goto(served.url + "/")
    target = Path(os.environ.get("DASHBOARD_SCREENSHOT_DIR") or tmp_path) / "dashboard.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and target.stat().st_size > 10_000
