"""The audit trail as rows: one row per changed field of every audited record.

The rows come from the pghistory event tables of every ``@audited`` model, read by one
SQL query built from the models' metadata, so that a model added later is exported
without a change here:

- a ``create`` event gives one row per field that has a value (old value empty);
- an ``update`` event gives one row per field whose value differs from the previous
  event of the same record (``LAG`` over the record's events), the "last saved"
  timestamps left out since the row's own time says when;
- a ``delete`` event gives one row per field that had a value (new value empty).

Who, in which role, why and from where come from the event's own copy of the audit
context. A record's participant is found by following foreign keys from the model
towards :class:`~ecrf.participants.models.Participant` (a query message through its
query), and its site likewise: a participant's records go with her site, a site's own
records (its normal ranges, its memberships) with that site, and records tied to
neither (study settings, users) only into an export that covers every site of the
study. The ``site`` column is the record's site, else the site the change was made
for. Secrets (passwords and keys of any kind) are never exported, even if a model
holding them were put under the audit trail.

Rows come oldest first (by the event's time, then table and event id). The columns
after the contract's (:data:`EXTRA_COLUMNS`) name the source (``web``, ``api``,
``celery``, ``command``), the path, task or command, the request or task id, the
user's id, the model, and the event as the hash chain names it.

Values are written as every export writes them (see
:mod:`ecrf.exports.formats.dictionary`): booleans ``1``/``0``, dates ``YYYY-MM-DD``,
date-times ISO 8601 with the offset of the study's time zone, lists joined by ``;``.
In the CSV file, a text that a spreadsheet would run as a formula (starting with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written with a leading
``'``; this happens inside the query so that PostgreSQL's ``COPY`` writes the file.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple, cast

import pghistory.models
from django.apps import apps
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import connection, models, transaction

from ecrf.audit.tracking import NEVER_AUDITED_FIELDS
from ecrf.common import catalogue
from ecrf.participants.models import Participant
from ecrf.studies.models import Arm, Site, Study

from .base import ExportScope, Progress
from .dictionary import study_zone

if TYPE_CHECKING:
    import psycopg

#: The contract's columns, in the contract's order.
AUDIT_COLUMNS = (
    "timestamp",
    "user",
    "role",
    "site",
    "subject_id",
    "record",
    "record_id",
    "field",
    "old_value",
    "new_value",
    "reason",
    "action",
)

#: Further columns after the contract's: where the change came from, and the event
#: (``<event table>:<event id>``) as the audit hash chain names it.
EXTRA_COLUMNS = ("source", "origin", "request_id", "user_id", "model", "event")

COLUMNS = AUDIT_COLUMNS + EXTRA_COLUMNS

#: Field names never exported, whatever model holds them: credentials and keys.
SECRET_FIELDS = frozenset(
    {*NEVER_AUDITED_FIELDS, "key", "secret", "secret_key", "token", "otp_secret", "bin_key"}
)

#: Characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

#: Rows fetched at a time by :func:`audit_rows`' server-side cursor.
FETCH_ROWS = 2000

#: Bytes gathered before one write to the output file.
WRITE_BYTES = 1 << 18

#: Rows reported between two calls of ``progress``.
PROGRESS_ROWS = 10_000

#: Changed fields guessed per update when estimating the rows to come (most corrections
#: change one or two values).
ROWS_PER_UPDATE = 2


class AuditRow(NamedTuple):
    """One row of the audit trail, every value as text (``None`` when empty)."""

    timestamp: str
    user: str | None
    role: str | None
    site: str | None
    subject_id: str | None
    record: str
    record_id: str
    field: str
    old_value: str | None
    new_value: str | None
    reason: str | None
    action: str
    source: str | None
    origin: str | None
    request_id: str | None
    user_id: str | None
    model: str
    event: str


@dataclass(frozen=True)
class AuditedModel:
    """An audited model, its event table, and how its rows reach a participant or a site.

    Each path is the chain of foreign keys from the model to its target; ``()`` when the
    model is the target itself and ``None`` when there is no way there.
    """

    model: type[models.Model]
    event_model: type[models.Model]
    record: str
    fields: tuple[models.Field[Any, Any], ...]
    participant_path: tuple[models.ForeignKey[Any, Any], ...] | None
    site_path: tuple[models.ForeignKey[Any, Any], ...] | None
    study_path: tuple[models.ForeignKey[Any, Any], ...] | None

    @property
    def label(self) -> str:
        return self.model._meta.label

    @property
    def table(self) -> str:
        return self.event_model._meta.db_table

    @property
    def refers_to_object(self) -> bool:
        """Whether its events name the row they are about (a model whose key is a
        secret keeps no such reference)."""
        return any(f.name == "pgh_obj" for f in self.event_model._meta.concrete_fields)


def _q(name: str | None) -> str:
    assert name, "a column or table of the model registry"
    return connection.ops.quote_name(name)


def _literal(text: str) -> str:
    """A SQL string literal of a name taken from the model registry (never user input)."""
    return "'" + text.replace("'", "''") + "'"


def _forward_keys(model: type[models.Model]) -> list[models.ForeignKey[Any, Any]]:
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    return [
        field
        for field in model._meta.concrete_fields
        if isinstance(field, models.ForeignKey) and field.related_model is not user_model
    ]


def _path_to(
    model: type[models.Model], target: type[models.Model], *, max_hops: int = 4
) -> tuple[models.ForeignKey[Any, Any], ...] | None:
    """The shortest chain of foreign keys from ``model`` to ``target`` (users skipped)."""
    if model is target:
        return ()
    frontier: list[tuple[type[models.Model], tuple[models.ForeignKey[Any, Any], ...]]] = [
        (model, ())
    ]
    for _ in range(max_hops):
        next_frontier = []
        for current, path in frontier:
            for field in _forward_keys(current):
                related = field.related_model
                assert isinstance(related, type)
                if related is target:
                    return (*path, field)
                next_frontier.append((related, (*path, field)))
        frontier = next_frontier
    return None


def _beyond(
    path: tuple[models.ForeignKey[Any, Any], ...] | None,
    *shorter: tuple[models.ForeignKey[Any, Any], ...] | None,
) -> tuple[models.ForeignKey[Any, Any], ...] | None:
    """``path``, unless it only goes on from a shorter path already followed.

    A dose entry's site is its participant's site: following the participant is enough.
    """
    if path is None:
        return None
    for prefix in shorter:
        if prefix is not None and path[: len(prefix)] == prefix:
            return None
    return path


def _record_name(model: type[models.Model]) -> str:
    """The record's name as the API and the other exports call it (its catalogue code)."""
    entry = catalogue.form_of_model(model._meta.label)
    if entry is not None:
        return entry.code
    return model._meta.model_name or model.__name__.lower()


@functools.cache
def audited_models() -> tuple[AuditedModel, ...]:
    """Every model under the audit trail, with its event table.

    Found from pghistory's event models (the project tracks models only through
    ``@audited``), so that a model audited later is exported without a change here.
    """
    found = []
    for event_model in apps.get_models():
        if not issubclass(event_model, pghistory.models.Event) or event_model._meta.proxy:
            continue
        tracked = cast("type[models.Model]", getattr(event_model, "pgh_tracked_model"))  # noqa: B009
        event_columns = {f.column for f in event_model._meta.concrete_fields}
        fields = tuple(
            field
            for field in tracked._meta.concrete_fields
            if not field.primary_key
            and field.name not in SECRET_FIELDS
            and field.attname not in SECRET_FIELDS
            and field.column in event_columns
        )
        participant_path = _path_to(tracked, Participant)
        site_path = _beyond(_path_to(tracked, Site), participant_path)
        study_path = _beyond(_path_to(tracked, Study), participant_path, site_path)
        found.append(
            AuditedModel(
                model=tracked,
                event_model=event_model,
                record=_record_name(tracked),
                fields=fields,
                participant_path=participant_path,
                site_path=site_path,
                study_path=study_path,
            )
        )
    return tuple(sorted(found, key=lambda m: m.table))


def event_model_of(model: type[models.Model]) -> type[models.Model] | None:
    for audited in audited_models():
        if audited.model is model:
            return audited.event_model
    return None


def _hop_sql(field: models.ForeignKey[Any, Any], key: str) -> str:
    """The value of ``field`` on the row whose primary key is ``key``.

    Read from the live table, or from the latest event of that row when it is gone.
    """
    model = field.model
    live = (
        f"(SELECT t.{_q(field.column)} FROM {_q(model._meta.db_table)} t "  # noqa: S608
        f"WHERE t.{_q(model._meta.pk.column)} = {key})"
    )
    event_model = event_model_of(model)
    if event_model is None:
        return live
    history = (
        f"(SELECT t.{_q(field.column)} FROM {_q(event_model._meta.db_table)} t "  # noqa: S608
        f"WHERE t.pgh_obj_id = {key} ORDER BY t.pgh_id DESC LIMIT 1)"
    )
    return f"COALESCE({live}, {history})"


def _path_sql(path: tuple[models.ForeignKey[Any, Any], ...] | None) -> str:
    """The id a path leads to from the event row ``e`` (SQL NULL without a path)."""
    if path is None:
        return "NULL::bigint"
    if not path:
        return "e.pgh_obj_id::bigint"
    value = f"e.{_q(path[0].column)}"
    for field in path[1:]:
        value = _hop_sql(field, value)
    return f"({value})::bigint"


def _neutralised(expression: str) -> str:
    """``expression`` with a leading ``'`` when a spreadsheet would take it for a formula."""
    starts = ", ".join(
        "E'\\t'" if c == "\t" else "E'\\r'" if c == "\r" else _literal(c) for c in FORMULA_STARTS
    )
    return (
        f"CASE WHEN left(({expression}), 1) IN ({starts}) "
        f"THEN '''' || ({expression}) ELSE ({expression}) END"
    )


def timestamp_sql(expression: str) -> str:
    """A ``timestamptz`` as ISO 8601 in the session's time zone, with its offset."""
    return (
        f"CASE WHEN date_trunc('second', {expression}) = {expression} "
        f"""THEN to_char({expression}, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM') """
        f"""ELSE to_char({expression}, 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM') END"""
    )


def _value_sql(field: models.Field[Any, Any], *, neutralise: bool) -> str:
    """The field's value in the event row ``e`` as text, written as every export writes it."""
    column = f"e.{_q(field.column)}"
    is_text = False
    if isinstance(field, models.BooleanField):
        value = f"CASE WHEN {column} THEN '1' WHEN NOT {column} THEN '0' END"
    elif isinstance(field, models.DateTimeField):
        value = timestamp_sql(column)
    elif isinstance(field, models.DateField):
        value = f"to_char({column}, 'YYYY-MM-DD')"
    elif isinstance(field, ArrayField):
        value = f"array_to_string({column}, ';')"
        is_text = True
    elif isinstance(
        field,
        models.IntegerField
        | models.DecimalField
        | models.FloatField
        | models.ForeignKey
        | models.TimeField
        | models.UUIDField,
    ):
        value = f"{column}::text"
    else:
        value = f"{column}::text"
        is_text = True
    return _neutralised(value) if neutralise and is_text else value


def _is_auto_stamp(field: models.Field[Any, Any]) -> bool:
    return bool(getattr(field, "auto_now", False))


@dataclass(frozen=True)
class _Scope:
    """The scope turned into SQL conditions and their parameters."""

    params: dict[str, Any]
    event_conditions: tuple[str, ...]
    row_conditions: tuple[str, ...]


def _study_site_ids(study_id: int) -> set[int]:
    return set(Site.objects.filter(study_id=study_id).values_list("pk", flat=True))


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=study_zone())


def _scope_sql(scope: ExportScope) -> _Scope:
    """Conditions on the events (dates) and on the resolved rows (study, sites, subject)."""
    params: dict[str, Any] = {"study_id": scope.study_id}
    event_conditions = []
    if scope.since is not None:
        params["since"] = _day_start(scope.since)
        event_conditions.append("e.pgh_created_at >= %(since)s")
    if scope.until is not None:
        params["until"] = _day_start(scope.until + dt.timedelta(days=1))
        event_conditions.append("e.pgh_created_at < %(until)s")
    whole_study = scope.subject_id is None and _study_site_ids(scope.study_id) <= set(
        scope.site_ids
    )
    row_conditions = []
    if whole_study:
        row_conditions.append("COALESCE(st.study_id, u.study_id, %(study_id)s) = %(study_id)s")
    else:
        params["site_ids"] = list(scope.site_ids)
        row_conditions.append("st.id = ANY(%(site_ids)s)")
        row_conditions.append("st.study_id = %(study_id)s")
    if scope.subject_id is not None:
        params["subject_id"] = scope.subject_id
        row_conditions.append("sj.subject_id = %(subject_id)s")
    return _Scope(params, tuple(event_conditions), tuple(row_conditions))


def _models_in_scope(scope: ExportScope) -> list[AuditedModel]:
    return [m for m in audited_models() if m.label not in scope.concealed_models and m.fields]


def _exported_fields(audited: AuditedModel, scope: ExportScope) -> list[models.Field[Any, Any]]:
    """The fields of a model the export shows: the allocated arm only when it may be seen."""
    return [
        field
        for field in audited.fields
        if scope.arm_visible
        or not (isinstance(field, models.ForeignKey) and field.related_model is Arm)
    ]


def _event_columns_sql(audited: AuditedModel) -> str:
    return (
        f"{_literal(audited.table)}::text AS tbl, e.pgh_id::bigint AS pgh_id, "
        "e.pgh_created_at AS ts, e.pgh_label AS action, e.pgh_context AS ctx, "
        + (
            "e.pgh_obj_id AS obj_id, e.pgh_obj_id::text AS record_id, "
            if audited.refers_to_object
            # Without a reference to its row, each event is a record of its own.
            else "e.pgh_id AS obj_id, ''::text AS record_id, "
        )
        + f"{_path_sql(audited.participant_path)} AS participant_id, "
        f"{_path_sql(audited.site_path)} AS site_id, "
        f"{_path_sql(audited.study_path)} AS study_id"
    )


#: Columns each row takes from its event's audit context, computed once per event.
_CONTEXT_COLUMNS = {
    "user": "ecrf_audit_actor(v.ctx, NULL)",
    "role": "v.ctx ->> 'role'",
    "reason": "v.ctx ->> 'reason'",
    "source": "v.ctx ->> 'source'",
    "origin": "COALESCE(v.ctx ->> 'url', v.ctx ->> 'task', v.ctx ->> 'command')",
    "request_id": "COALESCE(v.ctx ->> 'request_id', v.ctx ->> 'task_id')",
    "context_site": "v.ctx ->> 'site'",
}


def _linked_sql(audited: AuditedModel, event: str) -> str:
    """True for an event whose link in the hash chain is in the range asked for."""
    return (
        "EXISTS (SELECT 1 FROM audit_chain_link l "  # noqa: S608
        f"WHERE l.event_table = {_literal(audited.table)} AND l.event_id = {event} "
        "AND l.seq > %(seq_after)s AND l.seq <= %(seq_upto)s)"
    )


def _field_branch_sql(
    audited: AuditedModel,
    scope: ExportScope,
    sql_scope: _Scope,
    *,
    neutralise: bool,
    linked: bool = False,
) -> str | None:
    """One audited model's rows: its events, each spread into one row per changed field.

    Per event (before the spreading): its values as text, the previous event's values
    of the same record, and its context; per row only the choice of old and new value.
    ``linked`` keeps the events whose chain link is in a range (and reads, for the
    previous values, only the records those events belong to).
    """
    fields = _exported_fields(audited, scope)
    if not fields:
        return None
    values = ", ".join(
        f"{_value_sql(field, neutralise=neutralise)} AS v{i}" for i, field in enumerate(fields)
    )
    previous = ", ".join(
        f"lag(v.v{i}) OVER (PARTITION BY v.obj_id ORDER BY v.pgh_id) AS p{i}"
        for i in range(len(fields))
    )
    context = ", ".join(
        f"{_neutralised(expression) if neutralise else expression} AS {_q(name)}"
        for name, expression in _CONTEXT_COLUMNS.items()
    )
    spread = ", ".join(
        f"({i}, {_literal(field.name)}, b.p{i}, b.v{i}, "
        + ("false" if _is_auto_stamp(field) else f"b.v{i} IS DISTINCT FROM b.p{i}")
        + ")"
        for i, field in enumerate(fields)
    )
    conditions = [c.replace("e.pgh_created_at", "b.ts") for c in sql_scope.event_conditions]
    records = ""
    if linked:
        obj = "pgh_obj_id" if audited.refers_to_object else "pgh_id"
        conditions.append(_linked_sql(audited, "b.pgh_id"))
        records = (
            f"WHERE e.{obj} IN (SELECT x.{obj} FROM {_q(audited.table)} x "  # noqa: S608
            f"WHERE {_linked_sql(audited, 'x.pgh_id')})"
        )
    dates = " AND ".join(conditions)
    return f"""
    SELECT b.tbl, b.pgh_id, b.ts, b.action, b.record_id, b.participant_id, b.site_id,
           b.study_id, {", ".join(f"b.{_q(name)}" for name in _CONTEXT_COLUMNS)},
           b.ctx ->> 'user' AS user_id,
           {_literal(audited.record)}::text AS record,
           {_literal(audited.model._meta.label_lower)}::text AS model,
           f.ord, f.field,
           CASE b.action WHEN 'update' THEN f.prev WHEN 'delete' THEN f.cur END AS old_value,
           CASE WHEN b.action <> 'delete' THEN f.cur END AS new_value
      FROM (
        SELECT v.*, {previous}, {context}
          FROM (SELECT {_event_columns_sql(audited)}, {values}
                  FROM {_q(audited.table)} e {records}) v
      ) b
     CROSS JOIN LATERAL (VALUES {spread}) AS f(ord, field, prev, cur, changed)
     WHERE CASE WHEN b.action = 'update' THEN f.changed ELSE f.cur <> '' END
       {"AND " + dates if dates else ""}
    """  # noqa: S608  (names come from the model registry; values are parameters)


def _has_value_sql(field: models.Field[Any, Any]) -> str:
    """1 when the field of the event row ``e`` holds a value (not empty), else 0."""
    column = f"e.{_q(field.column)}"
    if isinstance(field, ArrayField):
        return f"COALESCE(cardinality({column}) > 0, false)::int"
    if isinstance(field, models.CharField | models.TextField):
        return f"COALESCE({column} <> '', false)::int"
    return f"({column} IS NOT NULL)::int"


def _event_branch_sql(audited: AuditedModel, scope: ExportScope, sql_scope: _Scope) -> str:
    """One audited model's events, one row each, with the rows each will give.

    Exact for a creation or a deletion (its fields with a value); a guess of
    :data:`ROWS_PER_UPDATE` for an update, which only the previous event would tell.
    """
    fields = _exported_fields(audited, scope)
    filled = " + ".join(_has_value_sql(field) for field in fields) or "0"
    dates = " AND ".join(sql_scope.event_conditions)
    return (
        f"SELECT {_event_columns_sql(audited)}, "  # noqa: S608
        f"CASE WHEN e.pgh_label = 'update' THEN {ROWS_PER_UPDATE} ELSE {filled} END AS rows "
        f"FROM {_q(audited.table)} e" + (f" WHERE {dates}" if dates else "")
    )


def _current_rows_sql(model: type[models.Model], columns: Sequence[str]) -> str:
    """Every row of a model as it is now, or as its latest event left it if it was deleted."""
    table = _q(model._meta.db_table)
    pk = _q(model._meta.pk.column)
    names = ", ".join(f"t.{_q(c)}" for c in columns)
    live = f"SELECT t.{pk}::bigint AS id, {names} FROM {table} t"  # noqa: S608
    event_model = event_model_of(model)
    if event_model is None:
        return live
    return (
        f"{live} UNION ALL (SELECT DISTINCT ON (t.pgh_obj_id) t.pgh_obj_id::bigint, {names} "  # noqa: S608
        f"FROM {_q(event_model._meta.db_table)} t "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} l WHERE l.{pk} = t.pgh_obj_id) "
        "ORDER BY t.pgh_obj_id, t.pgh_id DESC)"
    )


def _resolved_sql(union: str, sql_scope: _Scope) -> str:
    """The events or rows with their subject and site, narrowed to the scope."""
    where = " AND ".join(sql_scope.row_conditions)
    return f"""
    WITH subjects AS ({_current_rows_sql(Participant, ["site_id", "subject_id"])}),
         sites AS ({_current_rows_sql(Site, ["code", "study_id"])})
    SELECT u.*, sj.subject_id, st.code AS site_code
      FROM ({union}) u
      LEFT JOIN subjects sj ON sj.id = u.participant_id
      LEFT JOIN sites st ON st.id = COALESCE(sj.site_id, u.site_id)
     WHERE {where}
    """  # noqa: S608


def _union(branches: list[str], empty: str) -> str:
    return " UNION ALL ".join(f"({b})" for b in branches) if branches else empty


def audit_query(
    scope: ExportScope, *, neutralise: bool = False, links: tuple[int, int] | None = None
) -> tuple[str, dict[str, Any]]:
    """The audit trail of ``scope`` as one query: :data:`COLUMNS`, oldest change first.

    Timestamps are written in the session's time zone: run it inside
    :func:`export_transaction`. ``neutralise`` guards every free text against spreadsheet
    formulas (for CSV files). ``links`` (after, up to) keeps the events whose link in the
    hash chain has a sequence number in that range.
    """
    sql_scope = _scope_sql(scope)
    if links is not None:
        sql_scope.params.update(seq_after=links[0], seq_upto=links[1])
    branches = [
        branch
        for audited in _models_in_scope(scope)
        if (
            branch := _field_branch_sql(
                audited, scope, sql_scope, neutralise=neutralise, linked=links is not None
            )
        )
    ]
    empty = (
        "SELECT NULL::text AS tbl, NULL::bigint AS pgh_id, NULL::timestamptz AS ts, "
        "NULL::text AS action, NULL::text AS record_id, NULL::bigint AS participant_id, "
        "NULL::bigint AS site_id, NULL::bigint AS study_id, "
        + ", ".join(f"NULL::text AS {_q(name)}" for name in _CONTEXT_COLUMNS)
        + ", NULL::text AS user_id, NULL::text AS record, "
        "NULL::text AS model, NULL::int AS ord, NULL::text AS field, "
        "NULL::text AS old_value, NULL::text AS new_value WHERE false"
    )
    site = "COALESCE(r.site_code, r.context_site)"
    inner = {name: f"r.{_q(name)}" for name in COLUMNS if name not in ("timestamp", "event")}
    inner["site"] = _neutralised(site) if neutralise else site
    # Sorted before the time and the event are written out as text: narrower rows to sort.
    final = {"timestamp": timestamp_sql("s.ts"), "event": "s.tbl || ':' || s.pgh_id"}
    select = ", ".join(f"{final.get(name, f's.{_q(name)}')} AS {_q(name)}" for name in COLUMNS)
    sql = (
        f"SELECT {select} FROM ("  # noqa: S608
        + ", ".join(
            ["SELECT r.ts, r.tbl, r.pgh_id, r.ord"]
            + [f"{expression} AS {_q(name)}" for name, expression in inner.items()]
        )
        + f" FROM ({_resolved_sql(_union(branches, empty), sql_scope)}) r "
        "ORDER BY r.ts, r.tbl, r.pgh_id, r.ord) s"
    )
    return sql, sql_scope.params


def audit_events_query(scope: ExportScope) -> tuple[str, dict[str, Any]]:
    """The audit events of ``scope``, one row each.

    Columns: ``tbl, pgh_id, ts, ctx, subject_id, site_code, rows`` (``rows``: the audit
    rows the event gives, estimated for updates).
    """
    sql_scope = _scope_sql(scope)
    branches = [_event_branch_sql(audited, scope, sql_scope) for audited in _models_in_scope(scope)]
    empty = (
        "SELECT NULL::text AS tbl, NULL::bigint AS pgh_id, NULL::timestamptz AS ts, "
        "NULL::text AS action, NULL::jsonb AS ctx, NULL::bigint AS obj_id, "
        "NULL::text AS record_id, NULL::bigint AS participant_id, NULL::bigint AS site_id, "
        "NULL::bigint AS study_id, NULL::int AS rows WHERE false"
    )
    sql = (
        "SELECT r.tbl, r.pgh_id, r.ts, r.ctx, r.subject_id, r.site_code, r.rows "  # noqa: S608
        f"FROM ({_resolved_sql(_union(branches, empty), sql_scope)}) r"
    )
    return sql, sql_scope.params


#: Session settings of an export's transaction, besides the study's time zone: no JIT
#: compilation (the query's hundreds of expressions took 20 s to compile, longer than
#: running them on 70 000 rows); no parallel workers (passing wide rows between
#: processes cost more than it saved); room to sort.
_SESSION_SETTINGS = (
    ("jit", "off"),
    ("work_mem", "64MB"),
    ("max_parallel_workers_per_gather", "0"),
)


@contextmanager
def export_transaction() -> Iterator[psycopg.Connection[Any]]:
    """A transaction for reading the trail, with the study's time zone and the settings above.

    Yields the raw psycopg connection under Django's, for ``COPY`` and server-side
    cursors. The session's settings are put back on the way out.
    """
    settings_ = (("TimeZone", settings.TIME_ZONE), *_SESSION_SETTINGS)
    with transaction.atomic():
        connection.ensure_connection()
        raw = connection.connection
        assert raw is not None
        with raw.cursor() as cursor:
            previous = []
            for name, value in settings_:
                cursor.execute(
                    "SELECT current_setting(%s), set_config(%s, %s, true)", [name, name, value]
                )
                row = cursor.fetchone()
                assert row is not None
                previous.append((name, row[0]))
        # After an error the savepoint's rollback undoes the settings; after success, this.
        yield raw
        with raw.cursor() as cursor:
            for name, value in previous:
                cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def estimate_audit_rows(scope: ExportScope) -> int:
    """About how many rows the audit trail of ``scope`` has, read cheaply (no diffs)."""
    sql, params = audit_events_query(scope)
    with export_transaction() as raw, raw.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(sum(n.rows), 0) FROM ({sql}) n", params)  # noqa: S608
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def audit_rows(scope: ExportScope) -> Iterator[AuditRow]:
    """The audit trail of ``scope``, oldest change first, read through a server-side cursor."""
    sql, params = audit_query(scope)
    with export_transaction() as raw, raw.cursor(name="audit_rows") as cursor:
        cursor.itersize = FETCH_ROWS
        cursor.execute(sql, params)
        for row in cursor:
            yield AuditRow(*row)


def write_audit_csv(
    scope: ExportScope, out: BinaryIO, *, progress: Progress, chain_head: str
) -> None:
    """The audit trail as CSV (UTF-8, a header of :data:`COLUMNS`), written by ``COPY``.

    PostgreSQL writes the CSV and the rows stream through to ``out`` in blocks, so memory
    stays flat however long the trail. Progress counts rows (each ``COPY`` message is one
    row) against :func:`estimate_audit_rows`.
    """
    sql, params = audit_query(scope, neutralise=True)
    expected = estimate_audit_rows(scope)
    progress(0, expected)
    rows = -1  # the header is not a row of the trail
    next_report = PROGRESS_ROWS
    with export_transaction() as raw, raw.cursor() as cursor:
        buffer = bytearray()
        with cursor.copy(
            f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')",  # noqa: S608
            params,
        ) as copy:
            for chunk in copy:
                buffer += chunk
                rows += 1
                if len(buffer) >= WRITE_BYTES:
                    out.write(buffer)
                    buffer.clear()
                    if rows >= next_report:
                        next_report = rows + PROGRESS_ROWS
                        progress(rows, max(expected, rows + 1))
        out.write(buffer)
    rows = max(rows, 0)
    progress(rows, rows)
