"""A case report form as its reader sees it: every value labelled, in her language.

A form is read from the catalogue's description of it (through the data dictionary, so
labels, units and code lists are those of every export): each value with its label, its
unit and the label of its code; dates as ``YYYY-MM-DD`` and times in the site's zone
with the offset; who last set the value and when (from the audit trail); its
verification against source (who and when, or "changed since verified" when a change
cleared the mark) and its queries, each with its thread of steps. Fields that reveal
the allocated arm are left out for the roles a blinded study names. Multi-record forms
are read as rows.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from ecrf.accounts.models import User
from ecrf.accounts.policy import enforce, may_read_forms
from ecrf.audit.selectors import Entry, field_entries
from ecrf.common import catalogue
from ecrf.exports.formats.dictionary import FieldDef, FormDef, study_forms, value_to_text
from ecrf.participants.blinding import arm_visible_to
from ecrf.participants.models import Participant
from ecrf.quality.models import Verification
from ecrf.queries.models import Query, QueryMessage, QueryStatus
from ecrf.queries.selectors import field_label


class UnknownForm(LookupError):
    """No case report form has this code."""


@dataclass(frozen=True)
class Mark:
    """A value's verification against source: who verified it, and when."""

    by: str
    at: dt.datetime


@dataclass(frozen=True)
class QueryStep:
    """One step of a query's thread: what was done, the words, who and when (at the site)."""

    kind: str
    label: str
    text: str
    by: str
    at: str


@dataclass(frozen=True)
class QueryThread:
    """A query on one value, as the form's page shows it beside that value."""

    pk: int
    field: str
    field_label: str
    status: str
    status_label: str
    edit_check: str
    steps: tuple[QueryStep, ...]

    @property
    def is_open(self) -> bool:
        return self.status == QueryStatus.OPEN

    @property
    def is_answered(self) -> bool:
        return self.status == QueryStatus.ANSWERED

    @property
    def is_closed(self) -> bool:
        return self.status == QueryStatus.CLOSED


@dataclass(frozen=True)
class ValueReading:
    """One value of one record, as its reader sees it."""

    name: str
    label: str
    unit: str
    value: Any
    #: the value as the exports write it (codes, ISO dates, decimals in full)
    raw_text: str
    text: str
    entered: Entry | None
    #: when it was entered, at the site with the offset
    entered_at: str
    verifiable: bool
    critical: bool
    verified: Mark | None
    #: when it was verified, at the site with the offset
    verified_at: str
    changed_since_verified: bool
    open_queries: int
    #: every query on it, oldest first, closed ones too
    queries: tuple[QueryThread, ...] = ()


@dataclass(frozen=True)
class RecordReading:
    record_id: int
    values: tuple[ValueReading, ...]
    #: the page where site staff correct this record (empty if there is none)
    edit_url: str = ""

    @property
    def open_queries(self) -> int:
        return sum(value.open_queries for value in self.values)

    @property
    def queries(self) -> tuple[QueryThread, ...]:
        """The queries on any value of the record, oldest first."""
        return tuple(
            sorted((q for value in self.values for q in value.queries), key=lambda q: q.pk)
        )

    @property
    def queryable(self) -> tuple[ValueReading, ...]:
        """Its values a query may be raised on: those site staff enter."""
        return tuple(value for value in self.values if value.verifiable)

    @property
    def to_verify(self) -> int:
        return sum(1 for value in self.values if value.verifiable and value.verified is None)


@dataclass(frozen=True)
class FormReading:
    participant: Participant
    form: catalogue.Form
    definition: FormDef
    records: tuple[RecordReading, ...]

    @property
    def label(self) -> str:
        japanese = (translation.get_language() or "en").startswith("ja")
        return self.definition.label_ja if japanese else self.definition.label_en

    @property
    def verified(self) -> int:
        return sum(1 for r in self.records for v in r.values if v.verifiable and v.verified)

    @property
    def verifiable(self) -> int:
        return sum(1 for r in self.records for v in r.values if v.verifiable)


def readable_forms(user: User, participant: Participant) -> list[FormDef]:
    """The case report forms this user reads of hers, as the dictionary describes them."""
    enforce(may_read_forms(user, participant))
    return study_forms(
        arm_visible=arm_visible_to(user, participant), study_id=participant.site.study_id
    )


def form_reading(user: User, participant: Participant, code: str) -> FormReading:
    """Her form ``code`` as ``user`` may read it (``UnknownForm``: no such form)."""
    definitions = {d.name: d for d in readable_forms(user, participant)}
    if code not in definitions:
        raise UnknownForm(code)
    form = catalogue.form(code)
    definition = definitions[code]
    zone = zoneinfo.ZoneInfo(participant.site.time_zone)
    rows = list(form.records_of(participant))
    entries = field_entries(rows)
    marks = _marks(participant, code)
    queries = _threads(participant, code, zone)
    japanese = (translation.get_language() or "en").startswith("ja")
    records = []
    for row in rows:
        values = []
        for field in definition.fields:
            entry = form.field(field.name)
            raw = _raw(row, field)
            verified, cleared = marks.get((row.pk, field.name), (None, False))
            entered = entries.get((str(row.pk), field.name)) or entries.get(
                (str(row.pk), f"{field.name}_id")
            )
            values.append(
                ValueReading(
                    name=field.name,
                    label=field.label_ja if japanese else field.label_en,
                    unit=(field.unit_ja or field.unit) if japanese else field.unit,
                    value=raw,
                    raw_text=value_to_text(field, raw),
                    text=_text(field, raw, zone, japanese),
                    entered=entered,
                    entered_at=_moment(entered.at, zone) if entered else "",
                    verifiable=entry.entered,
                    critical=entry.critical,
                    verified=verified,
                    verified_at=_moment(verified.at, zone) if verified else "",
                    changed_since_verified=verified is None and cleared,
                    open_queries=sum(
                        1 for q in queries.get((row.pk, field.name), ()) if not q.is_closed
                    ),
                    queries=tuple(queries.get((row.pk, field.name), ())),
                )
            )
        records.append(
            RecordReading(
                record_id=row.pk, values=tuple(values), edit_url=_edit_url(form, participant, row)
            )
        )
    return FormReading(
        participant=participant, form=form, definition=definition, records=tuple(records)
    )


def _threads(
    participant: Participant, code: str, zone: zoneinfo.ZoneInfo
) -> dict[tuple[int | None, str], list[QueryThread]]:
    """Per (record id, field): the queries on it with their steps, oldest first (two
    queries for the whole form)."""
    found: dict[tuple[int | None, str], list[QueryThread]] = defaultdict(list)
    for query in (
        Query.objects.filter(participant=participant, record=code)
        .prefetch_related(
            Prefetch(
                "messages",
                queryset=QueryMessage.objects.select_related("author").order_by("written_at", "pk"),
            )
        )
        .order_by("opened_at", "pk")
    ):
        steps = tuple(
            QueryStep(
                kind=message.kind,
                label=str(message.get_kind_display()),
                text=message.text_shown,
                by=message.author.get_username() if message.author else _("system"),
                at=_moment(message.written_at, zone),
            )
            for message in query.messages.all()
        )
        found[(query.record_id, query.field)].append(
            QueryThread(
                pk=query.pk,
                field=query.field,
                field_label=field_label(code, query.field),
                status=query.status,
                status_label=str(query.get_status_display()),
                edit_check=query.edit_check,
                steps=steps,
            )
        )
    return found


def _edit_url(form: catalogue.Form, participant: Participant, row: Any) -> str:
    """The page where site staff correct ``row`` (empty for a form with none)."""
    if not form.edit_page:
        return ""
    return reverse(form.edit_page, args=form.edit_page_args(participant.pk, row.pk))


def _raw(row: Any, field: FieldDef) -> Any:
    if field.arm:
        arm = getattr(row, field.name, None)
        return getattr(arm, "code", None)
    return getattr(row, field.name)


def _marks(participant: Participant, code: str) -> dict[tuple[int, str], tuple[Mark | None, bool]]:
    """Per (record id, field): its standing mark, and whether a mark of it was cleared."""
    found: dict[tuple[int, str], tuple[Mark | None, bool]] = {}
    for mark in (
        Verification.objects.filter(participant=participant, record=code, field__gt="")
        .exclude(record_id__isnull=True)
        .select_related("verified_by")
        .order_by("verified_at", "pk")
    ):
        key = (mark.record_id or 0, mark.field)
        standing, cleared = found.get(key, (None, False))
        if mark.cleared_at is None:
            found[key] = (Mark(mark.verified_by.get_username(), mark.verified_at), cleared)
        else:
            found[key] = (standing, True)
    return found


def _text(field: FieldDef, value: Any, zone: zoneinfo.ZoneInfo, japanese: bool) -> str:
    """A value in words: the label of its code, a date, a time at the site with its offset."""
    if value is None or value == "" or value == []:
        return ""
    labels = dict(field.allowed_values_ja if japanese else field.allowed_values)
    if field.multiple:
        return ", ".join(labels.get(str(v), str(v)) for v in value)
    if isinstance(value, dt.datetime):
        return _moment(value, zone)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    code = value_to_text(field, value)
    if code in labels:
        return labels[code]
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return code


def _moment(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """A time at the site, with its offset: ``2026-03-15 10:00 (UTC+09:00)``."""
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} (UTC{local.isoformat()[-6:]})"
