"""An investigator signs a casebook with items still open, in a real browser: her home
lists the casebook ready to sign with what is open in it; her page lists the open items
and will not sign until she ticks that she signs with them open; the signature then
shows what was open. The data manager's home lists the participant ready to lock. In
English and Japanese, with no serious or critical WCAG 2.1 AA violation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from ecrf.accounts.models import User
from ecrf.participants.models import Participant
from ecrf.participants.services import participant_withdraw
from ecrf.quality.models import Signature
from ecrf.quality.selectors import verifiable_forms
from ecrf.quality.services import verification_mark
from ecrf.queries.services import query_open

from ..clock import at
from ..factories import PASSWORD
from .axe import assert_accessible, overflow_problems
from .test_pages import signed_in_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCALES = {"en": "en-US", "ja": "ja-JP"}
WORDS = {
    "en": {"signed": "The casebook is signed.", "queries": "Open queries (not closed): 1"},
    "ja": {"signed": "症例報告書に署名しました。", "queries": "未解決のクエリ（クローズ前）: 1"},
}


@pytest.mark.parametrize("language", list(LOCALES))
def test_an_investigator_signs_with_open_items_only_once_she_confirms(
    language: str,
    browser: Browser,
    live_server: Any,
    make_user: Callable[..., User],
    randomized: Participant,
    coordinator_a: User,
) -> None:
    investigator = make_user("investigator", ["S01"], username="inv_sign", language=language)
    monitor = make_user("monitor", ["S01"])
    with at("2026-02-25"):
        participant_withdraw(
            participant=randomized,
            date=dt.date(2026, 2, 25),
            reason="Moved away",
            performed_by=coordinator_a,
        )
        query_open(
            participant=randomized,
            record="consent",
            field="consent_date",
            text="Please check the date against the signed form.",
            performed_by=monitor,
        )
    words = WORDS[language]
    with (
        at("2026-03-10"),
        signed_in_context(browser, live_server.url, investigator, locale=LOCALES[language]) as (
            context
        ),
    ):
        page = context.new_page()
        page.goto(f"{live_server.url}/")
        row = page.locator(f"#casebooks-to-sign tr[data-participant='{randomized.pk}']")
        expect(row).to_contain_text(randomized.subject_id)
        assert_accessible(page, context=f"investigator home {language}")
        assert overflow_problems(page, context=f"investigator home {language}") == []

        row.locator("a.subject-id").click()
        expect(page.locator("#sign-open-items [data-open=open_queries]")).to_have_text(
            words["queries"]
        )
        page.locator("#sign-form input[name=password]").fill(PASSWORD)
        page.locator("#sign-form [type=submit]").click()
        # The confirmation is required: the browser keeps the form until she ticks it.
        expect(page.locator("#sign-anyway:invalid")).to_have_count(1)
        assert not Signature.objects.exists()
        assert_accessible(page, context=f"sign panel with open items {language}")

        page.locator("#sign-anyway").check()
        page.locator("#sign-form [type=submit]").click()
        expect(page.get_by_role("alert").filter(has_text=words["signed"])).to_be_visible()
        listed = page.locator("#signatures .signature-open-items")
        expect(listed).to_have_attribute("data-open-queries", "1")
        expect(listed).to_have_attribute("data-unverified-forms", "2")
    signature = Signature.objects.get()
    assert (signature.open_queries, signature.unverified_forms) == (1, 2)


@pytest.mark.parametrize("language", list(LOCALES))
def test_the_data_manager_home_with_participants_ready_to_lock_is_accessible(
    language: str,
    browser: Browser,
    live_server: Any,
    make_user: Callable[..., User],
    randomized: Participant,
    coordinator_a: User,
) -> None:
    data_manager = make_user("data_manager", [], username="dm_ready", language=language)
    monitor = make_user("monitor", ["S01"])
    with at("2026-02-25"):
        participant_withdraw(
            participant=randomized,
            date=dt.date(2026, 2, 25),
            reason="Moved away",
            performed_by=coordinator_a,
        )
        for form in verifiable_forms():
            if form.records_of(randomized).exists():
                verification_mark(participant=randomized, record=form.code, performed_by=monitor)
    with signed_in_context(browser, live_server.url, data_manager, locale=LOCALES[language]) as (
        context
    ):
        page = context.new_page()
        page.goto(f"{live_server.url}/")
        row = page.locator(f"#ready-to-lock tr[data-participant='{randomized.pk}']")
        expect(row).to_contain_text(randomized.subject_id)
        assert_accessible(page, context=f"data manager home {language}")
        assert overflow_problems(page, context=f"data manager home {language}") == []
        row.locator("[data-lock-link]").click()
        expect(page.locator("#lock-panel #lock-button")).to_be_visible()
