"""The console in Debian's Chromium, driven by Playwright (no browser download), on a real uvicorn port.

Signs in per role with the keyboard, walks the pages, switches language, and checks that no page
logs a JavaScript error. A screenshot of each page goes to build/test-artifacts/console/ (or
$PLANTPROOF_TEST_ARTIFACTS/console/).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.api.world import World, served
from tests.chromium import FLAGS, chromium_binary

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
pytestmark = pytest.mark.skipif(chromium_binary() is None, reason="Debian's chromium is not installed")

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("PLANTPROOF_TEST_ARTIFACTS", ROOT / "build" / "test-artifacts")) / "console"


@pytest.fixture()
def console(world: World) -> Iterator[str]:
    with served(world.settings()) as url:
        yield url


class Browser:
    """One fresh Chromium profile; every page's console errors and uncaught exceptions collected."""

    def __init__(self, pw: playwright_api.Playwright, profile: Path) -> None:
        binary = chromium_binary()
        assert binary is not None
        args = [*(["--no-sandbox"] if os.geteuid() == 0 else []), *FLAGS]
        self.context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=binary,
            headless=True,
            args=args,
            viewport={"width": 1280, "height": 900},
        )
        self.errors: list[str] = []
        self.page = self.context.new_page()
        self.page.on(
            "console", lambda m: self.errors.append(f"{m.location} {m.text}") if m.type == "error" else None
        )
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def _console(self, message: playwright_api.ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.location} {message.text}")

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def sign_in_by_keyboard(self, base: str, token: str) -> None:
        self.page.goto(f"{base}/console/")
        assert self.page.url.endswith("/console/signin")
        # The token field takes the focus on load, so a keyboard user types straight away.
        self.page.wait_for_function("document.activeElement && document.activeElement.id === 'token'")
        self.page.keyboard.type(token)
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[Browser]:
    with playwright_api.sync_playwright() as pw:
        b = Browser(pw, tmp_path / "profile")
        try:
            yield b
        finally:
            b.context.close()


def test_an_operator_walks_fleet_device_and_figures_in_both_languages(
    console: str, world: World, browser: Browser
) -> None:
    page = browser.page
    page.goto(f"{console}/console/signin?lang=en")
    browser.shot("signin-en")
    browser.sign_in_by_keyboard(console, world.tokens["alpha", "operator"])
    assert page.url == f"{console}/console/"
    assert page.locator("h1").inner_text() == "Fleet"
    assert page.locator("table.devices tbody tr").count() == 2  # press-a, robot-a; not beta's pump-b
    browser.shot("fleet-en")
    with page.expect_navigation():
        page.get_by_role("link", name="press-a").click()
    assert page.locator("h1").inner_text().startswith("press-a")
    assert page.locator("table.points").inner_text().count("temp") == 1
    browser.shot("device-en")
    with page.expect_navigation():
        page.get_by_role("link", name="中文").click()
    assert page.locator("header nav").inner_text().startswith("设备总览")
    browser.shot("device-zh")
    page.goto(f"{console}/console/figures?window=2026-10")
    assert "平台指标" in page.locator("h1").inner_text()
    assert page.get_by_text("接入设备（connected equipment）").first.is_visible()
    browser.shot("figures-zh")
    page.select_option("#window", "2026-10")
    with page.expect_navigation():
        page.get_by_role("button", name="显示").click()
    assert page.url.endswith("window=2026-10")
    assert browser.errors == []


def test_an_auditor_sees_no_fleet_and_the_page_is_refused(
    console: str, world: World, browser: Browser
) -> None:
    page = browser.page
    page.goto(f"{console}/console/signin?lang=en")
    browser.sign_in_by_keyboard(console, world.tokens["alpha", "auditor"])
    assert page.url.endswith("/console/figures")
    nav = page.locator("header nav").inner_text()
    assert "Figures" in nav and "Audit log" in nav and "Fleet" not in nav
    browser.shot("figures-auditor-en")
    forced = page.goto(f"{console}/console/")
    assert forced is not None and forced.status == 403
    page.goto(f"{console}/console/alarms")
    assert (
        page.locator("table.alarms tbody tr").count() == 2 and page.locator("button[data-ack]").count() == 0
    )
    # Forcing an acknowledgement from the auditor's session: the API refuses it.
    forcing = """async (path) => (await fetch(path, {method: 'POST', body: '{}',
        headers: {'X-PlantProof-Console': '1', 'Content-Type': 'application/json'}})).status"""
    status = page.evaluate(forcing, f"/api/v1/alarms/{world.alarms['site-a']}/ack")
    assert status == 403
    page.goto(f"{console}/console/audit")
    assert page.locator("table.audit tbody tr").count() >= 1  # the refused page is in the audit log
    browser.shot("audit-auditor-en")
    assert [e for e in browser.errors if "403" not in e] == []


def test_an_operator_acknowledges_an_alarm(console: str, world: World, browser: Browser) -> None:
    page = browser.page
    page.goto(f"{console}/console/signin?lang=en")
    browser.sign_in_by_keyboard(console, world.tokens["alpha", "operator"])
    page.get_by_role("link", name="2 active alarms").click()
    page.wait_for_url("**/console/alarms")
    row = page.locator(f"tr[data-alarm='{world.alarms['site-a']}']")
    with page.expect_navigation():  # the page reloads once the API took the acknowledgement
        row.get_by_role("button", name="Acknowledge").click()
    assert row.get_by_role("button").count() == 0 and "2026" in row.locator("td").last.inner_text()
    browser.shot("alarms-operator-en")
    assert browser.errors == []


def test_the_device_chart_moves_and_a_ping_gets_its_answer(
    console: str, world: World, browser: Browser
) -> None:
    page = browser.page
    page.goto(f"{console}/console/signin?lang=en")
    browser.sign_in_by_keyboard(console, world.tokens["alpha", "operator"])
    page.goto(f"{console}/console/devices/site-a/press-a")
    chart = page.locator("#chart")
    page.wait_for_function("typeof uPlot !== 'undefined' && document.querySelector('#chart canvas') !== null")
    before = int(chart.get_attribute("data-points") or "0")
    with psycopg.connect(world.dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO readings (time, point_id, value, quality, envelope_id)"
            " SELECT now() - make_interval(secs => s), p.point_id, 20 + s, 0, 1"
            " FROM points p JOIN devices d USING (device_id), generate_series(1, 3) s"
            " WHERE d.dev = 'press-a' AND p.name = 'temp'"
        )
    page.wait_for_function(
        f"Number(document.querySelector('#chart').dataset.points) >= {before + 3}", timeout=20_000
    )
    browser.shot("device-chart-en")
    page.get_by_role("button", name="Ping").click()
    answer = page.locator("#manage-answer")
    answer.wait_for(state="visible")
    # This service has no broker configured: the API's own refusal is the answer shown.
    assert answer.get_attribute("data-status") == "503" and answer.inner_text().startswith("ping: 503")
    assert [e for e in browser.errors if "/ping" not in e] == []


CLAIM = """periods:
  baseline: {start: 2026-10-01, end: 2026-10-15}
  reporting: {start: 2026-10-16, end: 2026-10-31}
claims:
  - id: press-efficiency
    title: Press work efficiency +10 %
    kpi: work_efficiency
    scope: {site: site-a, type: press}
    change_pct: 10
"""


def test_an_operator_verifies_a_claim_and_sees_its_interval_plot(
    console: str, world: World, browser: Browser
) -> None:
    made = httpx.post(
        f"{console}/api/v1/claims", content=CLAIM, timeout=30,
        headers={**world.auth("alpha", "operator"), "content-type": "application/yaml"},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    page = browser.page
    page.goto(f"{console}/console/signin?lang=en")
    browser.sign_in_by_keyboard(console, world.tokens["alpha", "operator"])
    page.goto(f"{console}/console/claims")
    with page.expect_navigation():
        page.get_by_role("link", name="Press work efficiency +10 %").click()
    assert page.get_by_text("Not verified yet.").is_visible()
    with page.expect_navigation():  # the page reloads once the API verified the claim
        page.get_by_role("button", name="Verify now").click()
    claim = page.locator("article.claim")
    assert claim.count() == 1 and claim.locator("svg").count() >= 1  # the interval plot
    verdict = page.locator("h1 .badge").inner_text()
    assert verdict in ("verified", "refuted", "inconclusive")
    browser.shot("claim-en")
    assert browser.errors == []


def test_an_operator_exports_a_bundle_downloads_it_and_it_verifies(
    console: str, world: World, browser: Browser, tmp_path: Path
) -> None:
    page = browser.page
    page.goto(f"{console}/console/signin?lang=en")
    browser.sign_in_by_keyboard(console, world.tokens["alpha", "operator"])
    page.goto(f"{console}/console/evidence")
    rows = page.locator("table.bundles tbody tr")
    before = rows.count()  # the test world has one bundle row of its own
    page.select_option("#export-window", "2026-10")
    with page.expect_navigation():  # the page reloads once the API exported the bundle
        page.get_by_role("button", name="Export").click()
    assert rows.count() == before + 1
    with page.expect_download() as download:  # newest first
        rows.first.get_by_role("link", name="Download").click()
    saved = tmp_path / "bundle.zip"
    download.value.save_as(saved)
    browser.shot("evidence-en")
    page.set_input_files("#verify-file", str(saved))
    page.get_by_role("button", name="Verify", exact=True).click()
    answer = page.locator("#verify-answer")
    answer.wait_for(state="visible", timeout=60_000)
    assert answer.get_attribute("data-status") == "verified", answer.inner_text()
    assert browser.errors == []


def test_the_device_page_draws_today_s_state_timeline(console: str, world: World, browser: Browser) -> None:
    with psycopg.connect(world.dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO points (device_id, name, kind, dtype)"
            " SELECT device_id, 'state', 'state', 'string' FROM devices WHERE dev = 'press-a'"
        )
        conn.execute(
            "INSERT INTO readings_text (time, point_id, value, quality, envelope_id)"
            " SELECT date_trunc('day', now()) + make_interval(secs => s.n * (extract(epoch FROM now()"
            " - date_trunc('day', now())) / 4)), p.point_id, s.state, 0, 1"
            " FROM points p JOIN devices d USING (device_id),"
            " (VALUES (0, 'running'), (1, 'idle'), (2, 'running'), (3, 'fault')) s(n, state)"
            " WHERE d.dev = 'press-a' AND p.name = 'state'"
        )
    page = browser.page
    page.goto(f"{console}/console/signin?lang=en")
    browser.sign_in_by_keyboard(console, world.tokens["alpha", "operator"])
    page.goto(f"{console}/console/devices/site-a/press-a")
    page.wait_for_function("Number(document.querySelector('.timeline').dataset.segments) === 4")
    states = page.locator(".timeline .segment").evaluate_all("els => els.map((e) => e.dataset.state)")
    assert states == ["running", "idle", "running", "fault"]
    segments = page.locator(".timeline .segment")
    widths = segments.evaluate_all("els => els.map((e) => parseFloat(e.style.width))")
    # four equal quarters of the day so far: from 00:00 UTC to now, nothing missing, nothing overlapping
    assert abs(sum(widths) - 100) < 1 and all(abs(w - 25) < 1 for w in widths), widths
    browser.shot("device-timeline-en")
    assert browser.errors == []
