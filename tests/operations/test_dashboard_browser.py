"""The dashboard in a real headless Chromium: an operator logs in through the admin login form
and sees the figures and the charts drawn; a user who is not staff is turned away.

Needs Debian's `chromium`; nothing here downloads a browser. Without it the test is skipped,
except on CI, where it fails."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, sync_playwright

from tests.operations.dashboard_data import deliveries_add, installation_add, prompt_step_add, run_add, workflow_add

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard.png"
FAILED_RED = (0xE1, 0x2D, 0x39)  # the colour of failed deliveries in the charts

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Pixels of the chart's canvas that are painted, and those painted in `colour` (the bars of one series).
PIXELS_PAINTED = """([canvasId, colour]) => {
    const canvas = document.getElementById(canvasId);
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0, inColour = 0;
    for (let i = 0; i < pixels.length; i += 4) {
        if (pixels[i + 3] === 0) continue;
        painted++;
        if (pixels[i] === colour[0] && pixels[i + 1] === colour[1] && pixels[i + 2] === colour[2]) inColour++;
    }
    return {painted, inColour};
}"""


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: CI installs Debian's chromium package (.ci/run) for this test.")
        pytest.skip(f"{CHROMIUM} is missing (Debian's chromium package).")
    return CHROMIUM


@contextmanager
def browser_page(chromium: Path, cookies: list | None = None) -> Iterator[Page]:
    """A page in a fresh headless Chromium. Playwright's sync API runs an event loop in this
    thread, where Django refuses database work: tests touch the database before or after."""
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_cookies(cookies or [])
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        browser.close()
    assert errors == [], f"the page raised script errors: {errors}"


def _seed() -> None:
    now = timezone.now()
    deliveries_add(40, at=now - timedelta(hours=2), event="push", status="processed")
    deliveries_add(6, at=now - timedelta(hours=5), event="pull_request", status="failed", last_error="timed out")
    deliveries_add(12, at=now - timedelta(days=3), event="issues", status="ignored")
    workflow = workflow_add("AI review")
    for seconds in (3, 5, 8):
        run = run_add(workflow, finished_at=now - timedelta(hours=1), seconds=seconds)
    run_add(workflow, finished_at=now - timedelta(hours=1), seconds=2, conclusion="failure", error="model refused")
    usage = {"prompt_tokens": 900, "completion_tokens": 120, "total_tokens": 1020}
    prompt_step_add(run, finished_at=now, model="gpt-4o-mini", usage=usage)
    installation_add(created_at=now - timedelta(days=3))
    installation_add(created_at=now - timedelta(days=1))
    installation_add(created_at=now - timedelta(days=9), suspended_at=now)


def _admin_login(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/dashboard/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("input[type=submit]")


def test_staff_sees_the_dashboard_with_drawn_charts(live_server, chromium):
    get_user_model().objects.create_user(username="operator", password="operator-pass-1", is_staff=True)
    _seed()

    with browser_page(chromium) as page:
        _admin_login(page, live_server.url, "operator", "operator-pass-1")

        assert page.url == f"{live_server.url}/dashboard/"
        page.wait_for_load_state("load")
        assert page.inner_text("#installations-active") == "2"
        assert "13.0%" in page.inner_text(".failure-rate[data-window='24h']")  # 6 failed of 46 finished
        assert page.locator(".failure-rate.over").count() == 2
        assert page.locator("#failed-deliveries tbody tr").count() == 6
        assert "model refused" in page.inner_text("#failed-runs")
        assert "1020" in page.inner_text("#token-usage")
        per_hour = page.evaluate(PIXELS_PAINTED, ["deliveries-per-hour", list(FAILED_RED)])
        assert per_hour["painted"] > 10_000
        assert per_hour["inColour"] > 100, "the failed deliveries' bar is not drawn"
        for canvas_id in ("deliveries-per-day", "installation-changes", "tokens-per-day"):
            assert page.evaluate(PIXELS_PAINTED, [canvas_id, [0, 0, 0]])["painted"] > 10_000, canvas_id
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)


def test_a_user_who_is_not_staff_is_refused(live_server, chromium):
    member = get_user_model().objects.create_user(username="member", password="member-pass-1")
    deliveries_add(3, at=timezone.now(), status="failed")
    # The admin login form admits staff only, so the member's session is made outside the browser.
    client = Client()
    client.force_login(member)
    session = {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}

    with browser_page(chromium, cookies=[session]) as page:
        response = page.goto(f"{live_server.url}/dashboard/")

        assert response is not None and response.status < 500
        assert "/admin/login/" in page.url
        assert "not authorized to access this page" in page.content()
        assert page.locator("#deliveries").count() == 0
