"""The tamper-evident audit trail: a SHA-256 hash chain over every audit event.

Each pghistory event table carries two triggers, installed after every ``migrate`` so
that a table added later is covered too:

- ``ecrf_audit_event_origin`` (BEFORE INSERT) refuses an event that was not written by
  an audit trigger: a forged event can only be slipped in with the triggers disabled,
  and then it has no link. It also names the event's actor in its context (``actor``):
  the user's username, or ``system:<name>`` for a management command, a Celery task
  (its function's name) or a program writing outside the app (its ``application_name``;
  ``system:database`` when it gives none), so that no event is without one;
- ``ecrf_audit_chain`` (a constraint trigger, deferred to commit) appends the event to
  the chain: ``digest = sha256(previous digest | table | event content)``. Deferring it
  to commit keeps the chain's lock for the few microseconds of the commit itself, and
  no transaction waiting for it holds anything another one waits for.

An event's content is its row as JSON, without nulls, restricted to the columns of its
table's *shape* when the link was made (:class:`~.models.ChainShape`): a column added
later by a migration, and filled in the old events with its default, is not part of
their digests, so a schema change does not read as tampering. Shapes are chained too.

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
#: The shapes are chained like events, under this table name.
SHAPE_TABLE = "audit_chain_shape"

#: Session settings that make an event's JSON the same text in every session.
CANONICAL_SETTINGS = "SET LOCAL timezone = 'UTC'; SET LOCAL extra_float_digits = 1;"


def _append_link(table: str, event_id: str, content: str) -> str:
    """The statements appending one link after the head, under the chain's lock, given
    the PL/pgSQL expressions of the event's table, id and content."""
    return f"""
    PERFORM pg_advisory_xact_lock(hashtext('ecrf_audit_chain'));
    SELECT l.digest INTO previous FROM audit_chain_link l ORDER BY l.seq DESC LIMIT 1;
    previous := coalesce(previous, '{GENESIS}');
    INSERT INTO audit_chain_link (event_table, event_id, prev_digest, digest)
    VALUES ({table}, {event_id}, previous,
            encode(sha256(convert_to(previous || '|' || {table} || '|' || {content}, 'UTF8')),
                   'hex'));"""  # noqa: S608  (PL/pgSQL expressions of this module only)


FUNCTIONS_SQL = rf"""
CREATE OR REPLACE FUNCTION ecrf_audit_event_content(event jsonb, shape text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN shape IS NULL THEN jsonb_strip_nulls(event)::text
           ELSE jsonb_strip_nulls(coalesce(
               (SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(event) e
                 WHERE e.key = ANY(shape)),
               '{{}}'::jsonb))::text
           END $$;

-- The head is read through the primary key's index, whatever the table's statistics said
-- when the plan was made: a plan made while the table was small (a new installation)
-- would otherwise scan the whole chain for each link until an ANALYZE.
CREATE OR REPLACE FUNCTION ecrf_audit_chain_link(tbl text, event_id bigint, content text)
RETURNS void LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    previous text;
BEGIN
{_append_link("tbl", "event_id", "content")}
END $$;

CREATE OR REPLACE FUNCTION ecrf_audit_chain_append_event(tbl text, event_id bigint, event jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    shape text[];
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ecrf_audit_chain'));
    SELECT s.columns INTO shape FROM audit_chain_shape s
     WHERE s.event_table = tbl ORDER BY s.from_seq DESC LIMIT 1;
    PERFORM ecrf_audit_chain_link(tbl, event_id, ecrf_audit_event_content(event, shape));
END $$;

-- The trigger's argument is the table's attribute count when its latest shape was
-- recorded. While the count is the same, no column was added since, so the event's
-- columns are the shape's (a dropped column is absent from both): its content is the
-- whole row, and the link is appended here, with no further call. Otherwise the shape
-- is looked up and applied.
CREATE OR REPLACE FUNCTION ecrf_audit_chain_trigger() RETURNS trigger
LANGUAGE plpgsql SET timezone = 'UTC' SET extra_float_digits = 1 SET enable_seqscan = off
AS $$
DECLARE
    previous text;
    content text;
BEGIN
    IF TG_NARGS = 1 AND (SELECT c.relnatts FROM pg_class c WHERE c.oid = TG_RELID)
                        = TG_ARGV[0]::int THEN
        content := jsonb_strip_nulls(to_jsonb(NEW))::text;
{_append_link("TG_TABLE_NAME", "NEW.pgh_id", "content")}
    ELSE
        PERFORM ecrf_audit_chain_append_event(TG_TABLE_NAME, NEW.pgh_id, to_jsonb(NEW));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION ecrf_audit_shape_record(tbl text) RETURNS boolean
LANGUAGE plpgsql SET timezone = 'UTC' SET extra_float_digits = 1 AS $$
DECLARE
    present text[];
    latest text[];
    shape audit_chain_shape;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ecrf_audit_chain'));
    SELECT array_agg(a.attname::text ORDER BY a.attname::text) INTO present
      FROM pg_attribute a
     WHERE a.attrelid = to_regclass(quote_ident(tbl)) AND a.attnum > 0 AND NOT a.attisdropped;
    IF present IS NULL THEN
        RETURN false;
    END IF;
    SELECT s.columns INTO latest FROM audit_chain_shape s
     WHERE s.event_table = tbl ORDER BY s.from_seq DESC LIMIT 1;
    IF latest IS NOT DISTINCT FROM present THEN
        RETURN false;
    END IF;
    -- A table's first shape covers its links so far, which hashed these very columns;
    -- a later one starts after the last link.
    INSERT INTO audit_chain_shape (event_table, columns, from_seq)
    VALUES (tbl, present, CASE WHEN latest IS NULL THEN 1
                          ELSE coalesce((SELECT max(l.seq) FROM audit_chain_link l), 0) + 1 END)
    RETURNING * INTO shape;
    PERFORM ecrf_audit_chain_append_event('{SHAPE_TABLE}', shape.id, to_jsonb(shape));
    RETURN true;
END $$;

DROP FUNCTION IF EXISTS ecrf_audit_chain_append(text, bigint, text);
DROP FUNCTION IF EXISTS ecrf_audit_event_content(jsonb);

CREATE OR REPLACE FUNCTION ecrf_audit_actor(ctx jsonb, program text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT coalesce(
        nullif(ctx ->> 'actor', ''),
        nullif(ctx ->> 'username', ''),
        'system:' || coalesce(
            nullif(ctx ->> 'command', ''),
            nullif(regexp_replace(coalesce(ctx ->> 'task', ''), '^.*[.]', ''), ''),
            nullif(ctx ->> 'source', ''),
            nullif(program, ''),
            'database')) $$;

CREATE OR REPLACE FUNCTION ecrf_audit_event_origin() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION USING
            ERRCODE = '{FORGED_EVENT_SQLSTATE}',
            MESSAGE = format('audit events of %s are written only by the audit triggers',
                             TG_TABLE_NAME);
    END IF;
    IF coalesce(NEW.pgh_context ->> 'actor', '') = '' THEN
        NEW.pgh_context := coalesce(NEW.pgh_context, '{{}}'::jsonb) || jsonb_build_object(
            'actor',
            ecrf_audit_actor(NEW.pgh_context, current_setting('application_name', true)));
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


def _triggers_sql(table: str, attributes: int) -> str:
    """The origin and chain triggers of an event table with ``attributes`` attributes."""
    quoted = connection.ops.quote_name(table)
    return f"""
    DROP TRIGGER IF EXISTS ecrf_audit_event_origin ON {quoted};
    CREATE TRIGGER ecrf_audit_event_origin BEFORE INSERT ON {quoted}
        FOR EACH ROW EXECUTE FUNCTION ecrf_audit_event_origin();
    DROP TRIGGER IF EXISTS ecrf_audit_chain ON {quoted};
    CREATE CONSTRAINT TRIGGER ecrf_audit_chain AFTER INSERT ON {quoted}
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION ecrf_audit_chain_trigger('{int(attributes)}');
    """


def _events_sql(tables: list[str]) -> str:
    """Every event as (table, id, row as JSON, time), one branch per table, and the shapes."""
    branches = [
        # Table names come from the model registry, never from input.
        f"SELECT '{table}'::text AS event_table, e.pgh_id::bigint AS event_id, "  # noqa: S608
        f"to_jsonb(e) AS event, e.pgh_created_at AS created_at "
        f"FROM {connection.ops.quote_name(table)} e"
        for table in tables
    ]
    branches.append(
        f"SELECT '{SHAPE_TABLE}'::text, s.id::bigint, to_jsonb(s), s.recorded_at "  # noqa: S608
        f"FROM {SHAPE_TABLE} s"
    )
    return " UNION ALL ".join(branches)


def chain_install() -> None:
    """Put every event table under the chain and record its shape; on a trail not yet
    chained, chain it once.

    A table whose columns changed since its last shape (a migration added one) gets a
    new shape from the next link on. The first installation adopts the events already
    written, oldest first. Later runs never chain an event after the fact: one without a
    link stays a finding.
    """
    tables = event_tables()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(FUNCTIONS_SQL)
        adopt = bool(tables) and not ChainLink.objects.exclude(event_table=SHAPE_TABLE).exists()
        chain_record_shapes(tables)
        # Each table's latest shape now holds its present columns: its chain trigger is
        # (re)created with its present attribute count unless it already has it.
        cursor.execute(
            "SELECT c.relname, c.relnatts, "
            "split_part(encode(t.tgargs, 'escape'), '\\000', 1) "
            "FROM pg_class c LEFT JOIN pg_trigger t "
            "ON t.tgrelid = c.oid AND t.tgname = 'ecrf_audit_chain' "
            "WHERE c.relname = ANY(%s) AND c.relkind = 'r'",
            [tables],
        )
        for table, attributes, argument in cursor.fetchall():
            if argument != str(attributes):
                cursor.execute(_triggers_sql(table, attributes))
        if not adopt:
            return
        cursor.execute(CANONICAL_SETTINGS)
        cursor.execute(
            "SELECT ecrf_audit_chain_append_event(ev.event_table, ev.event_id, ev.event) "  # noqa: S608
            f"FROM ({_events_sql(tables)}) ev "
            "WHERE ev.event_table <> %s AND NOT EXISTS (SELECT 1 FROM audit_chain_link l "
            "WHERE l.event_table = ev.event_table AND l.event_id = ev.event_id) "
            "ORDER BY ev.created_at, ev.event_table, ev.event_id",
            [SHAPE_TABLE],
        )


def chain_record_shapes(tables: list[str]) -> int:
    """Record the columns of each existing event table whose columns changed; how many."""
    with connection.cursor() as cursor:
        recorded = 0
        for table in tables:
            cursor.execute("SELECT ecrf_audit_shape_record(%s)", [table])
            recorded += bool(cursor.fetchone()[0])
    return recorded


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
        events = _events_sql(tables)
        cursor.execute(
            f"""
            WITH events AS ({events}),
            shapes AS (
                SELECT event_table, columns, from_seq,
                       lead(from_seq) OVER (PARTITION BY event_table ORDER BY from_seq)
                           AS until_seq
                  FROM audit_chain_shape
            ),
            chain AS (
                SELECT l.seq, l.event_table, l.event_id, l.prev_digest, l.digest,
                       coalesce(lag(l.digest) OVER (ORDER BY l.seq), %s) AS expected_prev,
                       ev.event IS NULL AS missing,
                       ecrf_audit_event_content(ev.event, s.columns) AS content
                  FROM audit_chain_link l
                  LEFT JOIN events ev
                    ON ev.event_table = l.event_table AND ev.event_id = l.event_id
                  LEFT JOIN shapes s
                    ON s.event_table = l.event_table AND l.seq >= s.from_seq
                   AND (s.until_seq IS NULL OR l.seq < s.until_seq)
            ),
            checked AS (
                SELECT seq, event_table, event_id,
                       CASE
                         WHEN prev_digest <> expected_prev THEN 'link_broken'
                         WHEN missing THEN 'event_missing'
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
