"""Reads of participants, always scoped to the user's sites."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.http import Http404
from django.shortcuts import get_object_or_404

from ecrf.accounts.selectors import ScopedRead, scope_to_user_sites

from .models import Participant

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from ecrf.accounts.models import User


def participants_visible_to(
    user: User | AnonymousUser,
    *,
    site_code: str | None = None,
    status: str | None = None,
    search: str | None = None,
) -> models.QuerySet[Participant]:
    """The participants of the user's sites, optionally filtered by site, status and subject id."""
    queryset = scope_to_user_sites(
        Participant.objects.select_related(
            "site__study", "eligibility", "consent", "allocation__arm", "embryo_transfer"
        ),
        user,
    )
    if site_code:
        queryset = queryset.filter(site__code=site_code)
    if status:
        queryset = queryset.filter(status=status)
    if search:
        queryset = queryset.filter(subject_id__icontains=search.strip())
    return queryset.order_by("site__code", "subject_number")


def participant_get(user: User | AnonymousUser, pk: int) -> Participant:
    """One participant of the user's sites; any other answers 404, as if it did not exist."""
    return get_object_or_404(participants_visible_to(user), pk=pk)


_TO_WRITE: ScopedRead[Participant] = ScopedRead(
    lambda user, pk: scope_to_user_sites(
        Participant.objects.select_related("site__study"), user
    ).filter(pk=pk),
    -1,
)


def participant_to_write(user: User | AnonymousUser, pk: int) -> Participant:
    """One participant of the user's sites for a view that hands her to a service (which
    reads her forms again under its lock): her site and study only, without the forms a
    page shows, which would make the lookup cost more than the write, by a statement
    compiled once (:class:`~ecrf.accounts.selectors.ScopedRead`). Any other participant
    answers 404, as :func:`participant_get` does."""
    found = _TO_WRITE.all(user, int(pk))
    if not found:
        raise Http404(f"No {Participant._meta.object_name} matches the given query.")
    return found[0]
