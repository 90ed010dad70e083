"""The benchmarks' trial written by plain SQL: complete participants dealt to the sites in
turn, more of them on a second call, and review-index entries that belong to them."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import pytest
from django.db.models import Count, Max, Min

from ecrf.endpoints.models import BiochemicalPregnancy, ClinicalPregnancy
from ecrf.participants.models import Participant
from ecrf.quality.models import FormTally, Verification
from ecrf.quality.tally import tally_drift
from ecrf.reports.models import SiteAdverseEventCount
from ecrf.reports.safety_counts import safety_counts_drift
from ecrf.reports.summary import summary_drift
from ecrf.review.models import AuditEntry
from ecrf.safety.models import AdverseEvent
from ecrf.schedule.models import DoseEntry
from randomization.models import Slot

_spec = importlib.util.spec_from_file_location(
    "bench_trialdata", Path(__file__).resolve().parents[2] / "bench" / "trialdata.py"
)
assert _spec is not None and _spec.loader is not None
trialdata = sys.modules["bench_trialdata"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(trialdata)

pytestmark = pytest.mark.django_db


def test_participants_are_complete_and_dealt_to_the_sites_in_turn(study, coordinator_a):
    trialdata.complete_trial(study, coordinator_a, 20)
    trialdata.complete_trial(study, coordinator_a, 10)
    participants = Participant.objects.filter(site__study=study)
    assert participants.count() == 30
    assert Counter(participants.values_list("site__code", flat=True)) == {"S01": 15, "S02": 15}
    assert Counter(participants.values_list("status", flat=True)) == {
        "completed": 27,
        "screen_failed": 3,
    }
    # Subject numbers run on per site across both calls, with no number taken twice.
    for code in ("S01", "S02"):
        numbers = sorted(
            participants.filter(site__code=code).values_list("subject_number", flat=True)
        )
        assert numbers == list(range(1, 16))
    completed = participants.filter(status="completed")
    assert set(completed.annotate(n=Count("doses")).values_list("n", flat=True)) == {32}
    assert BiochemicalPregnancy.objects.filter(participant__in=completed).count() == 27
    assert ClinicalPregnancy.objects.filter(participant__in=completed).count() == 27
    assert AdverseEvent.objects.filter(participant__in=completed).count() == 54
    assert DoseEntry.objects.filter(participant__status="screen_failed").count() == 0
    allocated = Slot.objects.filter(participant__in=completed)
    assert allocated.count() == 27
    assert all(slot.randomization_list.site_id == slot.participant.site_id for slot in allocated)
    # Every other participant's eligibility and consent are verified, and the tally and
    # summaries, written with their triggers off, are counted afresh.
    verified = Verification.objects.values("participant").distinct().count()
    assert verified == 15
    assert set(Verification.objects.values_list("record", flat=True)) == {
        "eligibility",
        "consent",
    }
    assert tally_drift() == [] and summary_drift() == [] and safety_counts_drift() == []
    assert SiteAdverseEventCount.objects.exists()
    assert (
        FormTally.objects.filter(form="dose").values_list("records", flat=True).distinct().get()
        == 32
    )


def test_index_entries_belong_to_the_participants_and_their_sites(study, coordinator_a):
    trialdata.complete_trial(study, coordinator_a, 6)
    people = [
        (p.pk, p.subject_id, p.site_id, int(p.site.code[1:]) - 1)
        for p in Participant.objects.select_related("site").order_by("pk")
    ]
    before = AuditEntry.objects.count()
    trialdata.audit_index(240, people, first=10_000)
    trialdata.audit_index(48, people, first=20_000)
    entries = AuditEntry.objects.filter(seq__gte=10_000)
    assert entries.count() == 288 and AuditEntry.objects.count() == before + 288
    own = {pk: (subject_id, site_id, number) for pk, subject_id, site_id, number in people}
    assert Counter(entries.values_list("participant_id", flat=True)) == {
        pk: 48 for pk in own
    }  # four entries each in turn: 240 / 6 and 48 / 6
    for entry in entries.order_by("seq")[:24]:
        subject_id, site_id, number = own[entry.participant_id]
        assert (entry.subject_id, entry.site_id) == (subject_id, site_id)
        assert entry.actor.startswith(f"coordinator_{number}_")
    # Each call spreads its entries over the same year.
    for call in (entries.filter(seq__lt=20_000), entries.filter(seq__gte=20_000)):
        span = call.aggregate(first=Min("at"), last=Max("at"))
        assert 350 <= (span["last"] - span["first"]).days < 365
