"""Reads of locks, signatures and verification marks."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from ecrf.participants.models import Participant
from ecrf.studies.models import Study

from .models import Lock, LockScope, Signature, Verification


def open_locks_over(participant: Participant) -> QuerySet[Lock]:
    """The locks standing over her data: hers, her forms', the whole study's."""
    return Lock.objects.filter(unlocked_at__isnull=True).filter(
        Q(participant=participant) | Q(scope=LockScope.STUDY, study=participant.site.study_id)
    )


def participant_lock(participant: Participant) -> Lock | None:
    """Her own participant-level lock, if it stands."""
    return Lock.objects.filter(
        participant=participant, scope=LockScope.PARTICIPANT, unlocked_at__isnull=True
    ).first()


def study_lock(study: Study) -> Lock | None:
    """The database lock of the study, if it stands."""
    return Lock.objects.filter(study=study, scope=LockScope.STUDY, unlocked_at__isnull=True).first()


def signatures_of(participant: Participant) -> QuerySet[Signature]:
    return Signature.objects.filter(participant=participant).select_related("signed_by")


def verifications_of(participant: Participant) -> QuerySet[Verification]:
    return Verification.objects.filter(participant=participant).select_related("verified_by")


def ensure_unlocked(participant: Participant, record: str = "") -> None:
    """Refuse, before any validation, a write to data under a standing lock (409).

    The database guard refuses such writes whatever path they take; this check only
    lets a service say so first, instead of answering about a field first.
    """
    from django.utils.translation import gettext as _

    from ecrf.common.exceptions import StateConflict

    locks = open_locks_over(participant)
    if locks.filter(
        Q(scope__in=[LockScope.STUDY, LockScope.PARTICIPANT]) | Q(record=record)
    ).exists():
        raise StateConflict(
            _(
                "This data is locked by the data manager and cannot change until it is "
                "unlocked with a reason."
            )
        )
