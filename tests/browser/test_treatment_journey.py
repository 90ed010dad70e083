"""A coordinator sets the embryo transfer and records the dose diary, in a real browser."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from ecrf.accounts.models import User
from ecrf.participants.services import site_today
from ecrf.schedule.models import DoseEntry
from ecrf.studies.models import Site
from randomization.services import participant_randomize

from .test_pages import record_console_errors, screenshot, signed_in_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.requirement(
    "PROT-DOSE-DIARY",
    "PROT-DOSE-WINDOW",
    "PROT-VISIT-WINDOWS",
    "PROT-DRUG-ACCOUNTABILITY",
    "CFR11-10B-READABLE",
)
def test_coordinator_sets_the_et_and_records_doses(
    browser: Browser,
    live_server: Any,
    coordinator_a: User,
    site_a: Site,
    ready_participant: Any,
    screenshot_dir: Path,
) -> None:
    participant = ready_participant()
    allocation = participant_randomize(
        participant=participant, idempotency_key="browser", performed_by=coordinator_a
    )
    today = site_today(site_a)
    et = today + dt.timedelta(days=2)
    per_intake = f"{(allocation.dose_mg_per_day / 2).normalize()}"
    with signed_in_context(browser, live_server.url, coordinator_a) as context:
        page = context.new_page()
        errors = record_console_errors(page)
        page.goto(f"{live_server.url}/participants/{participant.pk}/")
        page.locator("#treatment-link").click()
        screenshot(page, screenshot_dir, "01-treatment-empty")

        page.locator("#id_et_date").fill(et.isoformat())
        page.locator("form#et-form [type=submit]").click()
        start, end = today, today + dt.timedelta(days=15)
        expect(page.locator("#dosing-window")).to_have_text(f"{start} – {end}")
        expect(page.locator("tr[data-visit=biochemical_pregnancy]")).to_contain_text(
            (et + dt.timedelta(days=14)).isoformat()
        )
        screenshot(page, screenshot_dir, "02-schedule")

        morning, evening = f"dose-{today}-morning", f"dose-{today}-evening"
        # A dose other than the arm's, on the intake's own page, is refused without its reason.
        page.locator(f"#missed-{morning}").click()
        expect(page.locator("form#dose-form input[name=taken]:checked")).to_have_count(0)
        page.locator("form#dose-form input[name=taken][value=True]").check()
        page.locator("#id_dose_mg").fill("3")
        page.locator("form#dose-form [type=submit]").click()
        expect(page.locator("form#dose-form")).to_contain_text("protocol deviation")
        screenshot(page, screenshot_dir, "03-wrong-dose-refused")
        assert not DoseEntry.objects.exists()

        page.locator("#id_dose_mg").fill(per_intake)
        page.locator("#id_time_taken").fill("08:10")
        page.locator("form#dose-form [type=submit]").click()
        # Back on the diary, where she was: at the intake just saved.
        expect(page).to_have_url(
            f"{live_server.url}/participants/{participant.pk}/treatment/#{morning}"
        )
        expect(page.locator(f"#{morning} .dose-entry")).to_contain_text("08:10")
        expect(page.locator("#compliance")).to_have_text("50.0%")

        # Quick entry of the evening intake, from the grid.
        page.locator(f"#time-{evening}").fill("19:30")
        page.locator(f"#taken-{evening}").click()
        expect(page.locator(f"#{evening} .dose-entry")).to_contain_text("19:30")
        expect(page.locator("#compliance")).to_have_text("100.0%")
        expect(page.locator("#with-participant")).to_be_visible()
        screenshot(page, screenshot_dir, "04-dose-recorded")

        # A saved intake is corrected with a reason.
        page.locator(f"#{morning} a", has_text="Correct").click()
        page.locator("#id_time_taken").fill("08:40")
        page.locator("#id_reason").fill("Diary card says 08:40")
        page.locator("form#dose-form [type=submit]").click()
        expect(page.locator(f"#{morning} .dose-entry")).to_contain_text("08:40")
        screenshot(page, screenshot_dir, "05-dose-corrected")

        page.locator("#print-link").click()
        expect(page.locator("#print-schedule tbody tr")).to_have_count(16)
        screenshot(page, screenshot_dir, "06-printable-schedule")
        refused_form = "the server responded with a status of 400"
        assert [e for e in errors if refused_form not in e] == []
    assert sorted(DoseEntry.objects.values_list("intake", "time_taken")) == [
        ("evening", dt.time(19, 30)),
        ("morning", dt.time(8, 40)),
    ]
