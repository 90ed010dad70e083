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

from audit_export import _peak_rss_growth_kb, _run_job
from common import fresh_database, report

PARTICIPANTS = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
ROUNDS = 5


def _make_trial() -> dict[str, Any]:
    from django.db import connection, transaction

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
    params = {"n": PARTICIPANTS, "study": study.pk, "user": staff.pk}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        for statement in _GENERATE:
            cursor.execute(statement, params)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"statistician": statistician, "generate_seconds": time.perf_counter() - started}


#: The trial, table by table; ``b`` is the bench participant's number (1..n).
_GENERATE = [
    """CREATE TEMP TABLE bench_sites AS
       SELECT row_number() OVER (ORDER BY code) - 1 AS k, id, code FROM studies_site
       WHERE study_id = %(study)s""",
    """INSERT INTO participants_participant (site_id, subject_number, subject_id,
           screening_date, birth_date, status, registered_at, registered_by_id)
       SELECT s.id, (b + 4) / 5, s.code || '-' || lpad(((b + 4) / 5)::text, 5, '0'),
           DATE '2025-01-06' + (b %% 300), DATE '1992-01-01' + (b %% 3000),
           CASE WHEN b %% 10 = 0 THEN 'screen_failed' ELSE 'completed' END,
           TIMESTAMPTZ '2025-01-06 10:00+09' + make_interval(days => b %% 300), %(user)s
       FROM generate_series(1, %(n)s) b JOIN bench_sites s ON s.k = b %% 5""",
    """CREATE TEMP TABLE bench_p AS
       SELECT p.id, p.screening_date AS sd, p.status = 'screen_failed' AS failed,
           row_number() OVER (ORDER BY p.id) AS b, p.site_id
       FROM participants_participant p""",
    """INSERT INTO participants_eligibility (participant_id, prior_good_quality_transfers,
           prior_embryos_transferred, prior_biochemical_pregnancy, other_infertility_factor,
           th1_th2_ratio, th1_th2_sample_date, th1_th2_laboratory, frozen_embryos_available,
           able_to_attend_visits, antiphospholipid_syndrome, coagulation_abnormality,
           thyroid_dysfunction, other_pregnancy_loss_factor, tacrolimus_contraindication,
           pregnant, investigator_judges_unsuitable, age_at_assessment, eligible,
           failed_criteria, assessed_by_id, updated_at)
       SELECT id, 4, 6, FALSE, FALSE, CASE WHEN failed THEN 4.2 ELSE 12.5 END, sd, 'Central',
           TRUE, TRUE, FALSE, FALSE, FALSE, FALSE, FALSE, failed, FALSE, 33, NOT failed,
           CASE WHEN failed THEN ARRAY['th1_th2_ratio', 'pregnant']::varchar[]
               ELSE ARRAY[]::varchar[] END,
           %(user)s, sd + TIME '11:00'
       FROM bench_p""",
    """INSERT INTO participants_consent (participant_id, consent_date, consent_version,
           recorded_by_id, updated_at)
       SELECT id, sd + 1, '1.0', %(user)s, sd + 1 + TIME '10:00' FROM bench_p WHERE NOT failed""",
    """INSERT INTO participants_statuschange (participant_id, from_status, to_status, reason,
           reason_code, reason_params, changed_by_id, changed_at)
       SELECT id, 'consented', 'randomized', 'Randomized', '', '{}'::jsonb, %(user)s,
           sd + 3 + TIME '10:00'
       FROM bench_p WHERE NOT failed
       UNION ALL
       SELECT id, 'randomized', 'completed', 'Completed', '', '{}'::jsonb, %(user)s,
           sd + 26 + TIME '10:00'
       FROM bench_p WHERE NOT failed
       UNION ALL
       SELECT id, 'screening', 'screen_failed', 'Not eligible', '', '{}'::jsonb, %(user)s,
           sd + TIME '11:00'
       FROM bench_p WHERE failed""",
    """INSERT INTO randomization_slot (randomization_list_id, sequence, block, block_size,
           arm_id, participant_id, randomization_number, allocated_at, allocated_by_id)
       SELECT l.id, 100000 + p.b, 100000 + p.b / 3, 3,
           (SELECT a.id FROM studies_arm a WHERE a.study_id = %(study)s
               ORDER BY a.code = CASE WHEN p.b %% 3 = 0 THEN 'high' ELSE 'low' END DESC
               LIMIT 1),
           p.id, 'BENCH-' || p.b, p.sd + 3 + TIME '10:00', %(user)s
       FROM bench_p p
       JOIN randomization_randomizationlist l ON l.site_id = p.site_id AND l.status = 'active'
       WHERE NOT p.failed""",
    """INSERT INTO schedule_embryotransfer (participant_id, et_date, performed,
           embryos_transferred, embryo_stage, embryo_grade, recorded_by_id, updated_at)
       SELECT id, sd + 5, TRUE, 1, 'blastocyst', '4AA', %(user)s, sd + 5 + TIME '15:00'
       FROM bench_p WHERE NOT failed""",
    """INSERT INTO schedule_doseentry (participant_id, date, intake, taken, dose_mg, capsules,
           time_taken, missed_reason, comment, deviation, deviation_reason, recorded_by_id,
           recorded_at)
       SELECT p.id, p.sd + 3 + day, intake, NOT (day = 7 AND intake = 'evening'),
           CASE WHEN day = 7 AND intake = 'evening' THEN 0 ELSE 1 END,
           CASE WHEN day = 7 AND intake = 'evening' THEN 0 ELSE 1 END,
           CASE WHEN day = 7 AND intake = 'evening' THEN NULL
               WHEN intake = 'morning' THEN TIME '08:00' ELSE TIME '19:30' END,
           CASE WHEN day = 7 AND intake = 'evening' THEN 'Forgot' ELSE '' END, '', FALSE, '',
           %(user)s, p.sd + 3 + day + TIME '21:00'
       FROM bench_p p CROSS JOIN generate_series(0, 15) day
       CROSS JOIN (VALUES ('morning'), ('evening')) i(intake)
       WHERE NOT p.failed""",
    """INSERT INTO labs_labresult (participant_id, visit, analyte, measured_on, value, unit,
           normal_low, normal_high, out_of_range, recorded_by_id, updated_at)
       SELECT p.id, v.visit, r.analyte, p.sd + v.offset_days, r.low + (p.b %% 7) * r.step,
           r.unit, r.low, r.high, r.low + (p.b %% 7) * r.step > r.high, %(user)s,
           p.sd + v.offset_days + TIME '12:00'
       FROM bench_p p
       CROSS JOIN (VALUES ('screening', 0), ('et_plus_14', 19)) v(visit, offset_days)
       JOIN labs_normalrange r0 ON r0.site_id = p.site_id
       CROSS JOIN LATERAL (SELECT r0.analyte, r0.unit, r0.low, r0.high,
           (r0.high - r0.low) / 5 AS step) r
       WHERE NOT p.failed""",
    """INSERT INTO endpoints_biochemicalpregnancy (participant_id, assessed_on,
           serum_hcg_miu_ml, result, recorded_by_id, updated_at)
       SELECT id, sd + 19, CASE WHEN b %% 2 = 0 THEN 312.5 ELSE 1.2 END,
           CASE WHEN b %% 2 = 0 THEN 'positive' ELSE 'negative' END, %(user)s,
           sd + 19 + TIME '12:00'
       FROM bench_p WHERE NOT failed""",
    """INSERT INTO endpoints_clinicalpregnancy (participant_id, assessed_on,
           transvaginal_ultrasound, gestational_sac_seen, number_of_sacs, fetal_heartbeat,
           ectopic_pregnancy, result, followup_study_consent, recorded_by_id, updated_at)
       SELECT id, sd + 26, TRUE, b %% 2 = 0, CASE WHEN b %% 2 = 0 THEN 1 END,
           CASE WHEN b %% 2 = 0 THEN TRUE END, FALSE,
           CASE WHEN b %% 2 = 0 THEN 'positive' ELSE 'negative' END, b %% 2 = 0, %(user)s,
           sd + 26 + TIME '12:00'
       FROM bench_p WHERE NOT failed""",
    """INSERT INTO schedule_visitrecord (participant_id, visit_code, outcome, done_on, reason,
           reason_code, reason_params, recorded_by_id)
       SELECT p.id, v.code, 'done', p.sd + v.offset_days, '', '', '{}'::jsonb, %(user)s
       FROM bench_p p
       CROSS JOIN (VALUES ('biochemical_pregnancy', 19), ('clinical_pregnancy', 26))
           v(code, offset_days)
       WHERE NOT p.failed""",
    """INSERT INTO safety_adverse_events (participant_id, term, onset_date, end_date,
           ctcae_grade, serious, seriousness_criteria, related, action_taken, outcome,
           learned_at, pre_treatment, recorded_by_id, recorded_at, updated_at)
       SELECT p.id, e.term, p.sd + e.offset_days, p.sd + e.offset_days + 2, 1, FALSE,
           ARRAY[]::varchar[], e.related, 'none', 'recovered', p.sd + e.offset_days + TIME '09:00',
           FALSE, %(user)s, p.sd + e.offset_days + TIME '09:00',
           p.sd + e.offset_days + TIME '09:00'
       FROM bench_p p
       CROSS JOIN (VALUES ('Pruritus', 6, TRUE), ('Headache', 12, FALSE))
           e(term, offset_days, related)
       WHERE NOT p.failed""",
]


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
