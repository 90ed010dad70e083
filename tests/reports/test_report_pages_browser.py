"""The report pages in a real headless Chromium: the SVG charts draw under the app's
Content-Security-Policy, nothing loads from elsewhere, and the pages print."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, expect

from ecrf.accounts.models import User
from tests.browser.test_pages import (
    record_console_errors,
    record_requests,
    screenshot,
    signed_in_context,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHARTS = {
    "consort": "#consort-diagram",
    "enrollment": "#enrollment-chart",
    "efficacy": "#forest-plot",
}


def test_charts_draw_and_print_under_the_content_security_policy(
    browser: Browser,
    live_server: Any,
    trial: Any,
    make_user: Callable[..., User],
    screenshot_dir: Path,
) -> None:
    trial.fas({"low": (3, 2, 2), "high": (2, 1, 1)}, sites=("S01", "S02"))
    trial.screen("S01", pregnant=True)
    statistician = make_user("statistician", username="report_statistician")
    with signed_in_context(browser, live_server.url, statistician) as context:
        page = context.new_page()
        requests = record_requests(page)
        console_errors = record_console_errors(page)
        for name, chart in CHARTS.items():
            page.goto(f"{live_server.url}/reports/{name}/", wait_until="load")
            svg = page.locator(chart)
            expect(svg).to_be_visible()
            box = svg.bounding_box()
            assert box is not None and box["width"] > 400 and box["height"] > 100, name
            screenshot(page, screenshot_dir, f"report-{name}")

        expect(page.locator("#forest-plot .forest-ci")).to_have_count(4)
        expect(page.locator("#before-lock-banner")).to_be_visible()

        page.evaluate("window.__printed = false; window.print = () => { window.__printed = true; }")
        page.locator("[data-print]").click()
        assert page.evaluate("window.__printed") is True

        page.emulate_media(media="print")
        expect(page.locator("nav.navbar")).to_be_hidden()
        expect(page.locator("[data-print]")).to_be_hidden()
        expect(page.locator("#forest-plot")).to_be_visible()
        screenshot(page, screenshot_dir, "report-efficacy-print")

        live_host = urlsplit(live_server.url).netloc
        assert [r.url for r in requests if urlsplit(r.url).netloc not in {"", live_host}] == []
        assert console_errors == []
