"""Completion in a real browser: the open items on her page and her coordinator's home
lead to where each is done; the last one done, she has completed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from ecrf.accounts.models import User
from ecrf.endpoints.services import endpoint_record
from ecrf.participants.models import Participant

from ..clock import at
from .axe import assert_accessible
from .test_pages import signed_in_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCALES = {"en": "en-US", "ja": "ja-JP"}
COMPLETED = {"en": "Completed", "ja": "完了"}


def _both_endpoints(participant: Participant, coordinator: User) -> None:
    """Her ET on 1 March: both endpoints on their target days, no drug return yet."""
    with at("2026-03-15"):
        endpoint_record(
            participant=participant,
            record="biochemical_pregnancy",
            values={
                "assessed_on": dt.date(2026, 3, 15),
                "serum_hcg_miu_ml": 140,
                "result": "positive",
            },
            performed_by=coordinator,
        )
    with at("2026-03-22"):
        endpoint_record(
            participant=participant,
            record="clinical_pregnancy",
            values={
                "assessed_on": dt.date(2026, 3, 22),
                "gestational_sac_seen": True,
                "result": "positive",
            },
            performed_by=coordinator,
        )


@pytest.mark.requirement("PROT-COMPLETION", "PROT-LANGUAGE")
@pytest.mark.parametrize("language", ["en", "ja"])
def test_the_coordinator_follows_the_open_items_to_completion(
    language: str,
    browser: Browser,
    live_server: Any,
    make_user: Any,
    transferred: Participant,
    coordinator_a: User,
) -> None:
    _both_endpoints(transferred, coordinator_a)
    coordinator = make_user("coordinator", ["S01"], username=f"crc_{language}", language=language)
    with (
        at("2026-04-10"),
        signed_in_context(browser, live_server.url, coordinator, LOCALES[language]) as context,
    ):
        page = context.new_page()
        page.goto(f"{live_server.url}/")
        row = page.locator("#agenda tr[data-kind=completion]")
        expect(row).to_contain_text(transferred.subject_id)
        expect(row).to_contain_text("2026-03-22")
        assert_accessible(page, context=f"coordinator home with completion due {language}")

        row.locator("a.subject-id").click()
        items = page.locator("#completion-open-items li")
        expect(items).to_have_count(1)
        expect(page.locator("#completion-open-items li[data-item=drug_return]")).to_be_visible()
        assert_accessible(page, context=f"participant page with open items {language}")

        page.locator("#completion-open-items li[data-item=drug_return] a").click()
        page.locator("#id_return_returned_on").fill("2026-04-10")
        page.locator("#id_return_capsules").fill("2")
        page.locator("form#return-form [type=submit]").click()
        page.goto(f"{live_server.url}/participants/{transferred.pk}/")
        expect(page.locator("#status")).to_have_text(COMPLETED[language])
        expect(page.locator("#completion-open-items")).to_have_count(0)

        page.goto(f"{live_server.url}/")
        expect(page.locator("#agenda tr[data-kind=completion]")).to_have_count(0)
