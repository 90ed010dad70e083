"""The audit trail indexed for review: every changed field, with its risk signals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from ecrf.endpoints.services import endpoint_record
from ecrf.quality.services import verification_mark
from ecrf.review.models import AuditEntry
from ecrf.review.services import _give_signals, audit_index_pending, audit_index_update

from ..clock import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def chained() -> None:
    """Links made at once rather than at commit, which a test's transaction never reaches."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def entries(**filters):
    audit_index_update()
    return AuditEntry.objects.filter(**filters).order_by("at", "id")


def hcg_changes(participant):
    return entries(
        participant=participant, record="biochemical_pregnancy", field="serum_hcg_miu_ml"
    )


def correct_hcg(participant, value, coordinator, reason="Transcription error"):
    endpoint_record(
        participant=participant,
        record="biochemical_pregnancy",
        values={
            "assessed_on": dt.date(2026, 3, 15),
            "serum_hcg_miu_ml": Decimal(value),
            "result": "positive",
        },
        reason=reason,
        performed_by=coordinator,
    )


def test_every_chained_change_is_indexed_once_with_its_actor_site_and_subject(
    chained, coordinator_a, biochemical
):
    created = hcg_changes(biochemical).get()
    assert created.action == "create"
    assert created.new_value == "140.00" and created.old_value == ""
    assert created.actor == coordinator_a.username and created.role == "coordinator"
    assert created.site.code == "S01" and created.subject_id == biochemical.subject_id
    assert audit_index_pending() == 0
    assert audit_index_update() == 0  # nothing new: nothing copied twice
    assert hcg_changes(biochemical).count() == 1


def test_a_correction_is_indexed_with_old_value_new_value_and_reason(
    chained, coordinator_a, biochemical
):
    with at("2026-03-16"):
        correct_hcg(biochemical, "150", coordinator_a)
    change = hcg_changes(biochemical).get(action="update")
    assert (change.old_value, change.new_value) == ("140.00", "150.00")
    assert change.reason == "Transcription error"


def test_a_verified_value_changed_is_signalled(chained, coordinator_a, make_user, biochemical):
    monitor = make_user("monitor", ["S01"])
    with at("2026-03-16"):
        verification_mark(
            participant=biochemical,
            record="biochemical_pregnancy",
            fields=["serum_hcg_miu_ml"],
            performed_by=monitor,
        )
    with at("2026-03-17"):
        correct_hcg(biochemical, "150", coordinator_a)
    change = hcg_changes(biochemical).get(action="update")
    assert "after_verification" in change.signals
    with at("2026-03-18"):
        correct_hcg(biochemical, "160", coordinator_a)
    # The mark was cleared by the first change: the second is not after a verification.
    assert "after_verification" not in hcg_changes(biochemical).last().signals


def test_the_third_change_of_a_field_is_signalled_as_repeated(chained, coordinator_a, biochemical):
    for day, value in [("2026-03-16", "150"), ("2026-03-17", "160"), ("2026-03-18", "170")]:
        with at(day):
            correct_hcg(biochemical, value, coordinator_a)
    updates = list(hcg_changes(biochemical).filter(action="update"))
    assert ["repeated_change" in u.signals for u in updates] == [False, False, True]


def synthetic(site, actor, at, n=1, **values):
    """Entries as the index holds them, at chosen times (a test's own changes all share
    its transaction's time)."""
    base = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    return AuditEntry.objects.bulk_create(
        AuditEntry(
            seq=base + i + 1,
            event_table="test_event",
            event_id=base + i + 1,
            field="value",
            at=at,
            actor=actor,
            site=site,
            record="dose",
            record_id=str(base + i + 1),
            model="schedule.doseentry",
            action="update",
            **values,
        )
        for i in range(n)
    )


def signals_of(site, actor, at, **values):
    audit_index_update()
    since = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    made = synthetic(site, actor, at, **values)
    _give_signals(since)
    return AuditEntry.objects.get(pk=made[0].pk).signals


TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.mark.parametrize(
    ("hour", "minute", "off_hours"),
    [(6, 59, True), (7, 0, False), (20, 59, False), (21, 0, True), (23, 30, True)],
)
def test_changes_outside_the_sites_working_hours_are_signalled(
    study, site_a, hour, minute, off_hours
):
    moment = dt.datetime(2026, 3, 16, hour, minute, tzinfo=TOKYO)
    assert ("off_hours" in signals_of(site_a, "coordinator_a", moment)) is off_hours


@pytest.mark.parametrize(("days", "late"), [(7, False), (8, True)])
def test_an_entry_made_more_than_the_study_setting_after_its_date_is_late(
    study, site_a, days, late
):
    recorded = dt.date(2026, 3, 1)
    moment = dt.datetime(2026, 3, 1 + days, 10, tzinfo=TOKYO)
    signals = signals_of(site_a, "coordinator_a", moment, record_date=recorded)
    assert ("late_entry" in signals) is late


def test_the_late_entry_limit_is_a_study_setting(study, site_a):
    study.audit_late_entry_days = 30
    study.save(update_fields=["audit_late_entry_days"])
    moment = dt.datetime(2026, 3, 20, 10, tzinfo=TOKYO)
    assert "late_entry" not in signals_of(
        site_a, "coordinator_a", moment, record_date=dt.date(2026, 3, 1)
    )


def test_more_changes_than_the_bulk_limit_within_ten_minutes_are_signalled(study, site_a):
    study.audit_bulk_records = 3
    study.save(update_fields=["audit_bulk_records"])
    audit_index_update()
    since = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    start = dt.datetime(2026, 3, 16, 10, tzinfo=TOKYO)
    minutes = [0, 2, 4, 6, 20, 31, 40]
    made = [synthetic(site_a, "bulk_user", start + dt.timedelta(minutes=m))[0] for m in minutes]
    synthetic(site_a, "someone_else", start + dt.timedelta(minutes=5), n=10)
    _give_signals(since)
    flagged = ["bulk" in AuditEntry.objects.get(pk=e.pk).signals for e in made]
    # the fourth change within 10 minutes is the first beyond the limit of 3; the
    # others' changes do not count towards hers
    assert flagged == [False, False, False, True, False, False, False]


def test_changes_made_by_commands_and_tasks_are_signalled_as_system(study, site_a):
    moment = dt.datetime(2026, 3, 16, 10, tzinfo=TOKYO)
    assert "system" in signals_of(site_a, "system:setup_trial", moment)
    assert "system" not in signals_of(site_a, "coordinator_a", moment)
