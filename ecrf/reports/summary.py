# ruff: noqa: S608  (SQL built from this module's constants and table names)
"""The participant summary: one row per participant with the facts the reports count,
kept by the database as her rows are written, so that a report adds up one narrow row
per participant instead of joining nine tables.

An AFTER trigger on each table the facts come from (the participant, eligibility,
consent, withdrawal, allocation, embryo transfer, dose diary and both endpoints) calls
one function for the participant the row belongs to; a site's new time zone calls it for
each of the site's participants, as her randomization is dated by the site's calendar.
The function first locks her summary row, then counts her facts afresh in a statement of
its own: a write that waited for the lock sees what the writer before it committed, so
two writes to her data at once leave the summary as the data stand. The diary's trigger
first leaves out the changes that cannot change her facts, the commonest write of all
among them: an intake added once a taken one is counted; her own row's trigger writes a
new status as it is, the one fact her row gives that changes. ``summary_install`` runs
after every ``migrate``; it (re)creates the function and triggers and counts every
summary afresh.
"""

from __future__ import annotations

from django.db import connection, transaction

SUMMARY_TABLE = "reports_participantsummary"

#: The tables the facts come from, each with its column naming the participant.
SOURCES: tuple[tuple[str, str], ...] = (
    ("participants_participant", "id"),
    ("participants_eligibility", "participant_id"),
    ("participants_consent", "participant_id"),
    ("participants_withdrawal", "participant_id"),
    ("randomization_slot", "participant_id"),
    ("schedule_embryotransfer", "participant_id"),
    ("schedule_doseentry", "participant_id"),
    ("endpoints_biochemicalpregnancy", "participant_id"),
    ("endpoints_clinicalpregnancy", "participant_id"),
)

#: The facts of the participants chosen by ``{where}`` (a condition on ``p``).
_FACTS = """
SELECT p.id, p.site_id, p.status, a.code,
       date_trunc('month', s.allocated_at AT TIME ZONE site.time_zone)::date, e.eligible,
       coalesce(e.failed_criteria, ARRAY[]::varchar[]),
       EXISTS (SELECT 1 FROM participants_consent c WHERE c.participant_id = p.id),
       coalesce(t.performed, FALSE),
       EXISTS (SELECT 1 FROM schedule_doseentry d WHERE d.participant_id = p.id AND d.taken),
       b.result, k.gestational_sac_seen, w.id IS NOT NULL, coalesce(w.reason, '')
  FROM participants_participant p
  JOIN studies_site site ON site.id = p.site_id
  LEFT JOIN randomization_slot s ON s.participant_id = p.id
  LEFT JOIN studies_arm a ON a.id = s.arm_id
  LEFT JOIN participants_eligibility e ON e.participant_id = p.id
  LEFT JOIN schedule_embryotransfer t ON t.participant_id = p.id
  LEFT JOIN endpoints_biochemicalpregnancy b ON b.participant_id = p.id
  LEFT JOIN endpoints_clinicalpregnancy k ON k.participant_id = p.id
  LEFT JOIN participants_withdrawal w ON w.participant_id = p.id
 WHERE {where}
"""

_COLUMNS = (
    "participant_id, site_id, status, arm, randomized_month, eligible, failed_criteria, "
    "consented, et_performed, dose_taken, biochemical_result, clinical_sac_seen, withdrawn, "
    "withdrawal_reason"
)
_UPDATES = ", ".join(f"{column} = EXCLUDED.{column}" for column in _COLUMNS.split(", ")[1:])

FUNCTIONS_SQL = f"""
CREATE OR REPLACE FUNCTION ecrf_participant_summary(pid bigint) RETURNS void AS $$
BEGIN
    IF pid IS NULL THEN
        RETURN;
    END IF;
    PERFORM 1 FROM {SUMMARY_TABLE} WHERE participant_id = pid FOR UPDATE;
    INSERT INTO {SUMMARY_TABLE} ({_COLUMNS})
    {_FACTS.format(where="p.id = pid")}
    ON CONFLICT (participant_id) DO UPDATE SET {_UPDATES};
END;
$$ LANGUAGE plpgsql;

-- The recount a row's change owes: the participant it belonged to, and the one it
-- belongs to now when that is another (a trigger's OLD is NULL on INSERT, NEW on DELETE).
CREATE OR REPLACE FUNCTION ecrf_participant_summary_recount(
    op text, old_pid bigint, new_pid bigint
) RETURNS void AS $$
BEGIN
    IF op <> 'INSERT' THEN
        PERFORM ecrf_participant_summary(old_pid);
    END IF;
    IF op = 'INSERT' OR (op = 'UPDATE' AND new_pid IS DISTINCT FROM old_pid) THEN
        PERFORM ecrf_participant_summary(new_pid);
    END IF;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION ecrf_participant_summary_trigger() RETURNS trigger AS $$
DECLARE
    column_name text := TG_ARGV[0];
    old_pid bigint;
    new_pid bigint;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        old_pid := (to_jsonb(OLD) ->> column_name)::bigint;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_pid := (to_jsonb(NEW) ->> column_name)::bigint;
    END IF;
    PERFORM ecrf_participant_summary_recount(TG_OP, old_pid, new_pid);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION ecrf_participant_summary_dose() RETURNS trigger AS $$
BEGIN
    -- Of her diary the summary counts whether an intake was taken: a change that keeps
    -- the participant and the taken mark changes nothing of it, nor does a missed intake
    -- added, nor a taken one added while it counts one already (read under the lock a
    -- recount would take).
    IF (TG_OP = 'UPDATE' AND NEW.participant_id = OLD.participant_id
        AND NEW.taken = OLD.taken)
       OR (TG_OP = 'INSERT' AND NOT NEW.taken) THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' AND NEW.taken THEN
        PERFORM 1 FROM {SUMMARY_TABLE}
          WHERE participant_id = NEW.participant_id AND dose_taken FOR UPDATE;
        IF FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    PERFORM ecrf_participant_summary_recount(TG_OP, OLD.participant_id, NEW.participant_id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION ecrf_participant_summary_participant() RETURNS trigger AS $$
BEGIN
    -- Of her own row the summary keeps her site and status: a change of neither changes
    -- nothing of it, and a new status alone is written as it is, under the lock a recount
    -- would take (her row, locked by this change, cannot change status meanwhile).
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id AND NEW.site_id = OLD.site_id THEN
        IF NEW.status = OLD.status THEN
            RETURN NULL;
        END IF;
        UPDATE {SUMMARY_TABLE} SET status = NEW.status WHERE participant_id = NEW.id;
        IF FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    PERFORM ecrf_participant_summary_recount(TG_OP, OLD.id, NEW.id);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION ecrf_participant_summary_site() RETURNS trigger AS $$
BEGIN
    PERFORM ecrf_participant_summary(p.id) FROM participants_participant p
     WHERE p.site_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

#: A site's time zone dates her randomization by the month of the site's calendar.
SITE_TRIGGER_SQL = """
DROP TRIGGER IF EXISTS ecrf_participant_summary ON studies_site;
CREATE TRIGGER ecrf_participant_summary AFTER UPDATE OF time_zone ON studies_site
    FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
    EXECUTE FUNCTION ecrf_participant_summary_site();
"""


#: Tables whose trigger knows which of their changes leave her facts as they were.
_OWN_FUNCTIONS = {
    "participants_participant": "ecrf_participant_summary_participant()",
    "schedule_doseentry": "ecrf_participant_summary_dose()",
}


def _trigger_sql(table: str, column: str) -> str:
    quoted = connection.ops.quote_name(table)
    function = _OWN_FUNCTIONS.get(table, f"ecrf_participant_summary_trigger('{column}')")
    return f"""
    DROP TRIGGER IF EXISTS ecrf_participant_summary ON {quoted};
    CREATE TRIGGER ecrf_participant_summary AFTER INSERT OR UPDATE OR DELETE ON {quoted}
        FOR EACH ROW EXECUTE FUNCTION {function};
    """


def summary_rebuild() -> int:
    """Count every participant's summary afresh (after rows were written with triggers
    off); the number of participants."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {SUMMARY_TABLE}")
        cursor.execute(f"INSERT INTO {SUMMARY_TABLE} ({_COLUMNS}) {_FACTS.format(where='TRUE')}")
        return cursor.rowcount


def summary_drift() -> list[int]:
    """The participants whose summary differs from their facts counted afresh."""
    columns = _COLUMNS.split(", ")
    fresh = ", ".join(f"f.{column}" for column in columns)
    kept = ", ".join(f"m.{column}" for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT coalesce(f.participant_id, m.participant_id) "
            f"FROM ({_FACTS.format(where='TRUE')}) AS f ({_COLUMNS}) "
            f"FULL JOIN {SUMMARY_TABLE} m ON m.participant_id = f.participant_id "
            f"WHERE ({fresh}) IS DISTINCT FROM ({kept}) ORDER BY 1"
        )
        return [row[0] for row in cursor.fetchall()]


def summary_install() -> None:
    """(Re)create the summary's function and triggers and count every summary afresh
    (nothing while the summary's table is not there, as after ``migrate reports zero``)."""
    if SUMMARY_TABLE not in connection.introspection.table_names():
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(FUNCTIONS_SQL)
        for table, column in SOURCES:
            cursor.execute(_trigger_sql(table, column))
        cursor.execute(SITE_TRIGGER_SQL)
        summary_rebuild()
