"""The safety report's counts, kept per site, follow every write to the adverse events and
every change of arm, two events written at once at one site included, and can be counted
afresh."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from ecrf.reports import selectors
from ecrf.reports.models import SiteAdverseEventCount
from ecrf.reports.safety_counts import TRIGGERS, safety_counts_drift, safety_counts_rebuild
from ecrf.safety.models import AdverseEvent
from ecrf.safety.services import adverse_event_update
from tests.concurrency import second_writer_waits

pytestmark = pytest.mark.django_db

ARM = SiteAdverseEventCount.Kind.ARM
CELL = SiteAdverseEventCount.Kind.CELL


def kept(site_code: str) -> set[tuple[object, ...]]:
    return set(
        SiteAdverseEventCount.objects.filter(site__code=site_code).values_list(
            "kind", "arm", "ctcae_grade", "serious", "related", "term", "events", "participants"
        )
    )


def test_the_events_and_the_summary_have_the_triggers():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname LIKE 'ecrf_adverse_event_counts%' AND t.tgenabled = 'O'"
        )
        assert set(cursor.fetchall()) == set(TRIGGERS)


def test_the_counts_follow_the_events_as_they_are_written(trial, make_user, study):
    first, second = trial.screen("S01"), trial.screen("S01")
    arm = trial.randomize(first)
    trial.treat(first)
    trial.adverse_event(first)
    trial.adverse_event(first, term="Headache", related=False)
    trial.adverse_event(second, related=False)  # not randomized

    counts = kept("S01")
    assert (ARM, arm, None, None, None, None, 2, 1) in counts
    assert (ARM, None, None, None, None, None, 1, 1) in counts
    assert (CELL, arm, 1, False, True, None, 1, 1) in counts
    assert (CELL, arm, 1, False, False, None, 1, 1) in counts
    assert kept("S02") == set()
    assert safety_counts_drift() == []

    event = AdverseEvent.objects.get(participant=first, term="Headache")
    adverse_event_update(
        adverse_event=event,
        term="Headache",
        onset_date=event.onset_date,
        ctcae_grade=3,
        serious=False,
        related=False,
        outcome="recovered",
        reason="Graded from the source notes",
        performed_by=make_user("coordinator", ["S01"]),
    )
    assert (CELL, arm, 3, False, False, None, 1, 1) in kept("S01")
    assert (CELL, arm, 1, False, False, None, 1, 1) not in kept("S01")
    assert safety_counts_drift() == []

    table = selectors.safety_table(make_user("admin"), study, pooled=False)
    assert table.events[arm] == 2 and table.participants_with_events[arm] == 1
    assert table.events[selectors.NOT_RANDOMIZED] == 1


def test_randomizing_a_woman_with_an_event_moves_it_to_her_arm(trial):
    participant = trial.screen("S01")
    trial.adverse_event(participant, related=False)
    assert (ARM, None, None, None, None, None, 1, 1) in kept("S01")

    arm = trial.randomize(participant)

    assert (ARM, arm, None, None, None, None, 1, 1) in kept("S01")
    assert all(row[1] == arm for row in kept("S01"))
    assert safety_counts_drift() == []


def test_a_change_the_report_does_not_group_by_leaves_the_counts_be(trial):
    participant = trial.screen("S01")
    trial.randomize(participant)
    trial.adverse_event(participant)
    before = set(SiteAdverseEventCount.objects.values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE safety_adverse_events SET outcome = 'recovering'")
    assert set(SiteAdverseEventCount.objects.values_list("pk", flat=True)) == before


def test_raw_sql_is_followed_and_the_counts_can_be_counted_afresh(trial):
    participant = trial.screen("S02")
    trial.randomize(participant)
    trial.adverse_event(participant)
    trial.adverse_event(participant, term="Headache")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM safety_adverse_events WHERE term = 'Headache'")
    assert {row[6] for row in kept("S02") if row[0] == ARM} == {1}
    assert safety_counts_drift() == []

    with connection.cursor() as cursor:
        cursor.execute("UPDATE reports_siteadverseeventcount SET events = events + 1")
    assert safety_counts_drift() == [participant.site_id]
    safety_counts_rebuild()
    assert safety_counts_drift() == []


@pytest.mark.django_db(transaction=True)
def test_two_events_written_at_once_at_one_site_are_both_counted(trial):
    """The second writer waits for the first's lock on the site's counts, then counts the
    site with the first's event committed."""
    first, second = trial.screen("S01"), trial.screen("S01")
    trial.adverse_event(first, related=False)
    trial.adverse_event(second, related=False)
    template = AdverseEvent.objects.filter(participant=first).values().get()
    columns = [
        "term", "onset_date", "ctcae_grade", "serious", "seriousness_criteria", "related",
        "action_taken", "outcome", "learned_at", "pre_treatment", "recorded_by_id",
        "recorded_at", "updated_at",
    ]  # fmt: skip
    insert = (
        f"INSERT INTO safety_adverse_events (participant_id, {', '.join(columns)}) "
        f"VALUES (%s, {', '.join(['%s'] * len(columns))})"
    )
    values = [template[column] for column in columns]
    values[0] = "Nausea"
    values[1] = template["onset_date"] + dt.timedelta(days=1)

    second_writer_waits((insert, [first.pk, *values]), (insert, [second.pk, *values]))

    nausea = [row for row in kept("S01") if row[5] == "Nausea"]
    assert nausea == [(SiteAdverseEventCount.Kind.TERM, None, 1, None, None, "Nausea", 2, 2)]
    assert safety_counts_drift() == []
