from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from ecrf.participants.models import Participant
from ecrf.safety.services import adverse_event_record
from randomization.services import participant_randomize

SAFETY_DESK = "safety-desk@sponsor.example"
#: Days between randomization and "now" in the fixtures: room for onset dates.
RANDOMIZED_DAYS_AGO = 10


@pytest.fixture
def investigator_a(make_user: Callable[..., Any]) -> Any:
    return make_user("investigator", ["S01"], username="investigator_a")


@pytest.fixture
def randomized(ready_participant: Callable[..., Participant], coordinator_a: Any) -> Any:
    """A participant of S01 randomized ``RANDOMIZED_DAYS_AGO`` days ago (a real allocation)."""

    def make(site: Any = None, coordinator: Any = None) -> Participant:
        coordinator = coordinator or coordinator_a
        past = timezone.now() - dt.timedelta(days=RANDOMIZED_DAYS_AGO)
        with time_machine.travel(past, tick=True):
            participant = ready_participant(site=site, coordinator=coordinator)
            participant_randomize(
                participant=participant,
                idempotency_key=f"r-{participant.pk}",
                performed_by=coordinator,
            )
        participant.refresh_from_db()
        return participant

    return make


@pytest.fixture
def participant(randomized: Callable[..., Participant]) -> Participant:
    return randomized()


@pytest.fixture
def safety_desk(settings: Any) -> str:
    settings.SAFETY_CONTACTS = [SAFETY_DESK]
    return SAFETY_DESK


def ae_values(**overrides: Any) -> dict[str, Any]:
    """A grade 1 pruritus related to the drug (the trial's one adverse event), 2 days ago."""
    values: dict[str, Any] = {
        "term": "Pruritus",
        "onset_date": timezone.localdate() - dt.timedelta(days=2),
        "ctcae_grade": 1,
        "serious": False,
        "related": True,
        "outcome": "recovered",
    }
    values.update(overrides)
    return values


SAE_VALUES: dict[str, Any] = {
    "term": "Pneumonia",
    "ctcae_grade": 3,
    "serious": True,
    "seriousness_criteria": ["hospitalisation"],
    "related": False,
    "outcome": "recovering",
    "action_taken": "interrupted",
}


def record(participant: Participant, performed_by: Any, **overrides: Any) -> Any:
    return adverse_event_record(
        participant=participant, performed_by=performed_by, **ae_values(**overrides)
    )
