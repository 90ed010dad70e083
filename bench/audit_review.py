"""Audit-trail review at scale: the filtered review page against its own SQL run bare.

Ten million audit entries (``python bench/audit_review.py ROWS`` for another number) of
10,000 participants at five sites, over a year, are written into the review index by
plain SQL (``INSERT ... SELECT generate_series``), as the index holds them: per site
ten coordinators, a few corrections with reasons, and about 1 % of entries with a risk
signal. The trail itself (the event tables) is not built: the review reads the index.

Two filtered pages are asked for through Django's test client, as a monitor of the
five sites signed in with a second factor, her session renewed once a minute at most as
installed:

- site + user + date range (a month);
- site + a risk signal (``off_hours``).

Each request is paired with the same SQL run bare: every statement the page sent to
the database, captured once, then replayed through the same connection's cursor with
its parameters. Requests and replays are interleaved one at a time, 1,000 of each per
repeat, five repeats. The figure is the 95th percentile of the page over the 95th
percentile of its bare SQL, per page: the median of the repeats' ratios, with their
range. The target is 3.
"""

from __future__ import annotations

import sys
import time

from common import fresh_database, interleaved, report

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000
PARTICIPANTS = 10_000
SITES = ["S01", "S02", "S03", "S04", "S05"]


def build_index(rows: int) -> None:
    from django.db import connection

    from ecrf.review.models import AuditEntry
    from ecrf.studies.models import Site

    site_ids = [Site.objects.get(code=code).pk for code in SITES]
    indexes = AuditEntry._meta.indexes
    constraints = AuditEntry._meta.constraints
    # Indexes built once over the rows cost less than kept up row by row.
    with connection.schema_editor() as editor:
        for index in indexes:
            editor.remove_index(AuditEntry, index)
        for constraint in constraints:
            editor.remove_constraint(AuditEntry, constraint)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO review_auditentry
                (seq, event_table, event_id, field, at, actor, role, site_id, participant_id,
                 subject_id, record, record_id, model, old_value, new_value, reason, action,
                 source, reveals_arm, signals)
            SELECT g, 'schedule_doseentryevent', g / 4,
                   (ARRAY['date', 'taken', 'dose_mg', 'time_taken'])[1 + g %% 4],
                   timestamptz '2026-01-05 09:00+09' + g * (interval '1 year' / %(rows)s),
                   'coordinator_' || (g / 4 %% 5) || '_' || (g / 400 %% 10), 'coordinator',
                   (%(sites)s::bigint[])[1 + (g / 4 %% 5)],
                   1 + (g / 4) %% %(participants)s,
                   'S0' || (1 + (g / 4 %% 5)) || '-' || lpad(((g / 4) %% 2000)::text, 3, '0'),
                   'dose', (g / 4)::text, 'schedule.doseentry',
                   CASE WHEN g %% 9 = 0 THEN '0' ELSE '' END, '1',
                   CASE WHEN g %% 9 = 0 THEN 'Transcription error' ELSE '' END,
                   CASE WHEN g %% 9 = 0 THEN 'update' ELSE 'create' END, 'web', false,
                   CASE WHEN g %% 97 = 0 THEN ARRAY['off_hours']
                        WHEN g %% 211 = 0 THEN ARRAY['late_entry']
                        WHEN g %% 9 = 0 AND g %% 27 = 0 THEN ARRAY['repeated_change']
                        ELSE '{}'::varchar[] END
              FROM generate_series(1, %(rows)s) g
            """,
            {"rows": rows, "sites": site_ids, "participants": PARTICIPANTS},
        )
    with connection.schema_editor() as editor:
        for index in indexes:
            editor.add_index(AuditEntry, index)
        for constraint in constraints:
            editor.add_constraint(AuditEntry, constraint)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE review_auditentry")


def main() -> None:
    fresh_database()
    import trialdata
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from list_page_queries import signed_in

    trialdata.trial(SITES)
    monitor = trialdata.staff("bench-monitor", "monitor", SITES)
    from ecrf.review.services import audit_index_update

    audit_index_update()  # the set-up's own changes, before the synthetic trail
    started = time.perf_counter()
    build_index(ROWS)
    built = time.perf_counter() - started

    # The session is renewed as installed (once a minute at most), not at every request
    # as the test settings ask.
    from django.conf import settings

    from ecrf.settings import base

    settings.SESSION_RENEWAL_SECONDS = base.SESSION_RENEWAL_SECONDS
    client = signed_in(monitor)
    client.get("/audit/")  # the sign-in's own renewal, before the pages are timed
    pages = {
        "site_user_month": (
            "/audit/?site=S03&user=coordinator_2_7&since=2026-06-01&until=2026-06-30"
        ),
        "site_signal": "/audit/?site=S02&signal=off_hours",
    }
    for name, path in pages.items():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200 or b'data-entry="' not in response.content:
            raise SystemExit(f"{path} answered {response.status_code} without entries")
        statements = [q["sql"] for q in captured.captured_queries]

        def page(_index: int, path: str = path) -> None:
            client.get(path)

        def bare(_index: int, statements: list[str] = statements) -> None:
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql)
                    if cursor.description:
                        cursor.fetchall()

        times = interleaved({"page": page, "bare": bare})
        report(
            f"audit_review.{name}",
            times.p95_ms("page"),
            "ms (p95 of the page)",
            times.p95_ms("bare"),
            **times.ratio_fields("page", "bare", p95=True),
            target_ratio=3,
            rows=ROWS,
            queries=len(statements),
            page_median_ms=round(times.median_ms("page"), 2),
            index_built_s=round(built, 1),
        )


if __name__ == "__main__":
    main()
