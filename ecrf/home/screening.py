"""The screening log: her status, arm, ET date, next visit and open queries, one row each.

It gathers what the layers above the participants hold over her (her schedule, her
queries), so it lives here, at the top, beside her page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.paginator import Page, Paginator
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from ecrf.accounts.policy import arms_hidden_from
from ecrf.participants.blinding import arm_visible_to
from ecrf.participants.models import Participant, ParticipantStatus, Unblinding
from ecrf.participants.selectors import participants_visible_to
from ecrf.queries.models import Query, QueryStatus
from ecrf.schedule.selectors import VisitState, next_visits
from ecrf.studies.services import current_study

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.utils.functional import Promise

    from ecrf.accounts.models import User

#: The columns of the log, in order, by the name ``sort=`` takes (``-`` first: descending).
COLUMNS: tuple[tuple[str, Promise], ...] = (
    ("subject", _("Subject ID")),
    ("status", _("Status")),
    ("arm", _("Arm")),
    ("et_date", _("ET date")),
    ("next_visit", _("Next visit")),
    ("open_queries", _("Open queries")),
)
#: The order of the log when no (or an unknown) sort is asked for.
DEFAULT_SORT = "subject"

#: How each column sorts in the database (then by subject id); the next visit is computed
#: from her schedule, and sorts once computed (:func:`screening_log`).
_ORDERINGS: dict[str, tuple[str, ...]] = {
    "subject": ("site__code", "subject_number"),
    "status": ("status_order",),
    "arm": ("allocation__arm__order",),
    "et_date": ("embryo_transfer__et_date",),
    "open_queries": ("open_queries",),
}
_BY_SUBJECT = ("site__code", "subject_number")


@dataclass(frozen=True)
class LogRow:
    """One participant's row of the screening log."""

    participant: Participant
    arm_visible: bool
    next_visit: VisitState | None

    @property
    def open_queries(self) -> int:
        return int(getattr(self.participant, "open_queries", 0))


def sort_keys_for(user: User | AnonymousUser) -> tuple[str, ...]:
    """The columns this reader may sort on: all of them, but the arm for a reader the
    study keeps blind (the order of the rows would tell the arms apart)."""
    study = current_study()
    blind = study is not None and arms_hidden_from(user, study)
    return tuple(name for name, _label in COLUMNS if not (blind and name == "arm"))


def sort_or_default(sort: str, keys: tuple[str, ...]) -> str:
    """``sort`` if it names a sortable column (``-`` first for descending), else the default."""
    return sort if sort.removeprefix("-") in keys else DEFAULT_SORT


def _with_log_columns(queryset: QuerySet[Participant]) -> QuerySet[Participant]:
    """Each participant with her count of open queries and her status's place in the
    participant's course (screening first, completed last)."""
    open_queries = (
        Query.objects.filter(participant=OuterRef("pk"), status=QueryStatus.OPEN)
        .order_by()
        .values("participant")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return queryset.annotate(
        open_queries=Coalesce(Subquery(open_queries, output_field=IntegerField()), Value(0)),
        status_order=Case(
            *(
                When(status=code, then=Value(place))
                for place, code in enumerate(ParticipantStatus.values)
            ),
            output_field=IntegerField(),
        ),
    ).prefetch_related(Prefetch("unblindings", queryset=Unblinding.objects.only("participant")))


def _by_next_visit(row: LogRow) -> tuple[dt.date, str]:
    """The order of rows with a visit ahead: its window's start, then the subject."""
    assert row.next_visit is not None
    return (row.next_visit.window.window_start, row.participant.subject_id)


def screening_log(
    user: User | AnonymousUser,
    *,
    sort: str = DEFAULT_SORT,
    page: str | int | None = None,
    per_page: int = 50,
    site_code: str | None = None,
    status: str | None = None,
    search: str | None = None,
) -> tuple[Page[Any], list[LogRow]]:
    """One page of the participants of the user's sites (filtered by site, status and
    subject id) in the order of ``sort``, a key of :func:`sort_keys_for` (``-`` first:
    descending), and its rows.

    Sorted by the next visit, every row is made first (her schedule is computed, not
    stored) and those with no visit ahead come last whichever way.
    """
    queryset = _with_log_columns(
        participants_visible_to(user, site_code=site_code, status=status, search=search)
    )
    descending = sort.startswith("-")
    column = sort.removeprefix("-")
    if column == "next_visit":
        rows = log_rows(user, list(queryset))
        dated = sorted((r for r in rows if r.next_visit), key=_by_next_visit, reverse=descending)
        row_page = Paginator(dated + [r for r in rows if r.next_visit is None], per_page)
        rows_shown = row_page.get_page(page)
        return rows_shown, list(rows_shown.object_list)
    ordered = queryset.order_by(
        *(
            F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)
            for name in _ORDERINGS[column]
        ),
        *_BY_SUBJECT,
    )
    on_page = Paginator(ordered, per_page).get_page(page)
    return on_page, log_rows(user, list(on_page.object_list))


def log_rows(user: User | AnonymousUser, participants: list[Participant]) -> list[LogRow]:
    """The rows of these participants (loaded by :func:`screening_log`): whether this
    reader sees each one's arm, and her next visit, all computed together."""
    visits = next_visits(participants)
    return [
        LogRow(
            participant=p,
            arm_visible=getattr(p, "allocation", None) is not None and arm_visible_to(user, p),
            next_visit=visits[p.pk],
        )
        for p in participants
    ]
