"""The audit trail: written by triggers, append-only, carrying who, why and from where."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.utils import InternalError, ProgrammingError
from pghistory.models import Events

from ecrf.audit.selectors import history_of
from ecrf.participants.models import Participant
from ecrf.participants.services import participant_update_screening

pytestmark = pytest.mark.django_db

EVENT_TABLE = "participants_participantevent"


def _events(participant: Participant) -> list[Events]:
    return list(Events.objects.tracks(participant).order_by("pgh_id"))


@pytest.mark.requirement("CFR11-10E-CAPTURE", "CFR11-10E-CONTENT", "ICH-E6R3-4.2.2-CHANGES")
def test_registration_is_recorded_with_user_role_site_and_source(participant_a, coordinator_a):
    (created,) = _events(participant_a)
    assert created.pgh_label == "create"
    assert created.pgh_data["subject_id"] == "S01-001"
    assert created.pgh_context["username"] == coordinator_a.username
    assert created.pgh_context["role"] == "coordinator"
    assert created.pgh_context["site"] == "S01"
    assert created.pgh_context["reason"] is None


@pytest.mark.requirement(
    "CFR11-10E-NOT-OBSCURE", "CFR11-10C-PROTECTION", "ICH-E6R3-4.2.2-NOT-DISABLED"
)
def test_update_event_table_rejects_sql_update(participant_a):
    with (
        pytest.raises((InternalError, ProgrammingError)),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"UPDATE {EVENT_TABLE} SET birth_date = '1980-01-01'")


@pytest.mark.requirement(
    "CFR11-10E-NOT-OBSCURE", "CFR11-10C-PROTECTION", "ICH-E6R3-4.2.2-NOT-DISABLED"
)
def test_update_event_table_rejects_sql_delete(participant_a):
    with (
        pytest.raises((InternalError, ProgrammingError)),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(f"DELETE FROM {EVENT_TABLE}")
    assert len(_events(participant_a)) == 1


@pytest.mark.requirement(
    "CFR11-10E-NOT-OBSCURE", "CFR11-10C-PROTECTION", "ICH-E6R3-4.2.2-NOT-DISABLED"
)
def test_every_event_table_is_append_only():
    """Every audited model's event table carries the append-only trigger in PostgreSQL."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname FROM pg_class c
            WHERE c.relname LIKE '%%event' AND c.relkind = 'r'
              AND c.relnamespace = 'public'::regnamespace
              AND NOT EXISTS (
                SELECT 1 FROM pg_trigger t
                WHERE t.tgrelid = c.oid AND t.tgname LIKE 'pgtrigger_append_only%%'
              )
            """
        )
        unprotected = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT count(*) FROM pg_class WHERE relname LIKE '%%event' AND relkind = 'r'"
        )
        (total,) = cursor.fetchone()
    assert total >= 5
    assert unprotected == []


@pytest.mark.requirement(
    "CFR11-10E-CAPTURE", "CFR11-10E-NOT-OBSCURE", "ICH-E6R3-4.2.2-NOT-DISABLED"
)
def test_raw_sql_and_bulk_updates_are_captured(participant_a):
    Participant.objects.filter(pk=participant_a.pk).update(status="screen_failed")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE participants_participant SET status = 'eligible' WHERE id = %s",
            [participant_a.pk],
        )
    updates = [e for e in _events(participant_a) if e.pgh_label == "update"]
    assert [e.pgh_diff["status"] for e in updates] == [
        ["screening", "screen_failed"],
        ["screen_failed", "eligible"],
    ]


@pytest.mark.requirement("CFR11-10E-CONTENT", "ICH-E6R3-4.2.4-CORRECTIONS")
def test_change_of_saved_value_without_reason_is_refused(participant_a, coordinator_a):
    with pytest.raises(ValidationError) as excinfo:
        participant_update_screening(
            participant=participant_a,
            screening_date=participant_a.screening_date,
            birth_date=dt.date(1991, 5, 17),
            reason="  ",
            performed_by=coordinator_a,
        )
    assert "reason" in excinfo.value.message_dict
    participant_a.refresh_from_db()
    assert participant_a.birth_date == dt.date(1990, 5, 17)
    assert len(_events(participant_a)) == 1


@pytest.mark.requirement(
    "CFR11-10E-CONTENT",
    "CFR11-10E-NOT-OBSCURE",
    "ICH-E6R3-4.2.2-CHANGES",
    "ICH-E6R3-4.2.2-INTERPRETABLE",
    "ICH-E6R3-4.2.4-CORRECTIONS",
)
def test_change_with_reason_records_old_value_new_value_and_reason(participant_a, coordinator_a):
    participant_update_screening(
        participant=participant_a,
        screening_date=participant_a.screening_date,
        birth_date=dt.date(1991, 5, 17),
        reason="Transcription error; passport checked",
        performed_by=coordinator_a,
    )
    update = _events(participant_a)[-1]
    assert update.pgh_label == "update"
    assert update.pgh_diff == {"birth_date": ["1990-05-17", "1991-05-17"]}
    assert update.pgh_context["reason"] == "Transcription error; passport checked"
    assert update.pgh_context["username"] == coordinator_a.username
    assert update.pgh_context["role"] == "coordinator"

    entry = history_of(participant_a)[-1]
    assert entry.action == "update"
    assert [(c.field, c.old_value, c.new_value) for c in entry.changes] == [
        ("birth_date", "1990-05-17", "1991-05-17")
    ]


@pytest.mark.requirement("CFR11-10E-CONTENT")
def test_saving_unchanged_values_needs_no_reason_and_writes_nothing(participant_a, coordinator_a):
    participant_update_screening(
        participant=participant_a,
        screening_date=participant_a.screening_date,
        birth_date=participant_a.birth_date,
        reason="",
        performed_by=coordinator_a,
    )
    assert len(_events(participant_a)) == 1


@pytest.mark.requirement("CFR11-10E-CONTENT")
def test_reason_does_not_leak_to_the_next_change(participant_a, coordinator_a, site_a):
    from tests.factories import ParticipantFactory

    participant_update_screening(
        participant=participant_a,
        screening_date=participant_a.screening_date,
        birth_date=dt.date(1991, 5, 17),
        reason="First reason",
        performed_by=coordinator_a,
    )
    second = ParticipantFactory(site=site_a, performed_by=coordinator_a)
    assert _events(second)[0].pgh_context["reason"] is None
