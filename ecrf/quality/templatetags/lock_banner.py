"""The banner of a participant whose data may not change, for every page of her data:
``{% lock_banner participant %}`` says who locked her data (or the whole study), when, in
her site's time, and why; or that she has withdrawn and what is still recorded for her;
nothing when her data may change."""

from __future__ import annotations

from typing import Any

from django import template

from ecrf.accounts.policy import may_edit_participant_data
from ecrf.common.locks import standing_lock

register = template.Library()


@register.inclusion_tag("quality/_lock_banner.html")
def lock_banner(participant: Any) -> dict[str, Any]:
    """The lock standing over her data (hers or the study's), when it was set in her
    site's time, and her withdrawal if she has withdrawn."""
    lock = standing_lock(participant) if participant is not None else None
    withdrawn = participant is not None and participant.status == "withdrawn"
    return {
        "data_lock": lock,
        "when": lock.locked_at_in(participant.site.time_zone) if lock is not None else "",
        "withdrawal": getattr(participant, "withdrawal", None) if withdrawn else None,
        "withdrawn": withdrawn,
    }


@register.simple_tag(takes_context=True)
def may_edit_her_data(context: Any, participant: Any) -> bool:
    """Whether the page's user may change her data now (:func:`may_edit_participant_data`,
    the policy her services enforce): a page shows its Save only then, or when a save was
    just refused, so that what was typed is shown again."""
    request = context.get("request")
    if request is None:
        return False
    if request.method == "POST":
        return True
    return bool(may_edit_participant_data(request.user, participant))
