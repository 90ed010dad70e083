"""Reads of queries, always scoped to the user's sites."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    F,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.text import capfirst

from ecrf.accounts.selectors import scope_to_user_sites, sites_visible_to
from ecrf.common import catalogue

from .models import Query, QueryMessage, QueryStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models.sql.compiler import SQLCompiler

    from ecrf.accounts.models import User
    from ecrf.studies.models import Site

#: The bands of a query's age, in whole days since it was opened, by the name the pages
#: and the API filter on (``age=8-30``): first and last day, ``None`` for no end.
AGE_BANDS: dict[str, tuple[int, int | None]] = {
    "0-7": (0, 7),
    "8-30": (8, 30),
    "31-": (31, None),
}

#: The largest id a row can have (a PostgreSQL ``bigint``): a larger one names nothing.
LARGEST_ID = 2**63 - 1

#: The columns the query list sorts on (``sort=age``; ``sort=-age`` for descending).
SORT_COLUMNS: tuple[str, ...] = (
    "subject",
    "site",
    "form",
    "field",
    "status",
    "age",
    "raised_by",
    "opened_at",
    "last_step",
)


class DaysOpenAtSite(Func):
    """Whole days from a query's opening to ``now``, counted on the calendar of her
    site's time zone: opened at 23:30 in Tokyo and read at 00:10 the next day there, it
    is one day old."""

    output_field = IntegerField()

    def __init__(self, now: dt.datetime) -> None:
        super().__init__(
            F("participant__site__time_zone"),
            F("opened_at"),
            Value(now, output_field=DateTimeField()),
        )

    def as_sql(  # type: ignore[override]
        self,
        compiler: SQLCompiler,
        connection: BaseDatabaseWrapper,
        **extra_context: Any,
    ) -> tuple[str, tuple[Any, ...]]:
        zone, opened, now = (compiler.compile(e) for e in self.get_source_expressions())
        sql = f"((timezone({zone[0]}, {now[0]}))::date - (timezone({zone[0]}, {opened[0]}))::date)"
        return sql, (*zone[1], *now[1], *zone[1], *opened[1])


def queries_visible_to(
    user: User | AnonymousUser,
    *,
    status: str | None = None,
    participant_id: int | None = None,
    site_code: str | None = None,
    record: str | None = None,
    age: str | None = None,
    raised_by: str | None = None,
) -> QuerySet[Query]:
    """The queries of the sites the user sees, narrowed by the filters given: status,
    participant (id), site (code), form (code), age band (a key of :data:`AGE_BANDS`,
    days counted in the site's time zone) and who raised it (username)."""
    queryset = scope_to_user_sites(
        Query.objects.select_related("participant__site", "opened_by"),
        user,
        site_path="participant__site",
    ).prefetch_related(Prefetch("messages", queryset=QueryMessage.objects.select_related("author")))
    if status:
        queryset = queryset.filter(status=status)
    if participant_id:
        queryset = queryset.filter(participant_id=participant_id)
    if site_code:
        queryset = queryset.filter(participant__site__code=site_code)
    if record:
        queryset = queryset.filter(record=record)
    if raised_by:
        queryset = queryset.filter(opened_by__username=raised_by)
    if age:
        first, last = AGE_BANDS[age]
        queryset = queryset.annotate(age_days=DaysOpenAtSite(timezone.now())).filter(
            age_days__gte=first
        )
        if last is not None:
            queryset = queryset.filter(age_days__lte=last)
    return queryset


def query_list(
    user: User | AnonymousUser, *, sort: str = "-opened_at", **filters: Any
) -> QuerySet[Query]:
    """The query list: :func:`queries_visible_to` with each query's age in days
    (``age_days``, in the site's time zone) and the time of its last step
    (``last_step_at``), ordered by a column of :data:`SORT_COLUMNS` (``-`` first for
    descending; labels sort in the reader's language), then newest first."""
    descending = sort.startswith("-")
    column = sort.removeprefix("-")
    if column not in SORT_COLUMNS:
        raise ValueError(sort)
    last_step = (
        QueryMessage.objects.filter(query=OuterRef("pk"))
        .order_by("-written_at", "-pk")
        .values("written_at")[:1]
    )
    queryset = queryset_with_age(queries_visible_to(user, **filters)).annotate(
        last_step_at=Subquery(last_step, output_field=DateTimeField())
    )
    columns: dict[str, F | Case] = {
        "subject": F("participant__subject_id"),
        "site": F("participant__site__code"),
        "form": _form_labels(),
        "field": _field_labels(),
        "status": F("status"),
        "age": F("age_days"),
        "raised_by": F("opened_by__username"),
        "opened_at": F("opened_at"),
        "last_step": F("last_step_at"),
    }
    expression = columns[column]
    ordered = expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)
    return queryset.order_by(ordered, "-opened_at", "-pk")


def queryset_with_age(queryset: QuerySet[Query]) -> QuerySet[Query]:
    """``age_days`` on each query: whole days since it was opened, in the site's zone."""
    if "age_days" in queryset.query.annotations:
        return queryset
    return queryset.annotate(age_days=DaysOpenAtSite(timezone.now()))


def _form_labels() -> Case:
    return Case(
        *[When(record=form.code, then=Value(form_label(form.code))) for form in _forms()],
        default=F("record"),
        output_field=CharField(),
    )


def _field_labels() -> Case:
    return Case(
        *[
            When(record=form.code, field=entry.name, then=Value(field_label(form.code, entry.name)))
            for form in _forms()
            for entry in form.entered_fields
        ],
        default=F("field"),
        output_field=CharField(),
    )


def _forms() -> list[catalogue.Form]:
    return list(catalogue.queryable_forms())


def form_label(code: str) -> str:
    """A form's name in the reader's language, from the catalogue (its code if unknown)."""
    try:
        return str(capfirst(catalogue.form(code).label))
    except KeyError:
        return code


def field_label(code: str, name: str) -> str:
    """A field's name in the reader's language, from the catalogue (its name if unknown)."""
    try:
        return str(capfirst(catalogue.form(code).model_field(name).verbose_name))
    except (KeyError, FieldDoesNotExist):
        return name


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
