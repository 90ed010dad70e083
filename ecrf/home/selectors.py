"""What each role's home page shows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ecrf.accounts.selectors import scope_to_user_sites, sites_visible_to
from ecrf.endpoints.models import EditCheckFinding
from ecrf.participants.models import Participant, ParticipantStatus
from ecrf.participants.selectors import participants_visible_to
from ecrf.participants.services import site_today
from ecrf.quality.selectors import (
    CasebookToSign,
    SiteVerification,
    casebooks_ready_to_sign,
    verification_per_site,
)
from ecrf.queries.models import Query, QueryStatus
from ecrf.queries.selectors import AGE_BANDS, queryset_with_age
from ecrf.safety.models import AdverseEvent, Outcome
from ecrf.safety.selectors import SaeClock, adverse_events_awaiting_confirmation, sae_clock
from ecrf.schedule.completion import OpenItem, completion_states
from ecrf.schedule.selectors import in_treatment

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


#: Outcomes that close an adverse event's follow-up: she recovered, or died.
FINAL_OUTCOMES = (Outcome.RECOVERED, Outcome.RECOVERED_WITH_SEQUELAE, Outcome.FATAL)


@dataclass(frozen=True)
class FollowUp:
    """What a coordinator still has to complete at her sites, besides the due dates."""

    adverse_events: list[AdverseEvent]
    findings: list[EditCheckFinding]


def coordinator_follow_up(user: User, *, limit: int = 50) -> FollowUp:
    """Adverse events at her sites still to be followed to their outcome (no end date and
    an outcome that is not final), and the edit-check findings left open on her forms,
    the oldest first."""
    visible = participants_visible_to(user)
    events = (
        AdverseEvent.objects.filter(participant__in=visible, end_date__isnull=True)
        .exclude(outcome__in=FINAL_OUTCOMES)
        .select_related("participant__site")
        .order_by("onset_date", "pk")[:limit]
    )
    findings = (
        EditCheckFinding.objects.filter(participant__in=visible, resolved_at__isnull=True)
        .select_related("participant__site")
        .order_by("raised_at", "pk")[:limit]
    )
    return FollowUp(adverse_events=list(events), findings=list(findings))


@dataclass(frozen=True)
class CompletionDue:
    """A participant past her last visit's target day with completion items still open."""

    participant: Participant
    day: dt.date
    open_items: tuple[OpenItem, ...]


def coordinator_completion_due(user: User) -> list[CompletionDue]:
    """Randomized participants at her sites whose last visit's target day has passed and
    who have not completed: what is left (:func:`completion_state`), oldest first."""
    due = []
    randomized = in_treatment(user)
    states = completion_states(randomized)
    for participant in randomized:
        state = states[participant.pk]
        target = state.last_visit_target
        if state.open and target is not None and site_today(participant.site) > target:
            due.append(CompletionDue(participant, target, state.open))
    return sorted(due, key=lambda item: (item.day, item.participant.subject_id))


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
    """Per site the user sees, what awaits review: five queries however many sites."""
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


# -- the investigator's home ------------------------------------------------------------


@dataclass(frozen=True)
class AdverseEventToConfirm:
    """An adverse event of her sites awaiting the investigator's confirmation: how long
    ago the site learned of it and, for a serious one, the sponsor's 24-hour clock."""

    event: AdverseEvent
    since_learned: dt.timedelta
    clock: SaeClock | None

    @property
    def since_learned_label(self) -> str:
        """How long ago the site learned of it, in days and hours (hours and minutes
        within the first day)."""
        minutes_total = max(int(self.since_learned.total_seconds() // 60), 0)
        hours, minutes = divmod(minutes_total, 60)
        if hours >= 24:
            return _("%(days)d d %(hours)d h ago") % {"days": hours // 24, "hours": hours % 24}
        return _("%(hours)d h %(minutes)02d min ago") % {"hours": hours, "minutes": minutes}


#: Rows of each list of the investigator's home; the full lists have their own pages.
INVESTIGATOR_LIST_LENGTH = 50


@dataclass(frozen=True)
class InvestigatorWork:
    """What awaits an investigator at her sites: adverse events to confirm (serious
    ones first, with their clocks), eligibility to confirm, casebooks ready to sign."""

    adverse_events: list[AdverseEventToConfirm]
    adverse_event_count: int
    eligibility_to_confirm: list[Participant]
    casebooks_to_sign: list[CasebookToSign]


def eligibility_to_confirm(user: User) -> QuerySet[Participant]:
    """The participants of her sites found eligible and not yet randomized (eligible or
    consented), by site and subject: the eligibility form holds no investigator's
    confirmation of its own, so these are the assessments she reviews before
    randomization."""
    return (
        participants_visible_to(user)
        .filter(status__in=[ParticipantStatus.ELIGIBLE, ParticipantStatus.CONSENTED])
        .select_related("eligibility__assessed_by")
        .order_by("site__code", "subject_number")
    )


def investigator_work(user: User, *, now: dt.datetime | None = None) -> InvestigatorWork:
    """The investigator's worklists, in nine queries however many participants wait."""
    now = now or timezone.now()
    awaiting = adverse_events_awaiting_confirmation(user)
    return InvestigatorWork(
        adverse_events=[
            AdverseEventToConfirm(
                event=event, since_learned=now - event.learned_at, clock=sae_clock(event, now=now)
            )
            for event in awaiting[:INVESTIGATOR_LIST_LENGTH]
        ],
        adverse_event_count=awaiting.count(),
        eligibility_to_confirm=list(eligibility_to_confirm(user)[:INVESTIGATOR_LIST_LENGTH]),
        casebooks_to_sign=casebooks_ready_to_sign(user),
    )
