"""The investigator's day in a real browser, in English and Japanese: her home lists a
serious adverse event with its 24-hour clock; she confirms it, and it leaves her list;
she signs one casebook with nothing open (no confirmation asked) and another with items
still open (only once she confirms signing with them). Screenshots of each step are kept
under test-artifacts/screenshots; every page passes axe (no serious or critical WCAG
2.1 AA violation)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect

from ecrf.accounts.models import User
from ecrf.participants.models import Participant
from ecrf.participants.services import participant_withdraw
from ecrf.quality.models import Signature
from ecrf.quality.selectors import verifiable_forms
from ecrf.quality.services import verification_mark
from ecrf.safety.models import AdverseEvent
from ecrf.safety.services import adverse_event_record
from randomization.services import participant_randomize

from ..clock import at
from ..factories import PASSWORD
from .axe import assert_accessible
from .test_pages import screenshot, signed_in_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCALES = {"en": "en-US", "ja": "ja-JP"}
WORDS = {
    "en": {"confirmed": "Adverse event confirmed.", "signed": "The casebook is signed."},
    "ja": {"confirmed": "有害事象を確認しました。", "signed": "症例報告書に署名しました。"},
}


def _ended(participant: Participant, coordinator: User, monitor: User, *, verified: bool) -> None:
    """She withdraws on 25 February; her forms are all verified, or none is."""
    participant_withdraw(
        participant=participant,
        date=dt.date(2026, 2, 25),
        reason="Moved away",
        performed_by=coordinator,
    )
    if verified:
        for form in verifiable_forms():
            if form.records_of(participant).exists():
                verification_mark(participant=participant, record=form.code, performed_by=monitor)


@pytest.mark.requirement("PROT-AE-RECORD", "CFR11-50-MANIFESTATION", "PROT-LANGUAGE")
@pytest.mark.parametrize("language", list(LOCALES))
def test_the_investigator_confirms_an_ae_then_signs_with_and_without_open_items(
    language: str,
    browser: Browser,
    live_server: Any,
    make_user: Callable[..., User],
    ready_participant: Callable[..., Participant],
    randomized: Participant,
    coordinator_a: User,
    screenshot_dir: Path,
) -> None:
    investigator = make_user("investigator", ["S01"], username="inv_day", language=language)
    monitor = make_user("monitor", ["S01"])
    with at("2026-02-24", hour=9):
        event = adverse_event_record(
            participant=randomized,
            term="Tremor",
            onset_date=dt.date(2026, 2, 23),
            ctcae_grade=3,
            serious=True,
            seriousness_criteria=["hospitalisation"],
            related=True,
            outcome="recovering",
            learned_at=timezone.now(),
            performed_by=coordinator_a,
        )
    with at("2026-02-20"):
        clean = ready_participant()
        participant_randomize(
            participant=clean, idempotency_key="clean", performed_by=coordinator_a
        )
    with at("2026-02-25"):
        _ended(randomized, coordinator_a, monitor, verified=False)
        _ended(clean, coordinator_a, monitor, verified=True)
    words = WORDS[language]
    with (
        at("2026-02-24", hour=20),
        signed_in_context(browser, live_server.url, investigator, LOCALES[language]) as context,
    ):
        page = context.new_page()
        page.goto(f"{live_server.url}/")
        row = page.locator(f"#adverse-events-to-confirm tr[data-ae='{event.pk}']")
        expect(row).to_contain_text("Tremor")
        # Learned at 09:00, it is 20:00: 11 hours gone, 13 left to report it.
        expect(row).to_contain_text("13")
        assert_accessible(page, context=f"investigator home {language}")
        screenshot(page, screenshot_dir, "01-home-ae-to-confirm")

        row.get_by_role("link", name="Tremor").click()
        page.locator("#confirm-form [type=submit]").click()
        expect(page.get_by_role("alert").filter(has_text=words["confirmed"])).to_be_visible()
        assert_accessible(page, context=f"adverse event confirmed {language}")
        screenshot(page, screenshot_dir, "02-ae-confirmed")
        page.goto(f"{live_server.url}/")
        expect(page.locator(f"#adverse-events-to-confirm tr[data-ae='{event.pk}']")).to_have_count(
            0
        )
    assert AdverseEvent.objects.get().confirmed_by == investigator

    with (
        at("2026-03-10"),
        signed_in_context(browser, live_server.url, investigator, LOCALES[language]) as context,
    ):
        page = context.new_page()
        page.goto(f"{live_server.url}/")
        for participant in (clean, randomized):
            expect(
                page.locator(f"#casebooks-to-sign tr[data-participant='{participant.pk}']")
            ).to_have_count(1)
        screenshot(page, screenshot_dir, "03-home-casebooks-to-sign")

        # Nothing open: she signs with her password alone.
        page.locator(f"#casebooks-to-sign tr[data-participant='{clean.pk}'] a.subject-id").click()
        expect(page.locator("#sign-anyway")).to_have_count(0)
        page.locator("#sign-form input[name=password]").fill(PASSWORD)
        page.locator("#sign-form [type=submit]").click()
        expect(page.get_by_role("alert").filter(has_text=words["signed"])).to_be_visible()
        assert_accessible(page, context=f"signed with nothing open {language}")
        screenshot(page, screenshot_dir, "04-signed-nothing-open")

        # Forms not verified: she signs only once she confirms signing with them open.
        page.goto(f"{live_server.url}/participants/{randomized.pk}/")
        page.locator("#sign-form input[name=password]").fill(PASSWORD)
        page.locator("#sign-form [type=submit]").click()
        expect(page.locator("#sign-anyway:invalid")).to_have_count(1)
        screenshot(page, screenshot_dir, "05-sign-asks-to-confirm-open-items")
        page.locator("#sign-anyway").check()
        page.locator("#sign-form [type=submit]").click()
        expect(page.get_by_role("alert").filter(has_text=words["signed"])).to_be_visible()
        assert_accessible(page, context=f"signed with items open {language}")
        screenshot(page, screenshot_dir, "06-signed-with-open-items")

    signatures = {s.participant_id: s for s in Signature.objects.all()}
    nothing_open = signatures[clean.pk]
    assert (
        nothing_open.open_queries,
        nothing_open.unconfirmed_adverse_events,
        nothing_open.unverified_forms,
    ) == (0, 0, 0)
    with_open = signatures[randomized.pk]
    assert with_open.unconfirmed_adverse_events == 0
    assert with_open.unverified_forms > 0
