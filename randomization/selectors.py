"""Reads of randomization lists: for statisticians and admins only (concealment)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.shortcuts import get_object_or_404

from ecrf.accounts.policy import may_manage_lists

from .models import ListStatus, RandomizationList, Slot

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from ecrf.accounts.models import User
    from ecrf.studies.models import Site, Study


def lists_visible_to(user: User | AnonymousUser) -> models.QuerySet[RandomizationList]:
    """Every list for statisticians and admins; for anyone else the lists do not exist."""
    if not may_manage_lists(user):
        return RandomizationList.objects.none()
    return RandomizationList.objects.select_related("site").annotate(
        size=models.Count("slots"),
        allocated=models.Count("slots", filter=models.Q(slots__participant__isnull=False)),
    )


def list_get(user: User | AnonymousUser, pk: int) -> RandomizationList:
    return get_object_or_404(lists_visible_to(user), pk=pk)


def list_slots(randomization_list: RandomizationList) -> models.QuerySet[Slot]:
    return randomization_list.slots.select_related("arm", "participant").order_by("sequence")


def active_list_for(study: Study, site: Site) -> RandomizationList | None:
    """The list a participant of ``site`` is allocated from (the site's, when stratified)."""
    stratum_site = site if study.stratify_by_site else None
    return RandomizationList.objects.filter(
        study=study, site=stratum_site, status=ListStatus.ACTIVE
    ).first()
