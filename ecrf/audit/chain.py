"""The tamper-evident audit trail: a SHA-256 hash chain over every audit event.

Each pghistory event table carries two triggers, installed after every ``migrate`` so
that a table added later is covered too:

- ``ecrf_audit_event_origin`` (BEFORE INSERT) refuses an event that was not written by
  an audit trigger: a forged event can only be slipped in with the triggers disabled,
  and then it has no link;
- ``ecrf_audit_chain`` (a constraint trigger, deferred to commit) appends the event to
  the chain: ``digest = sha256(previous digest | table | event content)``. Deferring it
  to commit keeps the chain's lock for the few microseconds of the commit itself, and
  no transaction waiting for it holds anything another one waits for.

``chain_verify`` recomputes every digest from the events as they are now. An edited
event no longer matches its digest; a deleted event leaves a link without its event; an
event inserted with the triggers disabled has no link; a deleted or edited link breaks
the next link's ``prev_digest``; cutting off the end of the trail removes a head that an
earlier verification or an export recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import pghistory.models
from django.apps import apps
from django.db import connection, transaction
from django.db.models import Exists, OuterRef

from .models import ChainLink, ChainVerification

GENESIS = "0" * 64
FORGED_EVENT_SQLSTATE = "EL002"

#: Session settings that make an event's JSON the same text in every session.
CANONICAL_SETTINGS = "SET LOCAL timezone = 'UTC'; SET LOCAL extra_float_digits = 1;"

FUNCTIONS_SQL = rf"""
CREATE OR REPLACE FUNCTION ecrf_audit_event_content(event jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT jsonb_strip_nulls(event)::text $$;

CREATE OR REPLACE FUNCTION ecrf_audit_chain_append(tbl text, event_id bigint, content text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    previous text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ecrf_audit_chain'));
    SELECT l.digest INTO previous FROM audit_chain_link l ORDER BY l.seq DESC LIMIT 1;
    previous := coalesce(previous, '{GENESIS}');
    INSERT INTO audit_chain_link (event_table, event_id, prev_digest, digest)
    VALUES (tbl, event_id, previous,
            encode(sha256(convert_to(previous || '|' || tbl || '|' || content, 'UTF8')), 'hex'));
END $$;

CREATE OR REPLACE FUNCTION ecrf_audit_chain_trigger() RETURNS trigger
LANGUAGE plpgsql SET timezone = 'UTC' SET extra_float_digits = 1 AS $$
BEGIN
    PERFORM ecrf_audit_chain_append(
        TG_TABLE_NAME, NEW.pgh_id, ecrf_audit_event_content(to_jsonb(NEW)));
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION ecrf_audit_event_origin() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION USING
            ERRCODE = '{FORGED_EVENT_SQLSTATE}',
            MESSAGE = format('audit events of %s are written only by the audit triggers',
                             TG_TABLE_NAME);
    END IF;
    RETURN NEW;
END $$;
"""  # noqa: S608  (only the constants above are interpolated)


def event_tables() -> list[str]:
    """Every pghistory event table of the project, in a stable order."""
    return sorted(
        model._meta.db_table
        for model in apps.get_models()
        if issubclass(model, pghistory.models.Event) and not model._meta.proxy
    )


def _triggers_sql(table: str) -> str:
    quoted = connection.ops.quote_name(table)
    return f"""
    DROP TRIGGER IF EXISTS ecrf_audit_event_origin ON {quoted};
    CREATE TRIGGER ecrf_audit_event_origin BEFORE INSERT ON {quoted}
        FOR EACH ROW EXECUTE FUNCTION ecrf_audit_event_origin();
    DROP TRIGGER IF EXISTS ecrf_audit_chain ON {quoted};
    CREATE CONSTRAINT TRIGGER ecrf_audit_chain AFTER INSERT ON {quoted}
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION ecrf_audit_chain_trigger();
    """


def _events_sql(tables: list[str]) -> str:
    """Every event as (table, id, canonical content, time), one branch per table."""
    return " UNION ALL ".join(
        # Table names come from the model registry, never from input.
        f"SELECT '{table}'::text AS event_table, e.pgh_id::bigint AS event_id, "  # noqa: S608
        f"ecrf_audit_event_content(to_jsonb(e)) AS content, e.pgh_created_at AS created_at "
        f"FROM {connection.ops.quote_name(table)} e"
        for table in tables
    )


def chain_install() -> None:
    """Put every event table under the chain; on a trail not yet chained, chain it once.

    The first installation adopts the events already written, oldest first. Later runs
    never chain an event after the fact: one without a link stays a finding.
    """
    tables = event_tables()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(FUNCTIONS_SQL)
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = 'ecrf_audit_chain'"
        )
        covered = {name for (name,) in cursor.fetchall()}
        for table in tables:
            if table not in covered:
                cursor.execute(_triggers_sql(table))
        if ChainLink.objects.exists() or not tables:
            return
        cursor.execute(CANONICAL_SETTINGS)
        cursor.execute(
            "SELECT ecrf_audit_chain_append(ev.event_table, ev.event_id, ev.content) "  # noqa: S608
            f"FROM ({_events_sql(tables)}) ev "
            "ORDER BY ev.created_at, ev.event_table, ev.event_id"
        )


def chain_head() -> str:
    """The digest of the latest link: what an export or a report states it was made from."""
    head = ChainLink.objects.order_by("-seq").values_list("digest", flat=True).first()
    return head or GENESIS


@dataclass(frozen=True)
class ChainFinding:
    """The first broken place found in the chain, in words an auditor can act on."""

    problem: str
    seq: int | None
    event_table: str
    event_id: int | None

    def __str__(self) -> str:
        where = f"event {self.event_table}#{self.event_id}"
        if self.seq is not None:
            where = f"link {self.seq} ({where})"
        return f"{where}: {self.problem}"


@dataclass(frozen=True)
class ChainReport:
    intact: bool
    links_checked: int
    head_seq: int | None
    head_digest: str
    finding: ChainFinding | None


_PROBLEMS = {
    "link_broken": "the link does not follow the one before it (a link was removed or edited)",
    "event_missing": "the event was deleted",
    "event_altered": "the event's content no longer matches its digest (it was edited)",
    "event_unchained": "the event has no link (written with the audit triggers disabled)",
    "head_missing": "a head recorded by an earlier verification is gone (the trail was cut)",
}


def chain_verify(*, checked_by: str) -> ChainReport:
    """Check the whole chain against the events as they are now, and record the outcome."""
    tables = event_tables()
    finding: ChainFinding | None = None
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(CANONICAL_SETTINGS)
        events = (
            _events_sql(tables)
            if tables
            else (
                "SELECT NULL::text AS event_table, NULL::bigint AS event_id, "
                "NULL::text AS content, NULL::timestamptz AS created_at WHERE false"
            )
        )
        cursor.execute(
            f"""
            WITH events AS ({events}),
            chain AS (
                SELECT l.seq, l.event_table, l.event_id, l.prev_digest, l.digest,
                       coalesce(lag(l.digest) OVER (ORDER BY l.seq), %s) AS expected_prev,
                       ev.content
                  FROM audit_chain_link l
                  LEFT JOIN events ev
                    ON ev.event_table = l.event_table AND ev.event_id = l.event_id
            ),
            checked AS (
                SELECT seq, event_table, event_id,
                       CASE
                         WHEN prev_digest <> expected_prev THEN 'link_broken'
                         WHEN content IS NULL THEN 'event_missing'
                         WHEN digest <> encode(sha256(convert_to(
                              prev_digest || '|' || event_table || '|' || content, 'UTF8')),
                              'hex') THEN 'event_altered'
                       END AS problem
                  FROM chain
            )
            SELECT (SELECT count(*) FROM checked),
                   f.seq, f.event_table, f.event_id, f.problem
              FROM (SELECT 1) one
              LEFT JOIN LATERAL (
                  SELECT * FROM checked WHERE problem IS NOT NULL ORDER BY seq LIMIT 1
              ) f ON true
            """,  # noqa: S608
            [GENESIS],
        )
        links_checked, seq, table, event_id, problem = cursor.fetchone()
        if problem:
            finding = ChainFinding(_PROBLEMS[problem], seq, table, event_id)
        if finding is None and tables:
            cursor.execute(
                f"""
                SELECT ev.event_table, ev.event_id FROM ({events}) ev
                 WHERE NOT EXISTS (SELECT 1 FROM audit_chain_link l
                                    WHERE l.event_table = ev.event_table
                                      AND l.event_id = ev.event_id)
                 ORDER BY ev.created_at, ev.event_table, ev.event_id LIMIT 1
                """  # noqa: S608
            )
            row = cursor.fetchone()
            if row:
                finding = ChainFinding(_PROBLEMS["event_unchained"], None, row[0], row[1])
        if finding is None:
            finding = _missing_anchor()
    head = ChainLink.objects.order_by("-seq").values_list("seq", "digest").first()
    report = ChainReport(
        intact=finding is None,
        links_checked=links_checked,
        head_seq=head[0] if head else None,
        head_digest=head[1] if head else GENESIS,
        finding=finding,
    )
    ChainVerification.objects.create(
        intact=report.intact,
        links_checked=report.links_checked,
        head_seq=report.head_seq,
        head_digest=report.head_digest,
        problem=str(finding) if finding else "",
        checked_by=checked_by,
    )
    return report


def _missing_anchor() -> ChainFinding | None:
    """The first head an earlier intact verification recorded that is no longer in the chain."""
    still_chained = ChainLink.objects.filter(
        seq=OuterRef("head_seq"), digest=OuterRef("head_digest")
    )
    lost = (
        ChainVerification.objects.filter(intact=True, head_seq__isnull=False)
        .exclude(Exists(still_chained))
        .order_by("head_seq")
        .values_list("head_seq", flat=True)
        .first()
    )
    if lost is None:
        return None
    return ChainFinding(_PROBLEMS["head_missing"], lost, "audit_chain_link", None)


def chain_contains(digest: str) -> bool:
    """Whether a head stated by an export is still part of the chain."""
    return digest == GENESIS or ChainLink.objects.filter(digest=digest).exists()
