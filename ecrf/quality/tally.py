# ruff: noqa: S608  (SQL built from the catalogue's codes and names, checked as identifiers)
"""The verification tally: for each participant and each form a monitor verifies, how many
records she has and how many of their values carry a standing verification mark
(critical values counted apart), kept by the database as the rows are written.

Two kinds of trigger keep it, so that it holds whatever writes (the UI, the API, a
command, raw SQL):

- on each verifiable form's table (put there by the study-data guard,
  :func:`ecrf.common.guard.guarded`), a record inserted adds one to her records of that
  form, a record deleted takes one away;
- on the verification marks (:func:`mark_tally_trigger`), a mark standing on an entered
  field of a record adds one to her verified values of that form, and to the critical
  ones when the catalogue calls the field critical; a mark cleared or deleted takes it
  away again. The database guard clears the mark of a value that changes, so the tally
  follows every change.

A third trigger, on the tally itself (:func:`totals_trigger`), adds up a participant's
rows into her totals (:class:`~ecrf.quality.models.ParticipantVerification`): values
verified and to verify, critical ones apart, and forms with values left to verify. Pages
that summarise verification (the homes, the worklist, the data-quality report) read
those totals, one row per participant, instead of counting every record and mark.
:func:`tally_rebuild` counts the tally and the totals afresh from the rows themselves;
:func:`tally_drift` lists where they differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import pgtrigger
from django.db import connection, transaction

from ecrf.common import catalogue
from ecrf.common.guard import TALLY_TABLE, sql_literal


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(sql_literal(name) for name in names)


@dataclass(frozen=True)
class FormSize:
    """How many values one record of a verifiable form holds to verify, critical apart."""

    code: str
    entered: tuple[str, ...]
    critical: tuple[str, ...]


def form_sizes() -> tuple[FormSize, ...]:
    """Each form a monitor verifies, with its entered and critical fields (the catalogue's)."""
    return tuple(
        FormSize(
            code=form.code,
            entered=tuple(f.name for f in form.entered_fields),
            critical=tuple(f.name for f in form.entered_fields if f.critical),
        )
        for form in catalogue.queryable_forms()
    )


def mark_weight_sql(record: str, field: str) -> str:
    """SQL giving what a standing mark on ``record``'s ``field`` counts for: 2 for a
    critical entered field, 1 for another entered field, 0 for anything else."""
    cases = []
    for size in form_sizes():
        form = sql_literal(size.code)
        if size.critical:
            cases.append(f"WHEN {record} = {form} AND {field} IN ({_names(size.critical)}) THEN 2")
        cases.append(f"WHEN {record} = {form} AND {field} IN ({_names(size.entered)}) THEN 1")
    return f"CASE {' '.join(cases)} ELSE 0 END"


TOTALS_TABLE = "quality_participantverification"


def _per_record_sql(form: str, critical: bool) -> str:
    """SQL: how many values (critical ones only, if ``critical``) one record of the form
    named by ``form`` holds to verify."""
    cases = " ".join(
        f"WHEN {sql_literal(size.code)} THEN {len(size.critical if critical else size.entered)}"
        for size in form_sizes()
    )
    return f"CASE {form} {cases} ELSE 0 END"


def _totals_sql(where: str) -> str:
    """Per participant chosen by ``where`` (on ``t``): her values verified and to verify,
    critical ones apart, and her forms with values not verified, from her tally."""
    verifiable = f"t.records * {_per_record_sql('t.form', critical=False)}"
    critical = f"t.records * {_per_record_sql('t.form', critical=True)}"
    return (
        "SELECT t.participant_id, coalesce(sum(t.verified), 0)::integer, "
        f"coalesce(sum({verifiable}), 0)::integer, "
        "coalesce(sum(t.critical_verified), 0)::integer, "
        f"coalesce(sum({critical}), 0)::integer, "
        f"(count(*) FILTER (WHERE t.verified < {verifiable}))::integer "
        f"FROM {TALLY_TABLE} t WHERE t.records > 0 AND ({where}) GROUP BY t.participant_id"
    )


_TOTALS_COLUMNS = (
    "participant_id, verified, verifiable, critical_verified, critical_verifiable, forms_awaiting"
)


def totals_trigger() -> pgtrigger.Trigger:
    """The trigger adding up a participant's tally rows into her totals, whenever one of
    them changes. Her totals row is made (if it is not there), locked, and only then
    counted in a statement of its own, which sees what a writer before it committed."""
    columns = _TOTALS_COLUMNS.split(", ")[1:]
    return pgtrigger.Trigger(
        name="verification_totals",
        when=pgtrigger.After,
        operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
        declare=[("pid", "bigint")],
        func=f"""
            IF current_setting('ecrf.tally_rebuild', true) = 'on' THEN
                RETURN NULL;  -- tally_rebuild adds up every participant's totals at the end
            END IF;
            pid := CASE WHEN TG_OP = 'DELETE' THEN OLD.participant_id
                        ELSE NEW.participant_id END;
            INSERT INTO {TOTALS_TABLE} (participant_id, site_id, {", ".join(columns)})
            SELECT p.id, p.site_id, 0, 0, 0, 0, 0 FROM participants_participant p
             WHERE p.id = pid
            ON CONFLICT (participant_id) DO NOTHING;
            PERFORM 1 FROM {TOTALS_TABLE} WHERE participant_id = pid FOR UPDATE;
            UPDATE {TOTALS_TABLE} v
               SET ({", ".join(columns)}) = (
                   SELECT {", ".join(f"coalesce(c.{c}, 0)" for c in columns)}
                     FROM (SELECT 1) AS one
                     LEFT JOIN ({_totals_sql("t.participant_id = pid")}) AS c ({_TOTALS_COLUMNS})
                       ON TRUE)
             WHERE v.participant_id = pid;
            RETURN NULL;
        """,
    )


def mark_tally_trigger() -> pgtrigger.Trigger:
    """The trigger counting standing marks on entered values per participant and form."""
    return pgtrigger.Trigger(
        name="verification_tally",
        when=pgtrigger.After,
        operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
        declare=[("was", "integer"), ("now", "integer")],
        func=f"""
            was := 0;
            now := 0;
            IF TG_OP <> 'INSERT' AND OLD.cleared_at IS NULL AND OLD.record_id IS NOT NULL THEN
                was := {mark_weight_sql("OLD.record", "OLD.field")};
            END IF;
            IF TG_OP <> 'DELETE' AND NEW.cleared_at IS NULL AND NEW.record_id IS NOT NULL THEN
                now := {mark_weight_sql("NEW.record", "NEW.field")};
            END IF;
            IF was > 0 THEN
                UPDATE {TALLY_TABLE}
                   SET verified = verified - 1,
                       critical_verified = critical_verified - (was = 2)::integer
                 WHERE participant_id = OLD.participant_id AND form = OLD.record;
            END IF;
            IF now > 0 THEN
                INSERT INTO {TALLY_TABLE} AS t (participant_id, form, records, verified,
                                               critical_verified)
                VALUES (NEW.participant_id, NEW.record, 0, 1, (now = 2)::integer)
                ON CONFLICT (participant_id, form) DO UPDATE
                   SET verified = t.verified + 1,
                       critical_verified = t.critical_verified + (now = 2)::integer;
            END IF;
            RETURN NULL;
        """,
    )


def _counted_sql() -> str:
    """Per participant and form, records and standing marks counted from the rows."""
    parts = []
    for form in catalogue.queryable_forms():
        table = connection.ops.quote_name(form.model_class._meta.db_table)
        column = connection.ops.quote_name(f"{form.participant_path}_id")
        parts.append(
            f"SELECT {column} AS participant_id, {sql_literal(form.code)} AS form, "
            f"count(*) AS records, 0 AS verified, 0 AS critical_verified "
            f"FROM {table} GROUP BY 1"
        )
    weight = mark_weight_sql("v.record", "v.field")
    parts.append(
        "SELECT v.participant_id, v.record, 0, count(*), "
        f"count(*) FILTER (WHERE {weight} = 2) "
        "FROM quality_verification v "
        f"WHERE v.cleared_at IS NULL AND v.record_id IS NOT NULL AND {weight} > 0 "
        "GROUP BY 1, 2"
    )
    union = " UNION ALL ".join(parts)
    return (
        "SELECT participant_id, form, sum(records)::integer AS records, "
        "sum(verified)::integer AS verified, "
        "sum(critical_verified)::integer AS critical_verified "
        f"FROM ({union}) AS counted GROUP BY participant_id, form"
    )


def tally_rebuild() -> int:
    """Count the tally and each participant's totals afresh from the records and marks
    (after rows were written with triggers off, or when the catalogue changed which
    fields are verified); the number of tally rows."""
    with transaction.atomic(), connection.cursor() as cursor:
        # The totals are added up once at the end, not once per tally row written.
        cursor.execute("SELECT set_config('ecrf.tally_rebuild', 'on', true)")
        cursor.execute(f"DELETE FROM {TALLY_TABLE}")
        cursor.execute(
            f"INSERT INTO {TALLY_TABLE} (participant_id, form, records, verified, "
            f"critical_verified) {_counted_sql()}"
        )
        rows = cursor.rowcount
        cursor.execute("SELECT set_config('ecrf.tally_rebuild', 'off', true)")
        cursor.execute(f"DELETE FROM {TOTALS_TABLE}")
        cursor.execute(
            f"INSERT INTO {TOTALS_TABLE} (site_id, {_TOTALS_COLUMNS}) "
            f"SELECT p.site_id, c.* FROM ({_totals_sql('TRUE')}) AS c "
            "JOIN participants_participant p ON p.id = c.participant_id"
        )
        return rows


def tally_drift() -> list[tuple[int, str, tuple[int, ...], tuple[int, ...]]]:
    """Where the tally differs from a fresh count: (participant id, form, (records,
    verified, critical verified) in the tally, the same counted from the rows); then
    where a participant's totals differ from her tally added up afresh (form ``*``:
    verified, verifiable, critical verified, critical verifiable, forms awaiting)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(t.participant_id, c.participant_id), coalesce(t.form, c.form), "
            "coalesce(t.records, 0), coalesce(t.verified, 0), coalesce(t.critical_verified, 0), "
            "coalesce(c.records, 0), coalesce(c.verified, 0), coalesce(c.critical_verified, 0) "
            f"FROM {TALLY_TABLE} t FULL JOIN ({_counted_sql()}) c "
            "ON c.participant_id = t.participant_id AND c.form = t.form "
            "WHERE (coalesce(t.records, 0), coalesce(t.verified, 0), "
            "coalesce(t.critical_verified, 0)) IS DISTINCT FROM "
            "(coalesce(c.records, 0), coalesce(c.verified, 0), coalesce(c.critical_verified, 0)) "
            "ORDER BY 1, 2"
        )
        drift = [(row[0], row[1], tuple(row[2:5]), tuple(row[5:8])) for row in cursor.fetchall()]
        # Each participant's totals, against her tally added up afresh.
        kept = ", ".join(f"coalesce(v.{c}, 0)" for c in _TOTALS_COLUMNS.split(", ")[1:])
        fresh = ", ".join(f"coalesce(c.{c}, 0)" for c in _TOTALS_COLUMNS.split(", ")[1:])
        cursor.execute(
            f"SELECT coalesce(v.participant_id, c.participant_id), {kept}, {fresh} "
            f"FROM {TOTALS_TABLE} v FULL JOIN ({_totals_sql('TRUE')}) AS c "
            f"({_TOTALS_COLUMNS}) ON c.participant_id = v.participant_id "
            f"WHERE ({kept}) IS DISTINCT FROM ({fresh}) ORDER BY 1"
        )
        drift += [(row[0], "*", tuple(row[1:6]), tuple(row[6:11])) for row in cursor.fetchall()]
        return drift
