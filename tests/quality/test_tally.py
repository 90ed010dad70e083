"""The verification tally follows every write to the records and marks it counts: from the
services, from raw SQL, through the guard's clearing of changed values; and it can be
counted afresh."""

from __future__ import annotations

import pytest
from django.db import connection

from ecrf.common import catalogue
from ecrf.participants.models import Participant
from ecrf.participants.services import consent_record
from ecrf.quality.models import FormTally, ParticipantVerification, Verification
from ecrf.quality.services import verification_mark
from ecrf.quality.tally import tally_drift, tally_rebuild
from tests.concurrency import second_writer_waits

from ..clock import at
from .values import adverse_event, critical, entered

pytestmark = pytest.mark.django_db


def tallies(participant: Participant) -> dict[str, tuple[int, int, int]]:
    return {
        row.form: (row.records, row.verified, row.critical_verified)
        for row in FormTally.objects.filter(participant=participant)
    }


def test_every_verifiable_form_and_the_marks_are_counted_by_a_trigger():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname LIKE 'pgtrigger_verification_tally_%%' AND t.tgenabled = 'O'"
        )
        tables = {row[0] for row in cursor.fetchall()}
    forms = {form.model_class._meta.db_table for form in catalogue.queryable_forms()}
    assert tables == forms | {"quality_verification"}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname LIKE 'pgtrigger_verification_totals_%%' AND t.tgenabled = 'O' "
            "AND c.relname = 'quality_formtally'"
        )
        assert cursor.fetchone() == (1,)


def test_the_tally_follows_records_marks_and_changes(make_user, coordinator_a, transferred):
    monitor = make_user("monitor", ["S01"])
    first = adverse_event(transferred, coordinator_a, "Headache")
    second = adverse_event(transferred, coordinator_a, "Nausea")
    verification_mark(participant=transferred, record="consent", performed_by=monitor)
    verification_mark(
        participant=transferred, record="adverse_event", record_id=first.pk, performed_by=monitor
    )
    verification_mark(
        participant=transferred,
        record="eligibility",
        fields=["th1_th2_ratio", "th1_th2_laboratory"],
        performed_by=monitor,
    )
    assert tallies(transferred) == {
        "eligibility": (1, 2, 1),
        "consent": (1, entered("consent"), critical("consent")),
        "embryo_transfer": (1, 0, 0),
        "adverse_event": (2, entered("adverse_event"), critical("adverse_event")),
    }

    # A corrected consent date clears that value's mark (the guard), and the tally with it.
    with at("2026-02-22"):
        consent_record(
            participant=transferred,
            consent_date=transferred.screening_date,
            consent_version="1.0",
            reason="Date misread",
            performed_by=coordinator_a,
        )
    assert tallies(transferred)["consent"] == (1, entered("consent") - 1, critical("consent") - 1)

    # Raw SQL counts as well: a record deleted, and a mark deleted.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM safety_adverse_events WHERE id = %s", [second.pk])
        cursor.execute(
            "DELETE FROM quality_verification WHERE record = 'eligibility' "
            "AND field = 'th1_th2_laboratory'"
        )
    assert tallies(transferred)["adverse_event"] == (
        1,
        entered("adverse_event"),
        critical("adverse_event"),
    )
    assert tallies(transferred)["eligibility"] == (1, 1, 1)
    assert tally_drift() == []


def test_a_mark_not_on_an_entered_value_counts_for_nothing(make_user, transferred):
    monitor = make_user("monitor", ["S01"])
    consent = transferred.consent
    Verification.objects.create(participant=transferred, record="consent", verified_by=monitor)
    Verification.objects.create(
        participant=transferred,
        record="consent",
        record_id=consent.pk,
        field="recorded_by",
        verified_by=monitor,
    )
    assert tallies(transferred)["consent"] == (1, 0, 0)
    assert tally_drift() == []


def test_the_tally_is_counted_afresh_after_writes_it_missed(make_user, transferred):
    monitor = make_user("monitor", ["S01"])
    verification_mark(participant=transferred, record="consent", performed_by=monitor)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE quality_formtally SET verified = 0, records = 5")

    drift = tally_drift()
    assert (transferred.pk, "consent", (5, 0, 2), (1, 2, 2)) in drift

    assert tally_rebuild() == len(tallies(transferred))
    assert tally_drift() == []
    assert tallies(transferred)["consent"] == (1, 2, 2)


def test_her_totals_add_up_her_tally(make_user, coordinator_a, transferred):
    monitor = make_user("monitor", ["S01"])
    verification_mark(participant=transferred, record="consent", performed_by=monitor)
    verification_mark(
        participant=transferred,
        record="eligibility",
        fields=["th1_th2_ratio"],
        performed_by=monitor,
    )
    totals = ParticipantVerification.objects.get(participant=transferred)
    verifiable = entered("eligibility") + entered("consent") + entered("embryo_transfer")
    assert (totals.verified, totals.verifiable) == (1 + entered("consent"), verifiable)
    assert (totals.critical_verified, totals.critical_verifiable) == (
        1 + critical("consent"),
        critical("eligibility") + critical("consent"),
    )
    assert totals.forms_awaiting == 2  # eligibility and the embryo transfer
    assert totals.site_id == transferred.site_id


@pytest.mark.django_db(transaction=True)
def test_two_marks_at_once_on_her_forms_are_both_in_her_totals(make_user, transferred):
    """The second writer waits for the first, then adds up her totals with
    the first's mark committed: neither mark is lost."""
    monitor = make_user("monitor", ["S01"])
    insert = (
        "INSERT INTO quality_verification (participant_id, record, record_id, field, "
        "verified_by_id, verified_at, cleared_reason) VALUES (%s, %s, %s, %s, %s, now(), '')"
    )
    second_writer_waits(
        (insert, [transferred.pk, "consent", transferred.consent.pk, "consent_date", monitor.pk]),
        (
            insert,
            [
                transferred.pk,
                "eligibility",
                transferred.eligibility.pk,
                "th1_th2_ratio",
                monitor.pk,
            ],
        ),
    )

    totals = ParticipantVerification.objects.get(participant=transferred)
    assert (totals.verified, totals.critical_verified) == (2, 2)
    assert tally_drift() == []
