"""Source data verification progress: values verified out of values entered, per form,
per participant and per site, critical values counted apart and first."""

from __future__ import annotations

import datetime as dt

import pytest

from ecrf.participants.models import Participant
from ecrf.participants.services import consent_record, participant_withdraw
from ecrf.quality.models import Verification
from ecrf.quality.selectors import (
    verifiable_forms,
    verification_per_site,
    verification_progress,
    verification_worklist,
)
from ecrf.quality.services import verification_mark
from tests.conftest import eligible_consented

from ..clock import at
from .values import adverse_event, critical, entered

pytestmark = [pytest.mark.django_db, pytest.mark.requirement("ICH-E6R3-4.2.3-REVIEW")]


def progress_of(participant: Participant):
    return verification_progress(Participant.objects.filter(pk=participant.pk))[participant.pk]


def test_forms_holding_critical_values_come_first():
    forms = [form.code for form in verifiable_forms()]
    holding = [f for f in forms if critical(f)]
    assert forms[: len(holding)] == holding
    assert {"eligibility", "consent", "adverse_event"} <= set(holding)
    assert "embryo_transfer" not in holding


def test_each_entered_value_counts_and_each_standing_mark_verifies_one(make_user, transferred):
    monitor = make_user("monitor", ["S01"])
    verification_mark(participant=transferred, record="consent", performed_by=monitor)
    verification_mark(
        participant=transferred,
        record="eligibility",
        fields=["th1_th2_ratio", "th1_th2_laboratory"],
        performed_by=monitor,
    )

    progress = progress_of(transferred)

    by_form = {form.code: form for form in progress.forms}
    assert list(by_form) == ["eligibility", "consent", "embryo_transfer"]
    assert (by_form["consent"].overall.verified, by_form["consent"].overall.verifiable) == (
        2,
        entered("consent"),
    )
    eligibility = by_form["eligibility"]
    assert (eligibility.critical.verified, eligibility.critical.verifiable) == (
        1,
        critical("eligibility"),
    )
    assert (eligibility.overall.verified, eligibility.overall.verifiable) == (
        2,
        entered("eligibility"),
    )
    assert by_form["embryo_transfer"].critical.verifiable == 0
    assert progress.critical.verified == 3
    assert progress.critical.verifiable == critical("eligibility") + critical("consent")
    assert progress.overall.verifiable == (
        entered("eligibility") + entered("consent") + entered("embryo_transfer")
    )
    assert [form.code for form in progress.forms_awaiting] == ["eligibility", "embryo_transfer"]


def test_a_changed_value_no_longer_counts_as_verified(make_user, coordinator_a, transferred):
    monitor = make_user("monitor", ["S01"])
    verification_mark(participant=transferred, record="consent", performed_by=monitor)
    assert progress_of(transferred).critical.verified == 2
    with at("2026-02-22"):
        consent_record(
            participant=transferred,
            consent_date=transferred.screening_date,
            consent_version="1.0",
            reason="Date misread",
            performed_by=coordinator_a,
        )

    consent = next(f for f in progress_of(transferred).forms if f.code == "consent")

    assert (consent.overall.verified, consent.overall.verifiable) == (1, 2)
    assert consent.awaiting


def test_rows_of_a_multi_record_form_each_count(make_user, coordinator_a, transferred):
    monitor = make_user("monitor", ["S01"])
    first = adverse_event(transferred, coordinator_a)
    adverse_event(transferred, coordinator_a, term="Nausea")
    verification_mark(
        participant=transferred, record="adverse_event", record_id=first.pk, performed_by=monitor
    )

    events = next(f for f in progress_of(transferred).forms if f.code == "adverse_event")

    assert events.records == 2
    assert (events.overall.verified, events.overall.verifiable) == (
        entered("adverse_event"),
        2 * entered("adverse_event"),
    )
    assert (events.critical.verified, events.critical.verifiable) == (
        critical("adverse_event"),
        2 * critical("adverse_event"),
    )


def test_a_mark_of_a_whole_form_without_a_field_verifies_no_value(make_user, transferred):
    monitor = make_user("monitor", ["S01"])
    Verification.objects.create(participant=transferred, record="consent", verified_by=monitor)

    assert progress_of(transferred).overall.verified == 0


def test_a_participant_with_nothing_entered_has_nothing_to_verify(participant_a):
    progress = progress_of(participant_a)

    assert progress.forms == ()
    assert progress.overall.percent is None


def test_progress_of_many_participants_takes_one_query(
    make_user, coordinator_a, site_a, django_assert_num_queries
):
    monitor = make_user("monitor", ["S01"])
    participants = [eligible_consented(site_a, coordinator_a) for _ in range(4)]
    for participant in participants[:2]:
        verification_mark(participant=participant, record="consent", performed_by=monitor)

    with django_assert_num_queries(1):
        progress = verification_progress(Participant.objects.all())

    assert [progress[p.pk].critical.verified for p in participants] == [2, 2, 0, 0]


def test_the_worklist_puts_the_least_verified_critical_values_first(
    make_user, coordinator_a, site_a
):
    monitor = make_user("monitor", ["S01"])
    done, half, untouched = (eligible_consented(site_a, coordinator_a) for _ in range(3))
    verification_mark(participant=done, record="eligibility", performed_by=monitor)
    verification_mark(participant=done, record="consent", performed_by=monitor)
    verification_mark(participant=half, record="eligibility", performed_by=monitor)

    rows = verification_worklist(monitor, sort="critical").rows()
    assert [row.participant for row in rows] == [untouched, half, done]
    awaiting = verification_worklist(monitor, awaiting="verification").rows()
    assert done not in [row.participant for row in awaiting]


def test_casebooks_of_ended_participation_await_signature(make_user, coordinator_a, site_a):
    monitor = make_user("monitor", ["S01"])
    ongoing, ended = (eligible_consented(site_a, coordinator_a) for _ in range(2))
    participant_withdraw(
        participant=ended,
        date=ended.screening_date + dt.timedelta(days=2),
        decided_by="participant",
        reason="Moved away",
        performed_by=coordinator_a,
    )

    rows = verification_worklist(monitor, awaiting="signature").rows()

    assert [row.participant for row in rows] == [ended]
    assert rows[0].awaiting_signature


def test_per_site_counts_stay_in_the_users_sites(
    make_user, coordinator_a, coordinator_b, site_a, site_b, django_assert_num_queries
):
    monitor_a = make_user("monitor", ["S01"])
    in_a = eligible_consented(site_a, coordinator_a)
    eligible_consented(site_b, coordinator_b)
    verification_mark(participant=in_a, record="consent", performed_by=monitor_a)

    with django_assert_num_queries(2):
        per_site = verification_per_site(monitor_a)

    assert list(per_site) == [site_a.pk]
    assert per_site[site_a.pk].critical.verified == 2
    assert per_site[site_a.pk].forms_awaiting == 1  # eligibility
    assert per_site[site_a.pk].participants_awaiting == 1
    everywhere = verification_per_site(make_user("data_manager"))
    assert set(everywhere) == {site_a.pk, site_b.pk}
    assert everywhere[site_b.pk].forms_awaiting == 2
