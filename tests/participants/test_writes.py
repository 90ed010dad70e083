"""The one way into a write on her data: her row read under its lock."""

from __future__ import annotations

from typing import Any

import pytest

from ecrf.accounts.policy import may_enter_data
from ecrf.participants.models import Participant
from ecrf.participants.writes import participant_write

pytestmark = pytest.mark.django_db


def _values(participant: Participant) -> dict[str, Any]:
    return {f.attname: getattr(participant, f.attname) for f in Participant._meta.concrete_fields}


def test_each_write_reads_her_own_row_with_her_site_study_and_records(
    randomized: Participant, participant_b: Participant, django_assert_num_queries: Any
) -> None:
    """The statement is the same for every participant; what it answers is hers."""
    for expected, allocated in ((randomized, True), (participant_b, False), (randomized, True)):
        stored = Participant.objects.select_related("site__study").get(pk=expected.pk)
        with participant_write(
            expected.pk, performed_by=None, action=may_enter_data, related=("allocation",)
        ) as locked:
            with django_assert_num_queries(0):
                assert _values(locked) == _values(stored)
                assert locked.site.code == stored.site.code
                assert locked.site.study.code == stored.site.study.code
                assert locked.site.study.stratify_by_site == stored.site.study.stratify_by_site
                assert hasattr(locked, "allocation") is allocated
            if allocated:
                slot = locked.allocation
                assert slot.participant_id == expected.pk
                assert slot.randomization_number.startswith(f"{stored.site.code}-R")


def test_a_write_on_no_participant_finds_none(study: Any) -> None:
    with (
        pytest.raises(Participant.DoesNotExist),
        participant_write(0, performed_by=None, action=may_enter_data),
    ):
        pass
