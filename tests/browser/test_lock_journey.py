"""A coordinator meets a lock in a real browser: the data manager locks her participant
while she corrects the screening entry; her save is refused (409) with who locked, when
and why, and what she typed is still in the form; her page then shows the banner and no
way to edit. In English and Japanese, with no serious or critical WCAG 2.1 AA violation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from ecrf.accounts.models import User
from ecrf.quality.services import lock_set

from .axe import assert_accessible, overflow_problems
from .test_pages import signed_in_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCALES = {"en": "en-US", "ja": "ja-JP"}


@pytest.mark.parametrize("language", list(LOCALES))
def test_a_coordinator_keeps_what_she_typed_when_a_lock_refuses_her_save(
    language: str,
    browser: Browser,
    live_server: Any,
    make_user: Callable[..., User],
    ready_participant: Any,
) -> None:
    coordinator = make_user("coordinator", username="coord_lock", language=language)
    data_manager = make_user("data_manager", [], printed_name="Dana Manager")
    participant = ready_participant(coordinator=coordinator)
    with signed_in_context(browser, live_server.url, coordinator, locale=LOCALES[language]) as (
        context
    ):
        page = context.new_page()
        page.goto(f"{live_server.url}/participants/{participant.pk}/edit/")
        expect(page.locator("#lock-banner")).to_have_count(0)

        lock_set(
            study=participant.site.study,
            participant=participant,
            reason="Interim data review",
            performed_by=data_manager,
        )
        page.locator("#id_birth_date").fill("1990-05-18")
        page.locator("#id_reason").fill("Typed from the ID card")
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.locator("#correction-form [type=submit]").click()
        assert answer.value.status == 409
        banner = page.locator("#lock-banner")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("Dana Manager")
        expect(banner).to_contain_text("Interim data review")
        expect(page.locator("#id_birth_date")).to_have_value("1990-05-18")
        expect(page.locator("#id_reason")).to_have_value("Typed from the ID card")
        assert page.locator("html").get_attribute("lang") == language
        assert_accessible(page, context=f"refused correction {language}")
        assert overflow_problems(page, context=f"refused correction {language}") == []

        page.goto(f"{live_server.url}/participants/{participant.pk}/")
        expect(page.locator("#lock-banner")).to_contain_text("Interim data review")
        expect(page.locator(f"a[href='/participants/{participant.pk}/edit/']")).to_have_count(0)
        expect(page.locator("#eligibility-link")).to_have_count(0)
        assert_accessible(page, context=f"locked participant page {language}")
    participant.refresh_from_db()
    assert str(participant.birth_date) != "1990-05-18"
