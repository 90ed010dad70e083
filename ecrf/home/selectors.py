"""What each role's home page shows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from ecrf.accounts.selectors import sites_visible_to
from ecrf.participants.models import ParticipantStatus
from ecrf.participants.selectors import participants_visible_to

if TYPE_CHECKING:
    from ecrf.accounts.models import User


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
