"""What each role's home page shows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Count, F, Q
from django.utils.translation import gettext_lazy as _

from ecrf.accounts.selectors import scope_to_user_sites, sites_visible_to
from ecrf.participants.models import ParticipantStatus
from ecrf.participants.selectors import participants_visible_to
from ecrf.quality.selectors import SiteVerification, verification_per_site
from ecrf.queries.models import Query, QueryStatus
from ecrf.queries.selectors import AGE_BANDS, queryset_with_age
from ecrf.safety.models import AdverseEvent

if TYPE_CHECKING:
    from ecrf.accounts.models import User
    from ecrf.studies.models import Site


def site_overview(user: User) -> list[dict[str, Any]]:
    """Per visible site: participants by status (one query)."""
    annotations = {
        status.value: Count("participants", filter=Q(participants__status=status.value))
        for status in ParticipantStatus
    }
    sites = (
        sites_visible_to(user).annotate(total=Count("participants"), **annotations).order_by("code")
    )
    return [
        {
            "site": site,
            "total": site.total,
            "by_status": [(s.label, getattr(site, s.value)) for s in ParticipantStatus],
        }
        for site in sites
    ]


#: What a coordinator does next for a participant in each status.
NEXT_STEPS = {
    ParticipantStatus.SCREENING.value: _("Assess eligibility"),
    ParticipantStatus.ELIGIBLE.value: _("Record consent"),
    ParticipantStatus.CONSENTED.value: _("Randomize"),
}


def coordinator_worklist(user: User) -> list[tuple[Any, str]]:
    """Participants at her sites waiting for her next step, with that step."""
    waiting = participants_visible_to(user).filter(status__in=list(NEXT_STEPS))[:50]
    return [(participant, str(NEXT_STEPS[participant.status])) for participant in waiting]


@dataclass(frozen=True)
class SiteWork:
    """What awaits a monitor (or data manager) at one site, each count the length of the
    list it links to: forms with values to verify, open queries by age band (in the
    order of :data:`ecrf.queries.selectors.AGE_BANDS`), answered queries to close,
    adverse events awaiting an investigator's confirmation, casebooks awaiting signature."""

    site: Site
    verification: SiteVerification
    open_by_age: tuple[tuple[str, int], ...]
    answered_queries: int
    adverse_events_to_confirm: int

    @property
    def open_queries(self) -> int:
        return sum(count for _band, count in self.open_by_age)


def site_work(user: User) -> list[SiteWork]:
    """Per site the user sees, what awaits review: six queries however many sites."""
    sites = list(sites_visible_to(user).order_by("code"))
    verification = verification_per_site(user)
    bands = {
        f"band_{index}": Count(
            "pk",
            filter=Q(status=QueryStatus.OPEN, age_days__gte=first)
            & (Q() if last is None else Q(age_days__lte=last)),
        )
        for index, (first, last) in enumerate(AGE_BANDS.values())
    }
    queries: dict[int, Mapping[str, Any]] = {
        row["site_pk"]: row
        for row in queryset_with_age(
            scope_to_user_sites(
                Query.objects.filter(status__in=[QueryStatus.OPEN, QueryStatus.ANSWERED]),
                user,
                site_path="participant__site",
            )
        )
        .values(site_pk=F("participant__site"))
        .annotate(answered=Count("pk", filter=Q(status=QueryStatus.ANSWERED)), **bands)
        .order_by()
    }
    events = dict(
        scope_to_user_sites(
            AdverseEvent.objects.filter(confirmed_at__isnull=True),
            user,
            site_path="participant__site",
        )
        .values(site_pk=F("participant__site"))
        .annotate(count=Count("pk"))
        .order_by()
        .values_list("site_pk", "count")
    )
    work = []
    for site in sites:
        counts = queries.get(site.pk, {})
        work.append(
            SiteWork(
                site=site,
                verification=verification.get(site.pk, SiteVerification()),
                open_by_age=tuple(
                    (band, counts.get(f"band_{index}", 0)) for index, band in enumerate(AGE_BANDS)
                ),
                answered_queries=counts.get("answered", 0),
                adverse_events_to_confirm=events.get(site.pk, 0),
            )
        )
    return work
