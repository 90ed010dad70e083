"""One participant's whole trial through every role's pages, in English and in Japanese.

A coordinator screens her, checks eligibility, records consent, randomizes, sets the
embryo transfer, keeps the dose diary (each intake, and one corrected with a reason),
records both endpoints and the drug return (she has completed); a monitor raises a
query, the coordinator corrects the value with a reason and answers, the monitor
verifies the form against source, closes the query and exports the audit trail (a real
Celery worker writes it while the progress bar moves); the investigator signs with her
password; the data manager locks her, and the coordinator finds her forms read-only,
with who locked them, when and why.

The trial's clock is pinned to each step's day (``tests.clock.at``): the live server
runs in this process, so it sees the same day; each day is a new sign-in.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from ecrf.accounts.models import User
from ecrf.exports.formats.audit import AUDIT_COLUMNS
from ecrf.exports.models import ExportJob
from ecrf.exports.selectors import export_path
from ecrf.quality.models import Signature
from ecrf.studies.models import Site
from randomization.models import Slot
from tests.clock import at
from tests.conftest import Worker
from tests.factories import PASSWORD

from .axe import assert_accessible
from .test_pages import record_console_errors, screenshot, signed_in_context
from .test_randomization_journey import NO_ANSWERS, YES_ANSWERS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CONTRACT_HEADER = (
    "timestamp,user,role,site,subject_id,record,record_id,field,old_value,new_value,reason,action"
)

#: The trial's days (Tokyo): randomized on day 0, transfer on ET, endpoints at ET+14, ET+21.
SCREENING = dt.date(2026, 2, 17)
CONSENT = dt.date(2026, 2, 18)
RANDOMIZATION_DAY = "2026-02-20"
ET = dt.date(2026, 3, 1)
DOSING_DAY = "2026-02-28"
BIOCHEMICAL_DAY = "2026-03-15"
CLINICAL_DAY = "2026-03-22"
REVIEW_DAY = "2026-03-23"
CLOSING_DAY = "2026-03-24"

QUERY_TEXT = "The laboratory report gives 152 mIU/mL; please check the value entered."
CORRECTION_REASON = "Transcription error: the laboratory report gives 152 mIU/mL."
ANSWER_TEXT = "Corrected to 152 mIU/mL from the laboratory report."

#: What each language shows at the key steps.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "locale": "en-US",
        "registered": "Registered S01-001.",
        "eligible": "Eligible: every criterion is met.",
        "randomized": "Randomized",
        "et_saved": "Embryo transfer saved; the schedule follows it.",
        "dose_recorded": "Dose recorded.",
        "dose_corrected": "Dose corrected.",
        "saved": "Saved.",
        "completed": "Completed",
        "query_opened": "Query opened.",
        "open": "Open",
        "reason_required": "A reason for change is required when a saved value changes",
        "answered": "Answered",
        "verified": "Marked as verified against source.",
        "closed": "Closed",
        "exports": "Exports",
        "download": "Download",
        "signed": "The casebook is signed.",
        "locked": "Locked.",
    },
    "ja": {
        "locale": "ja-JP",
        "registered": "S01-001 を登録しました。",
        "eligible": "適格: すべての基準を満たしています。",
        "randomized": "無作為割付済み",
        "et_saved": "胚移植を保存しました。スケジュールはこれに基づいて更新されます。",
        "dose_recorded": "服薬を記録しました。",
        "dose_corrected": "服用記録を訂正しました。",
        "saved": "保存しました。",
        "completed": "完了",
        "query_opened": "クエリを発行しました。",
        "open": "オープン",
        "reason_required": "保存済みの値を変更する場合は変更理由の入力が必要です",
        "answered": "回答済み",
        "verified": "原資料との照合済みとして記録しました。",
        "closed": "クローズ",
        "exports": "エクスポート",
        "download": "ダウンロード",
        "signed": "症例報告書に署名しました。",
        "locked": "ロックしました。",
    },
}


class Journey:
    """The browser side of the journey: one signed-in page per role and day, and the
    numbered screenshots ``journey-<lang>-NN-<step>.png``."""

    def __init__(self, browser: Browser, base_url: str, language: str, folder: Path) -> None:
        self.browser = browser
        self.base_url = base_url
        self.language = language
        self.folder = folder
        self.words = WORDS[language]
        self.step = 0
        self.console_errors: list[str] = []

    @contextmanager
    def page_of(self, user: User, path: str) -> Iterator[Page]:
        with signed_in_context(self.browser, self.base_url, user, self.words["locale"]) as context:
            page = context.new_page()
            errors = record_console_errors(page)
            page.goto(f"{self.base_url}{path}")
            expect(page.locator("html")).to_have_attribute("lang", self.language)
            yield page
            # A form the server refuses (400, 409) is logged by Chromium as a failed load.
            self.console_errors += [e for e in errors if "the server responded" not in e]

    def shot(self, page: Page, name: str) -> None:
        self.step += 1
        screenshot(page, self.folder, f"journey-{self.language}-{self.step:02d}-{name}")

    def alert(self, page: Page) -> Any:
        return expect(page.get_by_role("alert").first)


@pytest.mark.requirement(
    "PROT-LANGUAGE",
    "PROT-SCREEN-LOG",
    "PROT-ELIG-RESULT",
    "PROT-CONSENT",
    "PROT-RAND-OPEN-LABEL",
    "PROT-DOSE-DIARY",
    "PROT-ENDPOINT-BIOCHEM",
    "PROT-ENDPOINT-CLINICAL",
    "PROT-COMPLETION",
    "ICH-E6R3-4.2.3-REVIEW",
    "ICH-E6R3-4.2.4-CORRECTIONS",
    "CFR11-10E-CONTENT",
    "CFR11-10E-REVIEW",
    "CFR11-50-MANIFESTATION",
    "ICH-E6R3-INVESTIGATOR-OVERSIGHT",
    "ICH-E6R3-4.2.6-FINALISATION",
)
@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_participant_goes_through_the_trial_across_every_role(
    language: str,
    browser: Browser,
    live_server: Any,
    make_user: Callable[..., User],
    site_a: Site,
    start_worker: Callable[..., Worker],
    queue_name: str,
    settings: Any,
    screenshot_dir: Path,
) -> None:
    settings.EXPORT_QUEUE = queue_name
    coordinator = make_user("coordinator", username=f"crc_{language}", language=language)
    monitor = make_user("monitor", username=f"monitor_{language}", language=language)
    investigator = make_user("investigator", username=f"pi_{language}", language=language)
    data_manager = make_user("data_manager", username=f"dm_{language}", language=language)
    journey = Journey(browser, live_server.url, language, screenshot_dir)
    words = journey.words

    # -- 1. The coordinator: screening to randomization, then the transfer date --------
    with at(RANDOMIZATION_DAY), journey.page_of(coordinator, "/participants/new/") as page:
        page.locator("#id_site").select_option(str(site_a.pk))
        page.locator("#id_screening_date").fill(SCREENING.isoformat())
        page.locator("#id_birth_date").fill("1990-05-17")
        page.locator("#screening-form [type=submit]").click()
        expect(page.locator("#subject-id")).to_have_text("S01-001")
        journey.alert(page).to_have_text(words["registered"])
        journey.shot(page, "registered")
        detail = re.sub(r"^https?://[^/]+", "", page.url)

        page.locator("#eligibility-link").click()
        page.locator("#id_prior_good_quality_transfers").fill("3")
        page.locator("#id_prior_embryos_transferred").fill("5")
        page.locator("#id_th1_th2_ratio").fill("12.5")
        for name in NO_ANSWERS:
            page.locator(f"input[name={name}][value=False]").check()
        for name in YES_ANSWERS:
            page.locator(f"input[name={name}][value=True]").check()
        expect(page.locator("#eligibility-feedback")).to_contain_text(words["eligible"])
        journey.shot(page, "eligible")
        page.locator("#eligibility-form [type=submit]").click()
        expect(page.locator("#eligibility-result")).to_be_visible()

        page.locator("#consent-link").click()
        page.locator("#id_consent_date").fill(CONSENT.isoformat())
        page.locator("#id_consent_version").select_option("1.0")
        page.locator("#consent-form [type=submit]").click()
        expect(page.locator("#consent-summary")).to_contain_text(CONSENT.isoformat())
        journey.shot(page, "consented")

        page.locator("#randomize-link").click()
        expect(page.locator("#randomize-statement")).to_contain_text("2:1")
        journey.shot(page, "randomize-confirmation")
        page.locator("#confirm-randomize").click()
        expect(page.locator("#randomization-number")).to_have_text("S01-R001")
        expect(page.locator("#status")).to_have_text(words["randomized"])
        arm = Slot.objects.select_related("arm").get(participant__subject_id="S01-001").arm
        expect(page.locator("#arm")).to_have_text(arm.name_ja if language == "ja" else arm.name_en)
        journey.shot(page, "randomized-arm-shown")
        daily_dose = re.match(r"\d+", page.locator("#dose").inner_text())
        assert daily_dose is not None
        dose = daily_dose.group()

        page.locator("#treatment-link").click()
        page.locator("#id_et_date").fill(ET.isoformat())
        page.locator("form#et-form [type=submit]").click()
        journey.alert(page).to_have_text(words["et_saved"])
        expect(page.locator("#dosing-window")).to_have_text("2026-02-27 – 2026-03-14")
        expect(page.locator("tr[data-visit=biochemical_pregnancy]")).to_contain_text("2026-03-15")
        expect(page.locator("tr[data-visit=clinical_pregnancy]")).to_contain_text("2026-03-22")
        journey.shot(page, "embryo-transfer-set")

    # -- the dose diary, on the second day of dosing -----------------------------------
    with at(DOSING_DAY), journey.page_of(coordinator, detail) as page:
        page.locator("#treatment-link").click()
        for day in ("2026-02-27", "2026-02-28"):
            for intake, time in (("morning", "08:00"), ("evening", "19:30")):
                cell = f"dose-{day}-{intake}"
                page.locator(f"#time-{cell}").fill(time)
                page.locator(f"#taken-{cell}").click()
                journey.alert(page).to_have_text(words["dose_recorded"])
                expect(page.locator(f"#{cell} .dose-entry")).to_contain_text(time)
                expect(page.locator(f"#{cell} .dose-entry")).to_contain_text(f"{int(dose) // 2} mg")
        expect(page.locator("#compliance")).to_have_text("100.0%")
        assert_accessible(page, context=f"dose diary {language}")
        journey.shot(page, "dose-diary")

        # The first morning's time was misread: corrected on its page, with a reason.
        first = "dose-2026-02-27-morning"
        page.locator(f"#{first} a[href$='/2026-02-27/morning/']").click()
        assert_accessible(page, context=f"dose intake page {language}")
        page.locator("#id_time_taken").fill("08:20")
        page.locator("form#dose-form [type=submit]").click()
        expect(page.locator("#id_reason")).to_have_attribute("aria-invalid", "true")
        assert_accessible(page, context=f"dose correction refused {language}")
        page.locator("#id_reason").fill("Diary card reread: 08:20")
        page.locator("form#dose-form [type=submit]").click()
        journey.alert(page).to_have_text(words["dose_corrected"])
        expect(page).to_have_url(re.compile(f"#{first}$"))
        expect(page.locator(f"#{first} .dose-entry")).to_contain_text("08:20")
        journey.shot(page, "dose-corrected")

    # -- the endpoints: biochemical pregnancy at ET+14, clinical pregnancy at ET+21 -----
    with at(BIOCHEMICAL_DAY), journey.page_of(coordinator, detail) as page:
        page.locator("#biochemical-link").click()
        page.locator("#id_assessed_on").fill(BIOCHEMICAL_DAY)
        page.locator("#id_serum_hcg_miu_ml").fill("125")
        page.locator("input[name=result][value=positive]").check()
        journey.shot(page, "biochemical-pregnancy-form")
        page.locator("form#biochemical_pregnancy-form [type=submit]").click()
        journey.alert(page).to_have_text(words["saved"])
        expect(page.locator("#biochemical-link")).to_contain_text("✓")

    with at(CLINICAL_DAY), journey.page_of(coordinator, detail) as page:
        page.locator("#clinical-link").click()
        page.locator("#id_assessed_on").fill(CLINICAL_DAY)
        page.locator("input[name=transvaginal_ultrasound][value=True]").check()
        page.locator("input[name=gestational_sac_seen][value=True]").check()
        page.locator("#id_number_of_sacs").fill("1")
        page.locator("input[name=ectopic_pregnancy][value=False]").check()
        page.locator("#id_fetal_heartbeat").select_option("True")
        page.locator("input[name=result][value=positive]").check()
        page.locator("#id_followup_study_consent").select_option("True")
        journey.shot(page, "clinical-pregnancy-form")
        page.locator("form#clinical_pregnancy-form [type=submit]").click()
        journey.alert(page).to_have_text(words["saved"])
        expect(page.locator("#clinical-link")).to_contain_text("✓")
        # Both endpoints are not completion: the capsules she brought back are still due.
        expect(page.locator("#status")).to_have_text(words["randomized"])
        expect(page.locator("#completion-open-items li")).to_have_count(1)
        journey.shot(page, "completion-open-items")
        page.locator("#completion-open-items li[data-item=drug_return] a").click()
        page.locator("#id_return_returned_on").fill(CLINICAL_DAY)
        page.locator("#id_return_capsules").fill("0")
        page.locator("form#return-form [type=submit]").click()
        journey.alert(page).to_be_visible()
        page.goto(re.sub(r"(https?://[^/]+).*", r"\1", page.url) + detail)
        expect(page.locator("#status")).to_have_text(words["completed"])
        expect(page.locator("#completion-open-items")).to_have_count(0)
        journey.shot(page, "completed")

    # -- 2. The monitor queries the hCG; the coordinator corrects it and answers --------
    with at(REVIEW_DAY):
        with journey.page_of(monitor, detail) as page:
            page.locator("#query-target").select_option("biochemical_pregnancy.serum_hcg_miu_ml")
            page.locator("#query-text").fill(QUERY_TEXT)
            page.locator("#query-form [type=submit]").click()
            journey.alert(page).to_have_text(words["query_opened"])
            query = page.locator(".query[data-status=open]")
            expect(query).to_contain_text(QUERY_TEXT)
            expect(query).not_to_contain_text("biochemical_pregnancy.serum_hcg_miu_ml")
            expect(query.locator(".badge")).to_have_text(words["open"])
            journey.shot(page, "monitor-opens-query")

        with journey.page_of(coordinator, "/") as page:
            expect(page.locator("#open-queries")).to_contain_text(QUERY_TEXT)
            page.locator("#open-queries a").first.click()
            page.locator("#biochemical-link").click()
            expect(page.locator("#form-queries li[data-field=serum_hcg_miu_ml]")).to_contain_text(
                QUERY_TEXT
            )
            page.locator("#id_serum_hcg_miu_ml").fill("152")
            page.locator("form#biochemical_pregnancy-form [type=submit]").click()
            expect(page.locator("#id_reason")).to_have_class(re.compile(r"\bis-invalid\b"))
            expect(page.locator("form#biochemical_pregnancy-form")).to_contain_text(
                words["reason_required"]
            )
            journey.shot(page, "correction-needs-a-reason")
            page.locator("#id_serum_hcg_miu_ml").fill("152")
            page.locator("#id_reason").fill(CORRECTION_REASON)
            page.locator("form#biochemical_pregnancy-form [type=submit]").click()
            journey.alert(page).to_have_text(words["saved"])
            page.locator(".respond-form input[name=text]").fill(ANSWER_TEXT)
            page.locator(".respond-form [type=submit]").click()
            answered = page.locator(".query[data-status=answered]")
            expect(answered).to_contain_text(ANSWER_TEXT)
            expect(answered.locator(".badge")).to_have_text(words["answered"])
            journey.shot(page, "coordinator-corrects-and-answers")

        with journey.page_of(monitor, detail) as page:
            page.locator("#form-links a[data-form=biochemical_pregnancy]").click()
            expect(page.locator("#form-values tr[data-field=serum_hcg_miu_ml]")).to_contain_text(
                "152.00"
            )
            page.locator("#verify-all").click()
            journey.alert(page).to_have_text(words["verified"])
            expect(page.locator("#form-values .verification .badge")).to_have_count(3)
            journey.shot(page, "monitor-verifies-the-form")
            page.goto(f"{journey.base_url}{detail}")
            expect(
                page.locator("#sdv-forms tr[data-form=biochemical_pregnancy] td.text-success")
            ).to_have_text("3/3")
            page.locator(".close-form input[name=text]").fill("Matches the laboratory report.")
            page.locator(".close-form [type=submit]").click()
            closed = page.locator(".query[data-status=closed]")
            expect(closed.locator(".badge")).to_have_text(words["closed"])
            journey.shot(page, "monitor-verifies-and-closes")

            # -- 3. The monitor exports the audit trail and watches it being written ---
            page.locator("#nav a[href='/exports/']").click()
            expect(page.get_by_role("heading", level=1)).to_have_text(words["exports"])
            page.locator("#id_kind").select_option("audit_trail")
            page.locator("#id_format").select_option("csv")
            page.locator("#id_subject_id").fill("S01-001")
            page.locator("#export-form [type=submit]").click()
            row = page.locator("tr.export-row").first
            bar = row.locator("[role=progressbar]")
            expect(row).to_have_attribute("data-status", "pending")
            expect(bar).to_have_attribute("aria-valuenow", "0")
            expect(row.locator("[data-field=download_url]")).to_be_hidden()
            journey.shot(page, "export-waiting")

            worker = start_worker(queue=queue_name)
            expect(bar).to_have_attribute("aria-valuenow", "100", timeout=60_000)
            expect(row).to_have_attribute("data-status", "done")
            link = row.locator("[data-field=download_url]")
            expect(link).to_have_text(words["download"])
            job = ExportJob.objects.get()
            expect(row.locator("[data-field=checksum]")).to_have_text(job.checksum)
            journey.shot(page, "export-done")
            with page.expect_download() as download:
                link.click()
            content = Path(download.value.path()).read_text(encoding="utf-8-sig")
            export_path(job).unlink()
            assert worker.tasks_succeeded() == 1

    lines = content.splitlines()
    assert lines[0].startswith(CONTRACT_HEADER + ","), lines[0]
    rows = list(csv.DictReader(io.StringIO(content)))
    assert tuple(next(csv.reader(io.StringIO(content)))[: len(AUDIT_COLUMNS)]) == AUDIT_COLUMNS
    assert rows and {row["subject_id"] for row in rows} == {"S01-001"}
    correction = [
        row
        for row in rows
        if (row["record"], row["field"]) == ("biochemical_pregnancy", "serum_hcg_miu_ml")
        and row["action"] == "update"
    ]
    assert len(correction) == 1, correction
    assert correction[0]["reason"] == CORRECTION_REASON
    assert correction[0]["user"] == coordinator.username
    assert (correction[0]["old_value"], correction[0]["new_value"]) == ("125.00", "152.00")
    records = {row["record"] for row in rows}
    assert {"participant", "consent", "embryo_transfer", "dose", "clinical_pregnancy"} <= records

    # -- 4. The investigator signs; 5. the data manager locks; the coordinator is refused
    with at(CLOSING_DAY):
        with journey.page_of(investigator, detail) as page:
            page.locator("#sign-form input[name=password]").fill(PASSWORD)
            # Forms she has not had verified are still open: she signs with them open.
            expect(page.locator("#sign-open-items [data-open=unverified_forms]")).to_be_visible()
            page.locator("#sign-anyway").check()
            page.locator("#sign-form [type=submit]").click()
            journey.alert(page).to_have_text(words["signed"])
            signature = Signature.objects.get()
            expect(page.locator("#signatures")).to_contain_text(investigator.printed_name)
            expect(page.locator("#signatures")).to_contain_text(signature.meaning)
            journey.shot(page, "investigator-signs")

        with journey.page_of(data_manager, detail) as page:
            page.locator("#lock-record").select_option("")
            page.locator("#lock-button").locator("xpath=..").locator("input[name=reason]").fill(
                "Casebook complete and signed."
            )
            page.locator("#lock-button").click()
            journey.alert(page).to_have_text(words["locked"])
            expect(page.locator("#locks li")).to_have_count(1)
            journey.shot(page, "data-manager-locks")

        with journey.page_of(coordinator, detail) as page:
            page.locator("#biochemical-link").click()
            # The form is read-only now: the banner says who locked it, when and why,
            # and nothing offers a change that would only be refused.
            expect(page.locator("#lock-banner-by")).to_have_text(data_manager.printed_name)
            expect(page.locator("#lock-banner-reason")).to_have_text(
                "Casebook complete and signed."
            )
            expect(page.locator("#id_serum_hcg_miu_ml")).to_have_count(0)
            expect(page.locator("form#biochemical_pregnancy-form")).to_have_count(0)
            journey.shot(page, "coordinator-reads-locked-form")

    assert journey.console_errors == []
