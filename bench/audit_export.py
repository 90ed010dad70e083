"""Audit-trail CSV export of ten million rows, against PostgreSQL's own ``COPY`` of the
same rows (``python bench/audit_export.py DAYS`` for fewer: 20 participants' diaries of
DAYS days each, about 370 rows a day).

The trail is made the way the app makes it: dose diary entries written by plain SQL
(``INSERT ... SELECT generate_series``, then ``UPDATE``s) inside an audit context, so
that the pghistory triggers, the database guard and the hash chain write every event.
Creating an entry gives about ten rows (one per field with a value), each correction
one or two.

The export runs as a worker runs it: an export job, written by
``ecrf.exports.services.export_run`` (what the Celery task calls) to its file, with its
checksum and progress. The baseline is ``COPY (the same query) TO STDOUT`` through
psycopg into a null sink, in the same kind of transaction, on the same database.

Peak memory is Python's own (``tracemalloc``'s peak over one more export run, since
tracing slows the timed ones), beside how far the process's resident memory peaked
above where it stood before each timed run (Linux ``VmHWM``, reset through
``/proc/self/clear_refs``), the largest of the rounds.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from common import fresh_database, report

PARTICIPANTS = 20
DAYS = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
COMMENT_ROUNDS = 5
#: Days of diary written (and corrected) per transaction.
CHUNK_DAYS = 300
ROUNDS = 3


def _make_trail() -> dict[str, Any]:
    from django.db import connection, transaction

    from ecrf.accounts.services import user_create
    from ecrf.audit.context import change_context
    from ecrf.home.services import study_setup_trial
    from ecrf.participants.services import participant_enroll
    from ecrf.studies.models import Site

    study, _ = study_setup_trial(
        sites=[("S01", "Bench site one", ""), ("S02", "Bench site two", "")], performed_by=None
    )
    coordinator = user_create(
        username="bench",
        role="coordinator",
        password="x",
        site_codes=["S01", "S02"],
        performed_by=None,
        validate=False,
    )
    data_manager = user_create(
        username="dm",
        role="data_manager",
        password="x",
        site_codes=[],
        performed_by=None,
        validate=False,
    )
    sites = list(Site.objects.filter(study=study).order_by("code"))
    participants = [
        participant_enroll(
            site=sites[i % len(sites)],
            screening_date=dt.date.today() - dt.timedelta(days=5),
            birth_date=dt.date(1990, 1, 1),
            performed_by=coordinator,
        )
        for i in range(PARTICIPANTS)
    ]
    ids = [p.pk for p in participants]
    started = time.perf_counter()
    # A chunk of days per transaction, the statistics brought up to date after each.
    chunks = [(first, min(first + CHUNK_DAYS, DAYS)) for first in range(0, DAYS, CHUNK_DAYS)]
    with change_context(performed_by=coordinator, site="S01"), connection.cursor() as cursor:
        for first, last in chunks:
            with transaction.atomic():
                cursor.execute(
                    """
                    INSERT INTO schedule_doseentry
                        (participant_id, date, intake, taken, dose_mg, capsules, time_taken,
                         missed_reason, comment, deviation, deviation_reason, recorded_by_id,
                         recorded_at)
                    SELECT p, DATE '1900-01-01' + d, 'morning', true, 2.00, 2, TIME '08:30',
                           '', 'taken with food', false, '', %s, now()
                      FROM unnest(%s::bigint[]) AS p, generate_series(%s, %s - 1) AS d
                    """,
                    [coordinator.pk, ids, first, last],
                )
            # Statistics as the trail grows (the server may run without autovacuum), so
            # that the triggers' lookups keep their index plans.
            cursor.execute("ANALYZE")
        corrections = [
            (f"Diary correction {round_ + 1}", "comment = %s", [f"=corrected {round_ + 1}"])
            for round_ in range(COMMENT_ROUNDS)
        ] + [("Two capsules more, prescribed", "dose_mg = 4.00, capsules = 4", [])]
        for reason, assignment, values in corrections:
            for first, last in chunks:
                with transaction.atomic(), change_context(performed_by=coordinator, reason=reason):
                    cursor.execute(
                        f"UPDATE schedule_doseentry SET {assignment} "  # noqa: S608  (constants)
                        "WHERE date >= DATE '1900-01-01' + %s AND date < DATE '1900-01-01' + %s",
                        [*values, first, last],
                    )
    return {
        "study": study,
        "sites": sites,
        "data_manager": data_manager,
        "generate_seconds": time.perf_counter() - started,
    }


def _run_job(
    owner: Any, kind: str = "audit_trail", format: str = "csv", **fields: Any
) -> tuple[float, int, Any]:
    """One export job (the audit trail as CSV unless told), written as the Celery task
    writes it; its seconds, rows and file size, the file removed."""
    from ecrf.exports import selectors
    from ecrf.exports.models import ExportJob, ExportStatus
    from ecrf.exports.services import export_run

    job = ExportJob.objects.create(owner=owner, kind=kind, format=format, **fields)
    started = time.perf_counter()
    status = export_run(job_id=job.pk)
    seconds = time.perf_counter() - started
    job.refresh_from_db()
    if status != ExportStatus.DONE:
        raise SystemExit(f"the export job ended {status}: {job.error}")
    path = selectors.export_path(job)
    size = path.stat().st_size
    path.unlink()
    return seconds, job.row_count, size


def _copy_baseline(scope: Any) -> tuple[float, int]:
    from ecrf.exports.formats.audit import audit_query, export_transaction

    sql, params = audit_query(scope, neutralise=True)
    started = time.perf_counter()
    rows = 0
    with (
        export_transaction() as raw,
        raw.cursor() as cursor,
        cursor.copy(
            f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')", params
        ) as copy,
    ):
        for _chunk in copy:
            rows += 1
    return time.perf_counter() - started, rows - 1


def _rss_kb(key: str) -> int | None:
    """A figure of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in kB, where Linux has it."""
    status = Path("/proc/self/status")
    if not status.exists():
        return None
    for line in status.read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return None


def _peak_rss_growth_kb(run: Any) -> tuple[Any, int | None]:
    """Run ``run()``; how far the process's resident memory peaked above where it was."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets the peak (VmHWM) to now
    except OSError:
        return run(), None
    before = _rss_kb("VmRSS")
    result = run()
    peak = _rss_kb("VmHWM")
    return result, (peak - before) if peak is not None and before is not None else None


def main() -> None:
    fresh_database()
    from ecrf.exports import selectors
    from ecrf.exports.models import ExportJob

    made = _make_trail()
    owner = made["data_manager"]
    # The very scope the job's worker will export.
    scope = selectors.export_scope(ExportJob(owner=owner, kind="audit_trail", format="csv"))

    # A first run warms the caches for both; then they take turns, the median counts, so
    # that both meet the same load of the machine.
    _copy_baseline(scope)
    copy_times, export_times, growths = [], [], []
    for _ in range(ROUNDS):
        copy_seconds, copy_rows = _copy_baseline(scope)
        copy_times.append(copy_seconds)
        (export_seconds, rows, size), growth_kb = _peak_rss_growth_kb(lambda: _run_job(owner))
        export_times.append(export_seconds)
        growths.append(growth_kb)
        if rows != copy_rows:
            raise SystemExit(f"the export wrote {rows} rows, COPY {copy_rows}")

    tracemalloc.start()
    _run_job(owner)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    export_seconds = statistics.median(export_times)
    copy_seconds = statistics.median(copy_times)
    known_growths = [g for g in growths if g is not None]
    report(
        "audit_export",
        rows / export_seconds,
        "rows/s",
        copy_rows / copy_seconds,
        rows=rows,
        file_mb=round(size / 1e6, 1),
        export_seconds=round(export_seconds, 2),
        copy_seconds=round(copy_seconds, 2),
        rounds=ROUNDS,
        target_ratio=0.9,
        target_peak_memory_mb=100,
        peak_memory_mb=round(peak / 1e6, 2),
        peak_memory_measure="tracemalloc peak of Python allocations during an export job",
        rss_peak_growth_mb=round(max(known_growths) / 1024, 1) if known_growths else None,
        generate_seconds=round(made["generate_seconds"], 1),
        baseline_unit="rows/s of psycopg COPY (same query) TO STDOUT into a null sink",
    )


if __name__ == "__main__":
    main()
