"""The participant summary the reports count follows every write to the tables its facts
come from, two writes at once included, and can be counted afresh."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from ecrf.reports.models import ParticipantSummary
from ecrf.reports.summary import SOURCES, summary_drift, summary_rebuild
from ecrf.schedule.models import DoseEntry, EmbryoTransfer
from tests.concurrency import second_writer_waits

pytestmark = pytest.mark.django_db


def test_every_table_the_facts_come_from_has_the_trigger():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = 'ecrf_participant_summary' AND t.tgenabled = 'O'"
        )
        assert {row[0] for row in cursor.fetchall()} == {table for table, _ in SOURCES} | {
            "studies_site"
        }


def test_the_summary_follows_the_trial_as_it_is_written(trial, study):
    waiting = trial.screen("S01")
    failed = trial.screen("S02", pregnant=True)
    treated = trial.screen("S01")
    arm = trial.randomize(treated)
    trial.treat(treated)
    trial.assess(treated, hcg_positive=True, sac_seen=True)
    planned = trial.screen("S02")
    trial.randomize(planned)
    trial.treat(planned, et_performed=False, dose_taken=False)
    trial.withdraw(planned, "Moved away")

    summaries = {s.participant_id: s for s in ParticipantSummary.objects.all()}
    assert summaries[waiting.pk].arm is None and summaries[waiting.pk].eligible is True
    assert summaries[failed.pk].eligible is False
    assert "pregnant" in summaries[failed.pk].failed_criteria
    mine = summaries[treated.pk]
    assert (mine.arm, mine.et_performed, mine.dose_taken) == (arm, True, True)
    assert (mine.biochemical_result, mine.clinical_sac_seen) == ("positive", True)
    theirs = summaries[planned.pk]
    assert (theirs.withdrawn, theirs.withdrawal_reason) == (True, "Moved away")
    assert (theirs.et_performed, theirs.dose_taken) == (False, False)
    assert summary_drift() == []


def test_a_change_by_raw_sql_is_followed(trial):
    participant = trial.screen("S01")
    trial.randomize(participant)
    trial.treat(participant, dose_taken=False)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE schedule_doseentry SET taken = TRUE WHERE participant_id = %s",
            [participant.pk],
        )
    assert ParticipantSummary.objects.get(participant=participant).dose_taken is True
    assert summary_drift() == []


def test_a_sites_new_time_zone_dates_its_randomizations_anew(trial, study):
    """At one in the morning of 1 February in Tokyo it is still January in London."""
    participant = trial.screen("S01")
    trial.randomize(participant, on="2026-02-01", hour=1)
    summary = ParticipantSummary.objects.get(participant=participant)
    assert summary.randomized_month == dt.date(2026, 2, 1)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE studies_site SET time_zone = 'Europe/London' WHERE id = %s",
            [participant.site_id],
        )
    summary.refresh_from_db()
    assert summary.randomized_month == dt.date(2026, 1, 1)
    assert summary_drift() == []


def test_the_summary_is_counted_afresh_after_writes_it_missed(trial):
    participant = trial.screen("S01")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE reports_participantsummary SET status = 'completed'")
    assert summary_drift() == [participant.pk]
    assert summary_rebuild() == 1
    assert summary_drift() == []


@pytest.mark.django_db(transaction=True)
def test_two_writes_to_her_data_at_once_leave_the_summary_as_the_data_stand(trial):
    """The second writer waits for the first's lock on her summary, then counts her facts
    with the first's change committed: neither change is lost."""
    participant = trial.screen("S01")
    trial.randomize(participant)
    trial.treat(participant, et_performed=False, dose_taken=False)
    dose = DoseEntry.objects.filter(participant=participant).order_by("pk").first()
    transfer = EmbryoTransfer.objects.get(participant=participant)

    second_writer_waits(
        ("UPDATE schedule_doseentry SET taken = TRUE WHERE id = %s", [dose.pk]),
        ("UPDATE schedule_embryotransfer SET performed = TRUE WHERE id = %s", [transfer.pk]),
    )

    summary = ParticipantSummary.objects.get(participant=participant)
    assert (summary.dose_taken, summary.et_performed) == (True, True)
    assert summary_drift() == []


def test_her_new_status_is_written_and_other_changes_of_her_row_leave_it_alone(trial):
    participant = trial.screen("S01")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE participants_participant SET status = 'withdrawn' WHERE id = %s",
            [participant.pk],
        )
        assert ParticipantSummary.objects.get(participant=participant).status == "withdrawn"
        cursor.execute(
            "UPDATE participants_participant SET birth_date = birth_date - 1 WHERE id = %s",
            [participant.pk],
        )
        cursor.execute(
            "UPDATE participants_participant SET status = 'eligible' WHERE id = %s",
            [participant.pk],
        )
    assert ParticipantSummary.objects.get(participant=participant).status == "eligible"
    assert summary_drift() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("status_first", [True, False])
def test_her_new_status_and_another_write_at_once_are_both_counted(trial, status_first):
    """Her new status is written under the lock on her summary a recount takes: whichever
    write comes first, the other waits for it and neither is lost."""
    participant = trial.screen("S01")
    trial.randomize(participant)
    trial.treat(participant, et_performed=False, dose_taken=False)
    transfer = EmbryoTransfer.objects.get(participant=participant)
    status = (
        "UPDATE participants_participant SET status = 'completed' WHERE id = %s",
        [participant.pk],
    )
    performed = (
        "UPDATE schedule_embryotransfer SET performed = TRUE WHERE id = %s",
        [transfer.pk],
    )
    second_writer_waits(*((status, performed) if status_first else (performed, status)))

    summary = ParticipantSummary.objects.get(participant=participant)
    assert (summary.status, summary.et_performed) == ("completed", True)
    assert summary_drift() == []


def _intake_after(
    dose: DoseEntry, *, taken: bool = True, days: int = 1
) -> tuple[str, list[object]]:
    """An intake ``days`` after ``dose``, taken (or missed), added by plain SQL."""
    return (
        "INSERT INTO schedule_doseentry (participant_id, date, intake, taken, dose_mg, "
        "capsules, time_taken, missed_reason, comment, deviation, deviation_reason, "
        "recorded_by_id, recorded_at) "
        "SELECT participant_id, date + %s, intake, %s, dose_mg, capsules, "
        "CASE WHEN %s THEN '08:30'::time END, CASE WHEN %s THEN '' ELSE 'Forgot' END, '', "
        "FALSE, '', recorded_by_id, recorded_at FROM schedule_doseentry WHERE id = %s",
        [days, taken, taken, taken, dose.pk],
    )


def test_the_diary_changes_that_leave_her_facts_alone_keep_the_summary_right(trial):
    """An intake taken after missed ones, a corrected time, intakes added once one is
    taken, and every taken one deleted: the summary counts what the diary holds each
    time."""
    participant = trial.screen("S01")
    trial.randomize(participant)
    trial.treat(participant, dose_taken=False)
    doses = list(DoseEntry.objects.filter(participant=participant).order_by("pk"))

    def taken() -> bool:
        assert summary_drift() == []
        return ParticipantSummary.objects.get(participant=participant).dose_taken

    assert taken() is False
    with connection.cursor() as cursor:
        cursor.execute("UPDATE schedule_doseentry SET taken = TRUE WHERE id = %s", [doses[0].pk])
        assert taken() is True
        cursor.execute(
            "UPDATE schedule_doseentry SET time_taken = '08:40' WHERE id = %s", [doses[0].pk]
        )
        assert taken() is True
        cursor.execute(*_intake_after(doses[-1]))
        assert taken() is True
        missed, parameters = _intake_after(doses[-1], taken=False, days=2)
        cursor.execute(missed, parameters)
        assert taken() is True
        cursor.execute(
            "DELETE FROM schedule_doseentry WHERE participant_id = %s AND taken", [participant.pk]
        )
        assert taken() is False


@pytest.mark.django_db(transaction=True)
def test_a_taken_intake_added_while_the_last_taken_one_is_deleted_is_counted(trial):
    """The writer adding a taken intake reads "a taken one is counted" under the lock a
    recount takes: it waits for the writer deleting the last taken one, then counts."""
    participant = trial.screen("S01")
    trial.randomize(participant)
    trial.treat(participant, dose_taken=False)
    doses = list(DoseEntry.objects.filter(participant=participant).order_by("pk"))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE schedule_doseentry SET taken = TRUE WHERE id = %s", [doses[0].pk])

    second_writer_waits(
        ("DELETE FROM schedule_doseentry WHERE id = %s", [doses[0].pk]),
        _intake_after(doses[-1]),
    )

    assert ParticipantSummary.objects.get(participant=participant).dose_taken is True
    assert summary_drift() == []
