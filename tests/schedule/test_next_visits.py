"""Each participant's next visit, computed in bulk for the screening log from the schedule
of her treatment page."""

from __future__ import annotations

import datetime as dt

import pytest

from ecrf.participants.models import Participant
from ecrf.schedule.arithmetic import VisitStatus
from ecrf.schedule.selectors import PENDING_VISIT_STATUSES, next_visits, treatment_of
from ecrf.schedule.services import visit_record

from ..clock import at

pytestmark = pytest.mark.django_db


def loaded(participant: Participant) -> Participant:
    return Participant.objects.select_related(
        "site__study", "allocation__arm", "embryo_transfer"
    ).get(pk=participant.pk)


@pytest.mark.parametrize("day", ["2026-03-05", "2026-03-15", "2026-03-18", "2026-03-30"])
def test_next_visit_is_the_first_pending_visit_of_her_treatment_page(transferred, day):
    with at(day):
        treatment = treatment_of(transferred)
        assert treatment is not None
        pending = [v for v in treatment.visits if v.status in PENDING_VISIT_STATUSES]
        assert next_visits([loaded(transferred)])[transferred.pk] == pending[0]


def test_a_recorded_visit_is_behind_her_and_the_last_one_recorded_leaves_none(
    transferred, coordinator_a
):
    with at("2026-03-16"):
        visit_record(
            participant=transferred,
            visit_code="biochemical_pregnancy",
            outcome="done",
            done_on=dt.date(2026, 3, 15),
            performed_by=coordinator_a,
        )
        following = next_visits([loaded(transferred)])[transferred.pk]
        assert following is not None
        assert following.window.code == "clinical_pregnancy"
        assert following.status == VisitStatus.UPCOMING
    with at("2026-03-23"):
        visit_record(
            participant=transferred,
            visit_code="clinical_pregnancy",
            outcome="done",
            done_on=dt.date(2026, 3, 23),
            performed_by=coordinator_a,
        )
        assert next_visits([loaded(transferred)])[transferred.pk] is None


def test_no_next_visit_before_the_et_date(randomized, participant_a):
    found = next_visits([loaded(randomized), loaded(participant_a)])
    assert found == {randomized.pk: None, participant_a.pk: None}
