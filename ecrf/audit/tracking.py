"""How study data is put under the audit trail.

Every model holding study data is decorated with :func:`audited`. It installs
PostgreSQL triggers (django-pghistory) that write one event row for each insert,
update and delete, whatever wrote it: the ORM, a bulk update, raw SQL. The event
tables are append-only in the database (UPDATE and DELETE raise), and each event
carries its own copy of the audit context (user, role, site, reason, source), so
there is no shared context row that a later statement could rewrite.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pghistory
from django.db import models

M = TypeVar("M", bound=type[models.Model])

NEVER_AUDITED_FIELDS = ("password", "last_login")


def audited(
    *,
    exclude: list[str] | None = None,
    fields: list[str] | None = None,
    refers_to_object: bool = True,
    model_name: str | None = None,
) -> Callable[[M], M]:
    """Track inserts, updates and deletes of a model in an append-only event table.

    ``fields`` keeps only those columns in the events; ``refers_to_object=False`` keeps
    no reference to the row itself, for a model whose primary key is a secret (an API
    key is its own primary key, and must never be copied into the audit trail).
    """
    return pghistory.track(
        pghistory.InsertEvent("create"),
        pghistory.UpdateEvent("update", condition=pghistory.AnyChange(exclude_auto=True)),
        pghistory.DeleteEvent("delete"),
        fields=fields,
        exclude=exclude,
        obj_field=pghistory.constants.UNSET if refers_to_object else None,
        model_name=model_name,
        context_field=pghistory.ContextJSONField(),
        context_id_field=pghistory.ContextUUIDField(),
        append_only=True,
    )
