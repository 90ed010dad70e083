"""The treatment period through the API and the services, with a frozen clock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError

from ecrf.participants.services import participant_set_status
from ecrf.schedule.models import DoseEntry, EmbryoTransfer
from ecrf.schedule.selectors import coordinator_agenda, treatment_of
from ecrf.schedule.services import (
    dispensing_record,
    dose_day_record,
    drug_return_record,
    embryo_transfer_set,
    visit_record,
)

from ..clock import at

pytestmark = pytest.mark.django_db


def _plan_et_on_1_march(participant, coordinator):
    """The planned transfer of 1 March 2026, set on 21 February through the service."""
    with at("2026-02-21"):
        embryo_transfer_set(
            participant=participant,
            et_date=dt.date(2026, 3, 1),
            performed=False,
            performed_by=coordinator,
        )


def _dispensed_70_with_et_on_1_march(participant, coordinator):
    """Her transfer planned on 1 March and 70 capsules dispensed, on 21 February."""
    _plan_et_on_1_march(participant, coordinator)
    with at("2026-02-21"):
        dispensing_record(
            participant=participant,
            dispensed_on=dt.date(2026, 2, 21),
            lot_number="L123",
            capsules=70,
            performed_by=coordinator,
        )


def _put_et(api, participant, **body):
    return api.put(f"/api/v1/participants/{participant.pk}/embryo-transfer/", body, format="json")


def _post_dose(api, participant, **body):
    return api.post(f"/api/v1/participants/{participant.pk}/doses/", body, format="json")


@pytest.mark.requirement(
    "API-EMBRYO-TRANSFER",
    "API-PARTICIPANT-DETAIL",
    "PROT-DOSE-WINDOW",
    "PROT-VISIT-WINDOWS",
    "PROT-DOSE-ARMS",
)
def test_et_of_1_march_gives_the_protocol_schedule(api_for, coordinator_a, randomized):
    with at("2026-02-21"):
        response = _put_et(
            api_for(coordinator_a), randomized, et_date="2026-03-01", performed=False
        )
    assert response.status_code == 200
    body = response.json()
    assert body["dosing_start"] == "2026-02-27"
    assert body["dosing_end"] == "2026-03-14"
    assert body["daily_dose_mg"] == randomized.allocation.arm.daily_dose_mg
    assert body["visits"] == [
        {
            "code": "biochemical_pregnancy",
            "target_date": "2026-03-15",
            "window_start": "2026-03-15",
            "window_end": "2026-03-17",
        },
        {
            "code": "clinical_pregnancy",
            "target_date": "2026-03-22",
            "window_start": "2026-03-22",
            "window_end": "2026-03-29",
        },
    ]
    with at("2026-02-21"):
        detail = api_for(coordinator_a).get(f"/api/v1/participants/{randomized.pk}/").json()
    assert detail["schedule"] == body
    assert detail["embryo_transfer"]["et_date"] == "2026-03-01"


@pytest.mark.requirement("PROT-ET-MOVE", "API-CONV-REASON", "API-DOSES")
def test_moving_the_et_needs_a_reason_and_keeps_recorded_doses(api_for, coordinator_a, randomized):
    api = api_for(coordinator_a)
    dose = int(randomized.allocation.arm.daily_dose_mg)
    with at("2026-02-21"):
        _put_et(api, randomized, et_date="2026-03-01", performed=False)
    with at("2026-02-28", hour=20):
        assert (
            _post_dose(api, randomized, date="2026-02-27", dose_mg=dose, taken=True).status_code
            == 201
        )
        assert (
            _post_dose(api, randomized, date="2026-02-28", dose_mg=dose, taken=True).status_code
            == 201
        )
        refused = _put_et(api, randomized, et_date="2026-03-03", performed=False)
        assert refused.status_code == 400 and list(refused.json()) == ["reason"]
        moved = _put_et(
            api, randomized, et_date="2026-03-03", performed=False, reason="Thin endometrium"
        )
    assert moved.status_code == 200
    assert moved.json()["dosing_start"] == "2026-03-01"
    assert moved.json()["dosing_end"] == "2026-03-16"
    kept = [(dt.date(2026, 2, 27), "morning"), (dt.date(2026, 2, 27), "evening")]
    kept += [(dt.date(2026, 2, 28), "morning"), (dt.date(2026, 2, 28), "evening")]
    assert sorted(DoseEntry.objects.values_list("date", "intake")) == sorted(kept)
    with at("2026-02-28", hour=20):
        treatment = treatment_of(randomized)
    assert sorted((e.date, e.intake) for e in treatment.stray_entries) == sorted(kept)
    assert EmbryoTransfer.objects.get().et_date == dt.date(2026, 3, 3)


@pytest.mark.requirement("API-EMBRYO-TRANSFER", "API-CONV-400-FIELDS", "CFR11-10A-INVALID")
@pytest.mark.parametrize(
    ("et_date", "field"),
    [("2026-02-19", "et_date"), ("2027-06-01", "et_date"), ("not-a-date", "et_date")],
)
def test_impossible_et_dates_are_refused(api_for, coordinator_a, randomized, et_date, field):
    with at("2026-02-21"):
        response = _put_et(api_for(coordinator_a), randomized, et_date=et_date, performed=False)
    assert response.status_code == 400 and list(response.json()) == [field]
    assert not EmbryoTransfer.objects.exists()


@pytest.mark.requirement("PROT-ET-MOVE", "CFR11-10F-SEQUENCING")
def test_et_before_randomization_is_refused_with_the_date(api_for, coordinator_a, randomized):
    with at("2026-02-21"):
        response = _put_et(
            api_for(coordinator_a), randomized, et_date="2026-02-19", performed=False
        )
    assert "2026-02-20" in response.json()["et_date"][0]


@pytest.mark.requirement("PROT-ET-MOVE", "CFR11-10F-SEQUENCING")
@pytest.mark.parametrize("et_date", ["2026-02-20", "2026-02-21"])
def test_et_on_or_one_day_after_randomization_is_refused_naming_the_earliest_date(
    api_for, coordinator_a, randomized, et_date
):
    """Randomized on 20 February: dosing from ET-2 cannot start before it, so the ET is on
    22 February at the earliest (the study's default of 2 days)."""
    with at("2026-02-20", hour=15):
        response = _put_et(api_for(coordinator_a), randomized, et_date=et_date, performed=False)
    assert response.status_code == 400 and list(response.json()) == ["et_date"]
    message = response.json()["et_date"][0]
    assert "2026-02-22" in message
    assert "dosing starts two days before the transfer" in message
    assert not EmbryoTransfer.objects.exists()


@pytest.mark.requirement("PROT-ET-MOVE", "PROT-DOSE-WINDOW")
def test_et_two_days_after_randomization_puts_the_first_dose_on_the_randomization_day(
    api_for, coordinator_a, randomized
):
    with at("2026-02-20", hour=15):
        response = _put_et(
            api_for(coordinator_a), randomized, et_date="2026-02-22", performed=False
        )
    assert response.status_code == 200
    assert response.json()["dosing_start"] == "2026-02-20"


@pytest.mark.requirement("PROT-ET-MOVE")
def test_the_earliest_et_follows_the_study_setting(coordinator_a, randomized, study):
    study.min_days_randomization_to_et = 5
    study.save(update_fields=["min_days_randomization_to_et"])
    randomized.refresh_from_db()
    with at("2026-02-21"), pytest.raises(ValidationError) as refused:
        embryo_transfer_set(
            participant=randomized,
            et_date=dt.date(2026, 2, 24),
            performed=False,
            performed_by=coordinator_a,
        )
    assert "2026-02-25" in refused.value.message_dict["et_date"][0]
    with at("2026-02-21"):
        transfer, _schedule = embryo_transfer_set(
            participant=randomized,
            et_date=dt.date(2026, 2, 25),
            performed=False,
            performed_by=coordinator_a,
        )
    assert transfer.et_date == dt.date(2026, 2, 25)


@pytest.mark.requirement("PROT-ET-MOVE")
def test_moving_the_et_earlier_than_the_earliest_date_is_refused(coordinator_a, transferred):
    with at("2026-02-21"), pytest.raises(ValidationError) as refused:
        embryo_transfer_set(
            participant=transferred,
            et_date=dt.date(2026, 2, 21),
            performed=False,
            reason="Cycle earlier",
            performed_by=coordinator_a,
        )
    assert "2026-02-22" in refused.value.message_dict["et_date"][0]
    assert EmbryoTransfer.objects.get().et_date == dt.date(2026, 3, 1)


@pytest.mark.requirement("PROT-ET-MOVE", "CFR11-10F-SEQUENCING", "API-CONV-409-STATE")
def test_et_for_an_unrandomized_participant_is_a_conflict(
    api_for, coordinator_a, ready_participant
):
    participant = ready_participant()
    response = _put_et(api_for(coordinator_a), participant, et_date="2026-12-01", performed=False)
    assert response.status_code == 409


@pytest.mark.requirement(
    "API-DOSES",
    "API-CONV-400-FIELDS",
    "PROT-DOSE-DIARY",
    "PROT-DOSE-WINDOW",
    "PROT-DOSE-ARMS",
    "CFR11-10F-SEQUENCING",
)
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"date": "2026-02-26", "dose_mg": 2, "taken": True}, "date"),
        ({"date": "2026-03-15", "dose_mg": 2, "taken": True}, "date"),
        ({"date": "2026-03-02", "dose_mg": 2, "taken": True}, "date"),
        ({"date": "2026-02-27", "dose_mg": 3, "taken": True}, "dose_mg"),
        ({"date": "2026-02-27", "dose_mg": "abc", "taken": True}, "dose_mg"),
        ({"date": "2026-02-27", "dose_mg": 2, "taken": False}, "dose_mg"),
    ],
)
def test_bad_doses_are_refused_naming_the_field(api_for, coordinator_a, randomized, body, field):
    api = api_for(coordinator_a)
    with at("2026-02-21"):
        _put_et(api, randomized, et_date="2026-03-01", performed=False)
    with at("2026-03-01", hour=21):
        response = _post_dose(api, randomized, **body)
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert not DoseEntry.objects.exists()


@pytest.mark.requirement("PROT-DOSE-DIARY", "API-DOSES")
def test_two_entries_for_one_day_are_refused(api_for, coordinator_a, randomized):
    api = api_for(coordinator_a)
    dose = int(randomized.allocation.arm.daily_dose_mg)
    with at("2026-02-21"):
        _put_et(api, randomized, et_date="2026-03-01", performed=False)
    with at("2026-02-28"):
        assert (
            _post_dose(api, randomized, date="2026-02-27", dose_mg=dose, taken=True).status_code
            == 201
        )
        again = _post_dose(api, randomized, date="2026-02-27", dose_mg=dose, taken=True)
    assert again.status_code == 400 and "already has an entry" in again.json()["date"][0]


@pytest.mark.requirement("PROT-DOSE-DIARY", "API-DOSES")
def test_a_different_dose_with_a_reason_is_a_flagged_deviation(api_for, coordinator_a, randomized):
    api = api_for(coordinator_a)
    per_intake = int(randomized.allocation.arm.daily_dose_mg / 2)
    with at("2026-02-21"):
        _put_et(api, randomized, et_date="2026-03-01", performed=False)
    with at("2026-02-28"):
        response = _post_dose(
            api,
            randomized,
            date="2026-02-27",
            intake="evening",
            dose_mg=per_intake + 1,
            taken=True,
            deviation_reason="Took one capsule too many",
        )
    assert response.status_code == 201
    assert response.json()["deviation"] is True
    assert response.json()["intake"] == "evening"
    entry = DoseEntry.objects.get()
    assert (entry.intake, entry.capsules) == ("evening", per_intake + 1)


@pytest.mark.requirement("PROT-DOSE-DIARY", "API-DOSES")
def test_one_entry_per_date_records_both_intakes_with_half_the_dose_each(
    api_for, coordinator_a, randomized
):
    api = api_for(coordinator_a)
    daily = int(randomized.allocation.arm.daily_dose_mg)
    with at("2026-02-21"):
        _put_et(api, randomized, et_date="2026-03-01", performed=False)
    with at("2026-02-28"):
        response = _post_dose(
            api, randomized, date="2026-02-27", dose_mg=daily, taken=True, time_taken="08:15"
        )
    assert response.status_code == 201
    body = response.json()
    assert (body["dose_mg"], body["capsules"]) == (daily, daily)
    assert [(i["intake"], i["dose_mg"], i["time_taken"]) for i in body["intakes"]] == [
        ("morning", daily / 2, "08:15:00"),
        ("evening", daily / 2, None),
    ]
    assert list(DoseEntry.objects.order_by("intake").values_list("intake", "capsules")) == [
        ("evening", daily // 2),
        ("morning", daily // 2),
    ]


@pytest.mark.requirement("PROT-DOSE-DIARY", "API-DOSES", "API-CONV-400-FIELDS")
def test_a_day_dose_that_does_not_split_into_two_intakes_is_refused(
    api_for, coordinator_a, randomized
):
    api = api_for(coordinator_a)
    with at("2026-02-21"):
        _put_et(api, randomized, et_date="2026-03-01", performed=False)
    with at("2026-02-28"):
        response = _post_dose(
            api, randomized, date="2026-02-27", dose_mg=3, taken=True, deviation_reason="Vomited"
        )
    assert response.status_code == 400
    assert list(response.json()) == ["dose_mg"]
    assert "record each intake on its own" in response.json()["dose_mg"][0]
    assert not DoseEntry.objects.exists()


@pytest.mark.requirement("PROT-DOSE-DIARY", "API-DOSES")
def test_an_intake_already_recorded_is_refused_and_the_other_intake_still_taken(
    api_for, coordinator_a, randomized
):
    api = api_for(coordinator_a)
    per_intake = int(randomized.allocation.arm.daily_dose_mg / 2)
    with at("2026-02-21"):
        _put_et(api, randomized, et_date="2026-03-01", performed=False)
    with at("2026-02-28"):
        first = _post_dose(
            api, randomized, date="2026-02-27", intake="morning", dose_mg=per_intake, taken=True
        )
        again = _post_dose(
            api, randomized, date="2026-02-27", intake="morning", dose_mg=per_intake, taken=True
        )
        evening = _post_dose(
            api, randomized, date="2026-02-27", intake="evening", dose_mg=0, taken=False
        )
        whole_day = _post_dose(
            api, randomized, date="2026-02-27", dose_mg=per_intake * 2, taken=True
        )
    assert first.status_code == 201 and evening.status_code == 201
    assert again.status_code == 400 and "correct that entry" in again.json()["intake"][0]
    assert whole_day.status_code == 400 and "already has an entry" in whole_day.json()["date"][0]
    assert DoseEntry.objects.count() == 2


@pytest.mark.requirement("PROT-DRUG-ACCOUNTABILITY", "ICH-E6R3-IP-ACCOUNTABILITY")
def test_compliance_and_accountability(coordinator_a, randomized):
    daily = randomized.allocation.arm.daily_dose_mg
    _dispensed_70_with_et_on_1_march(randomized, coordinator_a)
    with at("2026-03-01", hour=21):
        for day in ("2026-02-27", "2026-02-28"):
            dose_day_record(
                participant=randomized,
                date=dt.date.fromisoformat(day),
                taken=True,
                performed_by=coordinator_a,
            )
        dose_day_record(
            participant=randomized,
            date=dt.date(2026, 3, 1),
            taken=False,
            performed_by=coordinator_a,
        )
        drug_return_record(
            participant=randomized,
            returned_on=dt.date(2026, 3, 1),
            capsules=10,
            performed_by=coordinator_a,
        )
        treatment = treatment_of(randomized)
    assert treatment.compliance == Decimal("66.7")
    consumed = int(2 * daily)
    assert treatment.accountability.consumed_per_diary == consumed
    assert treatment.accountability.discrepancy == 70 - 10 - consumed


@pytest.mark.requirement("PROT-DRUG-ACCOUNTABILITY", "ICH-E6R3-IP-ACCOUNTABILITY")
def test_capsules_are_with_her_until_the_return_then_reconciled(coordinator_a, randomized):
    daily = int(randomized.allocation.arm.daily_dose_mg)
    _dispensed_70_with_et_on_1_march(randomized, coordinator_a)
    with at("2026-02-28", hour=21):
        dose_day_record(
            participant=randomized,
            date=dt.date(2026, 2, 27),
            taken=True,
            performed_by=coordinator_a,
        )
        during = treatment_of(randomized).accountability
    assert during.return_recorded is False
    assert during.discrepancy is None
    assert during.with_participant == 70 - daily
    with at("2026-03-16"):
        drug_return_record(
            participant=randomized,
            returned_on=dt.date(2026, 3, 16),
            capsules=70 - daily - 3,
            performed_by=coordinator_a,
        )
        after = treatment_of(randomized).accountability
    assert after.return_recorded is True
    assert after.discrepancy == 3


@pytest.mark.requirement("PROT-VISIT-STATUS")
def test_visit_record_out_of_window_needs_a_reason(coordinator_a, randomized):
    from django.core.exceptions import ValidationError

    _plan_et_on_1_march(randomized, coordinator_a)
    with at("2026-03-20"):
        with pytest.raises(ValidationError) as excinfo:
            visit_record(
                participant=randomized,
                visit_code="biochemical_pregnancy",
                outcome="done",
                done_on=dt.date(2026, 3, 18),
                performed_by=coordinator_a,
            )
        assert "reason" in excinfo.value.message_dict
        visit_record(
            participant=randomized,
            visit_code="biochemical_pregnancy",
            outcome="done",
            done_on=dt.date(2026, 3, 18),
            reason="Clinic closed on the 17th",
            performed_by=coordinator_a,
        )
        statuses = {v.window.code: v.status for v in treatment_of(randomized).visits}
    assert statuses == {
        "biochemical_pregnancy": "done_out_of_window",
        "clinical_pregnancy": "upcoming",
    }


@pytest.mark.requirement("PROT-VISIT-STATUS")
def test_an_unknown_visit_outcome_names_the_outcomes_in_words(coordinator_a, randomized):
    from django.core.exceptions import ValidationError

    _plan_et_on_1_march(randomized, coordinator_a)
    with at("2026-03-16"), pytest.raises(ValidationError) as excinfo:
        visit_record(
            participant=randomized,
            visit_code="biochemical_pregnancy",
            outcome="postponed",
            performed_by=coordinator_a,
        )
    assert excinfo.value.message_dict == {"outcome": ["Expected one of: Done, Missed."]}


@pytest.mark.requirement("PROT-VISIT-STATUS", "PROT-VISIT-WINDOWS")
def test_visit_status_flips_at_the_window_edges_with_a_frozen_clock(coordinator_a, randomized):
    _plan_et_on_1_march(randomized, coordinator_a)
    expected = {
        "2026-03-14": "upcoming",
        "2026-03-15": "due",
        "2026-03-17": "due",
        "2026-03-18": "overdue",
    }
    for day, status in expected.items():
        with at(day, hour=0):
            visits = {v.window.code: v.status for v in treatment_of(randomized).visits}
        assert visits["biochemical_pregnancy"] == status, day


@pytest.mark.requirement("PROT-TIMEZONE", "PROT-DOSE-DIARY")
def test_dates_are_the_sites_local_dates(api_for, coordinator_a, randomized):
    """23:30 in Tokyo on 27 February is 14:30 UTC: the dose is for the 27th, not the 28th."""
    api = api_for(coordinator_a)
    dose = int(randomized.allocation.arm.daily_dose_mg)
    with at("2026-02-21"):
        _put_et(api, randomized, et_date="2026-03-01", performed=False)
    with time_machine.travel(dt.datetime(2026, 2, 27, 14, 30, tzinfo=dt.UTC), tick=False):
        assert (
            _post_dose(api, randomized, date="2026-02-27", dose_mg=dose, taken=True).status_code
            == 201
        )
        assert (
            _post_dose(api, randomized, date="2026-02-28", dose_mg=dose, taken=True).status_code
            == 400
        )


@pytest.mark.requirement("PROT-VISIT-STATUS")
def test_coordinator_agenda_lists_dosing_start_visits_and_missing_doses(coordinator_a, randomized):
    _plan_et_on_1_march(randomized, coordinator_a)
    with at("2026-02-21"):
        kinds = [item.kind for item in coordinator_agenda(coordinator_a)]
    assert kinds == ["dosing_start"]
    with at("2026-03-16"):
        items = coordinator_agenda(coordinator_a)
    assert [i.kind for i in items] == ["overdue", "visit_due", "visit_due"]
    assert "32 intakes" in items[0].detail


@pytest.mark.requirement("PROT-WITHDRAWAL", "CFR11-10F-SEQUENCING", "ICH-E6R3-WITHDRAWAL-DATA")
def test_withdrawn_participant_takes_no_new_doses(api_for, coordinator_a, randomized):
    api = api_for(coordinator_a)
    with at("2026-02-21"):
        _put_et(api, randomized, et_date="2026-03-01", performed=False)
    participant_set_status(
        participant=randomized, status="withdrawn", reason="Withdrew", performed_by=coordinator_a
    )
    with at("2026-02-28"):
        response = _post_dose(api, randomized, date="2026-02-27", dose_mg=2, taken=True)
    assert response.status_code == 409
