"""A page of the review, read by the statement compiled once for its combination of
filters, answers what the ORM's own read of the same filters answers: for every
combination, reader, cursor and size, and after the study's blinding changes."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrf.review.models import AuditEntry
from ecrf.review.selectors import (
    ANY_SIGNAL,
    AuditFilters,
    _entries,
    _Hidden,
    _window,
    audit_page,
)
from ecrf.studies.models import Site

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
ACTORS = ["alice", "bob", "system:celery"]
ROLES = ["coordinator", "investigator", ""]
RECORDS = [("dose", "schedule.doseentry"), ("adverse_event", "safety.adverseevent")]
CONCEALED = ("randomization", "randomization.slot")
FIELDS = ["value", "onset", "arm_id"]
ACTIONS = ["create", "update", "delete"]
SUBJECTS = ["S01-001", "S02-002", ""]
SIGNALS = [[], ["off_hours"], ["bulk", "late_entry"]]
REASONS = ["", "Typo corrected", "source checked"]


@pytest.fixture
def trail(site_a: Site, site_b: Site) -> list[AuditEntry]:
    """150 entries over three sites (one of them none), two at each hour, some of a
    concealed model, some showing the arm."""
    sites = [site_a, site_b, None]
    entries = []
    for i in range(150):
        record, model = CONCEALED if i % 11 == 0 else RECORDS[i % 2]
        entries.append(
            AuditEntry(
                seq=i + 1,
                event_table="test_event",
                event_id=i + 1,
                field=FIELDS[i % 3],
                at=START + dt.timedelta(hours=i // 2),
                actor=ACTORS[i % 3],
                role=ROLES[(i // 3) % 3],
                site=sites[(i // 2) % 3],
                subject_id=SUBJECTS[(i // 2) % 3],
                record=record,
                record_id=str(i),
                model=model,
                old_value="1",
                new_value="2",
                reason=REASONS[i % 3],
                action=ACTIONS[(i // 5) % 3],
                reveals_arm=i % 7 == 0,
                signals=SIGNALS[(i // 4) % 3],
            )
        )
    return AuditEntry.objects.bulk_create(entries)


@pytest.fixture
def readers(make_user):
    return {
        "monitor": make_user("monitor", ["S01"]),
        "data_manager": make_user("data_manager"),
        "admin": make_user("admin"),
    }


def _orm_page(user, filters, after, before, size):
    """The same page read through the ORM, as it was before pages were compiled."""
    rows = list(_window(_entries(user, filters, _Hidden.of(user)), after, before, size))
    ids = [row[0] for row in rows]
    if before is not None:
        return ids[:size][::-1]
    return ids[:size]


optional = lambda values: st.one_of(st.just(""), st.sampled_from(values))  # noqa: E731
moments = st.sampled_from([START + dt.timedelta(hours=h) for h in (0, 7, 30, 74, 90)])


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    reader=st.sampled_from(["monitor", "data_manager", "admin"]),
    site=st.sampled_from([None, "S01", "S02"]),
    subject_id=optional(SUBJECTS[:2]),
    user=optional(ACTORS),
    role=optional(ROLES[:2]),
    record=optional([r for r, _m in [*RECORDS, CONCEALED]]),
    field=optional(FIELDS),
    action=optional(ACTIONS),
    since=st.one_of(st.none(), moments),
    until=st.one_of(st.none(), moments),
    reason=optional(["typo", "SOURCE"]),
    signal=optional([ANY_SIGNAL, "off_hours", "bulk"]),
    cursor=st.sampled_from(["", "after", "before"]),
    anchor=st.integers(min_value=0, max_value=149),
    size=st.integers(min_value=1, max_value=7),
)
def test_every_combination_of_filters_reads_what_the_orm_reads(
    trail, readers, reader, site, cursor, anchor, size, **values
):
    user = readers[reader]
    filters = AuditFilters(site=Site.objects.get(code=site) if site else None, **values)
    after = trail[anchor].pk if cursor == "after" else None
    before = trail[anchor].pk if cursor == "before" else None
    page = audit_page(user, filters, after=after, before=before, size=size)
    assert [entry.id for entry in page.entries] == _orm_page(user, filters, after, before, size)


def test_a_change_of_the_studys_blinding_changes_what_the_next_page_shows(trail, readers, study):
    monitor = readers["monitor"]
    every = AuditFilters()

    def shown() -> set[int]:
        return {entry.id for entry in audit_page(monitor, every, size=200).entries}

    seen = shown()
    showing_arm = {e.pk for e in trail if e.reveals_arm} & seen
    assert showing_arm
    study.blinded, study.blinded_roles = True, ["monitor"]
    study.save(update_fields=["blinded", "blinded_roles"])
    blinded = shown()
    assert not blinded & showing_arm
    assert blinded == set(_orm_page(monitor, every, None, None, 200))
    study.blinded = False
    study.save(update_fields=["blinded"])
    assert shown() == seen
