"""Adverse events: who records them, the protocol's rules, corrections, confirmation, clock."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from pghistory.models import Events

from ecrf.common.exceptions import StateConflict
from ecrf.participants.models import ParticipantStatus
from ecrf.participants.services import participant_set_status
from ecrf.safety.models import AdverseEvent, SafetyNotification
from ecrf.safety.selectors import sae_clock
from ecrf.safety.services import (
    adverse_event_confirm,
    adverse_event_update,
)
from ecrf.schedule.services import dose_record, embryo_transfer_set, randomization_date

from ..factories import ParticipantFactory
from .conftest import SAE_VALUES, ae_values, record

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def errors_of(excinfo: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return excinfo.value.message_dict


def update(adverse_event, performed_by, reason="", **overrides):
    values = {
        name: getattr(adverse_event, name)
        for name in (
            "term",
            "onset_date",
            "end_date",
            "ctcae_grade",
            "serious",
            "seriousness_criteria",
            "related",
            "action_taken",
            "outcome",
            "learned_at",
        )
    }
    values.update(overrides)
    return adverse_event_update(
        adverse_event=adverse_event, performed_by=performed_by, reason=reason, **values
    )


# -- who records -----------------------------------------------------------------------


@pytest.mark.requirement("PROT-AE-RECORD")
def test_coordinator_records_an_adverse_event(participant, coordinator_a):
    before = timezone.now()
    ae = record(participant, coordinator_a, end_date=TODAY(), action_taken="none")
    ae.refresh_from_db()
    assert (ae.term, ae.ctcae_grade, ae.serious, ae.related, ae.outcome) == (
        "Pruritus",
        1,
        False,
        True,
        "recovered",
    )
    assert ae.recorded_by == coordinator_a
    assert ae.seriousness_criteria == []
    assert before.replace(second=0, microsecond=0) <= ae.learned_at <= timezone.now()
    assert ae.learned_at.second == 0
    assert ae.confirmed_at is None
    assert not SafetyNotification.objects.exists()


@pytest.mark.requirement("PROT-AE-RECORD")
def test_investigator_records_an_adverse_event(participant, investigator_a):
    assert record(participant, investigator_a).recorded_by == investigator_a


@pytest.mark.requirement("CFR11-10G-AUTHORITY")
@pytest.mark.parametrize("role", ["monitor", "data_manager", "statistician", "admin"])
def test_read_only_roles_cannot_record(role, make_user, participant):
    with pytest.raises(PermissionDenied):
        record(participant, make_user(role))
    assert not AdverseEvent.objects.exists()


@pytest.mark.requirement("CFR11-10G-AUTHORITY")
@pytest.mark.parametrize("role", ["coordinator", "investigator"])
def test_site_staff_of_another_site_cannot_record(role, make_user, participant):
    with pytest.raises(PermissionDenied):
        record(participant, make_user(role, ["S02"]))


@pytest.mark.requirement("PROT-AE-RECORD", "CFR11-10F-SEQUENCING")
def test_a_participant_who_has_not_consented_has_no_adverse_events_yet(site_a, coordinator_a):
    participant = ParticipantFactory(site=site_a, performed_by=coordinator_a)
    with pytest.raises(StateConflict) as excinfo:
        record(participant, coordinator_a, onset_date=TODAY())
    assert "consent" in str(excinfo.value)
    assert not AdverseEvent.objects.exists()


@pytest.mark.requirement("PROT-AE-RECORD", "PROT-AE-PRE-TREATMENT")
def test_a_consented_participant_not_yet_randomized_has_her_adverse_event_recorded(
    ready_participant, coordinator_a
):
    participant = ready_participant()
    ae = record(participant, coordinator_a, onset_date=participant.consent.consent_date)
    ae.refresh_from_db()
    assert ae.pre_treatment is True


@pytest.mark.requirement("PROT-WITHDRAWAL", "ICH-E6R3-WITHDRAWAL-DATA")
def test_adverse_events_are_still_recorded_after_withdrawal(participant, coordinator_a):
    participant_set_status(
        participant=participant,
        status=ParticipantStatus.WITHDRAWN,
        reason="Her decision",
        performed_by=coordinator_a,
    )
    assert record(participant, coordinator_a).pk is not None


# -- the protocol's rules --------------------------------------------------------------


@pytest.mark.requirement("PROT-AE-RECORD")
def test_onset_on_the_day_of_randomization_is_accepted(participant, coordinator_a):
    day = randomization_date(participant, participant.allocation)
    assert record(participant, coordinator_a, onset_date=day).onset_date == day


@pytest.mark.requirement("PROT-AE-RECORD", "CFR11-10F-SEQUENCING")
def test_onset_before_consent_is_refused(participant, coordinator_a):
    consented_on = participant.consent.consent_date
    with pytest.raises(ValidationError) as excinfo:
        record(participant, coordinator_a, onset_date=consented_on - dt.timedelta(days=1))
    message = errors_of(excinfo)["onset_date"][0]
    assert "consent" in message and consented_on.isoformat() in message
    assert not AdverseEvent.objects.exists()


@pytest.mark.requirement("PROT-AE-RECORD")
def test_onset_between_consent_and_randomization_is_accepted(participant, coordinator_a):
    consented_on = participant.consent.consent_date
    assert consented_on < randomization_date(participant, participant.allocation)
    assert record(participant, coordinator_a, onset_date=consented_on).onset_date == consented_on


# -- pre-treatment: an onset before the first dose -------------------------------------


def _take_dose(participant, coordinator, day, *, taken):
    """Her morning intake of ``day``, taken at 08:00 or missed."""
    dose_record(
        participant=participant,
        date=day,
        intake="morning",
        taken=taken,
        time_taken=dt.time(8, 0) if taken else None,
        missed_reason="" if taken else "Forgot",
        performed_by=coordinator,
    )


def _with_et(participant, coordinator, et_date):
    """Her ET on ``et_date``: dosing planned from two days before."""
    embryo_transfer_set(
        participant=participant, et_date=et_date, performed=False, performed_by=coordinator
    )


@pytest.mark.requirement("PROT-AE-PRE-TREATMENT")
def test_an_onset_with_no_dose_and_no_et_date_is_pre_treatment(participant, coordinator_a):
    assert record(participant, coordinator_a, onset_date=TODAY()).pre_treatment is True


@pytest.mark.requirement("PROT-AE-PRE-TREATMENT")
def test_an_onset_before_the_planned_first_dosing_day_is_pre_treatment(participant, coordinator_a):
    _with_et(participant, coordinator_a, TODAY() + dt.timedelta(days=3))
    assert record(participant, coordinator_a, onset_date=TODAY()).pre_treatment is True


@pytest.mark.requirement("PROT-AE-PRE-TREATMENT")
def test_an_onset_on_the_planned_first_dosing_day_is_treatment_emergent(participant, coordinator_a):
    _with_et(participant, coordinator_a, TODAY() + dt.timedelta(days=2))
    assert record(participant, coordinator_a, onset_date=TODAY()).pre_treatment is False


@pytest.mark.requirement("PROT-AE-PRE-TREATMENT")
def test_the_first_dose_taken_decides_once_recorded(participant, coordinator_a):
    """Her ET 4 days ago: dosing planned from 6 days ago; her first dose taken 5 days ago."""
    _with_et(participant, coordinator_a, TODAY() - dt.timedelta(days=4))
    dosing_start = TODAY() - dt.timedelta(days=6)
    _take_dose(participant, coordinator_a, dosing_start, taken=False)
    _take_dose(participant, coordinator_a, dosing_start + dt.timedelta(days=1), taken=True)
    before = record(participant, coordinator_a, onset_date=dosing_start)
    on_the_day = record(participant, coordinator_a, onset_date=dosing_start + dt.timedelta(1))
    assert (before.pre_treatment, on_the_day.pre_treatment) == (True, False)


@pytest.mark.requirement("PROT-AE-PRE-TREATMENT", "PROT-AE-CONFIRM")
def test_confirmation_judges_pre_treatment_against_the_doses_as_they_now_stand(
    participant, coordinator_a, investigator_a
):
    ae = record(participant, coordinator_a, onset_date=TODAY())
    assert ae.pre_treatment is True  # no ET date yet: her first dose is not known
    _with_et(participant, coordinator_a, TODAY() - dt.timedelta(days=4))
    _take_dose(participant, coordinator_a, TODAY() - dt.timedelta(days=6), taken=True)
    adverse_event_confirm(adverse_event=ae, performed_by=investigator_a)
    ae.refresh_from_db()
    assert ae.pre_treatment is False


@pytest.mark.requirement("PROT-AE-PRE-TREATMENT")
def test_a_corrected_onset_recomputes_pre_treatment_and_is_audited(participant, coordinator_a):
    _with_et(participant, coordinator_a, TODAY() + dt.timedelta(days=2))
    ae = record(participant, coordinator_a, onset_date=TODAY())
    assert ae.pre_treatment is False
    update(ae, coordinator_a, onset_date=TODAY() - dt.timedelta(days=1), reason="Typo")
    ae.refresh_from_db()
    assert ae.pre_treatment is True
    latest = Events.objects.tracks(ae).order_by("pgh_id").last()
    assert latest is not None and latest.pgh_data["pre_treatment"] is True


@pytest.mark.requirement("PROT-AE-RECORD")
def test_onset_in_the_future_is_refused(participant, coordinator_a):
    with pytest.raises(ValidationError) as excinfo:
        record(participant, coordinator_a, onset_date=TODAY() + dt.timedelta(days=1))
    assert set(errors_of(excinfo)) == {"onset_date"}


@pytest.mark.requirement("PROT-AE-RECORD", "CFR11-10A-INVALID")
def test_end_before_onset_is_refused(participant, coordinator_a):
    onset = TODAY() - dt.timedelta(days=2)
    with pytest.raises(ValidationError) as excinfo:
        record(participant, coordinator_a, onset_date=onset, end_date=onset - dt.timedelta(1))
    assert set(errors_of(excinfo)) == {"end_date"}


@pytest.mark.requirement("PROT-AE-RECORD")
def test_end_in_the_future_is_refused(participant, coordinator_a):
    with pytest.raises(ValidationError) as excinfo:
        record(participant, coordinator_a, end_date=TODAY() + dt.timedelta(days=1))
    assert set(errors_of(excinfo)) == {"end_date"}


@pytest.mark.requirement("PROT-AE-RECORD")
def test_end_on_the_onset_day_is_accepted(participant, coordinator_a):
    onset = TODAY() - dt.timedelta(days=2)
    assert record(participant, coordinator_a, onset_date=onset, end_date=onset).end_date == onset


@pytest.mark.requirement("PROT-AE-RECORD", "CFR11-10A-INVALID")
@pytest.mark.parametrize("grade", [0, 6, -1])
def test_grades_outside_1_to_5_are_refused(grade, participant, coordinator_a):
    with pytest.raises(ValidationError) as excinfo:
        record(participant, coordinator_a, ctcae_grade=grade)
    assert set(errors_of(excinfo)) == {"ctcae_grade"}


@pytest.mark.requirement("PROT-AE-RECORD")
def test_criteria_on_an_event_not_serious_are_refused(participant, coordinator_a):
    with pytest.raises(ValidationError) as excinfo:
        record(participant, coordinator_a, seriousness_criteria=["hospitalisation"])
    assert set(errors_of(excinfo)) == {"seriousness_criteria"}


@pytest.mark.requirement("PROT-AE-RECORD")
def test_unknown_criteria_are_refused(participant, coordinator_a):
    with pytest.raises(ValidationError) as excinfo:
        record(participant, coordinator_a, serious=True, seriousness_criteria=["bad_luck"])
    assert set(errors_of(excinfo)) == {"seriousness_criteria"}


@pytest.mark.requirement("PROT-AE-RECORD")
def test_serious_with_criteria_is_recorded_in_canonical_order(participant, coordinator_a):
    ae = record(
        participant,
        coordinator_a,
        **{
            **SAE_VALUES,
            "seriousness_criteria": ["hospitalisation", "life_threatening", "hospitalisation"],
        },
    )
    assert ae.seriousness_criteria == ["life_threatening", "hospitalisation"]
    assert not ae.criteria_missing


@pytest.mark.requirement("PROT-AE-RECORD", "PROT-SAE-24H")
def test_serious_without_criteria_is_recorded_but_flagged(participant, coordinator_a):
    ae = record(participant, coordinator_a, serious=True)
    assert ae.serious and ae.criteria_missing
    assert SafetyNotification.objects.filter(adverse_event=ae).count() == 1


@pytest.mark.requirement("PROT-AE-RECORD")
def test_grade_5_requires_a_fatal_outcome(participant, coordinator_a):
    with pytest.raises(ValidationError) as excinfo:
        record(participant, coordinator_a, ctcae_grade=5, serious=True, outcome="not_recovered")
    assert set(errors_of(excinfo)) == {"outcome"}


@pytest.mark.requirement("PROT-AE-RECORD")
def test_a_fatal_outcome_requires_grade_5(participant, coordinator_a):
    with pytest.raises(ValidationError) as excinfo:
        record(participant, coordinator_a, ctcae_grade=4, serious=True, outcome="fatal")
    assert set(errors_of(excinfo)) == {"ctcae_grade"}


@pytest.mark.requirement("PROT-AE-RECORD")
def test_a_fatal_event_must_be_serious(participant, coordinator_a):
    with pytest.raises(ValidationError) as excinfo:
        record(participant, coordinator_a, ctcae_grade=5, serious=False, outcome="fatal")
    assert set(errors_of(excinfo)) == {"serious"}


@pytest.mark.requirement("PROT-AE-RECORD")
def test_a_fatal_serious_event_is_recorded(participant, coordinator_a):
    ae = record(
        participant,
        coordinator_a,
        ctcae_grade=5,
        serious=True,
        seriousness_criteria=["death"],
        outcome="fatal",
    )
    assert (ae.ctcae_grade, ae.outcome) == (5, "fatal")


@pytest.mark.requirement("PROT-AE-RECORD")
def test_death_as_criterion_requires_a_fatal_outcome(participant, coordinator_a):
    with pytest.raises(ValidationError) as excinfo:
        record(participant, coordinator_a, serious=True, seriousness_criteria=["death"])
    assert set(errors_of(excinfo)) == {"seriousness_criteria"}


@pytest.mark.requirement("PROT-AE-RECORD")
def test_a_blank_term_is_refused(participant, coordinator_a):
    with pytest.raises(ValidationError) as excinfo:
        record(participant, coordinator_a, term="   ")
    assert set(errors_of(excinfo)) == {"term"}


@pytest.mark.requirement("PROT-AE-RECORD")
@pytest.mark.parametrize(("field", "value"), [("outcome", "cured"), ("action_taken", "prayed")])
def test_unknown_codes_are_refused(field, value, participant, coordinator_a):
    with pytest.raises(ValidationError) as excinfo:
        record(participant, coordinator_a, **{field: value})
    assert set(errors_of(excinfo)) == {field}


@pytest.mark.requirement("PROT-AE-RECORD", "PROT-SAE-24H")
def test_learning_of_it_in_the_future_is_refused(participant, coordinator_a):
    with pytest.raises(ValidationError) as excinfo:
        record(participant, coordinator_a, learned_at=timezone.now() + dt.timedelta(hours=1))
    assert set(errors_of(excinfo)) == {"learned_at"}


@pytest.mark.requirement("PROT-AE-RECORD", "PROT-SAE-24H")
def test_learning_of_it_before_its_onset_is_refused(participant, coordinator_a):
    onset = TODAY() - dt.timedelta(days=1)
    with pytest.raises(ValidationError) as excinfo:
        record(
            participant,
            coordinator_a,
            onset_date=onset,
            learned_at=timezone.now() - dt.timedelta(days=3),
        )
    assert set(errors_of(excinfo)) == {"learned_at"}


@pytest.mark.requirement("PROT-AE-RECORD", "CFR11-10A-INVALID")
def test_several_errors_are_reported_together(participant, coordinator_a):
    with pytest.raises(ValidationError) as excinfo:
        record(
            participant,
            coordinator_a,
            term="",
            onset_date=TODAY() + dt.timedelta(days=3),
            ctcae_grade=9,
        )
    assert set(errors_of(excinfo)) == {"term", "onset_date", "ctcae_grade"}


# -- the database holds the same rules -------------------------------------------------


@pytest.mark.requirement("PROT-AE-RECORD", "CFR11-10A-INVALID")
@pytest.mark.parametrize(
    "overrides",
    [
        {"ctcae_grade": 6},
        {"ctcae_grade": 0},
        {"end_date_days": -1},
        {"seriousness_criteria": ["hospitalisation"]},
        {"seriousness_criteria": ["bad_luck"], "serious": True},
        {"ctcae_grade": 5, "serious": True},
        {"outcome": "fatal", "ctcae_grade": 3, "serious": True},
        {"ctcae_grade": 5, "outcome": "fatal", "serious": False},
        {"outcome": "cured"},
        {"action_taken": "prayed"},
    ],
)
def test_the_database_refuses_what_the_rules_refuse(overrides, participant, coordinator_a):
    ae = record(participant, coordinator_a)
    days = overrides.pop("end_date_days", None)
    if days is not None:
        overrides["end_date"] = ae.onset_date + dt.timedelta(days=days)
    with pytest.raises(IntegrityError), transaction.atomic():
        AdverseEvent.objects.filter(pk=ae.pk).update(**overrides)


# -- corrections -----------------------------------------------------------------------


@pytest.mark.requirement("CFR11-10E-CONTENT", "ICH-E6R3-4.2.4-CORRECTIONS")
def test_a_changed_value_without_reason_is_refused(participant, coordinator_a):
    ae = record(participant, coordinator_a)
    with pytest.raises(ValidationError) as excinfo:
        update(ae, coordinator_a, ctcae_grade=2, reason="  ")
    assert set(errors_of(excinfo)) == {"reason"}
    ae.refresh_from_db()
    assert ae.ctcae_grade == 1


@pytest.mark.requirement("CFR11-10E-CONTENT", "ICH-E6R3-4.2.2-CHANGES")
def test_the_reason_for_a_change_is_in_the_audit_trail(participant, coordinator_a):
    ae = record(participant, coordinator_a)
    update(ae, coordinator_a, ctcae_grade=2, reason="Worse on review of the chart")
    event = Events.objects.tracks(ae).filter(pgh_label="update").get()
    assert event.pgh_diff["ctcae_grade"] == [1, 2]
    assert event.pgh_context["reason"] == "Worse on review of the chart"
    assert event.pgh_context["username"] == coordinator_a.username
    assert event.pgh_context["site"] == "S01"
    created = Events.objects.tracks(ae).filter(pgh_label="create").get()
    assert created.pgh_context["reason"] is None


@pytest.mark.requirement("CFR11-10E-CONTENT")
def test_saving_unchanged_values_needs_no_reason_and_writes_nothing(participant, coordinator_a):
    ae = record(participant, coordinator_a, serious=True, seriousness_criteria=["disability"])
    update(ae, coordinator_a, seriousness_criteria=["disability", "disability"])
    assert not Events.objects.tracks(ae).filter(pgh_label="update").exists()


@pytest.mark.requirement("PROT-AE-RECORD", "ICH-E6R3-4.2.4-CORRECTIONS")
def test_corrections_follow_the_same_rules(participant, coordinator_a):
    ae = record(participant, coordinator_a)
    with pytest.raises(ValidationError) as excinfo:
        update(ae, coordinator_a, end_date=ae.onset_date - dt.timedelta(days=1), reason="x")
    assert set(errors_of(excinfo)) == {"end_date"}


@pytest.mark.requirement("CFR11-10G-AUTHORITY")
def test_read_only_roles_cannot_correct(participant, coordinator_a, make_user):
    ae = record(participant, coordinator_a)
    with pytest.raises(PermissionDenied):
        update(ae, make_user("monitor"), ctcae_grade=2, reason="x")


@pytest.mark.requirement("PROT-SAE-24H")
def test_an_event_becoming_serious_notifies_the_sponsor_once(participant, coordinator_a):
    ae = record(participant, coordinator_a)
    update(ae, coordinator_a, serious=True, seriousness_criteria=["hospitalisation"], reason="x")
    update(ae, coordinator_a, ctcae_grade=3, reason="Worse")
    assert SafetyNotification.objects.filter(adverse_event=ae).count() == 1


@pytest.mark.requirement("PROT-AE-CONFIRM", "ICH-E6R3-INVESTIGATOR-OVERSIGHT")
def test_a_correction_withdraws_the_confirmation(participant, coordinator_a, investigator_a):
    ae = record(participant, coordinator_a)
    adverse_event_confirm(adverse_event=ae, performed_by=investigator_a)
    update(ae, coordinator_a, outcome="recovering", reason="Not over yet")
    ae.refresh_from_db()
    assert ae.confirmed_at is None and ae.confirmed_by is None
    event = Events.objects.tracks(ae).filter(pgh_label="update").last()
    assert event.pgh_context["reason"] == "Not over yet"
    assert set(event.pgh_diff) >= {"outcome", "confirmed_by_id", "confirmed_at"}


@pytest.mark.requirement("PROT-WITHDRAWAL", "ICH-E6R3-WITHDRAWAL-DATA")
def test_a_withdrawn_participants_events_can_be_corrected(participant, coordinator_a):
    ae = record(participant, coordinator_a)
    participant_set_status(
        participant=participant,
        status=ParticipantStatus.WITHDRAWN,
        reason="Her decision",
        performed_by=coordinator_a,
    )
    update(ae, coordinator_a, outcome="recovering", reason="Follow-up call")
    ae.refresh_from_db()
    assert ae.outcome == "recovering"


# -- confirmation by the investigator --------------------------------------------------


@pytest.mark.requirement(
    "PROT-AE-CONFIRM", "ICH-E6R3-INVESTIGATOR-OVERSIGHT", "ICH-E6R3-4.2.2-WORKFLOW"
)
def test_the_investigator_confirms(participant, coordinator_a, investigator_a):
    ae = record(participant, coordinator_a)
    adverse_event_confirm(adverse_event=ae, performed_by=investigator_a)
    ae.refresh_from_db()
    assert ae.confirmed_by == investigator_a and ae.confirmed_at is not None
    event = Events.objects.tracks(ae).filter(pgh_label="update").get()
    assert event.pgh_context["role"] == "investigator"


@pytest.mark.requirement("PROT-AE-CONFIRM", "CFR11-10G-AUTHORITY")
@pytest.mark.parametrize("role", ["coordinator", "monitor", "data_manager", "admin"])
def test_only_an_investigator_confirms(role, make_user, participant, coordinator_a):
    ae = record(participant, coordinator_a)
    with pytest.raises(PermissionDenied):
        adverse_event_confirm(adverse_event=ae, performed_by=make_user(role))


@pytest.mark.requirement("PROT-AE-CONFIRM", "CFR11-10G-AUTHORITY")
def test_an_investigator_of_another_site_cannot_confirm(participant, coordinator_a, make_user):
    ae = record(participant, coordinator_a)
    with pytest.raises(PermissionDenied):
        adverse_event_confirm(adverse_event=ae, performed_by=make_user("investigator", ["S02"]))


@pytest.mark.requirement("PROT-AE-CONFIRM")
def test_a_second_confirmation_is_a_conflict(participant, coordinator_a, investigator_a):
    ae = record(participant, coordinator_a)
    adverse_event_confirm(adverse_event=ae, performed_by=investigator_a)
    with pytest.raises(StateConflict):
        adverse_event_confirm(adverse_event=ae, performed_by=investigator_a)


@pytest.mark.requirement("PROT-AE-CONFIRM", "PROT-AE-RECORD")
def test_a_serious_event_without_criteria_cannot_be_confirmed(
    participant, coordinator_a, investigator_a
):
    ae = record(participant, coordinator_a, serious=True)
    with pytest.raises(ValidationError) as excinfo:
        adverse_event_confirm(adverse_event=ae, performed_by=investigator_a)
    assert set(errors_of(excinfo)) == {"seriousness_criteria"}
    update(ae, coordinator_a, seriousness_criteria=["hospitalisation"], reason="Admitted")
    adverse_event_confirm(adverse_event=ae, performed_by=investigator_a)


# -- the 24-hour clock -----------------------------------------------------------------


@pytest.mark.requirement("PROT-SAE-24H", "ICH-E6R3-SAFETY-REPORTING")
def test_the_clock_runs_24_hours_from_when_the_site_learned(participant, coordinator_a):
    learned = (timezone.now() - dt.timedelta(hours=20)).replace(second=0, microsecond=0)
    ae = record(participant, coordinator_a, **SAE_VALUES, learned_at=learned)
    clock = sae_clock(ae, now=learned + dt.timedelta(hours=20, minutes=30))
    assert clock is not None
    assert clock.deadline == learned + dt.timedelta(hours=24)
    assert clock.remaining == dt.timedelta(hours=3, minutes=30)
    assert not clock.overdue
    assert clock.label == "3 h 30 min left"


@pytest.mark.requirement("PROT-SAE-24H", "ICH-E6R3-SAFETY-REPORTING")
def test_the_clock_says_overdue_after_24_hours(participant, coordinator_a):
    learned = (timezone.now() - dt.timedelta(hours=30)).replace(second=0, microsecond=0)
    ae = record(
        participant,
        coordinator_a,
        **SAE_VALUES,
        learned_at=learned,
        onset_date=TODAY() - dt.timedelta(days=3),
    )
    clock = sae_clock(ae, now=learned + dt.timedelta(hours=25, minutes=5))
    assert clock is not None and clock.overdue
    assert clock.label == "Overdue by 1 h 05 min"


@pytest.mark.requirement("PROT-SAE-24H")
def test_no_clock_for_an_event_not_serious_or_confirmed(participant, coordinator_a, investigator_a):
    assert sae_clock(record(participant, coordinator_a)) is None
    ae = record(participant, coordinator_a, **SAE_VALUES)
    assert sae_clock(ae) is not None
    adverse_event_confirm(adverse_event=ae, performed_by=investigator_a)
    ae.refresh_from_db()
    assert sae_clock(ae) is None


def test_ae_values_default_is_the_trials_one_event():
    assert ae_values()["term"] == "Pruritus"
