"""Treatment pages: ET and dose forms, printable schedule, iCalendar feed, worklist."""

from __future__ import annotations

import datetime as dt

import pytest
from icalendar import Calendar

from ecrf.schedule.models import DoseEntry, EmbryoTransfer

from ..clock import at

pytestmark = pytest.mark.django_db


@pytest.mark.requirement("PROT-DOSE-DIARY", "PROT-DOSE-WINDOW", "PROT-DRUG-ACCOUNTABILITY")
def test_coordinator_sets_the_et_and_records_doses_in_the_pages(
    client_for, coordinator_a, randomized
):
    client = client_for(coordinator_a)
    base = f"/participants/{randomized.pk}/treatment/"
    with at("2026-02-21"):
        assert client.get(base).status_code == 200
        response = client.post(base + "embryo-transfer/", {"et_date": "2026-03-01"})
        assert response.status_code == 302
        page = client.get(base).content.decode()
    assert 'id="dosing-window">2026-02-27 – 2026-03-14<' in page
    per_intake = str((randomized.allocation.arm.daily_dose_mg / 2).normalize())
    with at("2026-02-27", hour=21):
        client = client_for(coordinator_a)
        morning = {"date": "2026-02-27", "intake": "morning", "taken": "True"}
        refused = client.post(base + "dose/", {**morning, "dose_mg": "3"})
        assert refused.status_code == 400
        assert b"protocol deviation" in refused.content
        assert not DoseEntry.objects.exists()
        saved = client.post(
            base + "dose/", {**morning, "dose_mg": per_intake, "time_taken": "08:10"}
        )
        assert saved.status_code == 302
        assert saved["Location"] == f"{base}#dose-2026-02-27-morning"
        evening = {"date": "2026-02-27", "intake": "evening", "taken": "False"}
        unexplained = client.post(base + "dose/", evening)
        assert unexplained.status_code == 400
        assert b"Say why the dose was missed." in unexplained.content
        missed = client.post(base + "dose/", {**evening, "missed_reason": "Nausea after dinner"})
        assert missed["Location"] == f"{base}#dose-2026-02-27-evening"
        page = client.get(base).content.decode()
    entries = {e.intake: e for e in DoseEntry.objects.filter(date=dt.date(2026, 2, 27))}
    assert entries["morning"].taken and entries["morning"].time_taken == dt.time(8, 10)
    assert not entries["evening"].taken
    assert entries["evening"].missed_reason == "Nausea after dinner"
    assert 'id="compliance">50.0%<' in page


@pytest.mark.requirement("PROT-ET-MOVE", "CFR11-10E-CONTENT", "ICH-E6R3-4.2.4-CORRECTIONS")
def test_moving_the_et_in_the_page_needs_a_reason(client_for, coordinator_a, randomized):
    client = client_for(coordinator_a)
    base = f"/participants/{randomized.pk}/treatment/"
    with at("2026-02-21"):
        client.post(base + "embryo-transfer/", {"et_date": "2026-03-01"})
        refused = client.post(base + "embryo-transfer/", {"et_date": "2026-03-04"})
        assert refused.status_code == 400 and b"A reason for change is required" in refused.content
        client.post(
            base + "embryo-transfer/", {"et_date": "2026-03-04", "reason": "Cycle postponed"}
        )
    assert EmbryoTransfer.objects.get().et_date == dt.date(2026, 3, 4)


@pytest.mark.requirement("CFR11-10B-READABLE", "PROT-DOSE-ARMS", "PROT-DOSE-WINDOW")
def test_printable_schedule_lists_every_day_and_dose(client_for, coordinator_a, randomized):
    client = client_for(coordinator_a)
    with at("2026-02-21"):
        client.post(
            f"/participants/{randomized.pk}/treatment/embryo-transfer/", {"et_date": "2026-03-01"}
        )
        html = client.get(f"/participants/{randomized.pk}/schedule/").content.decode()
    table = html.split('id="print-schedule"')[1].split("</table>")[0]
    assert table.count("<tr>") == 17
    assert "2026-02-27" in table and "2026-03-14" in table and "2026-03-15" not in table
    per_intake = randomized.allocation.arm.daily_dose_mg / 2
    assert f"{int(per_intake)} capsules" in table


@pytest.mark.requirement("PROT-VISIT-WINDOWS")
def test_ics_feed_reads_back_with_a_real_parser(client_for, coordinator_a, randomized):
    client = client_for(coordinator_a)
    with at("2026-02-21"):
        client.post(
            f"/participants/{randomized.pk}/treatment/embryo-transfer/", {"et_date": "2026-03-01"}
        )
        response = client.get(f"/participants/{randomized.pk}/schedule.ics")
    assert response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = {str(e["uid"]): e for e in calendar.walk("VEVENT")}
    assert events["S01-001-biochemical_pregnancy@ecrf"].decoded("dtstart") == dt.date(2026, 3, 15)
    assert events["S01-001-clinical_pregnancy@ecrf"].decoded("dtstart") == dt.date(2026, 3, 22)
    assert events["S01-001-dosing@ecrf"].decoded("dtstart") == dt.date(2026, 2, 27)
    assert events["S01-001-dosing@ecrf"].decoded("dtend") == dt.date(2026, 3, 15)


@pytest.mark.requirement("PROT-VISIT-WINDOWS")
def test_ics_events_carry_a_utc_dtstamp_and_keep_their_uids_from_one_download_to_the_next(
    client_for, coordinator_a, randomized
):
    client = client_for(coordinator_a)
    url = f"/participants/{randomized.pk}/schedule.ics"
    with at("2026-02-21"):
        client.post(
            f"/participants/{randomized.pk}/treatment/embryo-transfer/", {"et_date": "2026-03-01"}
        )
        first = Calendar.from_ical(client.get(url).content)
    with at("2026-02-25", hour=15):
        # A new session: the first one has ended after days without activity.
        second = Calendar.from_ical(client_for(coordinator_a).get(url).content)

    first_events = first.walk("VEVENT")
    second_events = second.walk("VEVENT")
    assert len(first_events) > 1
    first_uids = [str(e["uid"]) for e in first_events]
    assert len(set(first_uids)) == len(first_uids)
    assert first_uids == [str(e["uid"]) for e in second_events]
    # 10:00 and 15:00 in Tokyo are 01:00 and 06:00 UTC.
    assert {e.decoded("dtstamp") for e in first_events} == {
        dt.datetime(2026, 2, 21, 1, 0, tzinfo=dt.UTC)
    }
    assert {e.decoded("dtstamp") for e in second_events} == {
        dt.datetime(2026, 2, 25, 6, 0, tzinfo=dt.UTC)
    }
    assert all(e["dtstamp"].to_ical().endswith(b"Z") for e in second_events)


@pytest.mark.requirement("PROT-VISIT-STATUS")
def test_coordinator_home_shows_what_is_due_this_week(client_for, coordinator_a, randomized):
    client = client_for(coordinator_a)
    with at("2026-02-21"):
        client.post(
            f"/participants/{randomized.pk}/treatment/embryo-transfer/", {"et_date": "2026-03-01"}
        )
    with at("2026-02-24"):
        html = client_for(coordinator_a).get("/").content.decode()
    agenda = html.split('id="agenda"')[1].split("</table>")[0]
    assert "2026-02-27" in agenda and "Dosing starts" in agenda


@pytest.mark.requirement("CFR11-10G-AUTHORITY")
def test_read_only_roles_cannot_post_treatment_forms(client_for, make_user, randomized):
    client = client_for(make_user("monitor", ["S01"]))
    response = client.post(
        f"/participants/{randomized.pk}/treatment/embryo-transfer/", {"et_date": "2026-12-01"}
    )
    assert response.status_code == 403
    assert not EmbryoTransfer.objects.exists()


@pytest.mark.requirement("PROT-ET-MOVE", "CFR11-10A-INVALID")
def test_the_et_form_states_and_enforces_the_earliest_date(client_for, coordinator_a, randomized):
    client = client_for(coordinator_a)
    base = f"/participants/{randomized.pk}/treatment/"
    with at("2026-02-20", hour=15):
        page = client.get(base).content.decode()
        refused = client.post(base + "embryo-transfer/", {"et_date": "2026-02-21"})
    assert "earliest embryo transfer, in days after randomization" in page
    assert "dosing starts two days before the transfer" in page
    assert refused.status_code == 400
    assert "2026-02-22 is the earliest date" in refused.content.decode()
    assert not EmbryoTransfer.objects.exists()


@pytest.mark.requirement("CFR11-10E-CONTENT", "PROT-LANGUAGE")
@pytest.mark.parametrize(
    ("language", "labels"),
    [("en", "Embryo grade, Embryo transfer date"), ("ja", "胚グレード, 胚移植日")],
)
def test_the_reason_for_change_error_names_the_changed_fields_by_label(
    client_for, make_user, randomized, language, labels
):
    coordinator = make_user("coordinator", ["S01"], language=language)
    client = client_for(coordinator)
    base = f"/participants/{randomized.pk}/treatment/"
    with at("2026-02-21"):
        client.post(base + "embryo-transfer/", {"et_date": "2026-03-01"})
        refused = client.post(
            base + "embryo-transfer/", {"et_date": "2026-03-04", "embryo_grade": "4AA"}
        )
    html = refused.content.decode()
    assert refused.status_code == 400
    assert f": {labels})" in html or f": {labels}）" in html
    assert "embryo_grade," not in html and "et_date)" not in html


@pytest.mark.requirement("PROT-VISIT-STATUS", "PROT-LANGUAGE")
def test_an_out_of_window_visit_says_why_in_the_readers_language(
    client_for, make_user, coordinator_a, transferred
):
    from django.utils import translation

    from ecrf.endpoints.services import endpoint_record
    from ecrf.schedule.models import VisitRecord

    with at("2026-03-18"), translation.override("ja"):
        endpoint_record(
            participant=transferred,
            record="biochemical_pregnancy",
            values={
                "assessed_on": dt.date(2026, 3, 18),
                "serum_hcg_miu_ml": 120,
                "result": "positive",
            },
            confirm_warnings=True,
            performed_by=coordinator_a,
        )
    visit = VisitRecord.objects.get(visit_code="biochemical_pregnancy")
    assert visit.reason.startswith("The assessment (2026-03-18) is outside the visit window")
    pages = {}
    for language in ("en", "ja"):
        reader = make_user("monitor", ["S01"], language=language)
        with at("2026-03-18"):
            html = client_for(reader).get(f"/participants/{transferred.pk}/treatment/")
        row = html.content.decode().split('data-visit="biochemical_pregnancy"', 1)[1]
        pages[language] = row.split("</tr>", 1)[0]
    assert "is outside the visit window (2026-03-15 to 2026-03-17)" in pages["en"]
    assert "来院許容範囲（2026-03-15～2026-03-17）外です" in pages["ja"]


@pytest.mark.requirement("PROT-LANGUAGE")
@pytest.mark.parametrize(
    "written",
    [
        "The assessment (2026-03-18) is outside the visit window (2026-03-15 to 2026-03-17).",
        "評価日（2026-03-18）が来院許容範囲（2026-03-15～2026-03-17）外です。",
    ],
)
def test_the_migration_gives_old_visit_reasons_their_code_and_leaves_typed_ones(
    coordinator_a, transferred, written
):
    import importlib

    from django.apps import apps

    from ecrf.schedule.models import VisitRecord

    migration = importlib.import_module("ecrf.schedule.migrations.0006_visit_reasons_as_codes")
    system = VisitRecord.objects.create(
        participant=transferred,
        visit_code="biochemical_pregnancy",
        outcome="done",
        done_on=dt.date(2026, 3, 18),
        reason=written,
        recorded_by=coordinator_a,
    )
    typed = VisitRecord.objects.create(
        participant=transferred,
        visit_code="clinical_pregnancy",
        outcome="missed",
        reason="She moved away",
        recorded_by=coordinator_a,
    )
    migration.visit_reasons_to_codes(apps, None)
    system.refresh_from_db()
    typed.refresh_from_db()
    assert system.reason_code == "assessment_outside_window"
    assert system.reason_params == {
        "assessed": "2026-03-18",
        "start": "2026-03-15",
        "end": "2026-03-17",
    }
    assert system.reason == written
    assert (typed.reason_code, typed.reason_text) == ("", "She moved away")
