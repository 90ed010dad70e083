"""A monitor's day in a real browser, in English and in Japanese: she reads a form,
verifies two values and raises a query on one; the coordinator sees it beside the
value, answers and corrects it; the monitor sees "changed since verified", closes the
query, filters the audit trail down to that change and signs off her review. Every page
on the way passes axe-core (WCAG 2.1 AA: no serious or critical violation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from ecrf.accounts.models import User
from ecrf.queries.models import Query
from ecrf.review.models import AuditReview

from .axe import assert_accessible
from .test_pages import record_console_errors, screenshot, signed_in_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORDS = {
    "en": {
        "locale": "en-US",
        "verified": "Verified",
        "changed": "Changed since verified",
        "form": "Biochemical pregnancy",
        "signal": "Changed after verification",
    },
    "ja": {
        "locale": "ja-JP",
        "verified": "照合済み",
        "changed": "照合後に変更あり",
        "form": "生化学的妊娠",
        "signal": "照合後の変更",
    },
}


def checked(page: Page, context: str) -> None:
    """The page loaded and passes axe-core."""
    page.wait_for_load_state("networkidle")
    assert_accessible(page, context=context)


@pytest.mark.requirement("ICH-E6R3-4.2.3-REVIEW")
@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_monitor_verifies_queries_and_reviews_the_trail_of_a_correction(
    language: str,
    browser: Browser,
    live_server: Any,
    coordinator_a: User,
    biochemical: Any,
    make_user: Any,
    screenshot_dir: Path,
) -> None:
    words = WORDS[language]
    coordinator_a.language = language
    coordinator_a.save(update_fields=["language"])
    monitor = make_user("monitor", ["S01"], username=f"monitor_{language}", language=language)
    form_url = f"{live_server.url}/participants/{biochemical.pk}/forms/biochemical_pregnancy/"
    hcg, result = "#field-serum_hcg_miu_ml", "#field-result"

    with signed_in_context(browser, live_server.url, monitor, words["locale"]) as context:
        page = context.new_page()
        errors = record_console_errors(page)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(form_url)
        expect(page.locator("h1")).to_contain_text(words["form"])
        checked(page, f"{language}: the form, as the monitor reads it")
        for row in (hcg, result):
            page.locator(f"{row} .verification button[type=submit]").click()
            expect(page.locator(f"{row} .verification")).to_contain_text(words["verified"])
        page.locator("#raise-query-serum_hcg_miu_ml-toggle").click()
        page.locator("#raise-query-serum_hcg_miu_ml-text").fill(
            "The laboratory report says 150 mIU/mL."
        )
        page.locator("#raise-query-serum_hcg_miu_ml-submit").click()
        thread = page.locator("#queries-serum_hcg_miu_ml .query-thread[data-status=open]")
        expect(thread).to_contain_text("150 mIU/mL")
        checked(page, f"{language}: the form with two values verified and a query")
        screenshot(page, screenshot_dir, f"{language}-01-monitor-verified-and-queried")
        assert errors == []
    query = Query.objects.get(participant=biochemical, field="serum_hcg_miu_ml")

    with signed_in_context(browser, live_server.url, coordinator_a, words["locale"]) as context:
        page = context.new_page()
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(form_url)
        expect(page.locator(f"#query-{query.pk}")).to_contain_text("150 mIU/mL")
        checked(page, f"{language}: the form with the query, as the coordinator reads it")
        page.locator(f"#respond-{query.pk}-text").fill("Typing error; corrected to 150.")
        page.locator(f"#respond-{query.pk}-submit").click()
        expect(page.locator(f"#query-{query.pk}")).to_have_attribute("data-status", "answered")
        page.locator("#correct-serum_hcg_miu_ml").click()
        checked(page, f"{language}: the form being corrected")
        page.locator("#id_serum_hcg_miu_ml").fill("150")
        page.locator("#id_reason").fill("Transcription error (laboratory report)")
        page.locator("form [type=submit]").last.click()
        page.wait_for_url("**/forms/biochemical_pregnancy/**")
        expect(page.locator(f"{hcg} .form-value")).to_contain_text("150")
        screenshot(page, screenshot_dir, f"{language}-02-coordinator-answered-and-corrected")

    with signed_in_context(browser, live_server.url, monitor, words["locale"]) as context:
        page = context.new_page()
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(form_url)
        expect(page.locator(f"{hcg} .verification")).to_contain_text(words["changed"])
        expect(page.locator(f"{result} .verification")).to_contain_text(words["verified"])
        page.locator(f"#close-{query.pk}-submit").click()
        expect(page.locator(f"#query-{query.pk}")).to_have_attribute("data-status", "closed")
        checked(page, f"{language}: the form after the correction")

        page.goto(f"{live_server.url}/audit/")
        checked(page, f"{language}: the audit trail review")
        page.locator("#id_subject_id").fill(biochemical.subject_id)
        page.locator("#id_record").select_option("biochemical_pregnancy")
        page.locator("#id_field").fill("serum_hcg_miu_ml")
        page.locator("#id_signal").select_option("after_verification")
        page.locator("#audit-filter-submit").click()
        rows = page.locator("#audit-entries tbody tr[data-entry]")
        expect(rows).to_have_count(1)
        expect(rows.first.locator(".audit-old")).to_contain_text("140.00")
        expect(rows.first.locator(".audit-new")).to_contain_text("150.00")
        expect(rows.first).to_contain_text(words["signal"])
        expect(rows.first).to_contain_text("Transcription error (laboratory report)")
        expect(rows.first).to_contain_text("(UTC+09:00)")
        checked(page, f"{language}: the audit trail filtered down to the correction")
        screenshot(page, screenshot_dir, f"{language}-03-audit-trail-filtered")

        page.locator("#review_site").select_option("S01")
        page.locator("#review_comment").fill("Correction reviewed against source.")
        page.locator("#sign-off-submit").click()
        expect(page.locator("#audit-reviews")).to_contain_text("Correction reviewed")
        checked(page, f"{language}: the audit trail after the sign-off")
        screenshot(page, screenshot_dir, f"{language}-04-review-signed-off")

    assert Query.objects.get(pk=query.pk).status == "closed"
    review = AuditReview.objects.get()
    assert (review.reviewed_by, review.site.code) == (monitor, "S01")
