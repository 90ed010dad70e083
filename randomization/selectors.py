"""Reads of randomization lists: for statisticians and admins only (concealment)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import models
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from ecrf.accounts.permissions import can_see_lists

from .models import ListStatus, RandomizationList, Slot

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from ecrf.accounts.models import User
    from ecrf.studies.models import Site, Study


def ensure_can_see_lists(user: User | AnonymousUser) -> None:
    if not can_see_lists(user):
        raise PermissionDenied(_("Only statisticians and administrators see randomization lists."))


def lists_visible_to(user: User | AnonymousUser) -> models.QuerySet[RandomizationList]:
    """Every list for statisticians and admins; for anyone else the lists do not exist."""
    if not can_see_lists(user):
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
