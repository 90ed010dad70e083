"""A participant's status follows from her records (pure function, no database)."""

from __future__ import annotations

from .models import ParticipantStatus

FINAL_STATUSES = frozenset({ParticipantStatus.WITHDRAWN.value, ParticipantStatus.COMPLETED.value})


def derive_status(*, current: str, eligible: bool | None, consented: bool, randomized: bool) -> str:
    """Screening, then eligible or screen failed, then consented, then randomized.

    Withdrawal and completion are final: later records never move her back.
    """
    if current in FINAL_STATUSES:
        return current
    if randomized:
        return ParticipantStatus.RANDOMIZED.value
    if eligible is False:
        return ParticipantStatus.SCREEN_FAILED.value
    if eligible and consented:
        return ParticipantStatus.CONSENTED.value
    if eligible:
        return ParticipantStatus.ELIGIBLE.value
    return ParticipantStatus.SCREENING.value
