"""Is the audit trail consistent with the data? Every row has its events and vice versa.

Plain SQL over any connection, so that a test can check the database of a server it
started (another PostgreSQL) as well as its own; the tables and columns come from the
models.
"""

from __future__ import annotations

from typing import Any

import pghistory.models
import psycopg
from django.apps import apps
from django.db import models
from psycopg import sql

_BOOKKEEPING = {"pgh_id", "pgh_created_at", "pgh_label", "pgh_obj", "pgh_context", "pgh_context_id"}


def _audited() -> list[tuple[type[models.Model], type[models.Model]]]:
    """(event model, audited model) for every audit event table of the project."""
    return [
        (model, model.pgh_tracked_model)  # type: ignore[attr-defined]
        for model in apps.get_models()
        if issubclass(model, pghistory.models.Event) and model._meta.managed
    ]


def _compared_columns(event_model: type[models.Model], tracked: type[models.Model]) -> list[str]:
    """Columns the event copies from the row, less ``auto_now`` ones (no event of their own)."""
    columns = []
    for event_field in event_model._meta.concrete_fields:
        if event_field.name in _BOOKKEEPING:
            continue
        source = tracked._meta.get_field(event_field.name)
        if not getattr(source, "auto_now", False):
            columns.append(event_field.column)
    return columns


def audit_mismatches(conn: psycopg.Connection[Any]) -> list[str]:
    """Each audited row without a creation event; each creation event whose row is gone
    without a deletion event; each row whose latest event does not hold its values."""
    problems: list[str] = []
    for event_model, tracked in _audited():
        if not any(f.name == "pgh_obj" for f in event_model._meta.concrete_fields):
            continue  # events that name no row (API keys) cannot be matched to rows
        label = tracked._meta.label
        parts = {
            "rows": sql.Identifier(tracked._meta.db_table),
            "events": sql.Identifier(event_model._meta.db_table),
            "pk": sql.Identifier(tracked._meta.pk.column),
        }
        columns = _compared_columns(event_model, tracked)
        queries = {
            "a row without its creation event": sql.SQL(
                "SELECT r.{pk}::text FROM {rows} r WHERE NOT EXISTS (SELECT 1 FROM {events} e "
                "WHERE e.pgh_obj_id = r.{pk} AND e.pgh_label = 'create')"
            ),
            "a creation event without its row": sql.SQL(
                "SELECT e.pgh_obj_id::text FROM {events} e WHERE e.pgh_label = 'create' "
                "AND NOT EXISTS (SELECT 1 FROM {rows} r WHERE r.{pk} = e.pgh_obj_id) "
                "AND NOT EXISTS (SELECT 1 FROM {events} d WHERE d.pgh_obj_id = e.pgh_obj_id "
                "AND d.pgh_label = 'delete')"
            ),
            "its latest event differs from the row": sql.SQL(
                "SELECT r.{pk}::text FROM {rows} r JOIN LATERAL (SELECT * FROM {events} e "
                "WHERE e.pgh_obj_id = r.{pk} AND e.pgh_label <> 'delete' "
                "ORDER BY e.pgh_id DESC LIMIT 1) e ON true WHERE ({row_values}) "
                "IS DISTINCT FROM ({event_values})"
            ),
        }
        for problem, query in queries.items():
            formatted = query.format(
                **parts,
                row_values=sql.SQL(", ").join(sql.SQL("r.") + sql.Identifier(c) for c in columns),
                event_values=sql.SQL(", ").join(sql.SQL("e.") + sql.Identifier(c) for c in columns),
            )
            for (pk,) in conn.execute(formatted).fetchall():
                problems.append(f"{label} {pk}: {problem}")
    return problems
