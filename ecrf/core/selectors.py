"""What each role's home page shows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q

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


def coordinator_worklist(user: User) -> list[Any]:
    """Participants at her sites still in screening: their eligibility is due."""
    return list(participants_visible_to(user, status=ParticipantStatus.SCREENING)[:50])
