"""A coordinator takes a participant from screening to her arm, in a real browser."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from ecrf.accounts.models import User
from ecrf.accounts.services import user_set_language
from ecrf.participants.services import site_today
from ecrf.studies.models import Site
from randomization.models import Slot

from .test_pages import record_console_errors, screenshot, signed_in_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: The visible words each language shows at each step.
WORDS = {
    "en": {
        "locale": "en-US",
        "not_eligible": "Not eligible so far:",
        "eligible": "Eligible: every criterion is met.",
        "yes": "Yes",
        "no": "No",
        "randomized": "Randomized",
    },
    "ja": {
        "locale": "ja-JP",
        "not_eligible": "現時点で不適格:",
        "eligible": "適格: すべての基準を満たしています。",
        "yes": "はい",
        "no": "いいえ",
        "randomized": "無作為割付済み",
    },
}

NO_ANSWERS = [
    "prior_biochemical_pregnancy",
    "other_infertility_factor",
    "antiphospholipid_syndrome",
    "coagulation_abnormality",
    "thyroid_dysfunction",
    "other_pregnancy_loss_factor",
    "tacrolimus_contraindication",
    "pregnant",
    "investigator_judges_unsuitable",
]
YES_ANSWERS = ["frozen_embryos_available", "able_to_attend_visits"]


@pytest.mark.requirement(
    "PROT-ELIG-RESULT",
    "PROT-CONSENT",
    "PROT-RAND-OPEN-LABEL",
    "PROT-LANGUAGE",
    "ICH-E6R3-4.2.1-CAPTURE",
)
@pytest.mark.parametrize("language", ["en", "ja"])
def test_coordinator_screens_checks_eligibility_consents_and_randomizes(
    language: str,
    browser: Browser,
    live_server: Any,
    coordinator_a: User,
    site_a: Site,
    screenshot_dir: Path,
) -> None:
    words = WORDS[language]
    user_set_language(user=coordinator_a, language=language)
    screening = site_today(site_a) - dt.timedelta(days=3)
    with signed_in_context(browser, live_server.url, coordinator_a, words["locale"]) as context:
        page = context.new_page()
        errors = record_console_errors(page)

        page.goto(f"{live_server.url}/participants/new/")
        expect(page.locator("html")).to_have_attribute("lang", language)
        page.locator("#id_site").select_option(str(site_a.pk))
        page.locator("#id_screening_date").fill(screening.isoformat())
        page.locator("#id_birth_date").fill("1990-05-17")
        page.locator("#screening-form [type=submit]").click()
        expect(page.locator("#subject-id")).to_have_text("S01-001")
        screenshot(page, screenshot_dir, "01-registered")

        page.locator("#eligibility-link").click()
        feedback = page.locator("#eligibility-feedback")
        page.locator("#id_prior_good_quality_transfers").fill("3")
        page.locator("#id_prior_embryos_transferred").fill("5")
        page.locator("#id_th1_th2_ratio").fill("9.1")
        expect(feedback).to_contain_text(words["not_eligible"])
        expect(feedback.locator("[data-criterion=th1_th2_ratio]")).to_contain_text("9.1")
        screenshot(page, screenshot_dir, "02-criterion-fails-as-she-types")

        page.locator("#id_th1_th2_ratio").fill("12.5")
        for name in NO_ANSWERS:
            page.locator(f"input[name={name}][value=False]").check()
        for name in YES_ANSWERS:
            page.locator(f"input[name={name}][value=True]").check()
        expect(feedback).to_contain_text(words["eligible"])
        expect(feedback.locator("[data-criterion]")).to_have_count(0)
        screenshot(page, screenshot_dir, "03-eligible")
        page.locator("#eligibility-form [type=submit]").click()
        expect(page.locator("#eligibility-result")).to_be_visible()

        page.locator("#consent-link").click()
        page.locator("#id_consent_date").fill(screening.isoformat())
        page.locator("#id_consent_version").select_option("1.0")
        page.locator("#consent-form [type=submit]").click()
        expect(page.locator("#consent-summary")).to_contain_text(screening.isoformat())
        screenshot(page, screenshot_dir, "04-consented")

        page.locator("#randomize-link").click()
        expect(page.locator("#randomize-statement")).to_contain_text("2:1")
        screenshot(page, screenshot_dir, "05-confirmation")
        page.locator("#confirm-randomize").click()

        expect(page.locator("#randomization-number")).to_have_text("S01-R001")
        expect(page.locator("#status")).to_have_text(words["randomized"])
        expect(page.locator("#dose")).to_have_text(re.compile(r"^[24] mg/"))
        screenshot(page, screenshot_dir, "06-arm-shown")

        slot = Slot.objects.select_related("arm").get(participant__subject_id="S01-001")
        expect(page.locator("#arm")).to_have_text(
            slot.arm.name_ja if language == "ja" else slot.arm.name_en
        )
        assert errors == []
