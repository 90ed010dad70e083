"""Allocation: only eligible, consented women; never twice; never the same slot."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection

from ecrf.common.exceptions import StateConflict
from ecrf.participants.models import ParticipantStatus, StatusChange
from ecrf.participants.services import eligibility_record, participant_set_status
from randomization.models import ListStatus, RandomizationList, Slot
from randomization.services import _TAKE_SLOT_SQL, list_extend, participant_randomize

from ..factories import ELIGIBLE_ANSWERS, ParticipantFactory

pytestmark = pytest.mark.django_db


def _randomize(api, participant, key="key-1"):
    return api.post(f"/api/v1/participants/{participant.pk}/randomize/", HTTP_IDEMPOTENCY_KEY=key)


@pytest.mark.requirement(
    "API-RANDOMIZE",
    "PROT-RAND-OPEN-LABEL",
    "PROT-DOSE-ARMS",
    "PROT-RAND-STRATA",
    "ICH-E6R3-4.2.2-WORKFLOW",
)
def test_eligible_consented_participant_is_randomized(api_for, coordinator_a, ready_participant):
    participant = ready_participant()
    response = _randomize(api_for(coordinator_a), participant)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"arm", "dose_mg_per_day", "randomization_number", "randomized_at"}
    assert (body["arm"], body["dose_mg_per_day"]) in {("low", 2), ("high", 4)}
    assert body["randomization_number"] == "S01-R001"
    participant.refresh_from_db()
    assert participant.status == "randomized"
    change = StatusChange.objects.filter(participant=participant).last()
    assert change.to_status == "randomized" and change.changed_by == coordinator_a


@pytest.mark.requirement("API-RANDOMIZE", "PROT-RAND-CONCURRENCY")
def test_same_key_again_returns_the_first_answer(api_for, coordinator_a, ready_participant):
    participant = ready_participant()
    api = api_for(coordinator_a)
    first = _randomize(api, participant, "retry-me")
    second = _randomize(api, participant, "retry-me")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert Slot.objects.filter(participant__isnull=False).count() == 1


@pytest.mark.requirement(
    "API-RANDOMIZE",
    "API-CONV-409-STATE",
    "PROT-RAND-PRECONDITIONS",
    "CFR11-10F-SEQUENCING",
    "ICH-E6R3-4-SAFEGUARD-RANDOMISATION",
)
def test_second_randomization_under_another_key_is_refused(
    api_for, coordinator_a, ready_participant
):
    participant = ready_participant()
    api = api_for(coordinator_a)
    assert _randomize(api, participant, "a").status_code == 201
    refused = _randomize(api, participant, "b")
    assert refused.status_code == 409
    assert "already randomized" in refused.json()["detail"]


@pytest.mark.requirement("API-RANDOMIZE", "API-CONV-400-FIELDS")
def test_request_without_idempotency_key_is_refused(api_for, coordinator_a, ready_participant):
    participant = ready_participant()
    response = api_for(coordinator_a).post(f"/api/v1/participants/{participant.pk}/randomize/")
    assert response.status_code == 400
    assert list(response.json()) == ["Idempotency-Key"]
    assert not Slot.objects.filter(participant=participant).exists()


@pytest.mark.requirement(
    "API-RANDOMIZE", "API-CONV-409-STATE", "PROT-RAND-PRECONDITIONS", "CFR11-10F-SEQUENCING"
)
def test_ineligible_participant_is_refused(api_for, coordinator_a, ready_participant):
    participant = ready_participant(th1_th2_ratio=Decimal("9.8"))
    response = _randomize(api_for(coordinator_a), participant)
    assert response.status_code == 409
    assert "not eligible" in response.json()["detail"]
    assert "Th1/Th2 ratio at or above the threshold" in response.json()["detail"]
    assert "th1_th2_ratio" not in response.json()["detail"]
    refused = (
        api_for(coordinator_a)
        .post(
            f"/api/v1/participants/{participant.pk}/randomize/",
            HTTP_IDEMPOTENCY_KEY="key-2",
            HTTP_ACCEPT_LANGUAGE="ja",
        )
        .json()["detail"]
    )
    assert "不適格" in refused and "th1_th2_ratio" not in refused
    assert "Th1/Th2" in refused and "threshold" not in refused


@pytest.mark.requirement(
    "API-RANDOMIZE",
    "API-CONV-409-STATE",
    "PROT-RAND-PRECONDITIONS",
    "PROT-CONSENT",
    "ICH-E6R3-CONSENT",
    "CFR11-10F-SEQUENCING",
)
def test_unconsented_participant_is_refused(api_for, coordinator_a, site_a):
    participant = ParticipantFactory(site=site_a, performed_by=coordinator_a)
    eligibility_record(
        participant=participant, answers=ELIGIBLE_ANSWERS, performed_by=coordinator_a
    )
    response = _randomize(api_for(coordinator_a), participant)
    assert response.status_code == 409
    assert "not consented" in response.json()["detail"]
    assert not Slot.objects.filter(participant=participant).exists()


@pytest.mark.requirement("PROT-RAND-PRECONDITIONS", "CFR11-10F-SEQUENCING")
def test_participant_without_eligibility_is_refused(api_for, coordinator_a, site_a):
    participant = ParticipantFactory(site=site_a, performed_by=coordinator_a)
    assert _randomize(api_for(coordinator_a), participant).status_code == 409


@pytest.mark.requirement("PROT-RAND-PRECONDITIONS", "PROT-WITHDRAWAL", "API-CONV-409-STATE")
def test_withdrawn_participant_is_refused(api_for, coordinator_a, ready_participant):
    participant = ready_participant()
    participant_set_status(
        participant=participant,
        status=ParticipantStatus.WITHDRAWN,
        reason="Withdrew consent",
        performed_by=coordinator_a,
    )
    response = _randomize(api_for(coordinator_a), participant)
    assert response.status_code == 409
    assert "withdrawn" in response.json()["detail"]


@pytest.mark.requirement("CFR11-10G-AUTHORITY", "API-CONV-403-READ-ONLY")
@pytest.mark.parametrize("role", ["investigator", "monitor", "data_manager", "statistician"])
def test_only_coordinators_randomize(role, make_user, api_for, ready_participant):
    participant = ready_participant()
    assert _randomize(api_for(make_user(role)), participant).status_code == 403


@pytest.mark.requirement("PROT-RAND-EXHAUSTED")
def test_an_exhausted_list_stops_randomization_and_tells_statisticians_once(
    api_for,
    coordinator_a,
    ready_participant,
    make_user,
    site_a,
    celery_eager,
    django_capture_on_commit_callbacks,
):
    make_user("statistician", email="stats@example.org")
    active = RandomizationList.objects.get(site=site_a, status=ListStatus.ACTIVE)
    Slot.objects.filter(randomization_list=active).exclude(sequence=1).delete()
    api = api_for(coordinator_a)
    assert _randomize(api, ready_participant(), "first").status_code == 201

    late = ready_participant()
    for attempt in ("second", "third"):
        with django_capture_on_commit_callbacks(execute=True):
            refused = _randomize(api, late, attempt)
        assert refused.status_code == 409
        assert "run out" in refused.json()["detail"]
    late.refresh_from_db()
    assert late.status == "consented"
    assert [m.to for m in mail.outbox] == [["stats@example.org"]]
    assert "run out" in mail.outbox[0].subject


@pytest.mark.requirement("PROT-RAND-RATIO", "PROT-RAND-BLOCKS", "PROT-RAND-STRATA")
def test_lists_keep_two_to_one_in_every_complete_block(study):
    for randomization_list in RandomizationList.objects.filter(status=ListStatus.ACTIVE):
        by_block: dict[int, Counter[str]] = {}
        for slot in randomization_list.slots.select_related("arm"):
            by_block.setdefault(slot.block, Counter())[slot.arm.code] += 1
        sizes = {sum(c.values()) for c in by_block.values()}
        assert sizes <= {3, 6}
        for counts in by_block.values():
            assert counts["low"] == 2 * counts["high"]


@pytest.mark.requirement("PROT-RAND-CONCURRENCY", "ICH-E6R3-4-SAFEGUARD-RANDOMISATION")
@pytest.mark.django_db(transaction=True)
def test_two_hundred_parallel_randomizations_take_consecutive_distinct_slots(
    site_a, coordinator_a, ready_participant, make_user
):
    statistician = make_user("statistician")
    active = RandomizationList.objects.get(site=site_a, status=ListStatus.ACTIVE)
    list_extend(randomization_list=active, length=200, performed_by=statistician)
    participants = [ready_participant() for _ in range(200)]
    barrier = threading.Barrier(16)

    def randomize(participant):
        try:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=5)
            return participant_randomize(
                participant=participant,
                idempotency_key=f"k-{participant.pk}",
                performed_by=coordinator_a,
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        allocations = list(pool.map(randomize, participants))

    assert all(a.created for a in allocations)
    numbers = sorted(a.randomization_number for a in allocations)
    assert len(set(numbers)) == 200
    sequences = sorted(
        Slot.objects.filter(participant__isnull=False).values_list("sequence", flat=True)
    )
    assert sequences == list(range(1, 201))


@pytest.mark.requirement("PROT-RAND-CONCURRENCY", "ICH-E6R3-4-SAFEGUARD-RANDOMISATION")
@pytest.mark.django_db(transaction=True)
def test_the_same_request_replayed_in_parallel_allocates_once(coordinator_a, ready_participant):
    participant = ready_participant()

    def randomize(_):
        try:
            return participant_randomize(
                participant=participant, idempotency_key="double-click", performed_by=coordinator_a
            )
        except StateConflict as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(randomize, range(8)))
    assert all(not isinstance(r, StateConflict) for r in results), results
    assert sum(r.created for r in results) == 1
    assert len({r.randomization_number for r in results}) == 1
    assert Slot.objects.filter(participant=participant).count() == 1


def _plan_nodes(node: dict) -> list[dict]:
    return [node, *(n for child in node.get("Plans", []) for n in _plan_nodes(child))]


@pytest.mark.requirement("PROT-RAND-CONCURRENCY")
def test_the_first_free_slot_is_read_in_list_order_by_index(
    site_a, coordinator_a, ready_participant, make_user
):
    """A long list costs a randomization no more than a short one: the statement reads the
    free slots in their order and stops at the first it can lock, sorting nothing."""
    active = RandomizationList.objects.get(site=site_a, status=ListStatus.ACTIVE)
    list_extend(randomization_list=active, length=3000, performed_by=make_user("statistician"))
    participant = ready_participant()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE randomization_slot")
        cursor.execute(
            "EXPLAIN (FORMAT JSON) " + _TAKE_SLOT_SQL.format(skip="SKIP LOCKED"),
            {
                "study": site_a.study_id,
                "site": site_a.pk,
                "active": ListStatus.ACTIVE,
                "participant": participant.pk,
                "user": coordinator_a.pk,
                "now": "2026-02-20T00:00:00Z",
                "prefix": site_a.code,
                "key": "plan",
            },
        )
        nodes = _plan_nodes(cursor.fetchone()[0][0]["Plan"])
    assert not [n for n in nodes if n["Node Type"] == "Sort"], nodes
    free = [n for n in nodes if n.get("Alias") == "f"]
    assert [n["Node Type"] for n in free] == ["Index Scan"], free
