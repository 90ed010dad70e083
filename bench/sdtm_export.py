"""The SDTM package as Dataset-JSON for 10,000 participants' complete data, against
PostgreSQL's own ``COPY`` of the same rows to CSV.

The trial is written by plain SQL (``INSERT ... SELECT generate_series``) with the audit
triggers off for the session: the benchmark measures reading, not writing. Every
participant is screened; one in ten fails screening (two criteria), the others consent,
are randomized (2:1), have their transfer, a 16-day dose diary (32 intakes, one in
sixteen missed), safety labs and vital signs at screening and ET+14, both endpoints,
their visit records and two adverse events.

The export runs as a worker runs it: an export job written by
``ecrf.exports.services.export_run``, zipped, with its checksum. The baseline is
``COPY (each domain's query) TO STDOUT WITH (FORMAT csv)`` through psycopg into a null
sink, in one REPEATABLE READ transaction: the physical limit of reading the same rows.
They take turns, one at a time, and the median of the rounds counts; the figure beside
it is the range of the rounds' ratios. Peak memory is Python's (``tracemalloc``) over
one more export, and the process's resident memory growth (Linux ``VmHWM``).
"""

from __future__ import annotations

import statistics
import sys
import time
import tracemalloc
from typing import Any

import trialdata
from audit_export import _peak_rss_growth_kb, _run_job
from common import fresh_database, report

PARTICIPANTS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
ROUNDS = 5


def _make_trial() -> dict[str, Any]:
    from django.db import connection

    from ecrf.accounts.services import user_create
    from ecrf.home.services import study_setup_trial
    from ecrf.studies import trial

    study, _ = study_setup_trial(sites=list(trial.SITES), performed_by=None)
    staff = user_create(
        username="bench-staff",
        role="coordinator",
        password="x",
        site_codes=[code for code, *_rest in trial.SITES],
        performed_by=None,
        validate=False,
    )
    statistician = user_create(
        username="bench-statistician",
        role="statistician",
        password="x",
        site_codes=[],
        performed_by=None,
        validate=False,
    )
    started = time.perf_counter()
    trialdata.complete_trial(study, staff, PARTICIPANTS)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"statistician": statistician, "generate_seconds": time.perf_counter() - started}


def _copy_baseline(scope: Any) -> tuple[float, int]:
    """COPY of every subject-level domain's rows to CSV, in one snapshot."""
    from django.db import connection, transaction

    from ecrf.exports.sdtm import queries
    from ecrf.exports.sdtm.package import package_for

    started = time.perf_counter()
    rows = 0
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        package = package_for(scope, chain_head="")
        raw = connection.connection
        for name in queries.SUBJECT_DOMAINS:
            sql = queries.domain_sql(name, package.subjects, package.visit_days)
            with (
                raw.cursor() as cursor,
                cursor.copy(
                    f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", package.subjects.params
                ) as copy,
            ):
                for _row in copy:
                    rows += 1
        rows += sum(len(rows_) for rows_ in package.design.values())
    return time.perf_counter() - started, rows


def main() -> None:
    fresh_database()
    from ecrf.exports import selectors
    from ecrf.exports.models import ExportJob

    made = _make_trial()
    owner = made["statistician"]
    scope = selectors.export_scope(ExportJob(owner=owner, kind="sdtm", format="dataset-json"))

    _copy_baseline(scope)
    copy_times, export_times, growths, ratios = [], [], [], []
    for _ in range(ROUNDS):
        copy_seconds, copy_rows = _copy_baseline(scope)
        (export_seconds, rows, size), growth_kb = _peak_rss_growth_kb(
            lambda: _run_job(owner, "sdtm", "dataset-json")
        )
        copy_times.append(copy_seconds)
        export_times.append(export_seconds)
        growths.append(growth_kb)
        ratios.append(copy_seconds / export_seconds)
        if rows != copy_rows:
            raise SystemExit(f"the export wrote {rows} rows, COPY {copy_rows}")

    tracemalloc.start()
    _run_job(owner, "sdtm", "dataset-json")
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    export_seconds = statistics.median(export_times)
    copy_seconds = statistics.median(copy_times)
    known = [g for g in growths if g is not None]
    report(
        "sdtm_export",
        rows / export_seconds,
        "rows/s",
        copy_rows / copy_seconds,
        ratio_min=round(min(ratios), 3),
        ratio_max=round(max(ratios), 3),
        samples=ROUNDS,
        participants=PARTICIPANTS,
        rows=rows,
        file_mb=round(size / 1e6, 1),
        export_seconds=round(export_seconds, 2),
        copy_seconds=round(copy_seconds, 2),
        peak_memory_mb=round(peak / 1e6, 2),
        peak_memory_measure="tracemalloc peak of Python allocations during an export job",
        rss_peak_growth_mb=round(max(known) / 1024, 1) if known else None,
        generate_seconds=round(made["generate_seconds"], 1),
        baseline_unit="rows/s of psycopg COPY (each domain's query) TO STDOUT as CSV",
    )


if __name__ == "__main__":
    main()
