"""Reads of the audit trail: the full history of a record or of a participant."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import F, Func, TextField, Value
from django.utils.dateparse import parse_datetime
from pghistory.models import Events

from ecrf.common import catalogue

#: Columns of event rows that are bookkeeping, not study data.
_HIDDEN_FIELDS = {"id"}


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    old_value: Any
    new_value: Any


@dataclass(frozen=True)
class HistoryEntry:
    timestamp: dt.datetime
    action: str
    record: str
    record_label: str
    record_id: str
    user: str | None
    role: str | None
    site: str | None
    reason: str | None
    source: str | None
    origin: str | None
    changes: list[FieldChange]


def field_label(model: type[models.Model] | None, name: str) -> str:
    """A field's label (its verbose name), its name only when the model does not know it."""
    if model is None:
        return name
    for field in model._meta.concrete_fields:
        if field.attname == name or field.name == name:
            return str(field.verbose_name)
    return name


def actor_sql(context_column: str) -> Func:
    """The actor of an event, from its context column: the ``actor`` its trigger named,
    or for an event written before events named one, the same rule applied to what its
    context holds (``ecrf_audit_actor`` in :mod:`.chain`)."""
    return Func(
        F(context_column),
        Value(None, output_field=TextField()),
        function="ecrf_audit_actor",
        output_field=TextField(),
    )


def _entry(event: Events, actor: str) -> HistoryEntry:
    model = apps.get_model(event.pgh_obj_model) if event.pgh_obj_model else None
    context = event.pgh_context or {}
    if event.pgh_label == "update":
        pairs = sorted((event.pgh_diff or {}).items())
        changes = [FieldChange(k, field_label(model, k), v[0], v[1]) for k, v in pairs]
    else:
        data = event.pgh_data or {}
        changes = [
            FieldChange(
                k,
                field_label(model, k),
                v if event.pgh_label == "delete" else None,
                None if event.pgh_label == "delete" else v,
            )
            for k, v in sorted(data.items())
            if k not in _HIDDEN_FIELDS
        ]
    origin = context.get("url") or context.get("task") or context.get("command")
    created = event.pgh_created_at
    if isinstance(created, str):
        created = parse_datetime(created)
    form = catalogue.form_of_model(event.pgh_obj_model) if event.pgh_obj_model else None
    if form is not None:
        record, record_label = form.code, str(form.label)
    elif model is not None:
        record, record_label = model._meta.model_name or "", str(model._meta.verbose_name)
    else:
        record = record_label = event.pgh_obj_model
    return HistoryEntry(
        timestamp=created,
        action=event.pgh_label,
        record=record,
        record_label=record_label,
        record_id=event.pgh_obj_id or "",
        user=actor,
        role=context.get("role"),
        site=context.get("site"),
        reason=context.get("reason"),
        source=context.get("source"),
        origin=origin,
        changes=changes,
    )


def history_of(*objects: models.Model, concealed: tuple[str, ...] = ()) -> list[HistoryEntry]:
    """Every event of the given records and of the records that point at them, oldest first.

    ``concealed`` names models (``app_label.Model``) whose events the reader may not see,
    such as randomization slots, whose block and sequence would hint at the next arm.
    """
    events = (
        Events.objects.references(*objects)
        .annotate(actor=actor_sql("pgh_context"))
        .order_by("pgh_created_at", "pgh_id")
    )
    if concealed:
        events = events.exclude(pgh_obj_model__in=concealed)
    return [_entry(event, event.actor) for event in events]  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Entry:
    """Who last gave a field its value, and when."""

    actor: str
    at: dt.datetime


def field_entries(records: Iterable[models.Model]) -> dict[tuple[str, str], Entry]:
    """For each ``(record id, field)`` of ``records``, the event that last set its value:
    the record's creation for the values it was created with, or the latest update that
    changed it (one query)."""
    records = list(records)
    found: dict[tuple[str, str], Entry] = {}
    if not records:
        return found
    events = (
        Events.objects.tracks(*records)
        .annotate(actor=actor_sql("pgh_context"))
        .order_by("pgh_created_at", "pgh_id")
    )
    for event in events:
        if event.pgh_label == "create":
            names = [k for k, v in (event.pgh_data or {}).items() if v not in (None, "")]
        elif event.pgh_label == "update":
            names = list(event.pgh_diff or {})
        else:
            continue
        created = event.pgh_created_at
        if isinstance(created, str):
            created = parse_datetime(created)
        for name in names:
            found[(str(event.pgh_obj_id), name)] = Entry(event.actor, created)  # type: ignore[attr-defined]
    return found
