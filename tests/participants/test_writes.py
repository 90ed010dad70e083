"""The one way into a write on her data: her row read under its lock."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import Http404

from ecrf.accounts.policy import may_enter_data
from ecrf.participants.models import Participant
from ecrf.participants.selectors import participant_to_write
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


def test_the_lookup_before_a_write_finds_her_in_the_readers_sites_only(
    randomized: Participant,
    participant_b: Participant,
    coordinator_a: Any,
    make_user: Any,
    django_assert_num_queries: Any,
) -> None:
    """One statement, compiled once, for a member of her site and for a reader of every
    site; any other participant, or none, is not found (404)."""
    data_manager = make_user("data_manager")
    for reader, participant in (
        (coordinator_a, randomized),
        (data_manager, participant_b),
        (data_manager, randomized),
    ):
        study_code = Participant.objects.get(pk=participant.pk).site.study.code
        with django_assert_num_queries(1):
            found = participant_to_write(reader, participant.pk)
            assert found.site.study.code == study_code
        assert _values(found) == _values(Participant.objects.get(pk=participant.pk))
    for reader, pk in ((coordinator_a, participant_b.pk), (coordinator_a, -3), (data_manager, 0)):
        with pytest.raises(Http404):
            participant_to_write(reader, pk)
