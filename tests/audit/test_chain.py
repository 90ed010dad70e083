"""The audit trail's hash chain: any edit, deletion or insertion of an event is detected.

The tampering below is what a database superuser can do: switch the triggers off for
the session (``session_replication_role = replica``) and change the event tables by
raw SQL. The chain triggers are deferred to commit, so these tests commit for real.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import close_old_connections, connection, transaction
from django.db.utils import DatabaseError

from ecrf.audit.chain import (
    GENESIS,
    SHAPE_TABLE,
    chain_head,
    chain_install,
    chain_verify,
    event_tables,
)
from ecrf.audit.models import ChainLink, ChainShape, ChainVerification
from ecrf.home.tasks import audit_trail_verify
from ecrf.participants.models import Participant
from ecrf.participants.services import participant_update_screening
from tests.conftest import run_manage
from tests.factories import ParticipantFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.requirement("CFR11-10A-ALTERED"),
]

EVENT_TABLE = "participants_participantevent"


def _as_superuser(sql: str, params: list[Any] | None = None) -> None:
    """Run SQL with every trigger switched off, as only a superuser can."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)


def _event_ids(participant: Participant) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT pgh_id FROM {EVENT_TABLE} WHERE pgh_obj_id = %s ORDER BY pgh_id",
            [participant.pk],
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def trail(participant_a: Participant, coordinator_a: Any) -> Participant:
    """A participant registered, then corrected with a reason: several chained events."""
    participant_update_screening(
        participant=participant_a,
        performed_by=coordinator_a,
        birth_date=participant_a.birth_date.replace(year=participant_a.birth_date.year - 1),
        screening_date=participant_a.screening_date,
        reason="Birth year mistyped; corrected from the hospital record",
    )
    return participant_a


def _broken_message() -> str:
    with pytest.raises(CommandError) as raised:
        call_command("verify_audit_trail")
    return str(raised.value)


def test_every_committed_event_has_a_link_and_the_chain_is_intact(trail):
    # Every event is chained, and so is each table's shape (its columns).
    events = sum(_count(table) for table in event_tables()) + _count(SHAPE_TABLE)
    assert ChainLink.objects.count() == events > 3
    report = chain_verify(checked_by="test")
    assert report.intact and report.finding is None
    assert report.links_checked == events
    assert report.head_digest == chain_head() != GENESIS


def test_the_command_passes_on_a_clean_trail_and_exits_zero(trail):
    result = run_manage("verify_audit_trail")
    assert result.returncode == 0
    assert "Audit trail intact" in result.stdout
    assert chain_head() in result.stdout


def test_an_event_edited_by_a_superuser_is_named(trail):
    first, second = _event_ids(trail)
    _as_superuser(
        f"UPDATE {EVENT_TABLE} SET birth_date = birth_date + 1 WHERE pgh_id = %s", [second]
    )
    message = _broken_message()
    assert f"{EVENT_TABLE}#{second}" in message
    assert "edited" in message
    result = run_manage("verify_audit_trail", check=False)
    assert result.returncode != 0
    assert f"{EVENT_TABLE}#{second}" in result.stderr


def test_an_event_deleted_by_a_superuser_is_named(trail):
    first, _ = _event_ids(trail)
    _as_superuser(f"DELETE FROM {EVENT_TABLE} WHERE pgh_id = %s", [first])
    message = _broken_message()
    assert f"{EVENT_TABLE}#{first}" in message
    assert "deleted" in message


def test_an_event_inserted_by_a_superuser_is_named(trail):
    _as_superuser(
        f"INSERT INTO {EVENT_TABLE} (pgh_created_at, pgh_label, pgh_context, id, subject_number,"
        " subject_id, screening_date, birth_date, status, registered_at, pgh_obj_id,"
        " registered_by_id, site_id)"
        f" SELECT now(), 'update', pgh_context, id, subject_number, subject_id, screening_date,"
        f" DATE '1990-01-01', status, registered_at, pgh_obj_id, registered_by_id, site_id"
        f" FROM {EVENT_TABLE} WHERE pgh_obj_id = %s ORDER BY pgh_id DESC LIMIT 1",
        [trail.pk],
    )
    forged = _event_ids(trail)[-1]
    message = _broken_message()
    assert f"{EVENT_TABLE}#{forged}" in message
    assert "no link" in message


def test_an_event_cannot_be_inserted_with_the_triggers_on(trail):
    with (
        pytest.raises(DatabaseError, match="written only by the audit triggers"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"INSERT INTO {EVENT_TABLE} SELECT * FROM {EVENT_TABLE} ORDER BY pgh_id LIMIT 1"
        )


def test_a_removed_link_breaks_the_next_one(trail):
    link = ChainLink.objects.order_by("seq")[1]
    _as_superuser("DELETE FROM audit_chain_link WHERE seq = %s", [link.seq])
    message = _broken_message()
    assert f"link {link.seq + 1}" in message
    assert "does not follow" in message


def test_cutting_off_the_end_of_the_trail_is_detected_against_the_last_verification(trail):
    assert chain_verify(checked_by="test").intact
    head = ChainLink.objects.order_by("-seq").first()
    assert head is not None
    _as_superuser(f"DELETE FROM {head.event_table} WHERE pgh_id = %s", [head.event_id])
    _as_superuser("DELETE FROM audit_chain_link WHERE seq = %s", [head.seq])
    message = _broken_message()
    assert f"link {head.seq}" in message
    assert "cut" in message


def test_a_head_stated_by_an_export_must_still_be_in_the_chain(trail):
    call_command("verify_audit_trail", head=[chain_head()])
    with pytest.raises(CommandError, match="not in the chain"):
        call_command("verify_audit_trail", head=["f" * 64])


@pytest.mark.requirement("ICH-E6R3-4.2.2-TIMESTAMPS")
def test_writes_from_a_session_in_another_time_zone_still_verify(trail):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL timezone = 'Asia/Tokyo'")
        cursor.execute(
            "UPDATE participants_participant SET registered_at = registered_at"
            " + interval '1 minute' WHERE id = %s",
            [trail.pk],
        )
    assert chain_verify(checked_by="test").intact


def test_parallel_writers_build_one_unbroken_chain(site_a, coordinator_a):
    errors: list[BaseException] = []

    def register() -> None:
        try:
            for _ in range(3):
                ParticipantFactory(site=site_a, performed_by=coordinator_a)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=register) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert Participant.objects.count() == 24
    report = chain_verify(checked_by="test")
    assert report.intact, report.finding
    assert report.links_checked == sum(_count(table) for table in [*event_tables(), SHAPE_TABLE])


def test_every_event_table_carries_the_chain_triggers():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, array_agg(t.tgname::text ORDER BY t.tgname) FROM pg_trigger t"
            " JOIN pg_class c ON c.oid = t.tgrelid"
            " WHERE t.tgname IN ('ecrf_audit_chain', 'ecrf_audit_event_origin')"
            " GROUP BY c.relname"
        )
        covered = dict(cursor.fetchall())
    assert len(event_tables()) > 20
    for table in event_tables():
        assert covered.get(table) == ["ecrf_audit_chain", "ecrf_audit_event_origin"], table
        # The chain trigger knows the table's attributes when its shape was recorded.
        assert _chain_trigger_argument(table) == _attribute_count(table), table


def test_the_nightly_check_mails_administrators_when_the_chain_is_broken(trail, make_user):
    admin = make_user("admin", email="admin@example.org", language="en")
    assert audit_trail_verify() is True
    assert mail.outbox == []
    first, _ = _event_ids(trail)
    _as_superuser(f"DELETE FROM {EVENT_TABLE} WHERE pgh_id = %s", [first])
    assert audit_trail_verify() is False
    (message,) = mail.outbox
    assert message.to == [admin.email]
    assert message.subject == "Audit trail verification failed"
    assert f"{EVENT_TABLE}#{first}" in message.body
    assert ChainVerification.objects.filter(intact=False, checked_by="nightly").count() == 1


def _count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
        return int(cursor.fetchone()[0])


# -- schema changes ------------------------------------------------------------------


def _correct_day_of_birth(participant: Participant, day: int) -> None:
    participant_update_screening(
        participant=participant,
        performed_by=participant.registered_by,
        birth_date=participant.birth_date.replace(day=day),
        screening_date=participant.screening_date,
        reason="Day of birth corrected from the passport",
    )


def _chain_trigger_argument(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT split_part(encode(t.tgargs, 'escape'), '\\000', 1)::int FROM pg_trigger t"
            " WHERE t.tgrelid = %s::regclass AND t.tgname = 'ecrf_audit_chain'",
            [table],
        )
        return int(cursor.fetchone()[0])


def _attribute_count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relnatts FROM pg_class WHERE oid = %s::regclass", [table])
        return int(cursor.fetchone()[0])


def _add_column_with_default(table: str) -> None:
    """What a migration adding a field with a default does: every old event gets it."""
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ADD COLUMN review_flag integer NOT NULL DEFAULT 7")


def test_a_column_added_with_a_default_by_a_migration_is_no_tampering(trail):
    before = chain_verify(checked_by="test")
    assert before.intact
    _add_column_with_default(EVENT_TABLE)
    try:
        # The old events now hold the default, a value their digests never covered: the
        # shape they were hashed with leaves it out.
        assert chain_verify(checked_by="test").intact
        # An event written before ``migrate`` has recorded the new shape (a data
        # migration's) is hashed with the old one: the trigger sees the added column.
        _correct_day_of_birth(trail, 2)
        assert chain_verify(checked_by="test").intact
        chain_install()  # what ``migrate`` runs afterwards: the table's new shape
        assert _chain_trigger_argument(EVENT_TABLE) == _attribute_count(EVENT_TABLE)
        shapes = list(
            ChainShape.objects.filter(event_table=EVENT_TABLE)
            .order_by("from_seq")
            .values_list("from_seq", "columns")
        )
        assert len(shapes) == 2 and "review_flag" in shapes[1][1]
        assert "review_flag" not in shapes[0][1]
        assert shapes[1][0] > before.head_seq

        # A new event is hashed with the new column, so editing it is found; and an edit
        # of an old event's columns is still found.
        _correct_day_of_birth(trail, 1)
        assert chain_verify(checked_by="test").intact
        newest = _event_ids(trail)[-1]
        _as_superuser(f"UPDATE {EVENT_TABLE} SET review_flag = 8 WHERE pgh_id = %s", [newest])
        assert f"{EVENT_TABLE}#{newest}" in _broken_message()
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {EVENT_TABLE} DROP COLUMN review_flag")


def test_a_shape_edited_by_a_superuser_is_named(trail):
    shape = ChainShape.objects.filter(event_table=EVENT_TABLE).get()
    # Leaving a column out of the shape would hide an edit of it: the shape is chained.
    _as_superuser(
        "UPDATE audit_chain_shape SET columns = array_remove(columns, 'birth_date') WHERE id = %s",
        [shape.pk],
    )
    message = _broken_message()
    assert f"{SHAPE_TABLE}#{shape.pk}" in message and "edited" in message
