"""Reads of queries, always scoped to the user's sites."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from ecrf.accounts.selectors import scope_to_user_sites, sites_visible_to

from .models import Query, QueryStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from ecrf.accounts.models import User
    from ecrf.studies.models import Site


def queries_visible_to(
    user: User | AnonymousUser, *, status: str | None = None, participant_id: int | None = None
) -> QuerySet[Query]:
    queryset = scope_to_user_sites(
        Query.objects.select_related("participant__site"), user, site_path="participant__site"
    ).prefetch_related("messages")
    if status:
        queryset = queryset.filter(status=status)
    if participant_id:
        queryset = queryset.filter(participant_id=participant_id)
    return queryset


def query_get(user: User | AnonymousUser, pk: int) -> Query:
    return get_object_or_404(queries_visible_to(user), pk=pk)


def open_query_counts_per_site(user: User | AnonymousUser) -> QuerySet[Site]:
    """Per visible site: open and answered (awaiting the monitor) queries."""
    return (
        sites_visible_to(user)
        .annotate(
            open_queries=Count(
                "participants__queries", filter=Q(participants__queries__status=QueryStatus.OPEN)
            ),
            answered_queries=Count(
                "participants__queries",
                filter=Q(participants__queries__status=QueryStatus.ANSWERED),
            ),
        )
        .order_by("code")
    )
