# ruff: noqa: S608  (SQL built from this module's constants and table names)
"""The safety report's counts, kept per site by the database as adverse events are
written, so that the report adds up a few rows per site instead of grouping every event.

An AFTER trigger on the adverse events (on insert and delete, and on an update of what the
report groups by) counts the site of the event's participant afresh; so does a trigger on
the participant summary when her arm or site changes while she has events. The count of a
site first takes a lock of its own on the site, then deletes and writes the site's rows
in statements of their own: a writer that waited for the lock counts with the first
writer's events committed, so two events written at once at one site are both counted.
``safety_counts_install`` runs after every ``migrate`` (after the summary's), and
re-creates the functions and triggers and counts every site afresh.
"""

from __future__ import annotations

from django.db import connection, transaction

COUNTS_TABLE = "reports_siteadverseeventcount"
EVENTS_TABLE = "safety_adverse_events"
SUMMARY_TABLE = "reports_participantsummary"

#: The site-wide lock's first key (the site's id is the second).
_LOCK_CLASS = 18_420

_COLUMNS = "site_id, kind, arm, ctcae_grade, serious, related, term, events, participants"

#: The events of the sites chosen by ``{where}`` (a condition on ``m``, the participants'
#: summaries), grouped as the report shows them; ``GROUPING(term, serious)`` names the
#: grouping (1 term and grade, 2 cell, 3 arm), as ``SiteAdverseEventCount.Kind`` does.
_GROUPED = f"""
SELECT m.site_id, GROUPING(e.term, e.serious), m.arm, e.ctcae_grade, e.serious, e.related,
       e.term, count(*), count(DISTINCT e.participant_id)
  FROM {EVENTS_TABLE} e
  JOIN {SUMMARY_TABLE} m ON m.participant_id = e.participant_id
 WHERE {{where}}
 GROUP BY GROUPING SETS ((m.site_id, m.arm, e.ctcae_grade, e.serious, e.related),
                         (m.site_id, m.arm),
                         (m.site_id, m.arm, e.term, e.ctcae_grade))
"""

#: The events of site ``sid``, found through their participants' index: a site's count
#: reads the site's events, however many the study has.
_OF_SITE = f"""m.site_id = sid AND e.participant_id = ANY (ARRAY(
    SELECT s.participant_id FROM {SUMMARY_TABLE} s WHERE s.site_id = sid))"""

FUNCTIONS_SQL = f"""
CREATE OR REPLACE FUNCTION ecrf_adverse_event_counts(sid bigint) RETURNS void AS $$
BEGIN
    IF sid IS NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock({_LOCK_CLASS}, sid::integer);
    DELETE FROM {COUNTS_TABLE} WHERE site_id = sid;
    INSERT INTO {COUNTS_TABLE} ({_COLUMNS}) {_GROUPED.format(where=_OF_SITE)};
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION ecrf_adverse_event_counts_event() RETURNS trigger AS $$
DECLARE
    old_site bigint;
    new_site bigint;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        SELECT site_id INTO old_site FROM participants_participant
         WHERE id = OLD.participant_id;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        SELECT site_id INTO new_site FROM participants_participant
         WHERE id = NEW.participant_id;
    END IF;
    IF old_site IS DISTINCT FROM new_site THEN
        PERFORM ecrf_adverse_event_counts(old_site);
    END IF;
    PERFORM ecrf_adverse_event_counts(new_site);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION ecrf_adverse_event_counts_summary() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM {EVENTS_TABLE} WHERE participant_id = NEW.participant_id) THEN
        IF OLD.site_id IS DISTINCT FROM NEW.site_id THEN
            PERFORM ecrf_adverse_event_counts(OLD.site_id);
        END IF;
        PERFORM ecrf_adverse_event_counts(NEW.site_id);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""

#: An update counts the site afresh only if it changes what the report groups by.
TRIGGERS_SQL = f"""
DROP TRIGGER IF EXISTS ecrf_adverse_event_counts ON {EVENTS_TABLE};
CREATE TRIGGER ecrf_adverse_event_counts AFTER INSERT OR DELETE ON {EVENTS_TABLE}
    FOR EACH ROW EXECUTE FUNCTION ecrf_adverse_event_counts_event();
DROP TRIGGER IF EXISTS ecrf_adverse_event_counts_change ON {EVENTS_TABLE};
CREATE TRIGGER ecrf_adverse_event_counts_change
    AFTER UPDATE OF participant_id, term, ctcae_grade, serious, related ON {EVENTS_TABLE}
    FOR EACH ROW
    WHEN ((OLD.participant_id, OLD.term, OLD.ctcae_grade, OLD.serious, OLD.related)
          IS DISTINCT FROM (NEW.participant_id, NEW.term, NEW.ctcae_grade, NEW.serious,
                            NEW.related))
    EXECUTE FUNCTION ecrf_adverse_event_counts_event();
DROP TRIGGER IF EXISTS ecrf_adverse_event_counts ON {SUMMARY_TABLE};
CREATE TRIGGER ecrf_adverse_event_counts AFTER UPDATE OF arm, site_id ON {SUMMARY_TABLE}
    FOR EACH ROW
    WHEN (OLD.arm IS DISTINCT FROM NEW.arm OR OLD.site_id IS DISTINCT FROM NEW.site_id)
    EXECUTE FUNCTION ecrf_adverse_event_counts_summary();
"""

#: The trigger names and the tables they are on.
TRIGGERS: tuple[tuple[str, str], ...] = (
    (EVENTS_TABLE, "ecrf_adverse_event_counts"),
    (EVENTS_TABLE, "ecrf_adverse_event_counts_change"),
    (SUMMARY_TABLE, "ecrf_adverse_event_counts"),
)


def safety_counts_rebuild() -> int:
    """Count every site's adverse events afresh (after rows were written with triggers
    off, and after the participants' summaries were counted afresh); the rows written."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {COUNTS_TABLE}")
        cursor.execute(f"INSERT INTO {COUNTS_TABLE} ({_COLUMNS}) {_GROUPED.format(where='TRUE')}")
        return cursor.rowcount


def safety_counts_drift() -> list[int]:
    """The sites whose kept counts differ from their events grouped afresh."""
    kept = f"SELECT {_COLUMNS} FROM {COUNTS_TABLE}"
    fresh = _GROUPED.format(where="TRUE")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT site_id FROM (({fresh}) EXCEPT ALL ({kept})) AS missing ({_COLUMNS}) "
            f"UNION SELECT site_id FROM (({kept}) EXCEPT ALL ({fresh})) AS extra ({_COLUMNS}) "
            f"ORDER BY 1"
        )
        return [row[0] for row in cursor.fetchall()]


def safety_counts_install() -> None:
    """(Re)create the counts' functions and triggers and count every site afresh (nothing
    while the counts' table is not there, as after ``migrate reports zero``)."""
    if COUNTS_TABLE not in connection.introspection.table_names():
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(FUNCTIONS_SQL)
        cursor.execute(TRIGGERS_SQL)
        safety_counts_rebuild()
