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
