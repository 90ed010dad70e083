"""The database guard on every table of participant data, and on the study's settings
and design tables.

One PostgreSQL function, called by a BEFORE trigger on each guarded table, so that
it holds whatever writes (the UI, the API, the admin, a command, raw SQL):

- a write to locked data (study, participant or form lock) is refused with SQLSTATE
  ``EL001``, which the app answers with 409;
- any change voids the participant's valid signatures, saying what changed;
- a change to a verified value clears its source-data-verification mark, saying why.

On the table of a form a monitor verifies, a second trigger counts its records per
participant in the verification tally (:mod:`ecrf.quality.tally`).
"""

from __future__ import annotations

import re
from typing import TypeVar

import pgtrigger
from django.db import models
from django.utils.translation import gettext as _

from ecrf.common import catalogue

M = TypeVar("M", bound=type[models.Model])

LOCKED_SQLSTATE = "EL001"

#: Per participant and verifiable form: records, and standing marks on their values.
TALLY_TABLE = "quality_formtally"

_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def sql_literal(name: str) -> str:
    """A catalogue code or field name as an SQL string literal (they are identifiers)."""
    if not _NAME.match(name):
        raise ValueError(f"not an identifier: {name!r}")
    return f"'{name}'"


#: Record code (the catalogue's form code) of each guarded model, filled by ``guarded``.
GUARDED_RECORDS: dict[type[models.Model], str] = {}

GUARD_FUNCTION_SQL = r"""
CREATE OR REPLACE FUNCTION ecrf_study_data_guard(
    pid bigint, rec text, op text, old_row jsonb, new_row jsonb, site bigint DEFAULT NULL
) RETURNS void AS $$
DECLARE
    lock_scope text;
    changed text[];
    row_id text;
BEGIN
    IF pid IS NULL THEN
        RETURN;
    END IF;
    SELECT l.scope INTO lock_scope FROM quality_lock l
     WHERE l.unlocked_at IS NULL
       AND (
            (l.scope = 'study' AND l.study_id = (
                SELECT s.study_id FROM studies_site s WHERE s.id = coalesce(
                    site, (SELECT p.site_id FROM participants_participant p WHERE p.id = pid))))
         OR (l.scope = 'participant' AND l.participant_id = pid)
         OR (l.scope = 'form' AND l.participant_id = pid AND l.record = rec)
       )
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'EL001',
            MESSAGE = format('locked %s: %s', lock_scope, rec);
    END IF;
    IF op = 'UPDATE' THEN
        SELECT array_agg(n.key ORDER BY n.key) INTO changed
          FROM jsonb_each(new_row) n
         WHERE n.value IS DISTINCT FROM old_row -> n.key
           AND n.key NOT IN ('updated_at');
        IF changed IS NULL THEN
            RETURN;
        END IF;
    END IF;
    row_id := coalesce(new_row ->> 'id', old_row ->> 'id');
    UPDATE quality_signature
       SET voided_at = now(),
           void_reason = format('%s %s changed: %s', rec, row_id,
                                coalesce(array_to_string(changed, ', '), lower(op)))
     WHERE participant_id = pid AND voided_at IS NULL;
    UPDATE quality_verification v
       SET cleared_at = now(),
           cleared_reason = format('%s %s changed after verification: %s', rec, row_id,
                                   coalesce(array_to_string(changed, ', '), lower(op)))
     WHERE v.participant_id = pid AND v.cleared_at IS NULL AND v.record = rec
       AND (v.record_id IS NULL OR v.record_id::text = row_id)
       AND (v.field = '' OR op <> 'UPDATE' OR v.field = ANY(changed));
END;
$$ LANGUAGE plpgsql;
"""


def guarded(model: M) -> M:
    """Put a model of participant data under the lock, signature and verification guard.

    The record code, the column naming the participant and, for the participant table
    (whose new rows have no participant to find their study by), the row's own site
    column all come from the model's entry in the form catalogue.
    """
    form = catalogue.form_of_model(model._meta.label)
    if form is None or not form.holds_participant_data:
        raise LookupError(f"{model._meta.label} holds no participant data in the form catalogue")
    record = form.code
    participant_column = f"{form.participant_path}_id" if form.participant_path else "id"
    site_column = None if form.participant_path else "site_id"
    GUARDED_RECORDS[model] = record
    site_new = f"NEW.{site_column}" if site_column else "NULL"
    site_old = f"OLD.{site_column}" if site_column else "NULL"
    pid_new = f"NEW.{participant_column}"
    pid_old = f"OLD.{participant_column}"
    trigger = pgtrigger.Trigger(
        name="study_data_guard",
        when=pgtrigger.Before,
        operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
        func=f"""
                IF TG_OP = 'INSERT' THEN
                    PERFORM ecrf_study_data_guard(
                        {pid_new}, '{record}', TG_OP, NULL, to_jsonb(NEW), {site_new});
                    RETURN NEW;
                ELSIF TG_OP = 'UPDATE' THEN
                    PERFORM ecrf_study_data_guard(
                        {pid_new}, '{record}', TG_OP, to_jsonb(OLD), to_jsonb(NEW), {site_new});
                    RETURN NEW;
                END IF;
                PERFORM ecrf_study_data_guard(
                    {pid_old}, '{record}', TG_OP, to_jsonb(OLD), NULL, {site_old});
                RETURN OLD;
            """,
    )
    if form.queryable and form.participant_path:
        return pgtrigger.register(trigger, _record_tally_trigger(record, participant_column))(model)
    return pgtrigger.register(trigger)(model)


def _record_tally_trigger(code: str, participant_column: str) -> pgtrigger.Trigger:
    """The trigger counting the records of the form ``code`` per participant."""
    form = sql_literal(code)
    return pgtrigger.Trigger(
        name="verification_tally",
        when=pgtrigger.After,
        operation=pgtrigger.Insert | pgtrigger.Delete,
        func=f"""
            IF TG_OP = 'INSERT' THEN
                INSERT INTO {TALLY_TABLE} AS t (participant_id, form, records, verified,
                                               critical_verified)
                VALUES (NEW.{participant_column}, {form}, 1, 0, 0)
                ON CONFLICT (participant_id, form) DO UPDATE SET records = t.records + 1;
            ELSE
                UPDATE {TALLY_TABLE} SET records = records - 1
                 WHERE participant_id = OLD.{participant_column} AND form = {form};
            END IF;
            RETURN NULL;
        """,  # noqa: S608  (a table's column and a code checked as an identifier)
    )


def settings_guarded(model: M) -> M:
    """Put the study's design and analysis settings under the study's database lock.

    While the study is locked, an update that changes any setting the catalogue marks as
    frozen by the lock is refused with SQLSTATE ``EL001``, whatever path it takes (the
    admin, a command, raw SQL); operational settings may still change.
    """
    trigger = pgtrigger.Trigger(
        name="settings_locked_with_study",
        when=pgtrigger.Before,
        operation=pgtrigger.Update,
        condition=pgtrigger.AnyChange(*catalogue.settings_frozen_by_study_lock()),
        func="""
                IF EXISTS (SELECT 1 FROM quality_lock l
                            WHERE l.scope = 'study' AND l.study_id = OLD.id
                              AND l.unlocked_at IS NULL) THEN
                    RAISE EXCEPTION USING
                        ERRCODE = 'EL001',
                        MESSAGE = 'locked study: study settings';
                END IF;
                RETURN NEW;
            """,
    )
    return pgtrigger.register(trigger)(model)


def design_guarded(model: M) -> M:
    """Put a table of the study's design under the study's database lock.

    While the study is locked, a row added, removed or changed in anything but its
    operational columns (the catalogue's :data:`~ecrf.common.catalogue.STUDY_DESIGN_TABLES`
    entry says which) is refused with SQLSTATE ``EL001``, whatever path the write takes.
    """
    table = catalogue.study_design_table(model._meta.label)
    if table.study_path == "site":
        study_of = "(SELECT s.study_id FROM studies_site s WHERE s.id = {row}.site_id)"
    else:
        study_of = "{row}.study_id"
    operational = ", ".join(f"'{name}'" for name in table.operational)
    unchanged = (
        f"(to_jsonb(NEW) - ARRAY[{operational}]::text[])"
        f" = (to_jsonb(OLD) - ARRAY[{operational}]::text[])"
    )
    trigger = pgtrigger.Trigger(
        name="design_locked_with_study",
        when=pgtrigger.Before,
        operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
        # the names come from the catalogue, never from a user
        func=f"""
                IF TG_OP = 'UPDATE' AND {unchanged} THEN
                    RETURN NEW;
                END IF;
                IF EXISTS (SELECT 1 FROM quality_lock l
                            WHERE l.scope = 'study' AND l.unlocked_at IS NULL
                              AND l.study_id IN ({study_of.format(row="OLD")},
                                                 {study_of.format(row="NEW")})) THEN
                    RAISE EXCEPTION USING
                        ERRCODE = 'EL001',
                        MESSAGE = format('locked study: %s', TG_TABLE_NAME);
                END IF;
                RETURN coalesce(NEW, OLD);
            """,  # noqa: S608
    )
    return pgtrigger.register(trigger)(model)


def is_lock_violation(exc: BaseException) -> bool:
    """Whether a database error is the guard refusing a write to locked data."""
    cause: BaseException | None = exc
    while cause is not None:
        if getattr(cause, "sqlstate", None) == LOCKED_SQLSTATE:
            return True
        cause = cause.__cause__
    return False


def locked_message() -> str:
    """What a user is told when a write meets locked data."""
    return _(
        "This data is locked by the data manager and cannot change until it is unlocked "
        "with a reason."
    )
