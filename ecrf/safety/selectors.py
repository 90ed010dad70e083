"""Reads of safety data: a participant's adverse events, the 24-hour SAE clock, and the
events of the user's sites awaiting an investigator's confirmation."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _

from ecrf.accounts.selectors import scope_to_user_sites
from ecrf.participants.models import Participant

from .models import AdverseEvent, SafetyNotification
from .services import sae_deadline

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from ecrf.accounts.models import User


@dataclass(frozen=True)
class SaeClock:
    """The sponsor's 24-hour deadline of a serious event and the time left, at ``now``."""

    deadline: dt.datetime
    remaining: dt.timedelta

    @property
    def overdue(self) -> bool:
        return self.remaining <= dt.timedelta(0)

    @property
    def label(self) -> str:
        """The time left (or how late it is), in hours and minutes, as the page shows it."""
        minutes_total = int(abs(self.remaining).total_seconds() // 60)
        values = {"hours": minutes_total // 60, "minutes": minutes_total % 60}
        if self.overdue:
            return _("Overdue by %(hours)d h %(minutes)02d min") % values
        return _("%(hours)d h %(minutes)02d min left") % values


def sae_clock(adverse_event: AdverseEvent, *, now: dt.datetime | None = None) -> SaeClock | None:
    """The 24-hour clock of a serious event not yet confirmed by an investigator; else None.

    Protocol, Safety: a serious adverse event reaches the sponsor within 24 hours of the
    site learning of it (``learned_at``).
    """
    if not adverse_event.serious or adverse_event.confirmed_at is not None:
        return None
    deadline = sae_deadline(adverse_event)
    return SaeClock(deadline=deadline, remaining=deadline - (now or timezone.now()))


@dataclass(frozen=True)
class AdverseEventRow:
    """One line of the safety page: the event, its clock, and its latest notification."""

    event: AdverseEvent
    clock: SaeClock | None
    notification: SafetyNotification | None


def adverse_events_of(
    participant: Participant, *, now: dt.datetime | None = None
) -> list[AdverseEventRow]:
    """Her adverse events by onset, each with its SAE clock; a fixed number of queries."""
    now = now or timezone.now()
    events = (
        AdverseEvent.objects.filter(participant=participant)
        .select_related("recorded_by", "confirmed_by")
        .prefetch_related(
            Prefetch(
                "notifications",
                queryset=SafetyNotification.objects.order_by("-created_at", "-pk"),
                to_attr="notifications_newest_first",
            )
        )
        .order_by("onset_date", "pk")
    )
    return [
        AdverseEventRow(
            event=event,
            clock=sae_clock(event, now=now),
            notification=next(iter(event.notifications_newest_first), None),  # type: ignore[attr-defined]
        )
        for event in events
    ]


def adverse_event_get(participant: Participant, pk: int) -> AdverseEvent:
    """One adverse event of this participant; any other answers 404."""
    return get_object_or_404(
        AdverseEvent.objects.select_related("recorded_by", "confirmed_by", "participant__site"),
        participant=participant,
        pk=pk,
    )


def adverse_events_awaiting_confirmation(
    user: User | AnonymousUser, *, site_code: str | None = None
) -> QuerySet[AdverseEvent]:
    """The adverse events of the user's sites (or of one, by code) that no investigator
    has confirmed yet: serious ones first, then by the time the site learned of them."""
    events = scope_to_user_sites(
        AdverseEvent.objects.filter(confirmed_at__isnull=True).select_related(
            "participant__site", "recorded_by"
        ),
        user,
        site_path="participant__site",
    )
    if site_code:
        events = events.filter(participant__site__code=site_code)
    return events.order_by("-serious", "learned_at", "pk")
