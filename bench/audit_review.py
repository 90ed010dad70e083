"""Audit-trail review at scale: the filtered review page against its own SQL run bare.

Ten million audit entries (``python bench/audit_review.py ROWS`` for another number) of
10,000 participants at five sites, over a year, are written into the review index by
plain SQL (:func:`trialdata.audit_index`), as the index holds them: per site ten
coordinators, a few corrections with reasons, and about 1 % of entries with a risk
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
    """The index of ``rows`` entries over a year: 10,000 participants (no more than
    numbers here) dealt to the five sites in turn."""
    import trialdata

    from ecrf.studies.models import Site

    site_ids = [Site.objects.get(code=code).pk for code in SITES]
    people = [
        (1 + k, f"{SITES[k % 5]}-{k % 2000:03d}", site_ids[k % 5], k % 5)
        for k in range(PARTICIPANTS)
    ]
    trialdata.audit_index(rows, people)


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
