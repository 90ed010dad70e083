"""The access review page in a real browser: an administrator reads every account and
records a review with an account to change, in English and Japanese, at 1280 px, with no
serious or critical WCAG 2.1 AA violation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Browser

from ecrf.accounts.models import AccessReview, User
from ecrf.audit.context import change_context

from .axe import assert_accessible, overflow_problems
from .test_pages import signed_in_context

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.requirement("ICH-E6R3-4.3.8-USER-MANAGEMENT", "PROT-LANGUAGE"),
]

LOCALES = {"en": "en-US", "ja": "ja-JP"}


@pytest.mark.parametrize("language", list(LOCALES))
def test_an_admin_reads_the_accounts_and_records_a_review(
    language: str, browser: Browser, live_server: Any, make_user: Callable[..., User]
) -> None:
    admin = make_user("admin", username="admin_a", language=language)
    monitor = make_user("monitor", ["S01", "S02"], username="monitor_m")
    with change_context(performed_by=admin):
        monitor.role = "data_manager"
        monitor.save()
    with signed_in_context(browser, live_server.url, admin, locale=LOCALES[language]) as context:
        page = context.new_page()
        page.goto(f"{live_server.url}/")
        page.locator("#nav a.nav-link[href='/accounts/access-review/']").click()
        page.wait_for_url("**/accounts/access-review/")
        assert page.locator("html").get_attribute("lang") == language
        row = page.locator("#account-monitor_m")
        assert "+09:00" in row.inner_text()
        assert "admin_a" in row.locator(".grants").inner_text()
        assert_accessible(page, context=f"access review {language}")
        assert overflow_problems(page, context=f"access review {language}") == []

        page.locator("#id_comment").fill("Quarterly review.")
        page.locator("#id_change_monitor_m").fill("Remove site S02")
        page.locator("#record-access-review").click()
        page.wait_for_selector("#access-reviews tbody th")
        assert "Remove site S02" in page.locator("#access-reviews").inner_text()
        assert_accessible(page, context=f"access review recorded {language}")
    review = AccessReview.objects.get()
    assert [c.account.username for c in review.changes.all()] == ["monitor_m"]
