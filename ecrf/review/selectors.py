"""Reads for audit-trail review: the trail filtered on the server, a page at a time.

Entries are read from the review index (:class:`~.models.AuditEntry`) in the order of
their time, then of their copying, by keyset pagination: a page is the entries after
(or before) one entry, so a page costs the same on the first day and after ten million
changes. What a reader sees is scoped as every read is: the sites she sees (entries tied
to no site, such as accounts, only for the roles that see every site), without the
randomization list's rows unless she manages lists, and without the allocated arm where
a blinded study hides it from her role.

Values are shown by their labels in the reader's language; times at the entry's site,
with the offset.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ecrf.accounts.models import User
from ecrf.accounts.policy import (
    arms_hidden_from,
    concealed_from,
    enforce,
    may_review_audit,
)
from ecrf.accounts.roles import Role
from ecrf.accounts.selectors import ScopedRead, scope_to_user_sites, sites_visible_to
from ecrf.common import catalogue
from ecrf.exports.formats.audit import audited_models
from ecrf.exports.formats.dictionary import FieldDef, FormDef, study_forms
from ecrf.studies.models import Site
from ecrf.studies.services import current_study

from .models import AuditEntry, AuditReview, Signal

#: Entries on one page (of the web page and of the API).
PAGE_SIZE = 50

#: The signal filter's value for "any risk signal".
ANY_SIGNAL = "any"

ACTIONS = {
    "create": gettext_lazy("Created"),
    "update": gettext_lazy("Changed"),
    "delete": gettext_lazy("Deleted"),
}


@dataclass(frozen=True)
class AuditFilters:
    """What a reviewer narrows the trail to; empty means any."""

    site: Site | None = None
    subject_id: str = ""
    user: str = ""
    role: str = ""
    record: str = ""
    field: str = ""
    action: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    reason: str = ""
    signal: str = ""


def audit_entries(user: User, filters: AuditFilters) -> QuerySet[AuditEntry]:
    """The entries ``user`` may review, narrowed by ``filters``, oldest first."""
    enforce(may_review_audit(user))
    return _entries(user, filters, _Hidden.of(user))


@dataclass(frozen=True)
class _Hidden:
    """What a reader's role does not see of the trail: the rows of concealed models, and
    those showing the allocated arm where a blinded study hides it from her role."""

    models: tuple[str, ...]
    arms: bool

    @classmethod
    def of(cls, user: User) -> _Hidden:
        study = current_study()
        return cls(
            models=tuple(m.lower() for m in concealed_from(user, study)),
            arms=study is not None and bool(arms_hidden_from(user, study)),
        )


def _entries(user: User, filters: AuditFilters, hidden: _Hidden) -> QuerySet[AuditEntry]:
    """The one description of the entries a reader sees, narrowed by ``filters``."""
    entries = scope_to_user_sites(AuditEntry.objects.all(), user, site_path="site")
    if hidden.models:
        entries = entries.exclude(model__in=list(hidden.models))
    if hidden.arms:
        entries = entries.exclude(reveals_arm=True)
    conditions: dict[str, Any] = {}
    if filters.site is not None:
        conditions["site"] = filters.site
    for name in ("subject_id", "role", "record", "field", "action"):
        if value := getattr(filters, name):
            conditions[name] = value
    if filters.user:
        conditions["actor"] = filters.user
    if filters.since is not None:
        conditions["at__gte"] = filters.since
    if filters.until is not None:
        conditions["at__lt"] = filters.until
    if filters.reason:
        conditions["reason__icontains"] = filters.reason
    if filters.signal == ANY_SIGNAL:
        entries = entries.exclude(signals=[])
    elif filters.signal:
        conditions["signals__contains"] = [filters.signal]
    return entries.filter(**conditions).order_by("at", "id")


class EntryRow(NamedTuple):
    """One entry of a page: what the review page and the API show of it."""

    id: int
    at: dt.datetime
    actor: str
    role: str
    site_id: int | None
    participant_id: int | None
    subject_id: str
    record: str
    record_id: str
    field: str
    old_value: str
    new_value: str
    reason: str
    action: str
    signals: list[str]


@dataclass(frozen=True)
class AuditPage:
    """One page of entries and the entries the neighbouring pages start from."""

    entries: list[EntryRow]
    #: the last entry of this page, when more follow
    next_after: int | None
    #: the first entry of this page, when some come before it
    previous_before: int | None


def _window(
    entries: QuerySet[AuditEntry], after: int | None, before: int | None, size: int
) -> QuerySet[Any]:
    """The ``size + 1`` entries after entry ``after`` (or, latest first, before entry
    ``before``), as rows of :class:`EntryRow`'s fields."""
    if before is not None:
        anchor = AuditEntry.objects.filter(pk=before).values("at")[:1]
        entries = entries.filter(Q(at__lt=anchor) | Q(at=anchor, id__lt=before)).order_by(
            "-at", "-id"
        )
    elif after is not None:
        anchor = AuditEntry.objects.filter(pk=after).values("at")[:1]
        entries = entries.filter(Q(at__gt=anchor) | Q(at=anchor, id__gt=after))
    return entries.values_list(*EntryRow._fields)[: size + 1]


def audit_page(
    user: User,
    filters: AuditFilters,
    *,
    after: int | None = None,
    before: int | None = None,
    size: int = PAGE_SIZE,
) -> AuditPage:
    """A page of the filtered trail: the ``size`` entries after entry ``after`` (or before
    entry ``before``), in one query.

    Pages are read again and again with other values of the same filters, so the
    statement of each combination of filters is compiled once (:func:`_page_read`); a
    search of the reasons' text goes through the ORM each time.
    """
    enforce(may_review_audit(user))
    hidden = _Hidden.of(user)
    if filters.reason:
        rows = list(_window(_entries(user, filters, hidden), after, before, size))
    else:
        shape = _Shape.of(filters, hidden, after=after, before=before, size=size)
        values = shape.values(filters, after=after, before=before)
        rows = _page_read(shape).rows(user, *values)
    found = [EntryRow._make(row) for row in rows]
    if before is not None:
        more_before = len(found) > size
        found = found[:size][::-1]
        return AuditPage(
            entries=found,
            next_after=found[-1].id if found else None,
            previous_before=found[0].id if found and more_before else None,
        )
    more_after = len(found) > size
    found = found[:size]
    return AuditPage(
        entries=found,
        next_after=found[-1].id if found and more_after else None,
        previous_before=found[0].id if found and after is not None else None,
    )


#: Stand-ins for the values of a page's read, in the statement compiled for its shape.
_PROBES: dict[str, Any] = {
    "site": -2_000_001,
    "after": -2_000_002,
    "before": -2_000_003,
    "subject_id": "\x00subject_id",
    "user": "\x00user",
    "role": "\x00role",
    "record": "\x00record",
    "field": "\x00field",
    "action": "\x00action",
    "since": dt.datetime(1900, 1, 1, tzinfo=dt.UTC),
    "until": dt.datetime(1900, 1, 2, tzinfo=dt.UTC),
    "signal": "\x00signal",
}

_TEXT_FILTERS = ("subject_id", "user", "role", "record", "field", "action")


@dataclass(frozen=True)
class _Shape:
    """What decides a page's statement, apart from the reader (:class:`ScopedRead`) and
    the values it is sent with: what her role does not see, which filters are given,
    which way the page goes from its cursor, and its size."""

    hidden: _Hidden
    given: tuple[str, ...]
    any_signal: bool
    cursor: str
    size: int

    @classmethod
    def of(
        cls,
        filters: AuditFilters,
        hidden: _Hidden,
        *,
        after: int | None,
        before: int | None,
        size: int,
    ) -> _Shape:
        any_signal = filters.signal == ANY_SIGNAL  # a condition without a value
        given = tuple(
            name
            for name in ("site", *_TEXT_FILTERS, "since", "until", "signal")
            if getattr(filters, name) not in (None, "") and not (name == "signal" and any_signal)
        )
        return cls(
            hidden=hidden,
            given=given,
            any_signal=any_signal,
            cursor="before" if before is not None else "after" if after is not None else "",
            size=size,
        )

    def probes(self) -> tuple[Any, ...]:
        """The probes of the statement, in the order :meth:`values` gives the values."""
        return self._ordered(
            filters={name: _PROBES[name] for name in self.given},
            cursor=_PROBES[self.cursor] if self.cursor else None,
        )

    def values(
        self, filters: AuditFilters, *, after: int | None, before: int | None
    ) -> tuple[Any, ...]:
        """The values of one page's read, in the order of :meth:`probes`."""
        given: dict[str, Any] = {name: getattr(filters, name) for name in self.given}
        if "site" in given:
            given["site"] = filters.site.pk if filters.site else None
        return self._ordered(filters=given, cursor=before if before is not None else after)

    def _ordered(self, *, filters: dict[str, Any], cursor: Any) -> tuple[Any, ...]:
        values: list[Any] = list(self.hidden.models)
        values += [[]] if self.any_signal else []  # "any signal": the signals are not []
        values += [filters[name] for name in self.given]
        values += [cursor] if self.cursor else []
        return tuple(values)

    def build(self, reader: User, *values: Any) -> QuerySet[Any]:
        """The page's queryset for ``reader``, with the values (or probes) in the order of
        :meth:`probes`."""
        rest = list(values)[len(self.hidden.models) + (1 if self.any_signal else 0) :]
        given = dict(zip(self.given, rest, strict=False))
        cursor = rest[len(self.given)] if self.cursor else None
        site = given.get("site")
        filters = AuditFilters(
            site=Site(pk=site) if site is not None else None,
            **{name: given.get(name, "") for name in _TEXT_FILTERS},
            since=given.get("since"),
            until=given.get("until"),
            signal=ANY_SIGNAL if self.any_signal else given.get("signal", ""),
        )
        entries = _entries(reader, filters, self.hidden)
        return _window(
            entries,
            cursor if self.cursor == "after" else None,
            cursor if self.cursor == "before" else None,
            self.size,
        )


@functools.lru_cache(maxsize=256)
def _page_read(shape: _Shape) -> ScopedRead[AuditEntry]:
    """The read of a page of ``shape``, compiled once per process, thread and database."""
    return ScopedRead(shape.build, *shape.probes())


class AuditLine(NamedTuple):
    """One entry as its reader sees it."""

    entry: EntryRow
    time: str
    role: str
    record: str
    field: str
    old_value: str
    new_value: str
    action: str
    signals: tuple[str, ...]
    participant_url: str


@functools.cache
def _form_definitions() -> tuple[FormDef, ...]:
    """The forms' labels and code lists in both languages, described once per process
    (they do not depend on a study's settings, which only shape the edit checks)."""
    return tuple(study_forms())


@functools.lru_cache(maxsize=8)
def _named(
    language: str,
) -> tuple[dict[str, str], dict[tuple[str, str], FieldDef], dict[str, tuple[str, dict[str, str]]]]:
    """Forms, their fields, and other audited records with their fields, by name, in
    ``language`` (the same for every page: described once per process and language)."""
    japanese = language.startswith("ja")
    forms: dict[str, str] = {}
    fields: dict[tuple[str, str], FieldDef] = {}
    for form in _form_definitions():
        forms[form.name] = form.label_ja if japanese else form.label_en
        for field in form.fields:
            fields[(form.name, field.name)] = field
    models: dict[str, tuple[str, dict[str, str]]] = {}
    with translation.override(language):
        for audited in audited_models():
            model = audited.model
            models[audited.record] = (
                str(model._meta.verbose_name),
                {f.name: str(f.verbose_name) for f in audited.fields},
            )
    return forms, fields, models


def words() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Roles, actions and risk signals by code, in the reader's language."""
    return _words(translation.get_language() or "en")


@functools.lru_cache(maxsize=8)
def _words(language: str) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Roles, actions and risk signals by code, in ``language``."""
    with translation.override(language):
        return (
            {code: str(label) for code, label in Role.choices},
            {code: str(label) for code, label in ACTIONS.items()},
            {code: str(label) for code, label in Signal.choices},
        )


class Labels:
    """Labels of forms, fields and values in the reader's language, from the catalogue
    (through the data dictionary) and, for other records, their models."""

    def __init__(self, sites: Iterable[Site]) -> None:
        language = translation.get_language() or "en"
        self.japanese = language.startswith("ja")
        self.forms, self.fields, self.models = _named(language)
        self.zones = {site.pk: zoneinfo.ZoneInfo(site.time_zone) for site in sites}
        self.roles, self.actions, self.signals = _words(language)
        self.participant_url_pattern = ""
        #: each field's choices by code, in the reader's language, as the page meets them
        self.choices: dict[tuple[str, str], dict[str, str]] = {}

    def record(self, code: str) -> str:
        if code in self.forms:
            return self.forms[code]
        return self.models.get(code, (code, {}))[0]

    def field(self, record: str, name: str) -> str:
        definition = self.fields.get((record, name)) or self.fields.get(
            (record, name.removesuffix("_id"))
        )
        if definition is not None:
            return definition.label_ja if self.japanese else definition.label_en
        return self.models.get(record, ("", {}))[1].get(name, name)

    def value(self, record: str, name: str, text: str) -> str:
        """A value as the exports write it (a code, ``1``/``0``), in words."""
        definition = self.fields.get((record, name))
        if not text or definition is None:
            return text
        labels = self.choices.get((record, name))
        if labels is None:
            labels = self.choices[(record, name)] = dict(
                definition.allowed_values_ja if self.japanese else definition.allowed_values
            )
        if definition.multiple:
            return ", ".join(labels.get(code, code) for code in text.split(";"))
        if text in labels:
            return labels[text]
        if definition.data_type == "boolean":
            return _("Yes") if text == "1" else _("No") if text == "0" else text
        return text

    def time(self, entry: EntryRow) -> str:
        zone = self.zones.get(entry.site_id or 0) or zoneinfo.ZoneInfo("Asia/Tokyo")
        local = entry.at.astimezone(zone)
        return f"{local:%Y-%m-%d %H:%M:%S} (UTC{local.isoformat()[-6:]})"

    def line(self, entry: EntryRow) -> AuditLine:
        return AuditLine(
            entry=entry,
            time=self.time(entry),
            role=self.roles.get(entry.role, entry.role),
            record=self.record(entry.record),
            field=self.field(entry.record, entry.field),
            old_value=self.value(entry.record, entry.field, entry.old_value),
            new_value=self.value(entry.record, entry.field, entry.new_value),
            action=self.actions.get(entry.action, entry.action),
            signals=tuple(self.signals.get(s, s) for s in entry.signals),
            participant_url=self.participant_url(entry.participant_id),
        )

    def participant_url(self, participant_id: int | None) -> str:
        """The participant's page: the URL configuration is asked once per page, with a
        stand-in id that each participant's own replaces."""
        if participant_id is None:
            return ""
        if not self.participant_url_pattern:
            self.participant_url_pattern = reverse("participants:detail", args=[_STAND_IN])
        return self.participant_url_pattern.replace(f"/{_STAND_IN}/", f"/{participant_id:d}/")


#: An id no participant has, in a page's one look-up of participants' URLs.
_STAND_IN = 987654321


def audit_lines(entries: list[EntryRow], sites: Iterable[Site]) -> list[AuditLine]:
    """The entries in words, for the reader's language, at the time zones of ``sites``
    (those the entries belong to)."""
    labels = Labels(sites)
    return [labels.line(entry) for entry in entries]


def record_choices() -> list[tuple[str, str]]:
    """The forms, then the other audited records, a reviewer filters on, by label."""
    return list(_record_choices(translation.get_language() or "en"))


@functools.lru_cache(maxsize=8)
def _record_choices(language: str) -> tuple[tuple[str, str], ...]:
    with translation.override(language):
        choices = [(form.code, str(form.label)) for form in catalogue.FORMS]
        known = {code for code, _label in choices}
        for audited in audited_models():
            if audited.record not in known:
                choices.append((audited.record, str(audited.model._meta.verbose_name)))
                known.add(audited.record)
    return tuple(choices)


def last_review(site: Site) -> AuditReview | None:
    """The site's latest audit-trail review sign-off: the next review starts after it."""
    return AuditReview.objects.filter(site=site).order_by("-through", "-pk").first()


def reviews_visible_to(user: User) -> QuerySet[AuditReview]:
    """The sign-offs of the sites ``user`` sees, latest first."""
    return scope_to_user_sites(
        AuditReview.objects.select_related("site", "reviewed_by"), user
    ).order_by("-through", "-pk")


#: Sign-offs listed on the review page.
REVIEWS_SHOWN = 10

_LATEST_REVIEWS: ScopedRead[AuditReview] = ScopedRead(
    lambda user: reviews_visible_to(user)[:REVIEWS_SHOWN]
)


def latest_reviews(user: User) -> list[AuditReview]:
    """The :data:`REVIEWS_SHOWN` latest sign-offs of the sites ``user`` sees."""
    return _LATEST_REVIEWS.all(user)


#: Counts of unreviewed entries stop here (a home page shows "1000+"): a home page of a
#: hundred sites then reads at most a hundred thousand entries, however long the trail.
UNREVIEWED_CAP = 1_000


@dataclass(frozen=True)
class Unreviewed:
    """A site's audit entries since its last review sign-off, and those with a signal."""

    entries: int
    signalled: int
    capped: bool


def unreviewed_per_site(user: User) -> dict[int, Unreviewed]:
    """Per site ``user`` sees: the entries since its last review, counted up to
    :data:`UNREVIEWED_CAP` (one query whatever the number of sites)."""
    site_ids = list(sites_visible_to(user).values_list("pk", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.id, c.entries, c.signalled FROM studies_site s
            CROSS JOIN LATERAL (
                SELECT count(*) AS entries,
                       count(*) FILTER (WHERE e.signals <> '{}') AS signalled
                  FROM (SELECT e.signals FROM review_auditentry e
                         WHERE e.site_id = s.id
                           AND e.at > coalesce((SELECT max(r.through)
                                                  FROM review_auditreview r
                                                 WHERE r.site_id = s.id), '-infinity')
                         LIMIT %(cap)s) e
            ) c
            WHERE s.id = ANY(%(sites)s)
            """,
            {"cap": UNREVIEWED_CAP + 1, "sites": site_ids},
        )
        return {
            site_id: Unreviewed(
                min(entries, UNREVIEWED_CAP), signalled, capped=entries > UNREVIEWED_CAP
            )
            for site_id, entries, signalled in cursor.fetchall()
        }


@dataclass(frozen=True)
class SiteAuditReview:
    """What of a site's trail awaits review: the changes since its last sign-off."""

    site: Site
    unreviewed: Unreviewed
    last_review: AuditReview | None


def audit_review_overview(user: User) -> list[SiteAuditReview]:
    """Per site ``user`` sees, in code order: the changes since its last review sign-off,
    those with a risk signal, and that sign-off (three queries)."""
    sites = list(sites_visible_to(user).order_by("code"))
    unreviewed = unreviewed_per_site(user)
    latest = {
        review.site_id: review
        for review in AuditReview.objects.filter(site__in=sites)
        .select_related("reviewed_by")
        .order_by("site_id", "-through", "-pk")
        .distinct("site_id")
    }
    return [
        SiteAuditReview(
            site=site,
            unreviewed=unreviewed.get(site.pk, Unreviewed(0, 0, capped=False)),
            last_review=latest.get(site.pk),
        )
        for site in sites
    ]
