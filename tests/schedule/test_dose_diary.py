"""The dose diary as the protocol has it: a morning and an evening intake on each of the
16 dosing days, one grid, quick entry, corrections with a reason, back where you were."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from ecrf.audit.selectors import history_of
from ecrf.quality.services import lock_set
from ecrf.schedule.models import DoseEntry
from ecrf.schedule.services import dose_record

from ..clock import at

pytestmark = pytest.mark.django_db

DAY = "2026-02-27"


def _treatment(participant):
    return reverse("schedule:treatment", args=[participant.pk])


def _intake(participant, day=DAY, intake="morning"):
    return reverse("schedule:dose_intake", args=[participant.pk, day, intake])


def _cell(html, day, intake):
    match = re.search(rf'<td id="dose-{day}-{intake}".*?</td>', html, re.S)
    assert match, f"no cell for the {intake} of {day}"
    return match.group(0)


@pytest.mark.requirement("PROT-DOSE-DIARY", "PROT-DOSE-WINDOW")
def test_one_grid_holds_both_intakes_of_all_16_days_with_quick_entry_up_to_today(
    client_for, coordinator_a, transferred
):
    with at("2026-02-28", hour=9):
        html = client_for(coordinator_a).get(_treatment(transferred)).content.decode()
    diary = html.split('id="diary"', 1)[1].split("</table>", 1)[0]
    assert diary.count("<tr data-date=") == 16
    assert len(re.findall(r'<td id="dose-\d{4}-\d\d-\d\d-(morning|evening)"', diary)) == 32
    # Quick entry for the intakes of the days so far (27 and 28 February), not later ones.
    assert diary.count('class="d-flex flex-wrap gap-1 align-items-center quick-dose"') == 4
    assert 'id="taken-dose-2026-02-28-evening"' in diary
    assert 'id="taken-dose-2026-03-01-morning"' not in diary
    # Every quick-entry input has a label of its own, and ids are unique on the page.
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids))
    for time_input in re.findall(r'<input type="time"[^>]*id="([^"]+)"', diary):
        assert f'for="{time_input}"' in diary


def test_a_quick_entry_asks_a_fixed_number_of_statements(
    client_for, coordinator_a, transferred, django_assert_num_queries
):
    """The session, the user and her second factor, her row with her site only, then the
    write, which reads her transfer with her locked row and looks the intake up once (the
    test settings renew the session at every request)."""
    client = client_for(coordinator_a)
    with at("2026-02-27", hour=21):
        client.get(_treatment(transferred))
        with django_assert_num_queries(16):
            response = client.post(
                reverse("schedule:dose", args=[transferred.pk]),
                {"date": DAY, "intake": "evening", "taken": "True", "time_taken": "19:45"},
            )
    assert response.status_code == 302


@pytest.mark.requirement("PROT-DOSE-DIARY")
def test_quick_entry_records_the_intake_and_returns_to_its_cell(
    client_for, coordinator_a, transferred
):
    client = client_for(coordinator_a)
    with at("2026-02-27", hour=21):
        response = client.post(
            reverse("schedule:dose", args=[transferred.pk]),
            {"date": DAY, "intake": "evening", "taken": "True", "time_taken": "19:45"},
        )
        html = client.get(_treatment(transferred)).content.decode()
    assert response.status_code == 302
    assert response["Location"] == f"{_treatment(transferred)}#dose-{DAY}-evening"
    entry = DoseEntry.objects.get()
    assert (entry.intake, entry.taken, entry.time_taken) == ("evening", True, dt.time(19, 45))
    assert entry.capsules == transferred.allocation.arm.daily_dose_mg / 2
    cell = _cell(html, DAY, "evening")
    assert "Taken" in cell and "19:45" in cell and "Correct" in cell
    assert 'name="time_taken"' not in cell
    assert 'name="time_taken"' in _cell(html, DAY, "morning")


@pytest.mark.requirement("PROT-DOSE-DIARY", "ICH-E6R3-4.2.1-CAPTURE")
def test_the_intake_page_answers_nothing_in_advance_and_a_missed_intake_needs_its_reason(
    client_for, coordinator_a, transferred
):
    client = client_for(coordinator_a)
    with at("2026-02-27", hour=21):
        page = client.get(_intake(transferred)).content.decode()
        unexplained = client.post(_intake(transferred), {"taken": "False"})
        explained = client.post(
            _intake(transferred), {"taken": "False", "missed_reason": "Vomited after breakfast"}
        )
    assert "checked" not in page.split('id="dose-form"', 1)[1].split("</form>", 1)[0]
    assert unexplained.status_code == 400
    assert "Say why the dose was missed." in unexplained.content.decode()
    assert explained.status_code == 302
    assert explained["Location"].endswith(f"#dose-{DAY}-morning")
    entry = DoseEntry.objects.get()
    assert (entry.taken, entry.dose_mg, entry.missed_reason) == (
        False,
        0,
        "Vomited after breakfast",
    )


@pytest.mark.requirement("PROT-DOSE-DIARY", "CFR11-10E-CONTENT", "ICH-E6R3-4.2.4-CORRECTIONS")
def test_a_saved_intake_is_corrected_with_a_reason_and_the_trail_keeps_old_and_new(
    client_for, coordinator_a, transferred
):
    with at("2026-02-27", hour=21):
        entry = dose_record(
            participant=transferred,
            date=dt.date(2026, 2, 27),
            intake="morning",
            taken=True,
            time_taken=dt.time(8, 0),
            performed_by=coordinator_a,
        )
    client = client_for(coordinator_a)
    with at("2026-02-28", hour=10):
        page = client.get(_intake(transferred)).content.decode()
        without_reason = client.post(_intake(transferred), {"taken": "True", "time_taken": "08:40"})
        corrected = client.post(
            _intake(transferred),
            {"taken": "True", "time_taken": "08:40", "reason": "Diary card says 08:40"},
        )
    assert 'value="08:00:00"' in page or 'value="08:00"' in page
    assert 'name="reason"' in page
    assert without_reason.status_code == 400
    assert "reason for change is required" in without_reason.content.decode()
    assert corrected.status_code == 302
    assert corrected["Location"].endswith(f"#dose-{DAY}-morning")
    entry.refresh_from_db()
    assert entry.time_taken == dt.time(8, 40)
    update = next(h for h in history_of(entry) if h.action == "update")
    assert [(c.field, c.old_value, c.new_value) for c in update.changes] == [
        ("time_taken", "08:00:00", "08:40:00")
    ]
    assert update.reason == "Diary card says 08:40"
    assert update.user == coordinator_a.username


@pytest.mark.requirement("PROT-DOSE-DIARY")
def test_quick_entry_of_an_intake_recorded_meanwhile_opens_its_correction(
    client_for, coordinator_a, transferred
):
    with at("2026-02-27", hour=21):
        dose_record(
            participant=transferred,
            date=dt.date(2026, 2, 27),
            intake="morning",
            taken=True,
            performed_by=coordinator_a,
        )
        response = client_for(coordinator_a).post(
            reverse("schedule:dose", args=[transferred.pk]),
            {"date": DAY, "intake": "morning", "taken": "True", "time_taken": "09:00"},
        )
    assert response.status_code == 409
    html = response.content.decode()
    assert "recorded meanwhile" in html and 'name="reason"' in html
    assert 'value="09:00' in html
    assert DoseEntry.objects.get().time_taken is None


@pytest.mark.requirement("PROT-DOSE-DIARY", "CFR11-10A-INVALID")
@pytest.mark.parametrize(
    ("data", "field"),
    [({"intake": "noon"}, "Intake"), ({"date": "27/02/2026"}, "Dosing day")],
)
def test_quick_entry_without_a_known_day_or_intake_names_the_field(
    client_for, coordinator_a, transferred, data, field
):
    with at("2026-02-27", hour=21):
        response = client_for(coordinator_a).post(
            reverse("schedule:dose", args=[transferred.pk]),
            {"date": DAY, "intake": "morning", "taken": "True", **data},
        )
    assert response.status_code == 400
    assert f"{field}:" in response.content.decode()
    assert not DoseEntry.objects.exists()


@pytest.mark.requirement("PROT-DOSE-DIARY")
@pytest.mark.parametrize(("day", "intake"), [("2026-02-30", "morning"), (DAY, "noon")])
def test_no_page_for_a_day_or_intake_that_does_not_exist(
    client_for, coordinator_a, transferred, day, intake
):
    response = client_for(coordinator_a).get(
        f"/participants/{transferred.pk}/treatment/dose/{day}/{intake}/"
    )
    assert response.status_code == 404


@pytest.mark.requirement("PROT-DOSE-DIARY", "CFR11-10D-ACCESS")
def test_a_locked_diary_offers_no_entry_and_no_correction(
    client_for, coordinator_a, make_user, transferred
):
    with at("2026-02-27", hour=21):
        dose_record(
            participant=transferred,
            date=dt.date(2026, 2, 27),
            intake="morning",
            taken=True,
            performed_by=coordinator_a,
        )
        lock_set(
            study=transferred.site.study,
            participant=transferred,
            reason="Interim review",
            performed_by=make_user("data_manager", []),
        )
        client = client_for(coordinator_a)
        diary = client.get(_treatment(transferred)).content.decode()
        intake_page = client.get(_intake(transferred)).content.decode()
    assert "quick-dose" not in diary and "Correct" not in _cell(diary, DAY, "morning")
    assert 'id="dose-form"' not in intake_page and 'id="lock-banner"' in intake_page


@pytest.mark.requirement("PROT-DRUG-ACCOUNTABILITY")
def test_capsules_show_as_with_her_until_the_return_is_recorded(
    client_for, coordinator_a, transferred
):
    client = client_for(coordinator_a)
    base = f"/participants/{transferred.pk}/treatment/"
    with at("2026-02-27", hour=21):
        client.post(
            base + "dispensing/",
            {"dispensed_on": DAY, "lot_number": "L1", "capsules": "70"},
        )
        client.post(base + "dose/", {"date": DAY, "intake": "morning", "taken": "True"})
        during = client.get(base).content.decode()
    per_intake = int(transferred.allocation.arm.daily_dose_mg / 2)
    assert f'id="with-participant">{70 - per_intake} ' in during
    assert 'id="discrepancy"' not in during
    with at("2026-03-15"):
        client = client_for(coordinator_a)
        client.post(base + "return/", {"returned_on": "2026-03-15", "capsules": "60"})
        after = client.get(base).content.decode()
    assert 'id="with-participant"' not in after
    discrepancy = re.search(r'id="discrepancy">(-?\d+)<', after)
    assert discrepancy and int(discrepancy.group(1)) == 70 - per_intake - 60


@pytest.mark.requirement("PROT-DOSE-DIARY", "PROT-RAND-BLINDING")
@pytest.mark.parametrize("blinded", [False, True])
def test_a_deviating_dose_is_refused_without_telling_a_blinded_coordinator_the_arms_dose(
    client_for, coordinator_a, transferred, blinded
):
    from ecrf.studies.models import Study

    Study.objects.filter(pk=transferred.site.study_id).update(
        blinded=blinded, blinded_roles=["coordinator"] if blinded else []
    )
    per_intake = transferred.allocation.arm.daily_dose_mg / 2
    with at("2026-02-27", hour=21):
        response = client_for(coordinator_a).post(
            reverse("schedule:dose", args=[transferred.pk]),
            {"date": DAY, "intake": "morning", "taken": "True", "dose_mg": str(per_intake + 1)},
        )
    html = response.content.decode()
    assert response.status_code == 400
    assert "protocol deviation" in html
    told = f"The arm&#x27;s dose is {per_intake.normalize()} mg" in html
    assert told is not blinded
    assert not DoseEntry.objects.exists()
