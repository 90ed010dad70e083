"""Pages at scale: list pages, a casebook, the reports and the home pages at 100 sites,
10,000 participants and 10 million audit-review entries, over the same pages at 100
participants.

The trial has 100 sites. First 100 participants with complete data
(:func:`trialdata.complete_trial`: screening to both endpoints, dose diary, labs,
adverse events) and 100,000 review-index entries over a year
(:func:`trialdata.audit_index`) are written; the database is then copied as it stands
(the twin at 100 participants), and the original grows to 10,000 participants and
10,000,000 entries over the same year (``python bench/scale_pages.py PARTICIPANTS`` for
another size; a thousand entries per participant).

Each page is asked for through Django's test client by the role that reads it, signed
in with a second factor, its session renewed once a minute at most as installed: one
request on each database in turn, 200 per repeat over five repeats (1,000 per side;
``BENCH_SAMPLES`` sets the count per repeat; a page whose warm requests at full size
take more than a quarter of a second takes proportionally fewer, at least 20). The
figure per page is the 95th percentile at full size over the 95th percentile at 100
participants: the median of the repeats' ratios, with their range. The target is 2.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Any

from common import fresh_database, interleaved, report, twin_database, using_database

PARTICIPANTS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
#: ``python bench/scale_pages.py 10000 home.monitor`` times only the pages named.
CHOSEN = sys.argv[2:]
SMALL = 100
#: S01 to S99, then T00 (a site code is a letter and two digits).
SITES = [f"{'ST'[n // 100]}{n % 100:02d}" for n in range(1, 101)]
ENTRIES_PER_PARTICIPANT = 1_000
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "200"))
#: Seconds of one request above which a page takes fewer samples.
SLOW = 0.25

#: The pages timed, by name: who reads them and where.
PAGES = {
    "home.coordinator": ("coordinator", "/"),
    "participant_list.coordinator": ("coordinator", "/participants/"),
    "casebook.coordinator": ("coordinator", "/participants/{case}/"),
    "home.monitor": ("monitor", "/"),
    "verification_worklist.monitor": ("monitor", "/participants/verification/"),
    "audit_trail.monitor": ("monitor", "/audit/?site=S02&since=2026-06-01&until=2026-06-30"),
    "home.data_manager": ("data_manager", "/"),
    "participant_list.data_manager": ("data_manager", "/participants/"),
    "report_consort.data_manager": ("data_manager", "/reports/consort/"),
    "report_efficacy.statistician": ("statistician", "/reports/efficacy/"),
    "report_safety.data_manager": ("data_manager", "/reports/safety/"),
    "report_quality.data_manager": ("data_manager", "/reports/quality/"),
}


def _people() -> list[tuple[int, str, int, int]]:
    """Every participant as the index builder takes them, her site numbered in code order."""
    from ecrf.participants.models import Participant

    numbers = {code: n for n, code in enumerate(SITES)}
    return [
        (pk, subject_id, site_id, numbers[code])
        for pk, subject_id, site_id, code in Participant.objects.order_by("pk").values_list(
            "pk", "subject_id", "site_id", "site__code"
        )
    ]


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def main() -> None:
    fresh_database()
    import trialdata
    from django.conf import settings
    from list_page_queries import signed_in

    from ecrf.participants.models import Participant
    from ecrf.review.services import audit_index_update
    from ecrf.settings import base

    started = time.perf_counter()
    study = trialdata.trial(SITES)
    staff = {
        "coordinator": trialdata.staff("bench-coordinator", "coordinator", ["S02"]),
        "monitor": trialdata.staff("bench-monitor", "monitor", SITES[:10]),
        "data_manager": trialdata.staff("bench-datamanager", "data_manager", []),
        "statistician": trialdata.staff("bench-statistician", "statistician", []),
    }
    audit_index_update()  # the set-up's own changes, before the written trial and entries
    trialdata.complete_trial(study, staff["coordinator"], SMALL)
    trialdata.audit_index(SMALL * ENTRIES_PER_PARTICIPANT, _people())
    _analyze()
    case = Participant.objects.filter(site__code="S02", status="completed").order_by("pk").first()
    settings.SESSION_RENEWAL_SECONDS = base.SESSION_RENEWAL_SECONDS
    clients = {role: signed_in(user) for role, user in staff.items()}
    for client in clients.values():
        client.get("/participants/")  # the sign-in's own renewal, before the twin is made
    twin_database("small")
    small_built = time.perf_counter() - started

    trialdata.complete_trial(study, staff["coordinator"], PARTICIPANTS - SMALL)
    trialdata.audit_index(
        (PARTICIPANTS - SMALL) * ENTRIES_PER_PARTICIPANT,
        _people(),
        first=SMALL * ENTRIES_PER_PARTICIPANT + 1,
    )
    _analyze()
    built = time.perf_counter() - started

    def on(side: str) -> Any:
        return using_database("small") if side == "small" else contextlib.nullcontext()

    for name, (role, path_pattern) in PAGES.items():
        if CHOSEN and name not in CHOSEN:
            continue
        client = clients[role]
        path = path_pattern.format(case=case.pk)
        for side in ("full", "small"):
            with on(side):
                response = client.get(path)
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code} at {side} size")
        # A page that takes more than a quarter of a second (the fastest of three warm
        # requests) is sampled less, so that the run ends; its line says how many.
        warm = []
        for _ in range(3):
            began = time.perf_counter()
            client.get(path)
            warm.append(time.perf_counter() - began)
        samples = max(20, min(SAMPLES, int(SAMPLES * SLOW / min(warm))))

        def get(_index: int, client: Any = client, path: str = path) -> None:
            client.get(path)

        times = interleaved({"full": get, "small": get}, samples=samples, around=on)
        report(
            f"scale_pages.{name}",
            times.p95_ms("full"),
            f"ms (p95 at {PARTICIPANTS:,} participants)",
            times.p95_ms("small"),
            **times.ratio_fields("full", "small", p95=True),
            target_ratio=2,
            path=path,
            participants=PARTICIPANTS,
            sites=len(SITES),
            audit_entries=PARTICIPANTS * ENTRIES_PER_PARTICIPANT,
            median_ms=round(times.median_ms("full"), 2),
            small_median_ms=round(times.median_ms("small"), 2),
            built_s=round(built, 1),
            small_built_s=round(small_built, 1),
        )


if __name__ == "__main__":
    main()
