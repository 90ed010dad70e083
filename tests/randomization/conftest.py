from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from ecrf.participants.models import Participant
from ecrf.participants.services import consent_record, eligibility_record

from ..factories import ParticipantFactory

ELIGIBLE_ANSWERS: dict[str, Any] = {
    "prior_good_quality_transfers": 3,
    "prior_embryos_transferred": 5,
    "prior_biochemical_pregnancy": False,
    "other_infertility_factor": False,
    "th1_th2_ratio": Decimal("12.4"),
    "th1_th2_sample_date": None,
    "th1_th2_laboratory": "Central lab",
    "frozen_embryos_available": True,
    "able_to_attend_visits": True,
    "antiphospholipid_syndrome": False,
    "coagulation_abnormality": False,
    "thyroid_dysfunction": False,
    "other_pregnancy_loss_factor": False,
    "tacrolimus_contraindication": False,
    "pregnant": False,
    "investigator_judges_unsuitable": False,
}


@pytest.fixture
def ready_participant(site_a: Any, coordinator_a: Any) -> Callable[..., Participant]:
    """A participant of site A who is eligible and has consented."""

    def make(site: Any = None, coordinator: Any = None, **answers: Any) -> Participant:
        site = site or site_a
        coordinator = coordinator or coordinator_a
        participant = ParticipantFactory(site=site, performed_by=coordinator)
        eligibility_record(
            participant=participant,
            answers={**ELIGIBLE_ANSWERS, **answers},
            performed_by=coordinator,
        )
        consent_record(
            participant=participant,
            consent_date=participant.screening_date + dt.timedelta(days=1),
            consent_version="1.0",
            performed_by=coordinator,
        )
        participant.refresh_from_db()
        return participant

    return make
