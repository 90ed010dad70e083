"""A monitor raises a query and the coordinator answers it, in a real browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from ecrf.accounts.models import User
from ecrf.participants.services import consent_record, site_today
from ecrf.queries.models import Query

from .test_pages import record_console_errors, screenshot, signed_in_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.requirement("ICH-E6R3-4.2.3-REVIEW")
def test_monitor_raises_a_query_and_the_coordinator_answers_it(
    browser: Browser,
    live_server: Any,
    coordinator_a: User,
    participant_a: Any,
    make_user: Any,
    screenshot_dir: Path,
) -> None:
    consent_record(
        participant=participant_a,
        consent_date=site_today(participant_a.site),
        consent_version="1.0",
        performed_by=coordinator_a,
    )
    monitor = make_user("monitor", ["S01"], username="monitor_browser")
    url = f"{live_server.url}/participants/{participant_a.pk}/"
    with signed_in_context(browser, live_server.url, monitor) as context:
        page = context.new_page()
        errors = record_console_errors(page)
        page.goto(url)
        page.locator("#query-target").select_option("consent.consent_date")
        page.locator("#query-text").fill("The consent form is dated a day later in the binder.")
        screenshot(page, screenshot_dir, "01-monitor-writes-query")
        page.locator("#query-form [type=submit]").click()
        query = page.locator(".query[data-status=open]")
        expect(query).to_contain_text("Consent: Consent date")
        screenshot(page, screenshot_dir, "02-query-open")
        assert errors == []

    with signed_in_context(browser, live_server.url, coordinator_a) as context:
        page = context.new_page()
        page.goto(f"{live_server.url}/")
        expect(page.locator("#open-queries")).to_contain_text("dated a day later")
        page.locator("#open-queries a").first.click()
        page.locator(".respond-form input[name=text]").fill(
            "Checked the binder: the date is correct."
        )
        screenshot(page, screenshot_dir, "03-coordinator-answers")
        page.locator(".respond-form [type=submit]").click()
        expect(page.locator(".query[data-status=answered]")).to_contain_text("Checked the binder")
        screenshot(page, screenshot_dir, "04-answered")

    with signed_in_context(browser, live_server.url, monitor) as context:
        page = context.new_page()
        page.goto(url)
        page.locator(".close-form [type=submit]").click()
        expect(page.locator(".query[data-status=closed]")).to_be_visible()
        screenshot(page, screenshot_dir, "05-closed")
    assert Query.objects.get().status == "closed"
