"""What the verification tests count: a form's entered and critical values, and an
adverse event to count them on."""

from __future__ import annotations

import datetime as dt

from ecrf.accounts.models import User
from ecrf.common import catalogue
from ecrf.participants.models import Participant
from ecrf.safety.models import AdverseEvent
from ecrf.safety.services import adverse_event_record

from ..clock import at


def entered(code: str) -> int:
    """How many values site staff enter on the form ``code``."""
    return len(catalogue.form(code).entered_fields)


def critical(code: str) -> int:
    """How many of those are critical for verification."""
    return sum(1 for entry in catalogue.form(code).entered_fields if entry.critical)


def adverse_event(
    participant: Participant, coordinator: User, term: str = "Headache"
) -> AdverseEvent:
    """A non-serious grade 1 event, recorded on 10 March 2026."""
    with at("2026-03-10"):
        return adverse_event_record(
            participant=participant,
            term=term,
            onset_date=dt.date(2026, 3, 2),
            ctcae_grade=1,
            serious=False,
            related=False,
            outcome="recovered",
            performed_by=coordinator,
        )
